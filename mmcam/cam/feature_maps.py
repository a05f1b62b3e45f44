"""Turn a target layer's output into a ``(B, C, H, W)`` feature map.

CAM methods weight channels of a spatial map. CNN layers give one directly;
transformer layers give tokens ``(B, L, C)`` with optional class or
distillation tokens in front; some layers (ConvNeXt blocks' norms) give
channel-last maps. Everything that reshapes a layer output lives here so
the engine, the hook and the tools agree.
"""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn

from .errors import CAMError


def first_tensor(output) -> torch.Tensor:
    """The tensor of a module output; modules like mmpretrain's PatchEmbed
    or Swin stages return ``(tensor, shape)`` tuples."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        for item in output:
            if isinstance(item, torch.Tensor):
                return item
    raise CAMError(f'layer output of type {type(output).__name__} holds no '
                   'tensor; choose another target layer')


def replace_first_tensor(output, tensor: torch.Tensor):
    """``output`` with its first tensor replaced by ``tensor``, keeping the
    ``(tensor, shape)`` tuples some layers return."""
    if isinstance(output, torch.Tensor):
        return tensor
    items = list(output)
    for i, item in enumerate(items):
        if isinstance(item, torch.Tensor):
            items[i] = tensor
            break
    return type(output)(items)


def infer_token_grid(num_tokens: int,
                     input_hw: Sequence[int]) -> Tuple[int, int]:
    """The ``(h, w)`` patch grid that ``num_tokens`` patch tokens form for an
    input of size ``input_hw``.

    The grid keeps the input's aspect ratio, so a 224x320 input to a
    patch-16 ViT gives 14x20, not a square root.

    Raises:
        CAMError: if no grid of that aspect ratio holds ``num_tokens``
            tokens, which usually means a wrong ``num_extra_tokens``.
    """
    height, width = int(input_hw[0]), int(input_hw[1])
    if num_tokens <= 0:
        raise CAMError(f'{num_tokens} patch tokens left; check '
                       'num_extra_tokens')
    stride = math.sqrt(height * width / num_tokens)
    h, w = max(round(height / stride), 1), max(round(width / stride), 1)
    if h * w == num_tokens:
        return h, w
    # Padding in patch embeddings can shift the rounding: take the factor
    # pair whose aspect ratio is closest to the input's.
    target_ratio = math.log(height / width)
    pairs = [(a, num_tokens // a) for a in range(1, num_tokens + 1)
             if num_tokens % a == 0]
    h, w = min(
        pairs, key=lambda hw: abs(math.log(hw[0] / hw[1]) - target_ratio))
    if abs(math.log(h / w) - target_ratio) > math.log(2):
        raise CAMError(f'{num_tokens} patch tokens do not form a grid for a '
                       f'{height}x{width} input; is num_extra_tokens right?')
    return h, w


def tokens_to_feature_map(tokens: torch.Tensor, input_hw: Sequence[int],
                          num_extra_tokens: int) -> torch.Tensor:
    """Reshape ``(B, L, C)`` tokens to a ``(B, C, h, w)`` map, dropping the
    ``num_extra_tokens`` class/distillation tokens in front."""
    patch_tokens = tokens[:, num_extra_tokens:, :]
    h, w = infer_token_grid(patch_tokens.shape[1], input_hw)
    return patch_tokens.reshape(tokens.shape[0], h, w,
                                tokens.shape[2]).permute(0, 3, 1, 2)


def norm_channels(module: nn.Module) -> Optional[int]:
    """How many channels a normalization layer normalizes, if it is one."""
    for attr in ('num_features', 'num_channels'):
        if isinstance(getattr(module, attr, None), int):
            return getattr(module, attr)
    shape = getattr(module, 'normalized_shape', None)
    if isinstance(shape, (tuple, list)) and len(shape) == 1:
        return int(shape[0])
    return None


def is_channel_last(output: torch.Tensor, module: nn.Module) -> bool:
    """Whether a 4-D output is ``(B, H, W, C)``, judged by the channel count
    of the norm layer that produced it (e.g. ConvNeXt blocks' norms)."""
    channels = norm_channels(module)
    return (channels is not None and output.ndim == 4
            and output.shape[-1] == channels and output.shape[1] != channels)


def is_pooled(shape: Sequence[int]) -> bool:
    """Whether an output of ``shape`` is pooled over all positions, so not
    a spatial map: ``(B, C, 1, 1)`` or ``(B, C, 1)``. The latter, from an
    ``AdaptiveAvgPool1d`` over tokens (MixMIM, ViG), would otherwise read
    as ``C`` tokens of one channel."""
    shape = tuple(shape)
    return ((len(shape) == 4 and shape[2] * shape[3] == 1)
            or (len(shape) == 3 and shape[2] == 1))


def to_feature_map(output: torch.Tensor,
                   module: nn.Module,
                   input_hw: Sequence[int],
                   num_extra_tokens: int,
                   layer_name: str = '') -> torch.Tensor:
    """A layer output as ``(B, C, h, w)``; the same call maps its gradient.

    Args:
        output (Tensor): The layer output (or its gradient).
        module (nn.Module): The layer, used to detect channel-last maps.
        input_hw (Sequence[int]): Height and width of the network input.
        num_extra_tokens (int): Tokens before the patch tokens.
        layer_name (str): Used in error messages.
    """
    if is_pooled(output.shape):
        raise CAMError(
            f'target layer {layer_name!r} outputs shape '
            f'{tuple(output.shape)}, pooled over all positions, which is '
            'not a spatial feature map; pick a layer before the pooling '
            '(--preview-model lists them)')
    if output.ndim == 4:
        if is_channel_last(output, module):
            return output.permute(0, 3, 1, 2)
        return output
    if output.ndim == 3:
        return tokens_to_feature_map(output, input_hw, num_extra_tokens)
    raise CAMError(
        f'target layer {layer_name!r} outputs shape {tuple(output.shape)}, '
        'which is not a spatial feature map; pick a layer with (B, C, H, W) '
        'or (B, L, C) output (--preview-model lists them)')


def default_num_extra_tokens(backbone: Optional[nn.Module]) -> int:
    """Class/distillation tokens the backbone puts before its patch tokens.

    mmpretrain's ViT family exposes ``num_extra_tokens`` (1 for ViT, 2 for
    distilled DeiT); backbones without it have a class token only if they
    own a ``cls_token`` parameter.
    """
    if backbone is None:
        return 0
    num = getattr(backbone, 'num_extra_tokens', None)
    if isinstance(num, int):
        return num
    num = int(getattr(backbone, 'cls_token', None) is not None)
    num += int(getattr(backbone, 'dist_token', None) is not None)
    return num
