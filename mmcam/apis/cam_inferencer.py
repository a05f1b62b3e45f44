"""CAMInferencer: class activation maps of images, from Python."""
import copy
from pathlib import Path
from typing import (Callable, Dict, Iterator, List, Optional, Sequence, Tuple,
                    Union)

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.infer import BaseInferencer
from mmengine.registry import DefaultScope

from ..cam import (CAMEngine, CAMError, CAMSettings, LayerRecord,
                   NotANumberError)
from ..cam.settings import TargetCategory
from ..evaluation import CAMQuality
from ..evaluation.cam_quality import MetricsArg
from ..library_noise import quiet_model_building
from ..utils import (InvertiblePipeline, class_name, collect_images,
                     load_checkpoint_strictly, one_line, read_image,
                     resolve_class_names)
from ..utils.image_loading import DEFAULT_MAX_PIXELS
from ..utils.progress import terminal_progress
from ..visualization.result_files import ResultFiles
from .call_settings import UNSET, CallSettings
from .image_metrics import ImageMetrics
from .image_sample import ImageSample, sample_error
from .model_source import ModelType, check_device, resolve_model

InputType = Union[str, Path, np.ndarray]


class CAMInferencer(BaseInferencer):
    """Class activation maps and predictions of images, for any mmpretrain
    classifier config.

    Images go through the config's test pipeline
    (``test_dataloader.dataset.pipeline``, else ``test_pipeline``); each
    batch goes through :class:`~mmcam.cam.CAMEngine` in one call. Heatmaps
    come back at the network input's resolution and, where the pipeline
    can be inverted (resizes, centre crops, packing), mapped back onto the
    original image.

    The inferencer orchestrates mmengine's stages (preprocess, forward,
    visualize, postprocess) and hands the work to collaborators:

    - :class:`~mmcam.apis.call_settings.CallSettings`: a call's
      ``target_category`` and ``topk``, checked against the head;
    - :class:`~mmcam.apis.image_sample.ImageSample`: one image, its own
      part of the padded batch, mapped back onto the original;
    - :class:`~mmcam.apis.image_metrics.ImageMetrics`: quality metrics
      and ``gt_bboxes``;
    - :class:`~mmcam.visualization.CAMVisualizer` and
      :class:`~mmcam.visualization.result_files.ResultFiles`: the pictures,
      their file names and the raw maps beside them.

    Args:
        model (str | Path | Config): A config file, a :class:`Config`, or an
            mmpretrain model name such as ``'resnet18_8xb32_in1k'``.
        pretrained (bool | str): A checkpoint path or URL. ``True`` takes
            the config's ``load_from`` or, for a model name, its released
            weights; ``False`` keeps random weights (with a warning).
            Loading is strict: a checkpoint that does not fit the config
            raises :class:`~mmcam.cam.CAMError`. Defaults to True.
        device (str, optional): ``'cpu'``, ``'cuda'``, ``'cuda:1'``...
            Defaults to the best available device.
        cfg_options (dict, optional): Overrides merged into the config, as
            ``--cfg-options`` in the tools. Defaults to None.
        classes (Sequence[str], optional): Class names, one per class of
            the head. Defaults to the
            checkpoint's ``dataset_meta``, then the config's, then
            ImageNet's for a 1000-class head, then ``'class <id>'``.
        show_progress (bool): Draw a progress bar when several images are
            given and stderr is a terminal. Defaults to True.
        colormap (str): OpenCV colormap of drawn heatmaps. Defaults to
            ``'jet'``.
        alpha (float): Opacity of drawn heatmaps. Defaults to 0.5.
        max_pixels (int, optional): Refuse images larger than this many
            pixels, before decoding them, and images a resize of the test
            pipeline would make larger (a 4000x1 strip whose short edge is
            resized to 256). Defaults to Pillow's decompression-bomb limit,
            89,478,485; None or 0 for no limit.
        metrics (bool | Sequence[str]): Measure every heatmap with
            :class:`~mmcam.evaluation.CAMQuality`: True for every metric
            that applies, or names such as ``['avg_drop',
            'deletion_auc']``; results get ``metrics``. Defaults to False.
        metric_cfg (dict, optional): Options of
            :class:`~mmcam.evaluation.CAMQuality` (``steps``,
            ``batch_size``, ``deletion_substrate``,
            ``insertion_substrate``, ...). Defaults to its defaults.
        **cam_settings: Fields of :class:`~mmcam.cam.CAMSettings`:
            ``method``, ``target_layers``, ``target_category``, ``topk``,
            ``eigen_smooth``, ``aug_smooth``, ``vit_like``,
            ``num_extra_tokens``, ``batch_size`` (of ScoreCAM's and
            AblationCAM's extra forward passes), ``seed`` (of RandomCAM's
            weights), ``head_fusion`` and ``discard_ratio``
            (AttentionRollout's options).

    Example:
        >>> from mmcam.apis import CAMInferencer
        >>> inferencer = CAMInferencer('configs/my_resnet.py',
        ...                            pretrained='my_resnet.pth',
        ...                            method='GradCAM++', topk=2)
        >>> result = inferencer('cat.jpg')[0]
        >>> result['heatmaps'].shape        # on the original image
        (2, 480, 640)
        >>> result['input_heatmaps'].shape  # at the network input
        (2, 224, 224)
        >>> result['class_names'], result['scores']
        (['tabby cat', 'tiger cat'], array([0.61, 0.22], dtype=float32))
        >>> inferencer('photos/', batch_size=8, show_dir='cams/')
    """

    preprocess_kwargs: set = {'on_bad_image'}
    forward_kwargs: set = {'target_category', 'topk', 'metrics', 'gt_bboxes'}
    visualize_kwargs: set = {
        'show', 'wait_time', 'show_dir', 'out_file', 'save_raw'
    }
    postprocess_kwargs: set = set()

    def __init__(self,
                 model: ModelType,
                 pretrained: Union[bool, str, Path, None] = True,
                 device: Optional[str] = None,
                 cfg_options: Optional[dict] = None,
                 classes: Optional[Sequence[str]] = None,
                 show_progress: bool = True,
                 colormap: str = 'jet',
                 alpha: float = 0.5,
                 max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
                 metrics: MetricsArg = False,
                 metric_cfg: Optional[dict] = None,
                 **cam_settings) -> None:
        self.settings = CAMSettings.from_kwargs(**cam_settings)
        if max_pixels is not None and (isinstance(max_pixels, bool)
                                       or not isinstance(max_pixels, int)
                                       or max_pixels < 0):
            raise CAMError('max_pixels must be a non-negative integer (0: '
                           f'no limit), got {max_pixels!r}')
        self.max_pixels = max_pixels
        self.metric_cfg = dict(metric_cfg or {})
        ImageMetrics.check_arguments(metrics, self.metric_cfg)
        self.metrics = metrics
        from ..visualization.overlay import colormap_code
        try:
            colormap_code(colormap)
        except ValueError as error:
            raise CAMError(str(error)) from None
        if not 0 <= alpha <= 1:
            raise CAMError(f'alpha must be in [0, 1], got {alpha!r}')
        self.colormap, self.alpha = colormap, alpha
        cfg, weights = resolve_model(model, pretrained, cfg_options)
        self.checkpoint_meta: dict = {}
        # Weights created under torch.inference_mode() could never take
        # part in a backward pass; built outside it, the inferencer also
        # works when constructed inside it.
        with torch.inference_mode(False):
            super().__init__(
                model=cfg,
                weights=weights,
                device=check_device(device),
                scope='mmpretrain',
                show_progress=show_progress)
        self.engine = CAMEngine(self.model, self.settings)
        self.image_metrics = ImageMetrics(self.engine, metrics,
                                          self.metric_cfg)
        head = getattr(self.model, 'head', None)
        num_classes = getattr(head, 'num_classes', None)
        if classes is not None and num_classes is not None and len(
                classes) != num_classes:
            raise CAMError(f'classes has {len(classes)} name(s) but the '
                           f'head has {num_classes} classes')
        self.classes, self.classes_source = resolve_class_names(
            num_classes, self.checkpoint_meta, self.cfg, classes)
        self.call_settings = CallSettings(self.settings, num_classes)
        self.call_settings.check_fit_the_head()
        self._result_files = ResultFiles()

    # ------------------------------------------------------------------
    # Building
    # ------------------------------------------------------------------
    def _init_model(self,
                    cfg: Config,
                    weights: Optional[str],
                    device: str = 'cpu') -> nn.Module:
        from mmpretrain.registry import MODELS
        model_cfg = copy.deepcopy(cfg.model)
        model_cfg.setdefault('data_preprocessor',
                             cfg.get('data_preprocessor', None))
        # Weights come from the checkpoint only, never from a download the
        # config asks for.
        model_cfg.pop('pretrained', None)
        try:
            with DefaultScope.overwrite_default_scope('mmpretrain'), \
                    quiet_model_building():
                model = MODELS.build(model_cfg)
        except Exception as error:
            raise CAMError('could not build the model of the config: '
                           f'{one_line(error)}') from None
        if weights is not None:
            checkpoint = load_checkpoint_strictly(model, weights)
            self.checkpoint_meta = checkpoint.get('meta') or {}
        model._config = cfg
        model.to(device)
        return model.eval()

    def _init_pipeline(self, cfg: Config) -> InvertiblePipeline:
        dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
        pipeline_cfg = dataset.get('pipeline') or cfg.get('test_pipeline')
        if not pipeline_cfg:
            raise CAMError('the config has neither '
                           'test_dataloader.dataset.pipeline nor '
                           'test_pipeline')
        from mmpretrain.registry import TRANSFORMS
        try:
            with DefaultScope.overwrite_default_scope('mmpretrain'):
                return InvertiblePipeline(pipeline_cfg, TRANSFORMS.build,
                                          self.max_pixels)
        except Exception as error:
            raise CAMError('could not build the test pipeline: '
                           f'{one_line(error)}') from None

    def _init_collate(self, cfg: Config) -> Callable:
        # The data preprocessor pads images of different sizes; stacking
        # here would fail for pipelines without a crop.
        return pseudo_collate

    def _init_visualizer(self, cfg: Config):
        return None  # built when first needed, see ``cam_visualizer``

    @property
    def cam_visualizer(self):
        """The :class:`~mmcam.visualization.CAMVisualizer` that draws."""
        if self.visualizer is None:
            from ..visualization import CAMVisualizer

            # One picture per heatmap, at the image's own size, the
            # caption inside it: ``--save-raw`` arrays align pixel by pixel.
            self.visualizer = CAMVisualizer(
                name=f'cam_inferencer_{id(self)}',
                colormap=self.colormap,
                alpha=self.alpha,
                show_original=False,
                caption_inside=True)
        return self.visualizer

    # ------------------------------------------------------------------
    # Names
    # ------------------------------------------------------------------
    def class_name(self, category: int) -> str:
        """The name of a class id."""
        return class_name(self.classes, category)

    # ------------------------------------------------------------------
    # Layers
    # ------------------------------------------------------------------
    def input_shape(self,
                    image: Optional[InputType] = None) -> Tuple[int, int]:
        """``(H, W)`` of the network input for ``image`` (a path or array),
        or for a 224x224 gray image when none is given."""
        if image is None:
            loaded = np.full((224, 224, 3), 128, np.uint8)
        else:
            loaded = read_image(image, self.max_pixels)
        packed, _ = self.pipeline(self._results_of(loaded, None))
        return tuple(packed['inputs'].shape[-2:])

    def record_layers(
        self,
        image: Optional[InputType] = None
    ) -> Tuple[List[LayerRecord], List[str]]:
        """Every layer's output shape for the network input of ``image``,
        and the target layers that will be used (the default, unless
        ``target_layers`` was given).

        Returns:
            tuple[list[LayerRecord], list[str]]: Records in the order the
            layers start running (a module called twice, like a block's
            shared ReLU, is listed once), and the target layer names.
        """
        height, width = self.input_shape(image)
        shape = (1, 3, height, width)
        records: Dict[str, LayerRecord] = {}
        for record in sorted(
                self.engine.record_layers(shape), key=lambda r: r.start):
            records.setdefault(record.name, record)
        records = list(records.values())
        names = [name for name, _ in self.engine.target_layers(shape)]
        return records, names

    # ------------------------------------------------------------------
    # The inference loop
    # ------------------------------------------------------------------
    def __call__(self,
                 inputs: Union[InputType, Sequence[InputType]],
                 batch_size: int = 1,
                 **kwargs) -> List[dict]:
        """Heatmaps and predictions of images.

        Args:
            inputs: An image path, a folder, a glob pattern
                (``'photos/*.jpg'``), an image array, or a list of them.
                Arrays are in OpenCV's channel order (BGR/BGRA, as
                ``mmcv.imread`` returns them); gray, 16-bit and float
                arrays are accepted.
            batch_size (int): Images per forward pass. Defaults to 1.
            target_category (None | int | list[int]): Overrides the
                setting for this call.
            topk (int, optional): Overrides the setting for this call.
            on_bad_image (str): ``'raise'`` (default) stops at the first
                missing or unreadable image; ``'report'`` gives a result
                ``{'img_path': ..., 'error': message}`` for it and goes on.
            show (bool): Show each picture in a window, or in the cell
                with a notebook's inline backend. Without either, raises
                :class:`~mmcam.cam.CAMError` before any work. Defaults to
                False.
            wait_time (float): Seconds each window stays (0: until a key
                is pressed). Defaults to 0.
            show_dir (str, optional): Write pictures to this folder, named
                ``<image stem>_<method>_<category>.png``.
            out_file (str, optional): Write the only picture of this call
                to exactly this file.
            save_raw (bool): Also write each heatmap as a float32 ``.npy``
                beside its picture, with the same stem and size.
            metrics (bool | Sequence[str]): Overrides the inferencer's
                ``metrics`` for this call.
            gt_bboxes (Sequence[np.ndarray], optional): Ground-truth boxes
                for the localisation metrics: per input image an
                ``(N, 4)`` array ``x1, y1, x2, y2`` in the original
                image's pixels (any class).

        Returns:
            list[dict]: Per image:

            - ``img_path`` (str | None): The file, None for arrays.
            - ``heatmaps`` (np.ndarray | None): ``(K, H, W)`` float32 in
              [0, 1] on the original image, 0 outside the part the network
              saw; None when the pipeline cannot be inverted (see
              ``note``).
            - ``input_heatmaps`` (np.ndarray): ``(K, h, w)`` at the network
              input.
            - ``input_region`` (tuple | None): ``(x1, y1, x2, y2)`` of the
              original image the network saw.
            - ``categories`` (list[int]), ``scores`` (np.ndarray),
              ``class_names`` (list[str]): the explained classes, their
              probabilities and names.
            - ``pred_label`` (int), ``pred_score`` (float), ``pred_class``
              (str), ``pred_scores`` (np.ndarray): the prediction.
            - ``method`` (str), ``target_layers`` (list[str]),
              ``note`` (str | None).
            - ``visualization`` (list[np.ndarray]) and ``out_files``
              (list[str]): only when pictures were drawn.
            - ``metrics`` (dict[str, np.ndarray]): only with ``metrics``;
              name -> float32 ``(K,)``, one value per explained class,
              measured at the network input (see
              :class:`~mmcam.evaluation.CAMQuality`).
        """
        return list(self.iter_results(inputs, batch_size, **kwargs))

    def iter_results(self,
                     inputs: Union[InputType, Sequence[InputType]],
                     batch_size: int = 1,
                     **kwargs) -> Iterator[dict]:
        """As :meth:`__call__`, but yields each image's result as soon as
        its batch is done, so a folder of many large images never holds
        all heatmaps in memory."""
        try:
            preprocess_kwargs, forward_kwargs, visualize_kwargs, _ = \
                self._dispatch_kwargs(**kwargs)
        except ValueError as error:
            raise CAMError(str(error)) from None
        # Every stage keeps a failing image to itself when asked to report.
        on_bad_image = preprocess_kwargs.get('on_bad_image', 'raise')
        if not isinstance(batch_size, int) or batch_size < 1:
            raise CAMError(f'batch_size must be a positive integer, got '
                           f'{batch_size!r}')
        categories = {
            key: forward_kwargs[key]
            for key in ('target_category', 'topk') if key in forward_kwargs
        }
        self.call_settings.check_fit_the_head(**categories)
        images = collect_images(inputs)
        self.image_metrics.check_call(
            self._quality_for(forward_kwargs.get('metrics', UNSET)),
            len(images), forward_kwargs.get('gt_bboxes'))
        if visualize_kwargs.get('show'):
            from ..visualization import check_can_show
            check_can_show('use show_dir=FOLDER or out_file=FILE to write '
                           'the pictures instead')
        if visualize_kwargs.get('out_file'):
            pictures = len(images) * self.categories_per_image(**categories)
            if pictures > 1:
                raise CAMError(
                    f'this run makes {pictures} pictures, which cannot all '
                    f'go to file {visualize_kwargs["out_file"]!r}; give a '
                    'folder instead')
        self._result_files = ResultFiles()

        progress = terminal_progress(
            len(images),
            'CAM',
            'image',
            enabled=self.show_progress and len(images) > 1)
        try:
            for batch in self.preprocess(images, batch_size,
                                         **preprocess_kwargs):
                preds = self.forward(
                    batch, on_bad_image=on_bad_image, **forward_kwargs)
                visualization = self.visualize([s.source for s in batch],
                                               preds,
                                               on_bad_image=on_bad_image,
                                               **visualize_kwargs)
                yield from self.postprocess(preds, visualization)
                progress.update(len(batch))
        finally:
            progress.close()

    def _quality_for(self, metrics=UNSET) -> Optional[CAMQuality]:
        """The measurer of this call's metrics; None for none."""
        if metrics is UNSET:
            return self.image_metrics.configured()
        return self.image_metrics.for_call(metrics)

    def categories_per_image(self, target_category=UNSET, topk=UNSET) -> int:
        """How many heatmaps each image gets with these overrides."""
        return self.call_settings.resolved(target_category,
                                           topk).heatmaps_per_sample

    @staticmethod
    def _results_of(image: np.ndarray, path: Optional[str]) -> dict:
        results = dict(
            img=image, img_shape=image.shape[:2], ori_shape=image.shape[:2])
        if path is not None:
            results['img_path'] = path
        return results

    def preprocess(self,
                   inputs: List[InputType],
                   batch_size: int = 1,
                   on_bad_image: str = 'raise') -> Iterator[List[ImageSample]]:
        """Load each image and run the test pipeline; yields batches of
        :class:`ImageSample`."""
        if on_bad_image not in ('raise', 'report'):
            raise CAMError(f"on_bad_image must be 'raise' or 'report', got "
                           f'{on_bad_image!r}')

        def load(indexed) -> ImageSample:
            index, source = indexed
            sample = ImageSample(index, source)
            try:
                sample.image = read_image(source, self.max_pixels)
                try:
                    sample.packed, sample.geometry = self.pipeline(
                        self._results_of(sample.image, sample.path))
                except CAMError:
                    raise
                except Exception as error:
                    raise CAMError(
                        f'the test pipeline failed on image '
                        f'{sample.stem!r}: {one_line(error)}') from None
            except Exception as error:  # noqa: BLE001  (one image only)
                if on_bad_image == 'raise':
                    raise
                sample.error = sample_error(sample, 'could not load', error)
                sample.image = sample.packed = None
            return sample

        yield from self._get_chunk_data(
            map(load, enumerate(inputs)), batch_size)

    def forward(self,
                batch: List[ImageSample],
                target_category: TargetCategory = UNSET,
                topk: Optional[int] = UNSET,
                metrics: MetricsArg = UNSET,
                gt_bboxes=None,
                on_bad_image: str = 'raise') -> List[ImageSample]:
        """One :class:`~mmcam.cam.CAMEngine` call for the batch's good
        images; fills each sample's ``prediction``. With ``on_bad_image=
        'report'``, a batch that fails is retried image by image, and an
        image that fails alone gets an ``error`` instead."""
        good = [s for s in batch if s.error is None]
        if not good:
            return batch
        overrides = self.call_settings.engine_arguments(target_category, topk)
        measure = dict(quality=self._quality_for(metrics), gt_bboxes=gt_bboxes)
        try:
            self._explain(good, overrides, **measure)
        except Exception:  # noqa: BLE001
            if on_bad_image == 'raise':
                raise
            for sample in good:
                try:
                    self._explain([sample], overrides, **measure)
                except Exception as error:  # noqa: BLE001  (one image)
                    sample.error = sample_error(sample, 'no heatmap for',
                                                error)
        return batch

    def _explain(self,
                 samples: List[ImageSample],
                 overrides: dict,
                 quality: Optional[CAMQuality] = None,
                 gt_bboxes=None) -> None:
        """Run the engine on ``samples``; fill their ``prediction``, with
        ``metrics`` when a ``quality`` measurer is given."""
        data = self.model.data_preprocessor(
            pseudo_collate([s.packed for s in samples]), False)
        try:
            result = self.engine(
                data['inputs'],
                sample_names=[
                    f'image {s.path!r}' if s.path else f'array {s.index}'
                    for s in samples
                ],
                **overrides)
        except NotANumberError as error:
            broken = samples[error.rows[0]]
            raise NotANumberError(
                f'no heatmap for image {broken.name!r}: {error}',
                error.rows) from None
        for row, sample in enumerate(samples):
            sample.take_result(result, row, self.class_name,
                               self.pipeline.note)
        if quality is not None:
            measured = self.image_metrics.measure(quality, samples,
                                                  data['inputs'],
                                                  result.heatmaps,
                                                  result.categories, gt_bboxes)
            for sample, metrics in zip(samples, measured):
                sample.prediction['metrics'] = metrics

    def visualize(self,
                  inputs: list,
                  preds: List[ImageSample],
                  show: bool = False,
                  wait_time: float = 0,
                  show_dir: Optional[str] = None,
                  out_file: Optional[str] = None,
                  save_raw: bool = False,
                  on_bad_image: str = 'raise') -> Optional[List[dict]]:
        """Draw one picture per heatmap: the overlay on the original image
        (or on the network input, when the pipeline cannot be inverted),
        captioned with the class name and score.

        Returns:
            list[dict] | None: Per sample, ``pictures`` (RGB arrays) and
            ``out_files``; None when nothing was asked for. With
            ``on_bad_image='report'`` a sample that cannot be drawn or
            written gets an ``error`` and no pictures.
        """
        if not (show or show_dir or out_file):
            if save_raw:
                raise CAMError('save_raw needs show_dir or out_file, to '
                               'know where to write')
            return None
        if show_dir and out_file:
            raise CAMError('give either show_dir or out_file, not both')
        drawn = []
        for sample in preds:
            if sample.error is None:
                try:
                    drawn.append(
                        self._draw_sample(sample, show, wait_time, show_dir,
                                          out_file, save_raw))
                    continue
                except Exception as error:  # noqa: BLE001
                    if on_bad_image == 'raise':
                        raise
                    sample.error = sample_error(sample,
                                                'could not draw or write',
                                                error)
            drawn.append(dict(pictures=[], out_files=[]))
        return drawn

    def _draw_sample(self, sample: ImageSample, show: bool, wait_time: float,
                     show_dir: Optional[str], out_file: Optional[str],
                     save_raw: bool) -> dict:
        """The pictures of one sample, drawn, written and shown."""
        from ..visualization import score_caption, show_picture
        prediction = sample.prediction
        canvas, heatmaps, outside = sample.drawing_ground()
        pictures, files = [], []
        for heatmap, category, score, name in zip(heatmaps,
                                                  prediction['categories'],
                                                  prediction['scores'],
                                                  prediction['class_names']):
            # NaN leaves the image as it is where the network saw
            # nothing, instead of painting it the colour of 0.
            shown = heatmap if outside is None else np.where(
                outside, np.nan, heatmap)
            label = score_caption(name, score)
            picture = self.cam_visualizer.draw_cam(
                np.ascontiguousarray(canvas), shown, [label])
            target = self._result_files.picture_file(show_dir, out_file,
                                                     sample.stem,
                                                     self.engine.method.name,
                                                     category)
            if target is not None:
                files += self._result_files.write(
                    picture, target, heatmap if save_raw else None)
            if show:
                show_picture(picture, f'{sample.stem} {label}',
                             self.cam_visualizer, wait_time)
            pictures.append(picture)
        return dict(pictures=pictures, out_files=files)

    def postprocess(self,
                    preds: List[ImageSample],
                    visualization: Optional[List[dict]],
                    return_datasample: bool = False) -> List[dict]:
        """Plain result dicts (see :meth:`__call__`)."""
        results = []
        for i, sample in enumerate(preds):
            if sample.error is not None:
                results.append(dict(img_path=sample.path, error=sample.error))
                continue
            result = dict(img_path=sample.path, **sample.prediction)
            if visualization is not None:
                result['visualization'] = visualization[i]['pictures']
                result['out_files'] = visualization[i]['out_files']
            results.append(result)
        return results
