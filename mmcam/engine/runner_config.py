"""Loading Runner configs for ``tools/train.py`` and ``tools/test.py``.

Mistakes in a config path, a ``--cfg-options`` value or a config's types
become one :class:`~mmcam.cam.CAMError` naming the bad value, which the
tools print as one line.
"""
import argparse
import os
import os.path as osp
from copy import deepcopy
from typing import Optional, Tuple

from mmengine.config import Config, ConfigDict
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmcam.cam import CAMError
from mmcam.engine.concise_runner import ConciseRunner
from mmcam.utils import (check_state_dict_fits, download_checkpoint,
                         read_checkpoint, state_dict_of)
from mmcam.utils.config_options import merge_config_options
from mmcam.utils.messages import one_line

# What a mistake in a config looks like while it is loaded or built:
# unknown registry types (KeyError), wrong arguments (TypeError), bad values
# (ValueError, AssertionError), missing files or modules.
CONFIG_ERRORS = (KeyError, TypeError, ValueError, AssertionError, ImportError,
                 OSError, SyntaxError, NameError)


def apply_runner_arguments(cfg: Config, args: argparse.Namespace) -> None:
    """``--launcher`` and ``--work-dir`` (or the config's name) into
    ``cfg``."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])


def load_runner_config(path: str) -> Config:
    """Load the config at ``path``.

    Raises:
        CAMError: a missing or broken file.
    """
    if not osp.isfile(path):
        raise CAMError(f'config file {path!r} does not exist')
    try:
        return Config.fromfile(path)
    except CONFIG_ERRORS as error:
        raise CAMError(f'cannot load config {path!r}: '
                       f'{one_line(error)}') from None


def merge_cfg_options(cfg: Config, cfg_options: Optional[dict]) -> Config:
    """Merge parsed ``--cfg-options`` into ``cfg``.

    Raises:
        CAMError: an option that does not fit the config, e.g. text where
            it has a number, or an index past the end of a list.
    """
    merge_config_options(cfg, cfg_options)
    return cfg


def set_default_dataloader_args(cfg: Config,
                                field: str,
                                pin_memory: bool = True,
                                persistent_workers: bool = True) -> None:
    """mmpretrain's dataloader defaults, kept valid for ``num_workers=0``
    (``persistent_workers`` needs worker processes)."""
    if cfg.get(field, None) is None:
        return
    dataloader = ConfigDict(
        pin_memory=pin_memory, collate_fn=dict(type='default_collate'))
    dataloader.update(deepcopy(cfg[field]))
    if not pin_memory:
        dataloader.pin_memory = False
    if persistent_workers and dataloader.get('num_workers', 0) > 0:
        dataloader.setdefault('persistent_workers', True)
    else:
        dataloader.pop('persistent_workers', None)
    cfg[field] = dataloader


def use_available_dist_backend(cfg: Config) -> None:
    """``env_cfg.dist_cfg.backend='nccl'`` becomes ``'gloo'`` where torch
    sees no GPU.

    ``import mmcam`` already starts gloo there (see :mod:`mmcam.compat`);
    writing it into the config makes the config the Runner logs say what
    runs.
    """
    import torch
    dist_cfg = (cfg.get('env_cfg') or {}).get('dist_cfg') or {}
    if dist_cfg.get('backend') == 'nccl' and not torch.cuda.is_available():
        cfg.env_cfg.dist_cfg.backend = 'gloo'


def build_runner(cfg: Config) -> Runner:
    """The Runner a config describes (``runner_type`` if it names one,
    else a :class:`~mmcam.engine.concise_runner.ConciseRunner`), with the
    distributed backend this machine can run.

    Raises:
        CAMError: a bad CAM setting, or a type or argument the registries
            do not know.
    """
    use_available_dist_backend(cfg)
    try:
        if 'runner_type' in cfg:
            return RUNNERS.build(cfg)
        return ConciseRunner.from_cfg(cfg)
    except CAMError:
        raise
    except CONFIG_ERRORS as error:
        raise CAMError(f'cannot build the runner: '
                       f'{one_line(error)}') from None


def build_loops(runner: Runner, *phases: str) -> None:
    """Build the runner's ``train``/``val``/``test`` loops and their
    dataloaders now, so a bad dataloader or dataset setting (e.g.
    ``--cfg-options test_dataloader.batch_size=abc``) is one line before
    the run rather than a traceback when it starts. The Runner uses the
    loops built here.

    Raises:
        CAMError: naming the loop and the problem.
    """
    for phase in phases:
        try:
            getattr(runner, f'{phase}_loop')
        except CAMError:
            raise
        except CONFIG_ERRORS as error:
            raise CAMError(f'cannot build the {phase} loop: '
                           f'{one_line(error)}') from None


def close_distributed() -> None:
    """Tear down the process group a Runner started.

    mmengine leaves it open; a gloo group still open while the interpreter
    exits can abort the process ("terminate called without an active
    exception"), failing an otherwise finished run.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def read_runner_checkpoint(filename: str) -> Tuple[str, dict]:
    """Read a checkpoint the Runner is about to load, before any work.

    Args:
        filename (str): A path or URL.

    Returns:
        tuple[str, dict]: The file the Runner should load (``filename``, or
        for an ``http(s)://`` URL the local copy that was read, so the
        Runner loads exactly these bytes) and the checkpoint.

    Raises:
        CAMError: naming the file when it is missing, unreadable, cannot be
            downloaded, or holds a type ``weights_only=True`` refuses.
    """
    checkpoint = read_checkpoint(filename)
    if filename.startswith(('http://', 'https://')):
        filename = download_checkpoint(filename)  # cached by read_checkpoint
    return filename, checkpoint


def _pretrained_inits(node) -> list:
    """Every ``dict(type='Pretrained', checkpoint=...)`` in a model config,
    at any depth (``model.init_cfg``, ``model.backbone.init_cfg``, lists of
    them)."""
    found = []
    if isinstance(node, dict):
        if node.get('type') == 'Pretrained' and node.get('checkpoint'):
            found.append(node)
        for value in node.values():
            found += _pretrained_inits(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            found += _pretrained_inits(value)
    return found


def read_pretrained_checkpoints(cfg: Config) -> None:
    """Read every checkpoint ``init_cfg=dict(type='Pretrained')`` names in
    the model config, before the run.

    mmengine loads them in ``model.init_weights()`` once training starts;
    a file that cannot be loaded safely would stop it there with a long
    traceback. An ``http(s)://`` checkpoint is replaced by the local copy
    read here, so exactly these bytes are loaded.

    Raises:
        CAMError: naming the file, as for ``load_from``.
    """
    for init in _pretrained_inits(cfg.get('model')):
        init['checkpoint'], checkpoint = read_runner_checkpoint(
            str(init['checkpoint']))
        del checkpoint


def check_resumable(checkpoint: dict, filename: str) -> None:
    """Refuse to resume from a file that holds weights only.

    mmengine's ``Runner.resume`` reads the epoch and iteration from the
    checkpoint's ``meta``; a bare state_dict (or one saved from a DDP
    model) has none and would stop the run with ``KeyError: 'meta'``.

    Raises:
        CAMError: saying that the file is to be given as ``load_from``.
    """
    meta = checkpoint.get('meta')
    if isinstance(meta, dict) and 'epoch' in meta and 'iter' in meta:
        return
    raise CAMError(
        f'{filename!r} is a weights file, not a checkpoint a run can resume '
        'from (it has no epoch and iteration in its meta); give it as '
        f'load_from (--cfg-options load_from={filename}) to train from '
        'these weights, not --resume')


def check_checkpoint_fits(model, checkpoint: dict, filename: str) -> None:
    """Refuse a checkpoint that does not fit ``model`` exactly.

    The Runner only warns about weights that do not fit, and would then
    test (or resume) a partly random model.

    Raises:
        CAMError: counting and naming missing, unexpected and differently
            shaped weights.
    """
    model = model.module if is_model_wrapper(model) else model
    check_state_dict_fits(model, state_dict_of(checkpoint, filename), filename)
