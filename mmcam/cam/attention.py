"""Find a vision transformer's attention blocks and read their attention
probabilities while the model runs.

Attention methods (:mod:`mmcam.cam.attention_cam`) need the softmax
probabilities of every self-attention block, but mmpretrain's
``MultiheadAttention`` calls ``scaled_dot_product_attention``, which returns
no weights. While :class:`AttentionRecorder` is active, that call is
replaced by the same computation done explicitly (``softmax(q k^T * scale)
@ v``), so the probabilities are the model's own and the outputs stay the
same to float tolerance; outside it the model is untouched. BEiT's and
EVA-02's attentions compute the probabilities explicitly already and pass
them through their ``attn_drop`` layer, so a forward hook there reads them.

Supported: backbones built on global multi-head self-attention over all
tokens (:data:`SUPPORTED_BACKBONES`). Windowed or hybrid attention (Swin,
Twins, MViT, ...) has no single token-to-token matrix per block for the
whole image, and CNNs have no attention at all; both get one
:class:`~mmcam.cam.CAMError` before any work.
"""
import functools
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import CAMError

# Backbone classes (and their subclasses) whose blocks attend globally,
# with the attribute holding those blocks. T2T-ViT's tokens-to-token module
# attends over the unfolded pixels before the encoder; only the encoder's
# blocks, over the final tokens, take part.
SUPPORTED_BACKBONES = (
    ('VisionTransformer', 'layers'),  # ViT, DeiT(+dist.), DeiT III, EVA-02
    ('BEiTViT', 'layers'),  # BEiT, BEiT v2
    ('T2T_ViT', 'encoder'),
)

# What the refusal suggests instead.
_INSTEAD = ('use a Grad-CAM method (GradCAM, LayerCAM) or ScoreCAM '
            'instead')


def _backbone_classes():
    from mmpretrain.models import backbones
    return [(getattr(backbones, name), attr)
            for name, attr in SUPPORTED_BACKBONES]


def _has_self_attention(module: nn.Module) -> bool:
    return any('attention' in type(m).__name__.lower()
               or 'msa' in type(m).__name__.lower() for m in module.modules())


def attention_blocks(model: nn.Module,
                     method: str) -> List[Tuple[str, nn.Module]]:
    """``(name, module)`` of the attention of every block of ``model``'s
    backbone, in the order they run.

    Args:
        model (nn.Module): An mmpretrain classifier with a ``backbone``.
        method (str): The method that asks, named in errors.

    Raises:
        CAMError: the backbone does not attend globally over its tokens.
    """
    backbone = getattr(model, 'backbone', None)
    kind = type(backbone if backbone is not None else model).__name__
    blocks_attr = None
    for cls, attr in _backbone_classes():
        if isinstance(backbone, cls):
            blocks_attr = attr
            break
    if blocks_attr is None:
        if _has_self_attention(backbone if backbone is not None else model):
            why = ('its attention is windowed, hybrid or laid out in a way '
                   'attention methods do not read')
        else:
            why = 'it has no self-attention'
        supported = ', '.join(name for name, _ in SUPPORTED_BACKBONES)
        raise CAMError(f'{method} cannot explain {kind}: {why}; it needs a '
                       f'global self-attention backbone ({supported}); '
                       f'{_INSTEAD}')
    blocks = getattr(backbone, blocks_attr)
    found = []
    for index, block in enumerate(blocks):
        attention = getattr(block, 'attn', None)
        if attention is None or _reader_for(attention) is None:
            raise CAMError(
                f'{method} cannot read the attention of {kind} block '
                f'{index} ({type(block).__name__}); {_INSTEAD}')
        found.append((f'backbone.{blocks_attr}.{index}.attn', attention))
    if not found:
        raise CAMError(f'{method} found no attention blocks in {kind}')
    return found


def readout_rows(backbone: Optional[nn.Module],
                 num_extra_tokens: int) -> Optional[slice]:
    """The tokens whose rows the classifier reads: the class (and
    distillation) tokens when the backbone outputs them, else ``None`` for
    the mean over the patch tokens (average-pooled models such as BEiT)."""
    out_type = getattr(backbone, 'out_type', 'cls_token')
    if num_extra_tokens > 0 and out_type == 'cls_token':
        return slice(0, num_extra_tokens)
    return None


