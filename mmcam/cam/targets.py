"""Which classes get a heatmap: predicted, top-k, ground truth or given."""
from typing import Optional, Sequence, Union

import torch

from .errors import CAMError


def resolve_categories(
        logits: torch.Tensor,
        target_category: Union[None, str, Sequence[int]],
        topk: Optional[int] = None,
        gt_labels: Optional[Sequence[int]] = None) -> torch.Tensor:
    """The ``(B, K)`` class ids to explain for each sample.

    Args:
        logits (Tensor): ``(B, num_classes)`` model outputs.
        target_category: ``None`` (predicted), ``'gt'`` or class ids.
        topk (int, optional): The ``topk`` predicted classes.
        gt_labels (Sequence[int], optional): Ground truth, for ``'gt'``.

    Raises:
        CAMError: a class id outside the head's range, ``'gt'`` without
            labels, or ``topk`` larger than the number of classes.
    """
    batch, num_classes = logits.shape[0], logits.shape[-1]
    check_categories(
        num_classes,
        None if isinstance(target_category, str) else target_category, topk)
    if topk is not None:
        return logits.topk(topk, dim=-1).indices.cpu()
    if target_category is None:
        return logits.argmax(dim=-1, keepdim=True).cpu()
    if isinstance(target_category, str):  # 'gt'
        if gt_labels is None or len(gt_labels) != batch:
            raise CAMError("target_category='gt' needs ground-truth labels, "
                           'which these samples do not have')
        categories = [[int(label)] for label in gt_labels]
        check_categories(num_classes, [row[0] for row in categories])
    else:
        categories = [list(map(int, target_category))] * batch
    return torch.tensor(categories, dtype=torch.long)


def check_categories(num_classes: int,
                     target_category: Optional[Sequence[int]],
                     topk: Optional[int] = None) -> None:
    """Refuse class ids and a ``topk`` the head cannot give; called once
    before a folder of images as well as for each batch.

    Raises:
        CAMError: naming the bad value and the head's classes.
    """
    if topk is not None and topk > num_classes:
        raise CAMError(f'topk {topk} exceeds the {num_classes} classes '
                       'of the head')
    for category in target_category or ():
        if not 0 <= int(category) < num_classes:
            raise CAMError(
                f'target category {category} is out of range: the head '
                f'has {num_classes} classes (0..{num_classes - 1})')
