"""CAMVisualizer: heatmap overlays handed to mmengine's vis backends."""
import io
import os
import os.path as osp
import uuid
from typing import Optional, Sequence

import cv2
import numpy as np
from mmengine.registry import VISUALIZERS
from mmengine.visualization import Visualizer

from .overlay import (add_caption, colormap_code, hstack_panels,
                      overlay_heatmap, vstack_panels)

# The largest min_size: a 32x32 image enlarged to 2048x2048 is 12 MB a
# panel; 15000 took 5.4 GB and 148 s for 7 samples, legible no better.
MAX_MIN_SIZE = 2048


def check_panel_sizes(max_columns, min_size) -> None:
    """Refuse sizes that could never draw, or would draw for minutes.

    Raises:
        ValueError: naming the bad value and the accepted range.
    """
    if isinstance(max_columns,
                  bool) or not isinstance(max_columns, int) or max_columns < 1:
        raise ValueError(f'max_columns must be a positive integer, got '
                         f'{max_columns!r}')
    if isinstance(min_size, bool) or not isinstance(
            min_size, int) or not 0 <= min_size <= MAX_MIN_SIZE:
        raise ValueError(f'min_size must be an integer from 0 to '
                         f'{MAX_MIN_SIZE} (pixels of the shorter side), got '
                         f'{min_size!r}')


