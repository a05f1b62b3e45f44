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


def blank_map_warning(method: str,
                      family: str,
                      sample: str,
                      category: int,
                      layers: Sequence[str],
                      zero_gradient: Optional[bool] = None) -> str:
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
    """
    where = ', '.join(layers) or 'its layers'
    head = (f'{method} heatmap of {sample} for class {category} at {where} '
            'is constant (drawn as no heatmap)')
    if zero_gradient:
        why = ("the class score's gradient there is exactly zero, so the "
               'score does not depend on that output')
        try_ = ('a layer on the path from the image to the head (--target-'
                'layers; --preview-model lists the layers)')
    elif family == 'gradient':
        why = ('its gradient-weighted activations are nowhere positive and '
               "the method's ReLU zeroes them, which random or barely "
               'trained weights often give')
        try_ = ('another method (EigenCAM, LayerCAM, GradCAM++), another '
                'target layer, or check that the checkpoint was loaded')
    elif family == 'activation':
        why = "the layer's activations give no positive map for this image"
        try_ = ('a gradient method (GradCAM), another target layer, or '
                'check that the checkpoint was loaded')
    else:
        why = 'no perturbation of that layer changed the class score'
        try_ = 'another target layer or method'
    return f'{head}: {why}; try {try_}'
