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

It also leaves out passes whose result is known (the profile behind this
is in docs/speed.md):

- ScoreCAM: a channel whose upsampled map is constant (an all-zero channel
  after a ReLU: 40-65 % of EfficientNet-Lite0's 1280 at its default layer)
  gets a mask of zeros, so its masked input is the all-zero image whatever
  the photo. One pass of that image serves all such channels of all images.
- AblationCAM: the layers before the target layer see the unchanged image
  in every ablated pass, so each batch runs them once, on one image, and
  the target layer hands the rest of the network the batch of ablated
  copies (tensors from before the layer, such as a residual branch, are
  broadcast over that batch). The first batch is checked against full
  passes, and full passes are used if the two disagree. An all-zero channel
  ablated to 0 changes nothing and adds nothing to the map: no pass.

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
import math
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
# A call needing more perturbed images than this is announced up front:
# on a 2-core CPU, 512 EfficientNet-Lite0 passes at 224 px take about a
# minute.
LONG_RUN_IMAGES = 512
# How much a logit of the shared-prefix ablation may differ from a full
# pass, relative to the largest logit: float noise from other batch
# sizes is about 1e-6.
PREFIX_CHECK_RTOL = 1e-4


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
        announce (Callable[[str], None], optional): Called with one line
            before a call that needs more than :data:`LONG_RUN_IMAGES`
            perturbed images. Defaults to None (silent).
    """

    methods = ('ScoreCAM', 'AblationCAM')

    def __init__(self,
                 forward: Callable[[torch.Tensor], torch.Tensor],
                 method: str,
                 batch_size: int = 32,
                 num_extra_tokens: int = 0,
                 eigen_smooth: bool = False,
                 announce: Optional[Callable[[str], None]] = None) -> None:
        if method not in self.methods:
            raise CAMError(f'{method!r} is not a batched perturbation '
                           f'method; choose from {", ".join(self.methods)}')
        self.forward = forward
        self.method = method
        self.batch_size = batch_size
        self.num_extra_tokens = num_extra_tokens
        self.eigen_smooth = eigen_smooth
        self.announce = announce
        # Filled by each call, for benchmarks and tests: perturbed images
        # run, and whether AblationCAM shared the layers before the target.
        self.perturbed_images = 0
        self.shared_prefix: Optional[bool] = None

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
        self.perturbed_images = 0
        with torch.no_grad():
            logits, outputs = self._record_outputs(inputs, layers)
            categories = choose(logits)
            per_layer = []
            for (name, module), output in zip(layers, outputs):
                feature_map = to_feature_map(output, module, hw,
                                             self.num_extra_tokens, name)
                if self.method == 'ScoreCAM':
                    weights = self.score_weights(inputs, feature_map,
                                                 categories, name)
                else:
                    weights = self.ablation_weights(inputs, module, output,
                                                    feature_map, logits,
                                                    categories, name)
                per_layer.append(
                    self._weighted_maps(feature_map.float().cpu().numpy(),
                                        weights, hw))
        return logits, categories, _average_layers(per_layer)

    # ------------------------------------------------------------------
    # Channel weights, (B, K, C) float32
    # ------------------------------------------------------------------
    def score_weights(self,
                      inputs: torch.Tensor,
                      feature_map: torch.Tensor,
                      categories: torch.Tensor,
                      layer_name: str = '') -> np.ndarray:
        """ScoreCAM: softmax over channels of the class scores of the input
        masked by each upsampled, min-max normalized channel.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` images.
            feature_map (Tensor): ``(B, C, h, w)`` target activations.
            categories (Tensor): ``(B, K)`` class ids.
            layer_name (str): For the announcement of a long run.
        """
        batch, channels = feature_map.shape[:2]
        size = tuple(inputs.shape[-2:])
        # One row per (image, channel) pair; masks are built a batch at a
        # time, since all of them at once would not fit in memory.
        maps = feature_map.float().reshape(batch * channels, 1,
                                           *feature_map.shape[2:])
        constant = _constant_after_upsampling(maps, size, self.batch_size)
        rows = torch.nonzero(~constant).flatten()
        # All constant channels share one input, the all-zero image, run
        # as the last image of the last batch.
        num_images = len(rows) + int(bool(constant.any()))
        self._announce_long_run(
            layer_name, f'{num_images} masked images for {batch} image(s) '
            f'x {channels} channels ({int(constant.sum())} constant '
            'channels share one)', num_images,
            math.ceil(num_images / self.batch_size))

        categories = categories.to(inputs.device)
        scores = torch.empty(batch * channels, categories.shape[1])
        zero_image_logits = None
        buffer = torch.empty(
            (min(self.batch_size, num_images), *inputs.shape[1:]),
            dtype=inputs.dtype,
            device=inputs.device,
            memory_format=_fast_memory_format(inputs))
        for start in range(0, num_images, self.batch_size):
            chunk = rows[start:start + self.batch_size]
            count = min(self.batch_size, num_images - start)
            masked = buffer[:count]
            images = chunk // channels
            if len(chunk):
                # The product of grad-cam's input * mask, written into the
                # reused buffer.
                torch.mul(
                    inputs[images],
                    _normalized_masks(maps[chunk], size),
                    out=masked[:len(chunk)])
            if count > len(chunk):
                masked[len(chunk):].zero_()
            logits = self.forward(masked)
            scores[chunk.cpu()] = logits[:len(chunk)].gather(
                1, categories[images]).float().cpu()
            if count > len(chunk):
                zero_image_logits = logits[-1].float().cpu()
        if zero_image_logits is not None:
            shared = torch.nonzero(constant).flatten().cpu()
            scores[shared] = zero_image_logits[categories.cpu()[shared //
                                                                channels]]
        self.perturbed_images += num_images
        scores = scores.reshape(batch, channels, -1).transpose(1, 2)
        return torch.softmax(scores.contiguous(), dim=-1).numpy()

    def ablation_weights(self,
                         inputs: torch.Tensor,
                         module: nn.Module,
                         output: torch.Tensor,
                         feature_map: torch.Tensor,
                         logits: torch.Tensor,
                         categories: torch.Tensor,
                         layer_name: str = '') -> np.ndarray:
        """AblationCAM: the relative drop of each class score when one
        channel of the layer's output is ablated.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` images.
            module (nn.Module): The target layer.
            output (Tensor): Its output on ``inputs``: ``(B, C, h, w)``,
                channel-last ``(B, h, w, C)`` or tokens ``(B, L, C)``.
            feature_map (Tensor): ``output`` as ``(B, C, h, w)``.
            logits (Tensor): ``(B, num_classes)`` logits of ``inputs``.
            categories (Tensor): ``(B, K)`` class ids.
            layer_name (str): For the announcement of a long run.
        """
        batch, channels = feature_map.shape[:2]
        channel_axis = 1 if output.ndim == 4 and not is_channel_last(
            output, module) else output.ndim - 1
        # grad-cam zeroes a channel if the activation's minimum is 0 (after
        # a ReLU) and sets it far below the minimum otherwise.
        minimum = output.reshape(batch, -1).min(dim=1).values
        ablated_value = torch.where(minimum == 0, minimum,
                                    minimum - ABLATION_OFFSET)
        # Zeroing an all-zero channel leaves the output as it is: its score
        # is the original one (weight 0), and it adds 0 to the map anyway.
        unchanged = (feature_map.flatten(2).abs().amax(dim=2)
                     == 0) & (ablated_value == 0)[:, None]
        to_ablate = [
            torch.nonzero(~unchanged[b]).flatten() for b in range(batch)
        ]
        num_images = sum(len(c) for c in to_ablate)
        self._announce_long_run(
            layer_name, f'{num_images} ablated copies for {batch} image(s) '
            f'x {channels} channels ({int(unchanged.sum())} all-zero '
            'channels need none)', num_images,
            sum(math.ceil(len(c) / self.batch_size) for c in to_ablate))

        categories = categories.to(logits.device)
        original = logits.gather(1, categories).float().cpu()
        new_scores = original[:, :, None].repeat(1, 1, channels)
        replacement: List[Optional[torch.Tensor]] = [None]
        # Only the layer's first call of a pass is ablated, the call whose
        # output was recorded (``target_layers`` module docstring).
        calls = [0]

        def replace_output(layer, args, layer_output):
            calls[0] += 1
            if calls[0] > 1:
                return None
            return replace_first_tensor(layer_output, replacement[0])

        def ablated_logits(image, chunk, shared_prefix):
            copies = output[image:image + 1].repeat(
                len(chunk), *[1] * (output.ndim - 1))
            rows_in_batch = torch.arange(len(chunk), device=chunk.device)
            # Assigning through the moved-axis view writes into ``copies``.
            copies.movedim(channel_axis, 1)[rows_in_batch,
                                            chunk] = ablated_value[image]
            replacement[0] = copies
            calls[0] = 0
            if shared_prefix:
                network_input = inputs[image:image + 1]
            else:
                network_input = inputs[image:image + 1].expand(
                    len(chunk), *inputs.shape[1:])
            return self.forward(network_input)

        handle = module.register_forward_hook(replace_output)
        try:
            self.shared_prefix = None
            for image, chunks in enumerate(to_ablate):
                for start in range(0, len(chunks), self.batch_size):
                    chunk = chunks[start:start + self.batch_size]
                    if self.shared_prefix is None:
                        self.shared_prefix = self._prefix_can_be_shared(
                            image, chunk, ablated_logits)
                    scores = ablated_logits(
                        image, chunk, self.shared_prefix).gather(
                            1,
                            categories[image:image + 1].expand(len(chunk), -1))
                    new_scores[image, :, chunk.cpu()] = scores.float().cpu().T
        finally:
            handle.remove()
        self.perturbed_images += num_images
        original = original[:, :, None]
        return ((original - new_scores) / original).numpy()

    @staticmethod
    def _prefix_can_be_shared(image: int, chunk: torch.Tensor,
                              ablated_logits: Callable) -> bool:
        """Whether running the layers before the target layer on one image
        gives the logits of full passes, checked on two ablated copies. A
        model that fixes the batch size before the target layer (a
        reshape, a concatenation) fails or disagrees here."""
        # Two copies even for a one-channel batch: with one, a batch size
        # fixed before the target layer would go unnoticed.
        probe = chunk[:2] if len(chunk) > 1 else chunk.repeat(2)
        full = ablated_logits(image, probe, False)
        try:
            shared = ablated_logits(image, probe, True)
        except RuntimeError:
            return False
        if shared.shape != full.shape:
            return False
        tolerance = PREFIX_CHECK_RTOL * float(full.abs().max().clamp(min=1))
        return bool((shared - full).abs().max() <= tolerance)

    def _announce_long_run(self, layer_name: str, what: str, num_images: int,
                           passes: int) -> None:
        if self.announce is None or num_images <= LONG_RUN_IMAGES:
            return
        self.announce(f'{self.method} at {layer_name}: {what}, in {passes} '
                      f'forward passes of up to {self.batch_size}; this can '
                      'take minutes on a CPU')

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


def _fast_memory_format(inputs: torch.Tensor) -> torch.memory_format:
    """channels_last on the CPU, where it made EfficientNet-Lite0's and
    ResNet's batched passes faster (docs/speed.md); convolutions
    pass it on to their outputs. Results are equal up to float noise."""
    if inputs.device.type == 'cpu' and inputs.ndim == 4:
        return torch.channels_last
    return torch.contiguous_format


def _constant_after_upsampling(maps: torch.Tensor, size,
                               chunk_size: int) -> torch.Tensor:
    """``(N,)`` bool: which ``(N, 1, h, w)`` maps are constant once
    upsampled as ScoreCAM upsamples them, so their min-max normalized mask
    is exactly zero. Only maps constant before upsampling can be; they are
    upsampled to check, since bilinear weights may round a constant."""
    flat = maps.flatten(1)
    candidates = torch.nonzero(flat.amax(dim=1) == flat.amin(dim=1)).flatten()
    constant = torch.zeros(len(maps), dtype=torch.bool, device=maps.device)
    for start in range(0, len(candidates), chunk_size):
        index = candidates[start:start + chunk_size]
        upsampled = F.interpolate(
            maps[index], size=size, mode='bilinear',
            align_corners=True).flatten(1)
        constant[index] = upsampled.amax(dim=1) == upsampled.amin(dim=1)
    return constant


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