# ----------------------------------------------------------------------
# Reading the probabilities
# ----------------------------------------------------------------------
def _logit_scale(function: Callable, head_dims: int) -> float:
    """The factor ``q k^T`` is multiplied by in ``function``, one of the two
    attention functions mmpretrain's ``MultiheadAttention`` uses."""
    from mmpretrain.models.utils.attention import \
        scaled_dot_product_attention_pyimpl
    if function is F.scaled_dot_product_attention:
        return head_dims**-0.5
    if isinstance(function, functools.partial) and \
            function.func is F.scaled_dot_product_attention:
        scale = function.keywords.get('scale')
        return head_dims**-0.5 if scale is None else scale
    if isinstance(function, functools.partial) and \
            function.func is scaled_dot_product_attention_pyimpl:
        # mmpretrain 1.2's Python version divides by its ``scale``
        # argument (set to head_dims ** -0.5 when qk_scale is given), so
        # such a model multiplies by sqrt(head_dims); reproduce it as is.
        scale = function.keywords.get('scale')
        return 1.0 / scale if scale else head_dims**-0.5
    if function is scaled_dot_product_attention_pyimpl:
        return head_dims**-0.5
    raise CAMError('unknown attention function '
                   f'{getattr(function, "__name__", function)!r}; attention '
                   'methods cannot read its probabilities')


def _reader_for(attention: nn.Module) -> Optional[str]:
    """How this attention module's probabilities are read, or None."""
    if hasattr(attention, 'scaled_dot_product_attention') and hasattr(
            attention, 'head_dims'):
        return 'function'
    if isinstance(getattr(attention, 'attn_drop', None), nn.Dropout):
        return 'dropout_hook'
    return None


class AttentionRecorder:
    """While active, hands each block's attention probabilities
    ``(B, heads, N, N)`` to ``on_attention(index, probabilities)``.

    ``on_attention`` may return a tensor to use instead (for instance the
    probabilities as a leaf that gradients stop at); it must hold the same
    values.

    Args:
        blocks (Sequence[tuple[str, nn.Module]]): From
            :func:`attention_blocks`.
        on_attention (Callable[[int, Tensor], Tensor | None]): Called once
            per block and forward pass.
    """

    def __init__(
        self, blocks: Sequence[Tuple[str, nn.Module]],
        on_attention: Callable[[int, torch.Tensor], Optional[torch.Tensor]]
    ) -> None:
        self.blocks = list(blocks)
        self.on_attention = on_attention
        self._undo: List[Callable[[], None]] = []

    def _receive(self, index: int, probs: torch.Tensor) -> torch.Tensor:
        replaced = self.on_attention(index, probs)
        return probs if replaced is None else replaced

    def _explicit_attention(self, index: int, module: nn.Module):
        original = module.scaled_dot_product_attention
        logit_scale = _logit_scale(original, module.head_dims)

        def attention(query,
                      key,
                      value,
                      attn_mask=None,
                      dropout_p=0.,
                      is_causal=False,
                      scale=None):
            if is_causal:
                raise CAMError('attention methods do not support causal '
                               'attention')
            factor = logit_scale
            if scale is not None:
                # A scale given in the call replaces the default, with the
                # meaning the original function gives it.
                factor = _logit_scale(
                    functools.partial(original, scale=scale), module.head_dims)
            logits = (query @ key.transpose(-2, -1)) * factor
            if attn_mask is not None:
                if attn_mask.dtype == torch.bool:
                    attn_mask = torch.zeros_like(
                        attn_mask, dtype=logits.dtype).masked_fill(
                            ~attn_mask, float('-inf'))
                logits = logits + attn_mask
            probs = self._receive(index, logits.softmax(dim=-1))
            if dropout_p:
                probs = F.dropout(probs, dropout_p)
            return probs @ value

        module.scaled_dot_product_attention = attention
        self._undo.append(
            lambda: setattr(module, 'scaled_dot_product_attention', original))

    def _dropout_hook(self, index: int, module: nn.Module):

        def hook(dropout, args, output):
            return self._receive(index, output)

        handle = module.attn_drop.register_forward_hook(hook)
        self._undo.append(handle.remove)

    def __enter__(self) -> 'AttentionRecorder':
        try:
            for index, (_, module) in enumerate(self.blocks):
                if _reader_for(module) == 'function':
                    self._explicit_attention(index, module)
                else:
                    self._dropout_hook(index, module)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        while self._undo:
            self._undo.pop()()