@VISUALIZERS.register_module()
class CAMVisualizer(Visualizer):
    """Draws class activation maps and passes them to the vis backends.

    Registered in mmengine's root ``VISUALIZERS`` registry, so
    ``visualizer = dict(type='CAMVisualizer', vis_backends=[...])`` builds
    under any ``default_scope``, mmpretrain's included. Pictures go to
    whatever ``vis_backends`` the config names (local files, TensorBoard,
    Weights & Biases) through :meth:`add_image`, unchanged.

    Args:
        name (str): Instance name. Defaults to ``'visualizer'``.
        colormap (str): OpenCV colormap of the heatmap. Defaults to
            ``'jet'``.
        alpha (float): Opacity of the heatmap over the image.
            Defaults to 0.5.
        show_original (bool): Put the original image beside the overlays.
            Defaults to True.
        max_columns (int): Overlays per row before a new row starts, for
            many categories or methods. Defaults to 4.
        caption_inside (bool): Draw captions over the top of each panel
            instead of in a bar above it, so a panel keeps the image's
            size. Defaults to False.
        min_size (int): Enlarge smaller images (e.g. CIFAR's 32x32) by a
            whole factor until their shorter side reaches ``min_size``, so
            heatmaps and captions stay legible; at most
            :data:`MAX_MIN_SIZE` (2048). 0 draws every image at its own
            size. Defaults to 0.
        **kwargs: Passed to :class:`mmengine.visualization.Visualizer`
            (``vis_backends``, ``save_dir``, ...).
    """

    def __init__(self,
                 name: str = 'visualizer',
                 colormap: str = 'jet',
                 alpha: float = 0.5,
                 show_original: bool = True,
                 max_columns: int = 4,
                 caption_inside: bool = False,
                 min_size: int = 0,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        colormap_code(colormap)  # fail at build time on a bad name
        if not 0 <= alpha <= 1:
            raise ValueError(f'alpha must be in [0, 1], got {alpha}')
        self.colormap = colormap
        self.alpha = alpha
        self.show_original = show_original
        check_panel_sizes(max_columns, min_size)
        self.max_columns = max_columns
        self.caption_inside = caption_inside
        self.min_size = min_size

    def _initialize_fig(self, fig_cfg) -> tuple:
        """Stand-ins for mmengine's matplotlib canvas, figure and axes.

        ``Visualizer.__init__`` builds them at once: 0.5 s of matplotlib
        imports and set-up on a 2-core CPU, which is a tenth of the tool's
        start-up. CAMVisualizer draws with OpenCV, so they are built on
        first use, by one of mmengine's ``draw_*``/``set_image`` methods.
        """
        return tuple(
            _FigurePart(self, fig_cfg, part)
            for part in ('fig_save_canvas', 'fig_save', 'ax_save'))

    @property
    def drawing_options(self) -> dict:
        """The options that decide how pictures look, as keyword
        arguments of this class, so another ``CAMVisualizer`` can draw
        the same way."""
        return dict(
            colormap=self.colormap,
            alpha=self.alpha,
            show_original=self.show_original,
            max_columns=self.max_columns,
            caption_inside=self.caption_inside,
            min_size=self.min_size)

    def draw_cam(self,
                 image: np.ndarray,
                 heatmaps: np.ndarray,
                 labels: Sequence[str] = (),
                 original_label: str = 'original') -> np.ndarray:
        """Draw the overlays of one image.

        Args:
            image (np.ndarray): ``(H, W, 3)`` RGB uint8.
            heatmaps (np.ndarray): ``(K, h, w)`` or ``(h, w)`` floats in
                [0, 1] (NaN where there is no heatmap); resized to the image.
            labels (Sequence[str]): A caption per heatmap, e.g. the class
                name and score. Defaults to no captions.
            original_label (str): Caption of the original image.

        Returns:
            np.ndarray: The picture, RGB uint8: the original (if
            ``show_original``) then one overlay per heatmap, in rows of at
            most ``max_columns`` overlays.
        """
        image = np.ascontiguousarray(image[..., :3]).astype(np.uint8)
        shorter = min(image.shape[:2])
        if 0 < shorter < self.min_size:
            # Whole factors and nearest neighbours keep pixels crisp;
            # overlay_heatmap resizes the heatmaps to the enlarged image.
            factor = -(-self.min_size // shorter)
            image = cv2.resize(
                image,
                None,
                fx=factor,
                fy=factor,
                interpolation=cv2.INTER_NEAREST)
        heatmaps = np.asarray(heatmaps)
        if heatmaps.ndim == 2:
            heatmaps = heatmaps[None]
        labels = list(labels)
        captioned = any(labels)
        panels = []
        for index, heatmap in enumerate(heatmaps):
            panel = overlay_heatmap(image, heatmap, self.colormap, self.alpha)
            if captioned:
                label = labels[index] if index < len(labels) else ''
                panel = add_caption(panel, label, self.caption_inside)
            panels.append(panel)
        original = add_caption(image, original_label,
                               self.caption_inside) if captioned else image
        rows = []
        for start in range(0, len(panels), self.max_columns):
            row = panels[start:start + self.max_columns]
            if self.show_original:
                row = [original] + row
            rows.append(hstack_panels(row))
        return vstack_panels(rows)

    def add_cam(self,
                name: str,
                image: np.ndarray,
                heatmaps: np.ndarray,
                labels: Sequence[str] = (),
                step: int = 0,
                out_file: Optional[str] = None) -> np.ndarray:
        """Draw the overlays of one image and store the picture.

        Args:
            name (str): Name of the picture in the vis backends.
            image, heatmaps, labels: As in :meth:`draw_cam`.
            step (int): Global step, e.g. the epoch or iteration.
            out_file (str, optional): Write the picture to this file
                instead of the vis backends.

        Returns:
            np.ndarray: The drawn picture, RGB uint8.
        """
        drawn = self.draw_cam(image, heatmaps, labels)
        if out_file is not None:
            save_picture(drawn, out_file)
        else:
            self.add_image(name, drawn, step)
        return drawn


def save_picture(picture: np.ndarray, out_file: str) -> None:
    """Write an RGB picture to ``out_file``, creating its folder.

    The file appears complete or not at all, so a run stopped by Ctrl-C
    (minutes into a ScoreCAM folder) leaves every finished picture intact
    and no half-written one.
    """
    suffix = osp.splitext(out_file)[1]
    try:
        ok, encoded = cv2.imencode(suffix,
                                   cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    except cv2.error:
        ok = False
    if not ok:
        raise OSError(f'could not write picture {out_file!r}')
    write_whole_file(encoded.tobytes(), out_file)


def save_raw_heatmap(heatmap: np.ndarray, out_file: str) -> None:
    """Write a heatmap as a float32 ``.npy``, complete or not at all."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(heatmap, dtype=np.float32))
    write_whole_file(buffer.getvalue(), out_file)


def write_whole_file(data: bytes, out_file: str) -> None:
    """Write to a hidden file beside ``out_file`` and rename it: a rename
    within a folder is atomic, so readers never see a partial file."""
    folder = osp.dirname(osp.abspath(out_file))
    os.makedirs(folder, exist_ok=True)
    partial = osp.join(folder,
                       f'.{osp.basename(out_file)}.{uuid.uuid4().hex}.part')
    try:
        with open(partial, 'xb') as file:
            file.write(data)
        os.replace(partial, out_file)
    except BaseException:  # Ctrl-C too: no partial file is left behind
        if osp.exists(partial):
            os.remove(partial)
        raise


class _FigurePart:
    """One of :class:`CAMVisualizer`'s matplotlib objects before it is
    built. Reading any attribute builds all three and puts them on the
    visualizer; ``get_dpi`` answers without building, because
    ``Visualizer.__init__`` asks for it."""

    def __init__(self, visualizer: CAMVisualizer, fig_cfg: dict, part: str):
        self._visualizer = visualizer
        self._fig_cfg = fig_cfg
        self._part = part

    def get_dpi(self) -> float:
        import matplotlib
        return self._fig_cfg.get('dpi', matplotlib.rcParams['figure.dpi'])

    def __getattr__(self, name: str):
        if name.startswith('_'):  # copy and pickle probe before __init__
            raise AttributeError(name)
        visualizer = self._visualizer
        if isinstance(getattr(visualizer, self._part), _FigurePart):
            (visualizer.fig_save_canvas, visualizer.fig_save,
             visualizer.ax_save) = Visualizer._initialize_fig(
                 visualizer, self._fig_cfg)
        return getattr(getattr(visualizer, self._part), name)
