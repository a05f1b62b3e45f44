"""Train a model with an mmpretrain config, CAMHook included.

mmpretrain's ``tools/train.py`` with ``import mmcam`` first, so the stack
fixes apply (``mmpretrain::`` configs, checkpoints under torch >= 2.6,
gloo on machines without a GPU) and ``CAMHook`` is registered. Config
mistakes are reported as one line. mmcam, mmengine and torch are imported
after the arguments are read, so ``--help`` and argument mistakes answer
at once.

Example:
    python tools/train.py configs/tiny/resnet-tiny_shapes_cam.py \
        --cfg-options custom_hooks.0.method=LayerCAM
"""
import argparse
import importlib.util
import os.path as osp
import sys


def command_line_module():
    """:mod:`mmcam.utils.command_line`, read from its file without
    importing mmcam (which loads torch and takes seconds)."""
    package = importlib.util.find_spec('mmcam')
    path = osp.join(osp.dirname(package.origin), 'utils', 'command_line.py')
    spec = importlib.util.spec_from_file_location('_mmcam_command_line', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args(argv=None) -> argparse.Namespace:
    command_line = command_line_module()
    parser = command_line.OneLineParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or without a path from the '
        'latest checkpoint in the work directory')
    parser.add_argument(
        '--amp', action='store_true', help='mixed-precision training')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='skip validation (and CAMHook in it) during training')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='disable pin_memory in the dataloaders')
    command_line.add_runner_arguments(parser)
    return parser.parse_args(argv)


def merge_args(cfg, args):
    """Command-line arguments override the config."""
    from mmengine.device import get_device

    from mmcam.cam import CAMError
    from mmcam.engine.runner_config import (apply_runner_arguments,
                                            set_default_dataloader_args)
    apply_runner_arguments(cfg, args)
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.amp:
        if get_device() == 'cpu':
            # mmengine's AmpOptimWrapper asserts an accelerator.
            raise CAMError('--amp needs a GPU (or NPU/MLU); none was found')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        set_default_dataloader_args(
            cfg, field, pin_memory=not args.no_pin_memory)
    return cfg


def _read_checkpoint_to_load(cfg):
    """Read the checkpoint the Runner will resume from or load, before the
    run: a file that cannot be read safely is one line now, not a
    traceback after the datasets are built.

    Returns:
        tuple: The file resumed from (None when fine-tuning from
        ``load_from`` or starting fresh) and the checkpoint read (or None).
    """
    from mmengine.runner import find_latest_checkpoint

    from mmcam.engine.runner_config import read_runner_checkpoint
    if cfg.get('resume', False):
        path = cfg.get('load_from') or find_latest_checkpoint(cfg.work_dir)
        if path is None:
            return None, None  # nothing to resume: mmengine starts fresh
        cfg.load_from, checkpoint = read_runner_checkpoint(path)
        return path, checkpoint
    if cfg.get('load_from'):
        # Fine-tuning may load weights that fit only in part (a new head),
        # as mmengine allows; reading it still has to be safe.
        cfg.load_from, checkpoint = read_runner_checkpoint(cfg.load_from)
        return None, checkpoint
    return None, None


def train(args: argparse.Namespace) -> None:
    import mmcam  # noqa: F401  (stack fixes, registers CAMHook)
    from mmcam.engine.runner_config import (build_loops, build_runner,
                                            check_checkpoint_fits,
                                            check_resumable,
                                            close_distributed,
                                            load_runner_config,
                                            merge_cfg_options,
                                            read_pretrained_checkpoints)
    from mmcam.utils.torch_threads import use_free_cores

    use_free_cores()
    cfg = merge_args(load_runner_config(args.config), args)
    # --cfg-options go last, so they override the flags above.
    cfg = merge_cfg_options(cfg, args.cfg_options)
    resume_from, checkpoint = _read_checkpoint_to_load(cfg)
    read_pretrained_checkpoints(cfg)
    runner = build_runner(cfg)
    if resume_from is not None:
        # Resuming into a model the weights do not fit would train a
        # partly random model; mmengine would only warn.
        check_checkpoint_fits(runner.model, checkpoint, resume_from)
        check_resumable(checkpoint, resume_from)
    del checkpoint
    build_loops(runner, 'train', 'val')
    runner.train()
    close_distributed()


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        train(args)
    except Exception as error:  # noqa: B902  (mmcam's errors: one line)
        if not (command_line_module().is_cam_error(error)
                or isinstance(error, FileNotFoundError)):
            raise
        sys.exit(f'error: {error}')


if __name__ == '__main__':
    main()
