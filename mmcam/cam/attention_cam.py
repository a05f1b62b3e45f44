"""Attention Rollout and GAE: heatmaps from a vision transformer's own
attention.

- ``AttentionRollout`` (Abnar & Zuidema, "Quantifying Attention Flow in
  Transformers", ACL 2020): per block, the heads' probabilities fused
  (mean, max or min), the lowest ``discard_ratio`` of them set to zero as
  in jacobgil's vit-explain, plus the identity for the residual, rows
  renormalised; multiplied through the blocks. One forward pass, no
  gradients; the map does not depend on the class.
- ``GAE`` (Chefer, Gur & Wolf, "Generic Attention-model Explainability for
  Interpreting Bi-Modal and Encoder-Decoder Transformers", ICCV 2021): per
  block ``A_bar = mean over heads of (dS/dA * A)^+`` for the explained
  class's score ``S``, and ``R <- R + A_bar @ R`` from ``R = I``. One
  forward pass and one backward per explained class, which stops at the
  first block's attention.

The map is the row of the token the classifier reads (the class token;
the mean of class and distillation token rows for distilled DeiT; the mean
of the patch rows for average-pooled models such as BEiT) over the patch
tokens, upsampled to the input and scaled to [0, 1].
"""
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import AttentionRecorder
from .errors import CAMError
from .feature_maps import infer_token_grid


def fuse_heads(probs: torch.Tensor, head_fusion: str) -> torch.Tensor:
    """``(B, heads, N, N)`` attention probabilities as ``(B, N, N)``."""
    if head_fusion == 'mean':
        return probs.mean(dim=1)
    if head_fusion == 'max':
        return probs.amax(dim=1)
    return probs.amin(dim=1)


def discard_lowest(fused: torch.Tensor, ratio: float) -> torch.Tensor:
    """``fused`` with each image's entries at or below its ``ratio``
    quantile set to zero, except the first token's attention to itself (as
    vit-explain, which drops the lowest ``ratio`` of the entries)."""
    if ratio <= 0:
        return fused
    flat = fused.reshape(fused.shape[0], -1)
    count = int(flat.shape[1] * ratio)
    if count == 0:
        return fused
    # A selection, not vit-explain's topk: a full sort of ViT-B's 38,809
    # entries per block made the rollout several times slower.
    threshold = flat.kthvalue(count, dim=1, keepdim=True).values
    kept = flat.masked_fill(flat <= threshold, 0.0)
    kept[:, 0] = flat[:, 0]
    return kept.reshape(fused.shape)


def rollout_step(result: Optional[torch.Tensor],
                 fused: torch.Tensor) -> torch.Tensor:
    """One block of Attention Rollout: ``(A + I) / 2``, rows renormalised,
    multiplied onto the rollout so far (``None`` before the first block)."""
    eye = torch.eye(fused.shape[-1], dtype=fused.dtype, device=fused.device)
    attention = (fused + eye) / 2
    attention = attention / attention.sum(dim=-1, keepdim=True)
    return attention if result is None else attention @ result


