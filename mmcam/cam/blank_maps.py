"""Heatmaps that show nothing: finding them and saying why, in one line.

A constant heatmap (grad-cam rescales it to all zeros) draws as the bare
image, which looks like a heatmap of "nothing here". The engine finds
every one and logs a warning naming the sample, the method, the class and
the layer, the likely cause and what to try, so the tool, the Python API
and the hook all report it.
"""
from typing import Optional, Sequence

import numpy as np


def constant_maps(heatmaps: np.ndarray) -> np.ndarray:
    """``(B, K)`` bool: which of ``(B, K, H, W)`` heatmaps are constant.
    A map holding NaN is not called constant here (it is not blank: it
    is broken, and is reported where it is drawn)."""
    flat = heatmaps.reshape(*heatmaps.shape[:2], -1)
    return flat.max(axis=-1) == flat.min(axis=-1)


# A map whose spread over positions is below this fraction of its size is
# the same everywhere: rounding leaves ~1e-7 of it, the uniform attention
# of an untrained LeViT ~1e-5; a trained network's maps vary by far more.
FLAT_TOLERANCE = 1e-3


def flat_feature_maps(feature_map: np.ndarray) -> np.ndarray:
    """``(B,)`` bool: which samples of a ``(B, C, h, w)`` map are the same
    at every position, in every channel (up to float rounding)."""
    flat = feature_map.reshape(*feature_map.shape[:2], -1)
    spread = (flat.max(axis=-1) - flat.min(axis=-1)).max(axis=1)
    size = np.abs(flat).max(axis=(1, 2))
    return spread <= FLAT_TOLERANCE * size


def blank_map_warning(method: str,
                      family: str,
                      sample: str,
                      category: int,
                      layers: Sequence[str],
                      zero_gradient: Optional[bool] = None,
                      flat_activations: Optional[bool] = None) -> str:
    """The one line that reports a constant heatmap.

    Args:
        method (str): The CAM method.
        family (str): Its family: ``'gradient'``, ``'activation'`` or
            ``'perturbation'``.
        sample (str): How the caller names the sample (a path, a dataset
            index, a position in the batch).
        category (int): The explained class.
        layers (Sequence[str]): The target layers.
        zero_gradient (bool, optional): Whether the class score's gradient
            is exactly zero at every target layer (gradient methods).
        flat_activations (bool, optional): Whether every target layer's
            output is the same at every position.
    """
    where = ', '.join(layers) or 'its layers'
    head = (f'{method} heatmap of {sample} for class {category} at {where} '
            'is constant (drawn as no heatmap)')
    if flat_activations:
        why = ("the layer's output is the same at every position, so it "
               'holds nothing about where things are (untrained weights '
               'can do this: a uniform attention averages all tokens)')
        try_ = ('an earlier target layer (--preview-model lists them), or '
                'check that the checkpoint was loaded')
    elif zero_gradient:
        why = ("the class score's gradient there is exactly zero, so the "
               'score does not depend on that output')
        try_ = ('a layer on the path from the image to the head (--target-'
                'layers; --preview-model lists the layers)')
    elif family == 'gradient':
        why = ('its gradient-weighted activations are nowhere positive and '
               "the method's ReLU zeroes them, which random or barely "
               'trained weights often give')
        others = ', '.join(shown for shown, name in (
            ('EigenCAM', 'EigenCAM'), ('LayerCAM', 'LayerCAM'),
            ('GradCAM++', 'GradCAMPlusPlus')) if name != method)
        try_ = (f'another method ({others}), another target layer, or '
                'check that the checkpoint was loaded')
    elif family == 'activation':
        why = "the layer's activations give no positive map for this image"
        try_ = ('a gradient method (GradCAM), another target layer, or '
                'check that the checkpoint was loaded')
    else:
        why = 'no perturbation of that layer changed the class score'
        try_ = 'another target layer or method'
    return f'{head}: {why}; try {try_}'
