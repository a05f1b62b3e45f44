"""Load a checkpoint into a classifier, all of it or not at all.

mmengine's ``load_checkpoint`` loads what fits and logs a warning for the
rest; a CAM of a half-loaded model looks plausible and means nothing. Here
every problem is a one-line :class:`~mmcam.cam.CAMError` naming the file.
``torch.load`` keeps ``weights_only=True``; :mod:`mmcam.compat` allow-lists
the few harmless types Runner checkpoints hold.
"""
import os
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Dict, List
from urllib.parse import urlparse

import torch
import torch.nn as nn

from ..cam.errors import CAMError
from .messages import one_line

_REMOTE = re.compile(r'^(https?|s3|petrel|pavi|modelzoo|torchvision|'
                     r'open-mmlab|openmmlab|mmcls|mmpretrain)://')
_SHOWN_KEYS = 3


def _download(url: str) -> str:
    """The local copy of ``url`` in torch hub's cache, downloaded once.

    torch.hub's ``load_state_dict_from_url`` (which mmengine calls) always
    writes a "Downloading" line to stderr, even for cached files; this
    stays quiet unless stderr is a terminal that can show progress.
    """
    from torch.hub import download_url_to_file, get_dir
    folder = osp.join(get_dir(), 'checkpoints')
    cached = osp.join(folder, osp.basename(urlparse(url).path))
    if not osp.isfile(cached):
        os.makedirs(folder, exist_ok=True)
        download_url_to_file(url, cached, progress=sys.stderr.isatty())
    return cached


def _read_checkpoint(filename: str) -> dict:
    from mmengine.runner.checkpoint import _load_checkpoint
    remote = bool(_REMOTE.match(filename))
    if not remote and not osp.isfile(filename):
        what = 'is a folder' if osp.isdir(filename) else 'does not exist'
        raise CAMError(f'checkpoint {filename!r} {what}')
    try:
        if filename.startswith(('http://', 'https://')):
            checkpoint = torch.load(
                _download(filename), map_location='cpu', weights_only=True)
        elif remote:
            checkpoint = _load_checkpoint(filename, map_location='cpu')
        else:
            # Directly, without mmengine's loader logging every load.
            checkpoint = torch.load(
                filename, map_location='cpu', weights_only=True)
    except (OSError, ConnectionError) as error:
        if remote:
            raise CAMError(
                f'could not download checkpoint {filename!r} '
                f'({one_line(error)}); download it elsewhere and pass '
                'the local file') from None
        raise CAMError(f'could not read checkpoint {filename!r}: '
                       f'{one_line(error)}') from None
    except Exception as error:  # unpickling and zip errors of all kinds
        if remote and 'urlopen' in str(error).lower():
            raise CAMError(f'could not download checkpoint {filename!r} '
                           f'({one_line(error)})') from None
        raise CAMError(f'{filename!r} is not a PyTorch checkpoint that '
                       f'can be loaded safely: {one_line(error)}') from None
    if not isinstance(checkpoint, dict):
        raise CAMError(f'{filename!r} holds a {type(checkpoint).__name__}, '
                       'not a checkpoint dict')
    return checkpoint


def _state_dict_of(checkpoint: dict, filename: str) -> Dict[str, object]:
    state_dict = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state_dict, dict) or not state_dict or not all(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise CAMError(f'{filename!r} is not a model checkpoint: it has no '
                       'state_dict of tensors')
    # Weights saved from DDP-wrapped models carry a 'module.' prefix.
    return OrderedDict((re.sub(r'^module\.', '', key), value)
                       for key, value in state_dict.items())


def _some(keys: List[str]) -> str:
    shown = ', '.join(keys[:_SHOWN_KEYS])
    return shown + (', ...' if len(keys) > _SHOWN_KEYS else '')


def check_state_dict_fits(model: nn.Module, state_dict: Dict[str, object],
                          filename: str) -> None:
    """Raise a one-line :class:`CAMError` unless ``state_dict`` has exactly
    the model's keys with the model's shapes."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        k for k in expected if k in state_dict
        and tuple(state_dict[k].shape) != tuple(expected[k].shape)
    ]
    if not (missing or unexpected or mismatched):
        return
    problems = []
    if missing:
        problems.append(f'{len(missing)} missing key(s) ({_some(missing)})')
    if unexpected:
        problems.append(f'{len(unexpected)} unexpected key(s) '
                        f'({_some(unexpected)})')
    if mismatched:
        first = mismatched[0]
        problems.append(
            f'{len(mismatched)} shape mismatch(es) ({first}: checkpoint '
            f'{tuple(state_dict[first].shape)}, model '
            f'{tuple(expected[first].shape)}'
            f'{", ..." if len(mismatched) > 1 else ""})')
    raise CAMError(f'checkpoint {filename!r} does not fit the config: '
                   f'{"; ".join(problems)}')


def load_checkpoint_strictly(model: nn.Module, filename: str) -> dict:
    """Load every weight of ``filename`` into ``model``, or raise.

    Args:
        model (nn.Module): The classifier built from the config.
        filename (str): A local path or a URL (``https://``, ``s3://``,
            ...), anything mmengine's ``CheckpointLoader`` reads.

    Returns:
        dict: The checkpoint, for its ``meta``.

    Raises:
        CAMError: the file is missing, cannot be downloaded, is not a
            checkpoint, or does not fit the model (missing, unexpected or
            differently shaped weights are counted and a few named).
    """
    filename = str(filename)
    checkpoint = _read_checkpoint(filename)
    state_dict = _state_dict_of(checkpoint, filename)
    check_state_dict_fits(model, state_dict, filename)
    model.load_state_dict(state_dict, strict=True)
    return checkpoint
