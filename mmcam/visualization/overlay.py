"""Drawing primitives: a heatmap over an image, a caption, a row of panels.

Kept apart from computing (:mod:`mmcam.cam`) and from where pictures go
(:class:`~mmcam.visualization.CAMVisualizer`). Everything is RGB uint8 and
uses OpenCV, which is far faster than matplotlib for many pictures.
"""
from typing import Sequence

import cv2
import numpy as np

_COLORMAPS = {
    name.lower()[len('COLORMAP_'):]: getattr(cv2, name)
    for name in dir(cv2) if name.startswith('COLORMAP_')
}


def colormap_code(name: str) -> int:
    """The OpenCV code of a colormap name such as ``'jet'`` or ``'turbo'``.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    code = _COLORMAPS.get(str(name).lower())
    if code is None:
        raise ValueError(f'unknown colormap {name!r}; choose from '
                         f'{", ".join(sorted(_COLORMAPS))}')
    return code


def overlay_heatmap(image: np.ndarray,
                    heatmap: np.ndarray,
                    colormap: str = 'jet',
                    alpha: float = 0.5) -> np.ndarray:
    """Blend a colour-mapped heatmap over an image.

    Args:
        image (np.ndarray): ``(H, W, 3)`` RGB uint8.
        heatmap (np.ndarray): ``(h, w)`` floats in [0, 1]; resized to the
            image when the sizes differ. NaN marks "no heatmap here" (e.g.
            outside a center crop) and leaves the image as it is.
        colormap (str): OpenCV colormap name. Defaults to ``'jet'``.
        alpha (float): Opacity of the heatmap. Defaults to 0.5.

    Returns:
        np.ndarray: ``(H, W, 3)`` RGB uint8.
    """
    height, width = image.shape[:2]
    heatmap = np.asarray(heatmap, dtype=np.float32)
    if heatmap.shape != (height, width):
        heatmap = cv2.resize(
            heatmap, (width, height), interpolation=cv2.INTER_LINEAR)
    covered = ~np.isnan(heatmap)
    values = np.uint8(np.clip(np.nan_to_num(heatmap), 0, 1) * 255)
    colored = cv2.applyColorMap(values, colormap_code(colormap))
    colored = cv2.cvtColor(colored, cv2.COLOR_BGR2RGB)
    blended = cv2.addWeighted(colored, alpha, image, 1 - alpha, 0)
    return np.where(covered[..., None], blended, image)


def score_caption(class_name: str, score: float) -> str:
    """``'<class name> <score>'``, the caption of a heatmap's panel, e.g.
    ``'tabby cat 0.87'``: the same in the tool, the API and the hook."""
    return f'{class_name} {score:.2f}'


def add_caption(image: np.ndarray,
                text: str,
                inside: bool = False) -> np.ndarray:
    """Put ``text`` in a dark bar above the image; the bar and the font
    scale with the image width so captions stay legible. With ``inside``
    the bar is blended over the image's top rows instead, so the picture
    keeps the image's size (pixel-aligned with its heatmap)."""
    width = image.shape[1]
    scale = max(0.35, min(1.0, width / 560))
    thickness = 1 if scale < 0.7 else 2
    (text_w, text_h), baseline = cv2.getTextSize(text,
                                                 cv2.FONT_HERSHEY_SIMPLEX,
                                                 scale, thickness)
    # Shrink long captions to fit the panel.
    if text_w > width - 8:
        scale *= (width - 8) / text_w
        (text_w, text_h), baseline = cv2.getTextSize(text,
                                                     cv2.FONT_HERSHEY_SIMPLEX,
                                                     scale, thickness)
    bar_h = text_h + baseline + 8
    bar = np.full((bar_h, width, 3), 30, dtype=np.uint8)
    cv2.putText(bar, text, (4, bar_h - baseline - 4), cv2.FONT_HERSHEY_SIMPLEX,
                scale, (255, 255, 255), thickness, cv2.LINE_AA)
    if inside:
        captioned = image.copy()
        rows = min(bar_h, image.shape[0])
        captioned[:rows] = cv2.addWeighted(bar[:rows], 0.7, image[:rows], 0.3,
                                           0)
        return captioned
    return np.concatenate([bar, image], axis=0)


def hstack_panels(panels: Sequence[np.ndarray], gap: int = 4) -> np.ndarray:
    """Place panels side by side, top-aligned, on a white background."""
    height = max(p.shape[0] for p in panels)
    width = sum(p.shape[1] for p in panels) + gap * (len(panels) - 1)
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    x = 0
    for panel in panels:
        canvas[:panel.shape[0], x:x + panel.shape[1]] = panel
        x += panel.shape[1] + gap
    return canvas


def vstack_panels(rows: Sequence[np.ndarray], gap: int = 4) -> np.ndarray:
    """Stack rows of panels, left-aligned, on a white background."""
    width = max(r.shape[1] for r in rows)
    height = sum(r.shape[0] for r in rows) + gap * (len(rows) - 1)
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    y = 0
    for row in rows:
        canvas[y:y + row.shape[0], :row.shape[1]] = row
        y += row.shape[0] + gap
    return canvas
