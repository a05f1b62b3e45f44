"""Batched ScoreCAM and AblationCAM.

Both methods weight a target layer's channels by how the class score
changes when the network sees one channel at a time: ScoreCAM masks the
input with each upsampled, min-max normalized channel; AblationCAM removes
each channel from the layer's output. grad-cam runs these extra forward
passes image by image, again for every explained class, although a masked
input or an ablated activation does not depend on the class: one pass gives
the logits of every class. :class:`PerturbationCAM` runs each pass once for
all explained classes, packs the channels of all images into batches of
``batch_size``, and runs without autograd.

The heatmaps are grad-cam 1.5.7's (``score_cam.py``, ``ablation_cam.py``):
the same channel weights, weighted sum (or eigen projection), ReLU, rescale
and layer averaging; every channel is ablated, as with grad-cam's default
``ratio_channels_to_ablate=1.0``. One deliberate difference: when a layer's
activations are not bounded below by 0, grad-cam's ablation layer writes
``min - 1e7`` into the first ablated channel of a batch and then keeps
subtracting ``1e7`` for each further channel of that batch, so its weights
depend on the position in the batch and on the batch size. Every channel
gets ``min - 1e7`` here, the value grad-cam gives with ``batch_size=1``.
"""
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import CAMError
from .feature_maps import (first_tensor, is_channel_last, replace_first_tensor,
                           to_feature_map)
from .projection import first_component_projection
from .target_layers import run_with_layer_hooks

# grad-cam's ablation value below an activation's minimum, and the epsilon
# of ScoreCAM's min-max normalization.
ABLATION_OFFSET = 1e7
SCORE_CAM_EPS = 1e-8


