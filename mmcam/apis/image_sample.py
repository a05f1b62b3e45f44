"""ImageSample: one image on its way through
:class:`~mmcam.apis.CAMInferencer`'s stages, and the one line reported
for an image that failed on its own.

A sample knows where its image went on the network input
(:class:`~mmcam.utils.InputGeometry`), so it takes its own part of the
engine's padded batch, maps its heatmaps back onto the original image,
and says what its pictures are drawn on.
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple, Union

import numpy as np

from ..cam import CAMError, CAMResult
from ..utils import InputGeometry, one_line


@dataclass
class ImageSample:
    """One image on its way through the inferencer.

    Args:
        index (int): Its position among the call's images.
        source (str | np.ndarray): The path or array it was given as.
        image (np.ndarray, optional): The original, BGR uint8, once read.
        packed (dict, optional): The test pipeline's output.
        geometry (InputGeometry, optional): How the pipeline placed the
            image on the network input; None when it cannot be inverted.
        error (str, optional): Why the image has no result.
        prediction (dict): Its heatmaps, classes and scores, once explained.
    """
    index: int
    source: Union[str, np.ndarray]
    image: Optional[np.ndarray] = None  # original, BGR uint8
    packed: Optional[dict] = None  # the test pipeline's output
    geometry: Optional[InputGeometry] = None
    error: Optional[str] = None
    prediction: Dict = field(default_factory=dict)

    @property
    def path(self) -> Optional[str]:
        """The image file; None for an array."""
        return self.source if isinstance(self.source, str) else None

    @property
    def stem(self) -> str:
        """The file name without extension; ``image<index>`` for an
        array."""
        return Path(self.source).stem if self.path else f'image{self.index}'

    @property
    def name(self) -> str:
        """The path, or ``array <index>``: how messages name the image."""
        return self.path or f'array {self.index}'

    @property
    def input_size(self) -> Tuple[int, int]:
        """``(h, w)`` of its network input, before a batch pads it."""
        return tuple(self.packed['inputs'].shape[-2:])

    def take_result(self, result: CAMResult, row: int,
                    class_name: Callable[[int],
                                         str], note: Optional[str]) -> None:
        """Fill :attr:`prediction` from its row of the engine's batch.

        Args:
            result (CAMResult): The engine's result for the batch.
            row (int): The sample's row in it.
            class_name (Callable[[int], str]): Names a class id.
            note (str, optional): The pipeline's note, kept in the result.
        """
        # Images of different sizes were padded at the bottom-right into
        # one batch; keep the image's own part.
        height, width = self.input_size
        input_heatmaps = np.ascontiguousarray(
            result.heatmaps[row, :, :height, :width])
        categories = [int(c) for c in result.categories[row]]
        pred_scores = result.pred_scores[row]
        pred_label = int(np.argmax(pred_scores))
        geometry = self.geometry
        self.prediction = dict(
            input_heatmaps=input_heatmaps,
            heatmaps=(geometry.to_image(input_heatmaps)
                      if geometry is not None else None),
            input_region=(geometry.input_region
                          if geometry is not None else None),
            categories=categories,
            scores=np.asarray(result.scores[row], np.float32),
            class_names=[class_name(c) for c in categories],
            pred_label=pred_label,
            pred_score=float(pred_scores[pred_label]),
            pred_class=class_name(pred_label),
            pred_scores=np.asarray(pred_scores, np.float32),
            method=result.method,
            target_layers=list(result.target_layers),
            note=note)

    def drawing_ground(
            self) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        """What the sample's pictures are drawn on, once explained.

        Returns:
            tuple: The RGB canvas, the ``(K, H, W)`` heatmaps that fit it,
            and the mask of the canvas the network did not see (None when
            it saw all of it): the original image with ``heatmaps``, or,
            when the pipeline cannot be inverted, the network input with
            ``input_heatmaps``.
        """
        if self.prediction['heatmaps'] is not None:
            return (self.image[..., ::-1], self.prediction['heatmaps'],
                    ~self.geometry.region_mask())
        canvas = self.packed['inputs'].numpy().transpose(1, 2, 0)[..., ::-1]
        return canvas, self.prediction['input_heatmaps'], None


def sample_error(sample: ImageSample, doing: str, error: Exception) -> str:
    """The one line reported for an image that failed on its own, e.g.
    ``"could not load image 'a.jpg': OSError: ..."``; a
    :class:`~mmcam.cam.CAMError` is its own line."""
    if isinstance(error, CAMError):
        return str(error)
    return f'{doing} image {sample.name!r}: {type(error).__name__}: ' \
        f'{one_line(error)}'
