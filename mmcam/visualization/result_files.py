"""ResultFiles: the names and files of the pictures the Python API and
the tool write, and of the raw heatmaps beside them.

A picture of ``show_dir`` is ``<image stem>_<method>_<category>.png``
(e.g. ``cat_gradcam_281.png``), the method's name in lower case; an image
whose stem another image of the same call already used (a glob over
several folders) gets ``_2``, ``_3``... so both pictures are kept. A raw
heatmap is a float32 ``.npy`` with the picture's stem, in its folder, and
of its size.

:class:`~mmcam.engine.hooks.CAMHook` names the pictures of a dataset by
sample index instead (``loop_pictures.picture_stem``); both write through
:func:`~mmcam.visualization.save_picture`.
"""
import os.path as osp
from typing import List, Optional

import numpy as np

from .cam_visualizer import save_picture, save_raw_heatmap


class ResultFiles:
    """Names and writes the pictures of one call, and their raw heatmaps.

    Names are unique for as long as the object lives: make one per call.
    """

    def __init__(self) -> None:
        self._taken: set = set()

    def picture_stem(self, image_stem: str, method: str, category: int) -> str:
        """``<image stem>_<method>_<category>``, with ``_2``, ``_3``...
        appended when an earlier picture took the name.

        Args:
            image_stem (str): The image's file name without extension
                (``image<i>`` for an array).
            method (str): The method's name, e.g. ``'GradCAM++'``; lower
                case in the name.
            category (int): The explained class id.
        """
        name = f'{image_stem}_{method.lower()}_{category}'
        unique, n = name, 1
        while unique in self._taken:
            n += 1
            unique = f'{name}_{n}'
        self._taken.add(unique)
        return unique

    def picture_file(self, show_dir: Optional[str], out_file: Optional[str],
                     image_stem: str, method: str,
                     category: int) -> Optional[str]:
        """Where a picture goes: exactly ``out_file`` when given, else a
        unique :meth:`picture_stem` ``.png`` in ``show_dir``; None when
        neither is given (shown only)."""
        if out_file:
            return str(out_file)
        if show_dir:
            return osp.join(
                str(show_dir),
                self.picture_stem(image_stem, method, category) + '.png')
        return None

    @staticmethod
    def write(picture: np.ndarray,
              picture_file: str,
              raw_heatmap: Optional[np.ndarray] = None) -> List[str]:
        """Write an RGB picture and, when given, its heatmap as a float32
        ``.npy`` beside it with the same stem.

        Returns:
            list[str]: The files written, the picture first.
        """
        save_picture(picture, picture_file)
        if raw_heatmap is None:
            return [picture_file]
        raw_file = osp.splitext(picture_file)[0] + '.npy'
        save_raw_heatmap(raw_heatmap, raw_file)
        return [picture_file, raw_file]
