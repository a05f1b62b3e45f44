"""ImageSample: one image on its way through
:class:`~mmcam.apis.CAMInferencer`'s stages, and the one line reported
for an image that failed on its own."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np

from ..cam import CAMError
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


def sample_error(sample: ImageSample, doing: str, error: Exception) -> str:
    """The one line reported for an image that failed on its own, e.g.
    ``"could not load image 'a.jpg': OSError: ..."``; a
    :class:`~mmcam.cam.CAMError` is its own line."""
    if isinstance(error, CAMError):
        return str(error)
    return f'{doing} image {sample.name!r}: {type(error).__name__}: ' \
        f'{one_line(error)}'