class PerturbationCAM:
    """ScoreCAM and AblationCAM with batched, class-independent forward
    passes.

    Call it inside :func:`~mmcam.cam.engine.cam_mode` (eval mode, frozen
    parameters); it disables autograd itself.

    Args:
        forward (Callable[[Tensor], Tensor]): Maps a normalized image batch
            to logits, e.g. :class:`~mmcam.cam.engine.ClassifierLogits`.
        method (str): ``'ScoreCAM'`` or ``'AblationCAM'``.
        batch_size (int): Masked images (ScoreCAM) or ablated copies
            (AblationCAM) per forward pass. Does not change the result.
            Defaults to 32.
        num_extra_tokens (int): Class/distillation tokens before the patch
            tokens of token-shaped layers. Defaults to 0.
        eigen_smooth (bool): Use the first principal component of the
            weighted activations instead of their sum. Defaults to False.
    """

    methods = ('ScoreCAM', 'AblationCAM')

    def __init__(self,
                 forward: Callable[[torch.Tensor], torch.Tensor],
                 method: str,
                 batch_size: int = 32,
                 num_extra_tokens: int = 0,
                 eigen_smooth: bool = False) -> None:
        if method not in self.methods:
            raise CAMError(f'{method!r} is not a batched perturbation '
                           f'method; choose from {", ".join(self.methods)}')
        self.forward = forward
        self.method = method
        self.batch_size = batch_size
        self.num_extra_tokens = num_extra_tokens
        self.eigen_smooth = eigen_smooth

    def __call__(
        self, inputs: torch.Tensor, layers: Sequence[Tuple[str, nn.Module]],
        choose: Callable[[torch.Tensor], torch.Tensor]
    ) -> Tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        """Heatmaps of a normalized batch.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` on the model's device.
            layers (Sequence[tuple[str, nn.Module]]): Target layers.
            choose (Callable[[Tensor], Tensor]): Maps logits to the
                ``(B, K)`` class ids to explain.

        Returns:
            tuple: Logits ``(B, num_classes)``, class ids ``(B, K)`` and
            heatmaps ``(B, K, H, W)`` float32 in [0, 1].
        """
        hw = tuple(inputs.shape[-2:])
        with torch.no_grad():
            logits, outputs = self._record_outputs(inputs, layers)
            categories = choose(logits)
            per_layer = []
            for (name, module), output in zip(layers, outputs):
                feature_map = to_feature_map(output, module, hw,
                                             self.num_extra_tokens, name)
                if self.method == 'ScoreCAM':
                    weights = self.score_weights(inputs, feature_map,
                                                 categories)
                else:
                    weights = self.ablation_weights(inputs, module, output,
                                                    feature_map.shape[1],
                                                    logits, categories)
                per_layer.append(
                    self._weighted_maps(feature_map.float().cpu().numpy(),
                                        weights, hw))
        return logits, categories, _average_layers(per_layer)

    # ------------------------------------------------------------------
    # Channel weights, (B, K, C) float32
    # ------------------------------------------------------------------
    def score_weights(self, inputs: torch.Tensor, feature_map: torch.Tensor,
                      categories: torch.Tensor) -> np.ndarray:
        """ScoreCAM: softmax over channels of the class scores of the input
        masked by each upsampled, min-max normalized channel.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` images.
            feature_map (Tensor): ``(B, C, h, w)`` target activations.
            categories (Tensor): ``(B, K)`` class ids.
        """
        batch, channels = feature_map.shape[:2]
        # One row per (image, channel) pair; masks are built a batch at a
        # time, since all of them at once would not fit in memory.
        maps = feature_map.float().reshape(batch * channels, 1,
                                           *feature_map.shape[2:])

        def masked_logits(rows, images):
            masks = _normalized_masks(maps[rows], inputs.shape[-2:])
            return self.forward(inputs[images] * masks)

        scores = self._scores_in_batches(batch * channels, channels,
                                         categories, inputs.device,
                                         masked_logits)
        scores = scores.reshape(batch, channels, -1).transpose(1, 2)
        return torch.softmax(scores.contiguous(), dim=-1).numpy()

    def ablation_weights(self, inputs: torch.Tensor, module: nn.Module,
                         output: torch.Tensor, channels: int,
                         logits: torch.Tensor,
                         categories: torch.Tensor) -> np.ndarray:
        """AblationCAM: the relative drop of each class score when one
        channel of the layer's output is ablated.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` images.
            module (nn.Module): The target layer.
            output (Tensor): Its output on ``inputs``: ``(B, C, h, w)``,
                channel-last ``(B, h, w, C)`` or tokens ``(B, L, C)``.
            channels (int): Number of channels ``C``.
            logits (Tensor): ``(B, num_classes)`` logits of ``inputs``.
            categories (Tensor): ``(B, K)`` class ids.
        """
        batch = output.shape[0]
        channel_axis = 1 if output.ndim == 4 and not is_channel_last(
            output, module) else output.ndim - 1
        # grad-cam zeroes a channel if the activation's minimum is 0 (after
        # a ReLU) and sets it far below the minimum otherwise.
        minimum = output.reshape(batch, -1).min(dim=1).values
        ablated_value = torch.where(minimum == 0, minimum,
                                    minimum - ABLATION_OFFSET)
        replacement: List[Optional[torch.Tensor]] = [None]

        def replace_output(layer, args, layer_output):
            return replace_first_tensor(layer_output, replacement[0])

        def ablated_logits(rows, images):
            copies = output[images].clone()
            value = ablated_value[images].reshape(-1, *[1] * (output.ndim - 2))
            rows_in_batch = torch.arange(len(rows), device=rows.device)
            # Assigning through the moved-axis view writes into ``copies``.
            copies.movedim(channel_axis, 1)[rows_in_batch,
                                            rows % channels] = value
            replacement[0] = copies
            return self.forward(inputs[images])

        handle = module.register_forward_hook(replace_output)
        try:
            new_scores = self._scores_in_batches(batch * channels, channels,
                                                 categories, inputs.device,
                                                 ablated_logits)
        finally:
            handle.remove()
        original = logits.gather(1, categories.to(logits.device)).float()
        original = original.cpu()[:, :, None]
        new_scores = new_scores.reshape(batch, channels, -1).transpose(1, 2)
        return ((original - new_scores) / original).numpy()

    def _scores_in_batches(self, num_rows: int, channels: int,
                           categories: torch.Tensor, device: torch.device,
                           logits_of: Callable) -> torch.Tensor:
        """Class scores ``(num_rows, K)`` of rows ``image * channels +
        channel``, ``batch_size`` rows per forward pass, returned on the
        CPU (grad-cam computes its softmax and weights there)."""
        categories = categories.to(device)
        scores = []
        for start in range(0, num_rows, self.batch_size):
            rows = torch.arange(
                start, min(start + self.batch_size, num_rows), device=device)
            images = rows // channels
            logits = logits_of(rows, images)
            scores.append(logits.gather(1, categories[images]).float())
        return torch.cat(scores).cpu()

    # ------------------------------------------------------------------
    # Heatmaps
    # ------------------------------------------------------------------
    def _weighted_maps(self, activations: np.ndarray, weights: np.ndarray,
                       hw: Tuple[int, int]) -> np.ndarray:
        """grad-cam's per-layer map for each class: weighted channel sum
        (or eigen projection), ReLU, rescale to the input size.
        ``(B, C, h, w)`` activations and ``(B, K, C)`` weights give
        ``(B, K, H, W)``."""
        from pytorch_grad_cam.utils.image import scale_cam_image
        maps = []
        for k in range(weights.shape[1]):
            weighted = weights[:, k, :, None, None] * activations
            if self.eigen_smooth:
                cam = first_component_projection(weighted)
            else:
                cam = weighted.sum(axis=1)
            maps.append(scale_cam_image(np.maximum(cam, 0), hw[::-1]))
        return np.stack(maps, axis=1)

    def _record_outputs(
        self, inputs: torch.Tensor, layers: Sequence[Tuple[str, nn.Module]]
    ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """Logits and each target layer's output, copied when the layer
        returns so in-place operations downstream cannot alter it."""
        outputs: List[Optional[torch.Tensor]] = [None] * len(layers)

        def hook_for(index):

            def hook(module, args, output):
                outputs[index] = first_tensor(output).detach().clone()

            return hook

        logits = run_with_layer_hooks(self.forward, inputs, layers, hook_for,
                                      outputs)
        return logits, outputs


def _normalized_masks(maps: torch.Tensor, size) -> torch.Tensor:
    """ScoreCAM's masks: ``(N, 1, h, w)`` channels upsampled bilinearly
    (corners aligned, as grad-cam's ``UpsamplingBilinear2d``) to ``size``
    and min-max normalized each."""
    upsampled = F.interpolate(
        maps, size=tuple(size), mode='bilinear', align_corners=True)
    flat = upsampled.reshape(upsampled.shape[0], -1)
    maxs = flat.max(dim=-1).values[:, None, None, None]
    mins = flat.min(dim=-1).values[:, None, None, None]
    return (upsampled - mins) / (maxs - mins + SCORE_CAM_EPS)


def _average_layers(per_layer: List[np.ndarray]) -> np.ndarray:
    """grad-cam's ``aggregate_multi_layers`` for ``(B, K, H, W)`` maps of
    each layer: ReLU, mean over layers, rescale to [0, 1]."""
    from pytorch_grad_cam.utils.image import scale_cam_image
    stacked = np.maximum(np.stack(per_layer, axis=2), 0)
    batch, num_k, _, height, width = stacked.shape
    mean = stacked.mean(axis=2).reshape(batch * num_k, height, width)
    return scale_cam_image(mean).reshape(batch, num_k, height, width)
