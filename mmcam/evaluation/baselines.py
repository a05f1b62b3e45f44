"""Maps a metric is compared against: seeded RandomCAM draws, and a map
turned upside down.

A faithfulness number means little alone: on some images and substrates
every map scores alike. :class:`~mmcam.evaluation.CAMQuality` measures
these beside the method's maps when asked (``random_baseline``,
``inverted``).
"""
from dataclasses import replace

import numpy as np
import torch

from ..cam import CAMEngine


def inverted_maps(heatmaps: torch.Tensor) -> torch.Tensor:
    """``1 - heatmap``: the map's order reversed. A metric that ranks a
    map no better than its inverse does not show that the map explains
    anything."""
    return 1 - heatmaps


def random_cam_maps(engine: CAMEngine, inputs: torch.Tensor,
                    categories: np.ndarray, seed: int) -> np.ndarray:
    """RandomCAM maps of the classes another method explained, at that
    method's target layers (see :mod:`mmcam.cam.random_cam`).

    Args:
        engine (CAMEngine): The engine of the method being measured.
        inputs (Tensor): ``(B, C, H, W)`` normalized.
        categories (np.ndarray): ``(B, K)`` class of each map.
        seed (int): RandomCAM's seed: one draw of the baseline.

    Returns:
        np.ndarray: ``(B, K, H, W)`` float32 in [0, 1].
    """
    layers = [name for name, _ in engine.target_layers(inputs.shape)]
    random_cam = CAMEngine(
        engine.model,
        replace(
            engine.settings,
            method='RandomCAM',
            target_layers=layers,
            target_category=None,
            topk=None,
            eigen_smooth=False,
            aug_smooth=False,
            seed=seed))
    maps = np.empty((*categories.shape, *inputs.shape[-2:]), np.float32)
    # Images explained for the same classes share one call.
    rows_of = {}
    for b, row in enumerate(np.asarray(categories).tolist()):
        rows_of.setdefault(tuple(row), []).append(b)
    for classes, rows in rows_of.items():
        maps[rows] = random_cam(
            inputs[rows], target_category=list(classes)).heatmaps
    return maps
