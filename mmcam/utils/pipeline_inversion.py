"""Run a test pipeline and keep track of its geometry, so heatmaps at the
network input can be put back on the original image."""
from typing import Callable, List, Optional, Sequence, Tuple

from .image_loading import DEFAULT_MAX_PIXELS, check_pixels
from .input_geometry import InputGeometry

# Transforms that scale the whole image; their factor is read from the
# image shapes before and after.
RESIZES = {'Resize', 'ResizeEdge'}
# Transforms that change pixel values or packing but not geometry.
NON_GEOMETRIC = {
    'PackInputs', 'PackClsInputs', 'PackMultiTaskInputs', 'Collect',
    'Transpose', 'ToTensor', 'ImageToTensor', 'ToNumpy', 'Normalize',
    'NumpyToPIL', 'PILToNumpy'
}
# Loading is done by the caller, which reads gray, 16-bit and RGBA images.
LOADERS = {'LoadImageFromFile', 'LoadImageFromNDArray', 'LoadImage'}


def _type_name(transform_cfg) -> str:
    name = transform_cfg['type'] if isinstance(transform_cfg, dict) else \
        type(transform_cfg).__name__
    if not isinstance(name, str):
        name = name.__name__
    return name.split('.')[-1]


def _center_crop_origin(before_hw, after_hw) -> Tuple[float, float]:
    """Top-left corner of mmcv's CenterCrop (its rounding), on the image
    padded at the bottom-right to the crop size when it was smaller."""
    padded_h = max(before_hw[0], after_hw[0])
    padded_w = max(before_hw[1], after_hw[1])
    y1 = max(0, int(round((padded_h - after_hw[0]) / 2.)))
    x1 = max(0, int(round((padded_w - after_hw[1]) / 2.)))
    return x1, y1


def _efficientnet_center_crop(transform, geometry: InputGeometry,
                              after_hw) -> InputGeometry:
    """mmpretrain's EfficientNetCenterCrop: a centre crop of
    ``crop_size / (crop_size + crop_padding)`` of the short side, resized
    to ``crop_size``; replayed from its parameters."""
    h, w = geometry.input_hw
    crop = transform.crop_size / (transform.crop_size +
                                  transform.crop_padding) * min(h, w)
    y1 = max(0, int(round((h - crop) / 2.)))
    x1 = max(0, int(round((w - crop) / 2.)))
    # mmcv.imcrop keeps whole pixels: the box [x1, x1 + crop - 1] spans
    # int(crop) pixels when ``crop`` is fractional.
    crop_h = min(int(crop), h - y1)
    crop_w = min(int(crop), w - x1)
    return geometry.cropped(x1, y1, (crop_h, crop_w)).resized(after_hw)


def resized_hw(name: str, transform,
               hw: Tuple[int, int]) -> Optional[Tuple[int, int]]:
    """The ``(h, w)`` a resize transform will produce from ``hw``, worked
    out before it allocates anything; None when it cannot be told.

    mmpretrain's ``ResizeEdge`` scales one edge to ``scale``; mmcv's
    ``Resize`` goes to ``scale`` (keeping the ratio or not) or by
    ``scale_factor``. A 4000x1 strip with its short edge resized to 256
    would be 1,024,000x256 pixels: this is how it is caught in time.
    """
    from mmcv.image.geometric import _scale_size, rescale_size
    h, w = hw
    if name == 'ResizeEdge' and hasattr(transform, 'edge'):
        edge, scale = transform.edge, transform.scale
        if (edge == 'short' and w < h) or (edge == 'long'
                                           and w > h) or edge == 'width':
            return int(scale * h / w), scale
        return scale, int(scale * w / h)
    if name == 'Resize' and hasattr(transform, 'keep_ratio'):
        if transform.scale:
            if transform.keep_ratio:
                width, height = rescale_size((w, h), transform.scale)
            else:
                width, height = transform.scale
        else:
            width, height = _scale_size((w, h), transform.scale_factor)
        return int(height), int(width)
    return None


class InvertiblePipeline:
    """A test pipeline that also reports where its output lies in the
    original image.

    Supported geometry: ``Resize``/``ResizeEdge`` (any), ``CenterCrop``
    (with or without ``auto_pad``) and ``EfficientNetCenterCrop``, plus the
    packing and normalizing transforms. With any other transform the
    pipeline still runs; its geometry is reported as unknown with a note.

    Args:
        pipeline_cfg (Sequence[dict]): The test pipeline config; loading
            transforms are dropped (images arrive loaded).
        build (Callable): Builds a transform from its config, e.g.
            ``mmpretrain.registry.TRANSFORMS.build``.
        max_pixels (int, optional): Refuse an image whose resized version
            would be larger than this, before resizing. Defaults to
            :data:`~mmcam.utils.image_loading.DEFAULT_MAX_PIXELS`; None or
            0 for no limit.
    """

    def __init__(self,
                 pipeline_cfg: Sequence[dict],
                 build: Callable,
                 max_pixels: Optional[int] = DEFAULT_MAX_PIXELS) -> None:
        self.max_pixels = max_pixels
        self.transforms: List[Tuple[str, Callable]] = [
            (_type_name(cfg), build(cfg)) for cfg in pipeline_cfg
            if _type_name(cfg) not in LOADERS
        ]
        unknown = [
            name for name, _ in self.transforms
            if name not in RESIZES | NON_GEOMETRIC
            | {'CenterCrop', 'EfficientNetCenterCrop'}
        ]
        self.note: Optional[str] = None
        if unknown:
            self.note = (f'the test pipeline has {", ".join(unknown)}, '
                         'which mmcam cannot map back onto the original '
                         'image; heatmaps are given at the network input')

    @property
    def invertible(self) -> bool:
        return self.note is None

    def __call__(self, results: dict) -> Tuple[dict, Optional[InputGeometry]]:
        """Run the pipeline on ``results`` (with ``img`` loaded).

        Returns:
            tuple: The packed data, and its :class:`InputGeometry` (None
            when the pipeline cannot be inverted).
        """
        geometry: Optional[InputGeometry] = InputGeometry.identity(
            results['img'].shape[:2]) if self.invertible else None
        for name, transform in self.transforms:
            before = results.get('img')
            before_hw = before.shape[:2] if hasattr(before, 'shape') else None
            if name in RESIZES and before_hw is not None:
                after = resized_hw(name, transform, before_hw)
                if after is not None:
                    check_pixels(*after, results.get('img_path', 'array'),
                                 self.max_pixels, f'image after {name}')
            results = transform(results)
            if results is None:
                raise ValueError(f'transform {name} dropped the sample')
            if geometry is None or name in NON_GEOMETRIC:
                continue
            after_hw = results['img'].shape[:2]
            if name in RESIZES:
                geometry = geometry.resized(after_hw)
            elif name == 'CenterCrop':
                x1, y1 = _center_crop_origin(before_hw, after_hw)
                geometry = geometry.cropped(x1, y1, after_hw)
            elif name == 'EfficientNetCenterCrop':
                geometry = _efficientnet_center_crop(transform, geometry,
                                                     after_hw)
        return results, geometry
