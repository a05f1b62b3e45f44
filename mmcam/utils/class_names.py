"""Find the class names that go with a classifier's outputs."""
import os.path as osp
from typing import List, Optional, Sequence, Tuple

from mmengine.config import Config


def _as_names(classes) -> Optional[List[str]]:
    """Names from a sequence, or from a text file with one name a line (as
    mmpretrain's datasets accept)."""
    if classes is None:
        return None
    if isinstance(classes, str):
        if not osp.isfile(classes):
            return None
        with open(classes, encoding='utf-8') as f:
            return [line.strip() for line in f if line.strip()]
    if isinstance(classes, Sequence):
        return [str(name) for name in classes]
    return None


def _names_from_config(cfg: Config) -> Tuple[Optional[List[str]], str]:
    candidates = [('config dataset_meta', cfg.get('dataset_meta', {}) or {})]
    for loader in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset') or {}
        # Wrappers such as ClassBalancedDataset keep the real one inside.
        while 'dataset' in dataset and 'classes' not in dataset:
            dataset = dataset['dataset']
        candidates.append((f'config {loader}.dataset', dataset))
        candidates.append(
            (f'config {loader}.dataset.metainfo', dataset.get('metainfo')
             or {}))
    for source, holder in candidates:
        names = _as_names(holder.get('classes'))
        if names:
            return names, source
    # Dataset types with built-in names (ImageNet, CIFAR10, ...).
    dataset_type = ((cfg.get('test_dataloader') or {}).get('dataset')
                    or {}).get('type')
    if dataset_type:
        try:
            from mmpretrain.registry import DATASETS
            dataset_class = DATASETS.get(dataset_type)
        except Exception:  # an unknown or unimportable dataset type
            dataset_class = None
        names = _as_names(
            getattr(dataset_class, 'METAINFO', {}).get('classes'))
        if names:
            return names, f'dataset type {dataset_type}'
    return None, ''


def class_name(classes: Optional[Sequence[str]], category: int) -> str:
    """The name of class ``category``, or ``'class <id>'`` without one."""
    category = int(category)
    if classes is not None and 0 <= category < len(classes):
        return str(classes[category])
    return f'class {category}'


def resolve_class_names(
        num_classes: Optional[int],
        checkpoint_meta: Optional[dict] = None,
        cfg: Optional[Config] = None,
        classes: Optional[Sequence[str]] = None) -> Tuple[List[str], str]:
    """The name of every class and where the names came from.

    Sources, first match wins (a list whose length differs from
    ``num_classes`` is skipped):

    1. ``classes`` given by the caller;
    2. the checkpoint's ``meta['dataset_meta']['classes']`` (mmpretrain 1.x)
       or ``meta['CLASSES']`` (mmcls 0.x);
    3. the config: ``dataset_meta``, the dataloaders' dataset ``classes`` or
       ``metainfo``, or the built-in names of the dataset type;
    4. ImageNet's names for a 1000-class head;
    5. the class ids as text (``'class 3'``).

    Args:
        num_classes (int, optional): Outputs of the head, if known.
        checkpoint_meta (dict, optional): The checkpoint's ``meta``.
        cfg (Config, optional): The model's config.
        classes (Sequence[str], optional): Names given by the caller.

    Returns:
        tuple[list[str], str]: The names and a short description of their
        source.
    """
    meta = checkpoint_meta or {}
    candidates = [(_as_names(classes), 'given classes'),
                  (_as_names((meta.get('dataset_meta')
                              or {}).get('classes')), 'checkpoint meta'),
                  (_as_names(meta.get('CLASSES')), 'checkpoint meta')]
    if cfg is not None:
        candidates.append(_names_from_config(cfg))
    for names, source in candidates:
        if names and (num_classes is None or len(names) == num_classes):
            return names, source
    if num_classes == 1000:
        from mmpretrain.datasets.categories import IMAGENET_CATEGORIES
        return list(IMAGENET_CATEGORIES), 'ImageNet'
    return [f'class {i}' for i in range(num_classes or 0)], 'class ids'
