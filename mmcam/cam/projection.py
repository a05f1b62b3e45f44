"""The first-principal-component projection of EigenCAM and eigen_smooth,
without the full SVD.

grad-cam's ``get_2d_projection`` calls ``np.linalg.svd(...,
full_matrices=True)`` on each image's ``(h*w, C)`` activations: for a
ResNet-50 that builds a 2048x2048 matrix of right singular vectors per
image, of which only the first row is used. The reduced SVD gives the same
first row (checked against grad-cam's function by the engine tests) at a
fraction of the cost. Remove once grad-cam computes the reduced SVD.
"""
import contextlib
from typing import Iterator

import numpy as np


def first_component_projection(activation_batch: np.ndarray) -> np.ndarray:
    """Project each image's centred activations on their first principal
    direction: ``(B, C, h, w)`` -> ``(B, h, w)`` float32, NaN read as 0,
    exactly as grad-cam's ``get_2d_projection``."""
    activation_batch = np.nan_to_num(activation_batch, nan=0.0)
    projections = []
    for activations in activation_batch:
        flat = activations.reshape(activations.shape[0], -1).transpose()
        flat = flat - flat.mean(axis=0)
        _, _, vt = np.linalg.svd(flat, full_matrices=False)
        projections.append((flat @ vt[0, :]).reshape(activations.shape[1:]))
    return np.float32(projections)


@contextlib.contextmanager
def reduced_svd_in_grad_cam() -> Iterator[None]:
    """Let grad-cam's methods use :func:`first_component_projection` while
    the engine calls their per-layer formulas."""
    import pytorch_grad_cam.base_cam as base_cam
    import pytorch_grad_cam.eigen_cam as eigen_cam
    import pytorch_grad_cam.eigen_grad_cam as eigen_grad_cam
    import pytorch_grad_cam.grad_cam_elementwise as grad_cam_elementwise
    import pytorch_grad_cam.hirescam as hirescam
    import pytorch_grad_cam.layer_cam as layer_cam
    modules = (base_cam, eigen_cam, eigen_grad_cam, grad_cam_elementwise,
               hirescam, layer_cam)
    saved = [(module, module.get_2d_projection) for module in modules]
    for module in modules:
        module.get_2d_projection = first_component_projection
    try:
        yield
    finally:
        for module, original in saved:
            module.get_2d_projection = original