class AttentionCAM:
    """Attention Rollout and GAE for a classifier whose attention blocks
    :func:`~mmcam.cam.attention.attention_blocks` found.

    Call it inside :func:`~mmcam.cam.engine.cam_mode` (eval mode, frozen
    parameters, autograd on).

    Args:
        forward (Callable[[Tensor], Tensor]): Maps a normalized image batch
            to logits, e.g. :class:`~mmcam.cam.engine.ClassifierLogits`.
        method (str): ``'AttentionRollout'`` or ``'GAE'``.
        blocks (Sequence[tuple[str, nn.Module]]): The attention blocks.
        num_extra_tokens (int): Class/distillation tokens before the patch
            tokens.
        readout (slice, optional): The token rows the classifier reads;
            None for the mean of the patch rows. See
            :func:`~mmcam.cam.attention.readout_rows`.
        head_fusion (str): ``'mean'``, ``'max'`` or ``'min'`` (rollout).
            Defaults to ``'mean'``.
        discard_ratio (float): Share of the lowest fused attentions set to
            zero in each block (rollout). Defaults to 0 (the settings'
            default is 0.9).
    """

    methods = ('AttentionRollout', 'GAE')

    def __init__(self,
                 forward: Callable[[torch.Tensor], torch.Tensor],
                 method: str,
                 blocks: Sequence[Tuple[str, nn.Module]],
                 num_extra_tokens: int,
                 readout: Optional[slice] = None,
                 head_fusion: str = 'mean',
                 discard_ratio: float = 0.0) -> None:
        if method not in self.methods:
            raise CAMError(f'{method!r} is not an attention method; choose '
                           f'from {", ".join(self.methods)}')
        self.forward = forward
        self.method = method
        self.blocks = list(blocks)
        self.num_extra_tokens = num_extra_tokens
        self.readout = readout
        self.head_fusion = head_fusion
        self.discard_ratio = discard_ratio

    def __call__(
        self, inputs: torch.Tensor, choose: Callable[[torch.Tensor],
                                                     torch.Tensor]
    ) -> Tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        """Heatmaps of a normalized batch.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` on the model's device.
            choose (Callable[[Tensor], Tensor]): Maps the logits to the
                ``(B, K)`` class ids to explain.

        Returns:
            tuple: logits ``(B, num_classes)``, categories ``(B, K)`` and
            heatmaps ``(B, K, H, W)`` float32 in [0, 1].
        """
        if self.method == 'AttentionRollout':
            logits, relevance = self._rollout(inputs)
            categories = choose(logits)
            maps = self._to_maps(relevance, inputs.shape[-2:])
            return logits, categories, np.repeat(
                maps[:, None], categories.shape[1], axis=1)
        return self._gae(inputs, choose)

    def _run(self, inputs: torch.Tensor, on_attention) -> torch.Tensor:
        seen = []

        def receive(index, probs):
            seen.append(index)
            return on_attention(index, probs)

        with AttentionRecorder(self.blocks, receive):
            logits = self.forward(inputs)
        if len(seen) != len(self.blocks):
            raise CAMError(f'{self.method} read {len(seen)} attention maps '
                           f'in a forward pass of {len(self.blocks)} blocks')
        return logits

    def _rollout(self, inputs):
        result: List[Optional[torch.Tensor]] = [None]

        def fold(index, probs):
            fused = fuse_heads(probs.detach().float(), self.head_fusion)
            fused = discard_lowest(fused, self.discard_ratio)
            result[0] = rollout_step(result[0], fused)

        with torch.no_grad():
            logits = self._run(inputs, fold)
        return logits, result[0]

    def _gae(self, inputs, choose):
        attentions: List[Optional[torch.Tensor]] = [None] * len(self.blocks)

        def keep(index, probs):
            if not probs.requires_grad:
                # The first block: a leaf, so the backward pass ends here.
                probs = probs.detach().requires_grad_(True)
            attentions[index] = probs
            return probs

        logits = self._run(inputs, keep)
        categories = choose(logits.detach())
        scores = logits.gather(1, categories.to(logits.device))
        if not scores.requires_grad:
            raise CAMError('the model output does not depend on its '
                           'attention probabilities')
        num_k = categories.shape[1]
        heatmaps = []
        for k in range(num_k):
            grads = torch.autograd.grad(
                scores[:, k].sum(),
                attentions,
                retain_graph=k < num_k - 1,
                allow_unused=True)
            relevance = None
            for probs, grad in zip(attentions, grads):
                if grad is None:
                    continue
                weighted = (grad * probs).detach().float().clamp(min=0)
                weighted = weighted.mean(dim=1)
                if relevance is None:
                    relevance = torch.eye(
                        weighted.shape[-1],
                        dtype=weighted.dtype,
                        device=weighted.device).expand_as(weighted)
                relevance = relevance + weighted @ relevance
            if relevance is None:
                raise CAMError('the explained scores do not depend on the '
                               'attention probabilities')
            heatmaps.append(self._to_maps(relevance, inputs.shape[-2:]))
        return logits.detach(), categories, np.stack(heatmaps, axis=1)

    def _to_maps(self, relevance: torch.Tensor,
                 input_hw: Sequence[int]) -> np.ndarray:
        """The readout rows of ``(B, N, N)`` relevance over the patch
        tokens, as ``(B, H, W)`` maps in [0, 1] at the input's size."""
        extra = self.num_extra_tokens
        if self.readout is None:
            rows = relevance[:, extra:, :].mean(dim=1)
        else:
            rows = relevance[:, self.readout, :].mean(dim=1)
        patches = rows[:, extra:]
        h, w = infer_token_grid(patches.shape[1], input_hw)
        grid = patches.reshape(-1, 1, h, w).float()
        maps = F.interpolate(
            grid, size=tuple(input_hw), mode='bilinear',
            align_corners=False)[:, 0]
        flat = maps.reshape(maps.shape[0], -1)
        low = flat.min(dim=1).values[:, None, None]
        high = flat.max(dim=1).values[:, None, None]
        maps = (maps - low) / (high - low).clamp(min=1e-7)
        return maps.cpu().numpy().astype(np.float32)
