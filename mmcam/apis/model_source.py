"""What CAMInferencer is asked to explain: the model's config and
checkpoint, and the device, checked before anything is built."""
import copy
import os.path as osp
import warnings
from pathlib import Path
from typing import Optional, Tuple, Union

import torch
from mmengine.config import Config, ConfigDict

from ..cam import CAMError
from ..utils import one_line
from ..utils.config_options import merge_config_options

ModelType = Union[str, Path, Config, ConfigDict]


def resolve_model(model: ModelType, pretrained,
                  cfg_options: Optional[dict]) -> Tuple[Config, Optional[str]]:
    """The config and the checkpoint to load (None for none).

    Args:
        model: A config file, an ``mmpretrain::`` config path, a
            ``Config``/``ConfigDict`` or an mmpretrain model name.
        pretrained: A checkpoint path or URL; True for the model-zoo
            weights of a model name (or the config's ``load_from``);
            False/None for none (random weights, with a warning).
        cfg_options (dict, optional): Merged into the config.
    """
    hub_weights = None
    if isinstance(model, (Config, ConfigDict)):
        cfg = copy.deepcopy(model)
        if not isinstance(cfg, Config):
            cfg = Config(cfg)
    elif isinstance(model, (str, Path)):
        path = str(model)
        # 'mmpretrain::resnet/resnet18_8xb32_in1k.py' names a config
        # inside an installed package; mmengine's hub finds it.
        in_package = '::' in path
        if path.endswith('.py') or osp.isfile(path):
            if not in_package and not osp.isfile(path):
                raise CAMError(f'config {path!r} does not exist')
            try:
                if in_package:
                    from mmengine.hub import get_config
                    cfg = get_config(path)
                else:
                    cfg = Config.fromfile(path)
            except Exception as error:
                raise CAMError(f'could not read config {path!r}: '
                               f'{one_line(error)}') from None
        else:
            from mmpretrain.apis import ModelHub
            try:
                metainfo = ModelHub.get(path)
            except ValueError:
                raise CAMError(
                    f'{path!r} is neither a config file nor an '
                    'mmpretrain model name (see mmpretrain.list_models)'
                ) from None
            cfg, hub_weights = metainfo.config, metainfo.weights
    else:
        raise CAMError('model must be a config file, a Config or an '
                       f'mmpretrain model name, got '
                       f'{type(model).__name__}')
    merge_config_options(cfg, cfg_options)
    if 'model' not in cfg:
        raise CAMError('the config has no model')

    if pretrained is True:
        weights = hub_weights or cfg.get('load_from')
    elif pretrained in (False, None, ''):
        weights = None
    else:
        weights = str(pretrained)
    if weights is None:
        warnings.warn('no checkpoint given: the model keeps random '
                      'weights and its heatmaps mean nothing')
    return cfg, weights


def check_device(device: Optional[str]) -> str:
    """``device`` as torch names it; None picks what mmengine finds (a
    GPU when there is one). A device torch cannot use is a CAMError."""
    if device is None:
        from mmengine.device import get_device
        return get_device()
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise CAMError(f'unknown device {device!r}; use cpu, cuda or '
                       'cuda:N') from None
    if parsed.type == 'cuda':
        if not torch.cuda.is_available():
            raise CAMError(f'device {device!r} is not available: torch '
                           'sees no CUDA GPU; use cpu')
        if (parsed.index or 0) >= torch.cuda.device_count():
            raise CAMError(f'device {device!r} is not available: torch '
                           f'sees {torch.cuda.device_count()} GPU(s)')
    return str(parsed)
