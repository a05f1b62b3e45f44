"""pytorch-grad-cam called directly, as MMPretrain's vis_cam.py calls it:
the reference the engine's maps are checked against."""
from typing import Sequence, Union

import numpy as np
import pytorch_grad_cam as gc
import torch.nn as nn
from pytorch_grad_cam.ablation_layer import AblationLayer, AblationLayerVit
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from mmcam.cam import ClassifierLogits, get_layer, to_feature_map


def grad_cam_maps(method: str,
                  model: nn.Module,
                  layers: Sequence[Union[str, nn.Module]],
                  inputs,
                  categories,
                  batch_size: int = 32,
                  vit: bool = False,
                  **call_kwargs) -> np.ndarray:
    """``(B, K, H, W)`` maps of grad-cam's own ``method`` class for the
    ``(B, K)`` ``categories``, one call per class, parameters trainable.

    Token outputs are reshaped with the engine's reshape, which grad-cam
    calls as its ``reshape_transform``.
    """
    modules = [
        get_layer(model, layer) if isinstance(layer, str) else layer
        for layer in layers
    ]
    num_extra = getattr(model.backbone, 'num_extra_tokens', 0)

    def reshape(tensor):
        return to_feature_map(tensor, nn.Identity(), inputs.shape[-2:],
                              num_extra)

    kwargs = {}
    if method == 'AblationCAM':
        kwargs = dict(
            batch_size=batch_size,
            ablation_layer=AblationLayerVit() if vit else AblationLayer())
    cam = getattr(gc, method)(
        ClassifierLogits(model), modules, reshape_transform=reshape, **kwargs)
    cam.batch_size = batch_size  # read by ScoreCAM
    categories = np.asarray(categories).reshape(len(inputs), -1)
    maps = []
    try:
        for k in range(categories.shape[1]):
            targets = [
                ClassifierOutputTarget(int(c)) for c in categories[:, k]
            ]
            maps.append(cam(inputs.clone(), targets, **call_kwargs))
    finally:
        cam.activations_and_grads.release()
        model.zero_grad(set_to_none=True)
    return np.stack(maps, axis=1)
