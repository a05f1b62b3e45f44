"""CAM settings: parsed, validated and defaulted in one place.

The tool's flags, the inferencer's keyword arguments and the hook's config
keys all become a :class:`CAMSettings`, so a bad value gets the same
one-line error whichever way it came in.
"""
from dataclasses import asdict, dataclass, field
from typing import List, Optional, Sequence, Union

import numpy as np

from .errors import CAMError
from .methods import get_method

TargetCategory = Union[None, str, int, Sequence[int]]

# How AttentionRollout fuses the heads of a block.
HEAD_FUSIONS = ('mean', 'max', 'min')


def _as_name_list(value, what: str) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise CAMError(f'{what} must be a name or a list of names, got '
                       f'{value!r}')
    return [str(v) for v in value]


def parse_target_category(
        value: TargetCategory) -> Union[None, str, List[int]]:
    """``None`` (predicted class), ``'gt'`` (ground truth, in Runner loops)
    or a list of class ids."""
    if value is None or (isinstance(value, (list, tuple)) and not value):
        return None
    if isinstance(value, str):
        if value.lower() in ('gt', 'ground_truth', 'label'):
            return 'gt'
        if value.lower() in ('pred', 'predicted', 'none'):
            return None
        value = [v for v in value.replace(',', ' ').split()]
    if isinstance(value, int):
        value = [value]
    categories = []
    if not isinstance(value, (list, tuple)):
        raise CAMError(f'target category {value!r} is not a class id; '
                       "use integers, 'gt' or None")
    for item in value:
        try:
            # Whole numbers only: int(281.9) would quietly explain class
            # 281, and True would be class 1.
            if isinstance(item, bool) or float(item) != int(float(item)):
                raise ValueError
            category = int(float(item))
        except (TypeError, ValueError, OverflowError):
            raise CAMError(f'target category {item!r} is not a class id; '
                           "use integers, 'gt' or None") from None
        if category < 0:
            raise CAMError(f'target category {category} is negative')
        categories.append(category)
    return categories


@dataclass
class CAMSettings:
    """Everything that decides how a heatmap is computed.

    Args:
        method (str): CAM method, case-insensitive, e.g. ``'GradCAM'``,
            ``'GradCAM++'``, ``'ScoreCAM'``. Defaults to ``'GradCAM'``.
        target_layers (list[str], optional): Dotted layer names such as
            ``'backbone.layer4.2'``. Defaults to the architecture's default
            layer.
        target_category (None | str | list[int]): ``None`` for the
            predicted class, ``'gt'`` for the ground-truth label (Runner
            loops only), or class ids (one heatmap each).
        topk (int, optional): Heatmaps for the ``topk`` predicted classes.
            Cannot be combined with explicit ``target_category`` ids.
        eigen_smooth (bool): Keep the first principal component of
            ``weights * activations``. Defaults to False.
        aug_smooth (bool): Average over test-time augmentation (flip and
            brightness). Defaults to False.
        vit_like (bool): Treat the model as ViT-like when choosing the
            default layer. Token outputs are detected anyway.
            Defaults to False.
        num_extra_tokens (int, optional): Tokens before the patch tokens.
            Defaults to the backbone's own ``num_extra_tokens``.
        batch_size (int): Batch size of the extra forward passes of
            ScoreCAM and AblationCAM. Defaults to 32.
        seed (int): Seed of RandomCAM's channel weights: the weights of
            class ``c`` come from ``numpy.random.default_rng([seed, c])``,
            so the same command gives the same maps, whatever the batch.
            Other methods ignore it. Defaults to 0.
        head_fusion (str): How AttentionRollout fuses a block's heads:
            ``'mean'``, ``'max'`` or ``'min'``. Defaults to ``'mean'``.
        discard_ratio (float): Share of each block's lowest fused
            attentions AttentionRollout sets to zero, in [0, 1).
            Defaults to 0.9.
    """
    method: str = 'GradCAM'
    target_layers: List[str] = field(default_factory=list)
    target_category: TargetCategory = None
    topk: Optional[int] = None
    eigen_smooth: bool = False
    aug_smooth: bool = False
    vit_like: bool = False
    num_extra_tokens: Optional[int] = None
    batch_size: int = 32
    seed: int = 0
    head_fusion: str = 'mean'
    # Chosen on the known-truth benchmark (docs/transformers.md): mean
    # fusion with 90 % discarded had the best energy pointing game and
    # deletion AUC, and a pointing game within noise of the best.
    discard_ratio: float = 0.9

    def __post_init__(self):
        self.method = get_method(self.method).name
        self.target_layers = _as_name_list(self.target_layers, 'target_layers')
        self.target_category = parse_target_category(self.target_category)
        if self.topk is not None:
            if isinstance(
                    self.topk,
                    bool) or not isinstance(self.topk, int) or self.topk < 1:
                raise CAMError(f'topk must be a positive integer, got '
                               f'{self.topk!r}')
            if isinstance(self.target_category, list):
                raise CAMError('use either topk or target categories, '
                               'not both')
        if self.num_extra_tokens is not None and (not isinstance(
                self.num_extra_tokens, int) or self.num_extra_tokens < 0):
            raise CAMError('num_extra_tokens must be a non-negative '
                           f'integer, got {self.num_extra_tokens!r}')
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise CAMError(f'batch_size must be a positive integer, got '
                           f'{self.batch_size!r}')
        if isinstance(self.seed,
                      bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise CAMError(f'seed must be a non-negative integer, got '
                           f'{self.seed!r}')
        for name in ('eigen_smooth', 'aug_smooth', 'vit_like'):
            # bool('maybe') is True: a typo would turn the option on.
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)):
                raise CAMError(f'{name} must be True or False, got '
                               f'{value!r}')
            setattr(self, name, bool(value))
        self._check_attention_settings()

    def _check_attention_settings(self) -> None:
        if str(self.head_fusion).lower() not in HEAD_FUSIONS:
            raise CAMError(f'head_fusion must be one of '
                           f'{", ".join(HEAD_FUSIONS)}, got '
                           f'{self.head_fusion!r}')
        self.head_fusion = str(self.head_fusion).lower()
        try:
            if isinstance(self.discard_ratio, bool):
                raise ValueError
            ratio = float(self.discard_ratio)
        except (TypeError, ValueError):
            ratio = -1.0
        if not 0 <= ratio < 1:
            raise CAMError('discard_ratio must be a number in [0, 1), got '
                           f'{self.discard_ratio!r}')
        self.discard_ratio = ratio
        if get_method(self.method).family != 'attention':
            return
        # Attention methods read every block's attention; a layer choice
        # or a smoothing that works on feature maps would be ignored.
        for name, given in (('target_layers', self.target_layers),
                            ('eigen_smooth', self.eigen_smooth),
                            ('aug_smooth', self.aug_smooth)):
            if given:
                raise CAMError(
                    f'{name} does not apply to {self.method}, which reads '
                    'every attention block; leave it out, or use a '
                    'Grad-CAM method')

    @property
    def heatmaps_per_sample(self) -> int:
        """How many heatmaps each sample gets: ``topk``, one per given
        class, or one (predicted or ground-truth class)."""
        if self.topk is not None:
            return self.topk
        if isinstance(self.target_category, list):
            return len(self.target_category)
        return 1

    @classmethod
    def from_kwargs(cls, **kwargs) -> 'CAMSettings':
        """Build from keyword arguments, naming unknown ones in the error."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise CAMError(f'unknown CAM setting(s) {", ".join(unknown)}; '
                           f'known: {", ".join(sorted(known))}')
        return cls(**kwargs)

    def to_dict(self) -> dict:
        return asdict(self)
