"""Train a model with an mmpretrain config, CAMHook included.

mmpretrain's ``tools/train.py`` with ``import mmcam`` first, so the stack
fixes apply (``mmpretrain::`` configs, checkpoints under torch >= 2.6,
gloo on machines without a GPU) and ``CAMHook`` is registered. Config
mistakes are reported as one line.

Example:
    python tools/train.py configs/tiny/resnet-tiny_shapes_cam.py \
        --cfg-options custom_hooks.0.method=LayerCAM
"""
import argparse
import sys

from mmengine.device import get_device

import mmcam  # noqa: F401  (stack fixes, registers CAMHook)
from mmcam.cam import CAMError
from mmcam.engine.runner_config import (add_runner_arguments,
                                        apply_runner_arguments, build_runner,
                                        close_distributed, load_runner_config,
                                        merge_cfg_options,
                                        set_default_dataloader_args)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
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
    add_runner_arguments(parser)
    return parser.parse_args()


def merge_args(cfg, args):
    """Command-line arguments override the config."""
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


def main() -> None:
    args = parse_args()
    try:
        cfg = merge_args(load_runner_config(args.config), args)
        # --cfg-options go last, so they override the flags above.
        cfg = merge_cfg_options(cfg, args.cfg_options)
        runner = build_runner(cfg)
        runner.train()
        close_distributed()
    except (CAMError, FileNotFoundError) as error:
        sys.exit(f'error: {error}')


if __name__ == '__main__':
    main()
