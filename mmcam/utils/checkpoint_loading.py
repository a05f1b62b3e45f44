"""Load a checkpoint into a classifier, all of it or not at all.

mmengine's ``load_checkpoint`` loads what fits and logs a warning for the
rest; a CAM of a half-loaded model looks plausible and means nothing. Here
every problem is a one-line :class:`~mmcam.cam.CAMError` naming the file.
``torch.load`` keeps ``weights_only=True``; :mod:`mmcam.compat` allow-lists
the few harmless types Runner checkpoints hold.
"""
import hashlib
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
from .local_files import describe_irregular
from .messages import one_line

_REMOTE = re.compile(r'^(https?|s3|petrel|pavi|modelzoo|torchvision|'
                     r'open-mmlab|openmmlab|mmcls|mmpretrain)://')
_SHOWN_KEYS = 3


def download_checkpoint(url: str) -> str:
    """The local copy of an ``http(s)://`` checkpoint, downloaded once.

    The cache (torch hub's ``checkpoints/mmcam`` folder) is keyed by the
    whole URL: two URLs ending in the same file name (``.../best.pth``) are
    two files, and an offline run never takes one for the other.
    torch.hub's ``load_state_dict_from_url`` (which mmengine calls) always
    writes a "Downloading" line to stderr, even for cached files; this
    stays quiet unless stderr is a terminal that can show progress.

    Raises:
        CAMError: the download failed.
    """
    from torch.hub import download_url_to_file, get_dir
    folder = osp.join(get_dir(), 'checkpoints', 'mmcam')
    digest = hashlib.sha256(url.encode('utf-8')).hexdigest()[:16]
    cached = osp.join(folder, f'{digest}-{osp.basename(urlparse(url).path)}')
    if not osp.isfile(cached):
        os.makedirs(folder, exist_ok=True)
        try:
            download_url_to_file(url, cached, progress=sys.stderr.isatty())
        except Exception as error:  # no network, HTTP errors, timeouts
            raise CAMError(
                f'could not download checkpoint {url!r} '
                f'({one_line(error)}); download it elsewhere and pass '
                'the local file') from None
    return cached


def _looks_like_torch_save(filename: str) -> bool:
    """Whether a local file starts as torch.save output does: a zip
    archive (torch >= 1.6) or a pickle (the legacy format)."""
    try:
        with open(filename, 'rb') as f:
            head = f.read(4)
    except OSError:
        return True  # not local: let the loader's own message speak
    return head.startswith(b'PK\x03\x04') or head[:1] == b'\x80'


def read_checkpoint(filename: str) -> dict:
    """Read a checkpoint file or URL with ``weights_only=True``.

    Raises:
        CAMError: naming the file when it is missing, no regular file (a
            FIFO, a device: said which), cannot be downloaded, is not a
            checkpoint, or holds a type that is not allowed (the refused
            global is named).
    """
    from mmengine.runner.checkpoint import _load_checkpoint
    remote = bool(_REMOTE.match(filename))
    problem = None if remote else describe_irregular(filename)
    if problem is not None:  # a FIFO would block torch.load for ever
        raise CAMError(f'checkpoint {filename!r} {problem}')
    if not remote and osp.getsize(filename) == 0:
        raise CAMError(f'checkpoint {filename!r} is an empty file')
    local = download_checkpoint(filename) if filename.startswith(
        ('http://', 'https://')) else None
    try:
        if remote and local is None:
            # s3://, open-mmlab:// and the like: mmengine's loaders, which
            # mmcam.compat makes load with weights_only=True.
            checkpoint = _load_checkpoint(filename, map_location='cpu')
        else:
            # Directly, without mmengine's loader logging every load.
            checkpoint = torch.load(
                local or filename, map_location='cpu', weights_only=True)
    except (OSError, ConnectionError) as error:
        if remote and local is None:
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
        reason = one_line(error)
        if not _looks_like_torch_save(local or filename):
            reason = 'neither a torch.save zip archive nor a pickle'
        elif 'unsupported global' not in reason.lower():
            reason = f'{type(error).__name__}: {reason}'
        raise CAMError(f'{filename!r} is not a PyTorch checkpoint that '
                       f'can be loaded safely: {reason}') from None
    if not isinstance(checkpoint, dict):
        raise CAMError(f'{filename!r} holds a {type(checkpoint).__name__}, '
                       'not a checkpoint dict')
    return checkpoint


def state_dict_of(checkpoint: dict, filename: str) -> Dict[str, object]:
    """The model weights of ``checkpoint``, without a DDP ``module.``
    prefix."""
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
    checkpoint = read_checkpoint(filename)
    state_dict = state_dict_of(checkpoint, filename)
    check_state_dict_fits(model, state_dict, filename)
    model.load_state_dict(state_dict, strict=True)
    return checkpoint
