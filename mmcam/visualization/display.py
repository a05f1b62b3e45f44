"""Showing pictures on screen: whether it can be done, and doing it.

``tools/vis_cam.py`` and :class:`~mmcam.apis.CAMInferencer` both ask here
before any work, so a run without a display fails in one line instead of
waiting forever in matplotlib's event loop.
"""
import os
import sys

import numpy as np

from ..cam.errors import CAMError

# matplotlib backends that cannot open a window.
NON_INTERACTIVE_BACKENDS = ('agg', 'pdf', 'ps', 'svg', 'cairo', 'template',
                            'pgf')


def matplotlib_backend() -> str:
    """The name of matplotlib's backend, lower case, without importing
    ``pyplot`` (which would pick one)."""
    import matplotlib
    backend = matplotlib.rcParams._get_backend_or_none()  # noqa: SLF001
    if backend is None:
        backend = matplotlib.get_backend()
    return str(backend).lower()


def is_inline_backend() -> bool:
    """Whether pictures are drawn into a notebook's cell output
    (``%matplotlib inline``, Jupyter's default)."""
    return 'inline' in matplotlib_backend()


def has_display() -> bool:
    """Whether a window can be opened on this machine at all."""
    if sys.platform in ('win32', 'darwin'):
        return True
    return bool(os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY'))


def check_can_show(hint: str) -> None:
    """Fail before any work when pictures are to be shown but cannot be.

    Args:
        hint (str): What to do instead, e.g. ``'pass --save-path ...'``;
            it ends the error message.

    Raises:
        CAMError: no display, or a matplotlib backend that cannot open a
            window (a notebook's inline backend can show).
    """
    if is_inline_backend():
        return
    if not has_display():
        raise CAMError(f'no display to show the pictures on; {hint}')
    backend = matplotlib_backend()
    if any(backend.startswith(b) for b in NON_INTERACTIVE_BACKENDS):
        raise CAMError(f'matplotlib backend {backend!r} cannot open a '
                       f'window; {hint}')


def show_picture(picture: np.ndarray,
                 title: str,
                 visualizer,
                 wait_time: float = 0) -> None:
    """Show an RGB picture: in the notebook cell with the inline backend,
    else in ``visualizer``'s window.

    Args:
        picture (np.ndarray): ``(H, W, 3)`` RGB uint8.
        title (str): Window title.
        visualizer (mmengine.visualization.Visualizer): Opens the window.
        wait_time (float): Seconds the window stays (0: until a key is
            pressed). Defaults to 0.
    """
    if is_inline_backend():
        import matplotlib.pyplot as plt

        # One figure per picture, shown at once: mmengine's show() reuses
        # one figure, so a cell would only show the last picture.
        height, width = picture.shape[:2]
        figure = plt.figure(figsize=(width / 100, height / 100), dpi=100)
        axes = figure.add_axes([0, 0, 1, 1])
        axes.axis('off')
        axes.imshow(picture)  # the caption is drawn inside it
        plt.show()
        return
    visualizer.show(picture, win_name=title, wait_time=wait_time)
