"""Test (and evaluate) a checkpoint with an mmpretrain config, CAMHook
included.

mmpretrain's ``tools/test.py`` with ``import mmcam`` first, so the stack
fixes apply (``mmpretrain::`` configs, Runner checkpoints under
torch >= 2.6, gloo on machines without a GPU) and ``CAMHook`` is
registered. Config mistakes are reported as one line. mmcam, mmengine and
torch are imported after the arguments are read, so ``--help`` and
argument mistakes answer at once.

Example:
    python tools/test.py configs/tiny/resnet-tiny_shapes_cam.py \
        work_dirs/resnet-tiny_shapes_cam/epoch_2.pth \
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
    parser = command_line.OneLineParser(
        description='Test (and evaluate) a model, drawing CAMs with '
        'CAMHook if the config has one')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='write results to this file')
    parser.add_argument(
        '--out-item',
        choices=['metrics', 'pred'],
        help='what --out holds; defaults to predictions')
    parser.add_argument(
        '--amp', action='store_true', help='mixed-precision test')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='disable pin_memory in the dataloader')
    command_line.add_runner_arguments(parser)
    args = parser.parse_args(argv)
    if args.out is None and args.out_item is not None:
        parser.error('--out-item needs --out')
    return args


def merge_args(cfg, args):
    """Command-line arguments override the config."""
    from mmcam.engine.runner_config import (apply_runner_arguments,
                                            set_default_dataloader_args)
    apply_runner_arguments(cfg, args)
    if args.amp:
        cfg.test_cfg.fp16 = True
    set_default_dataloader_args(
        cfg,
        'test_dataloader',
        pin_memory=not args.no_pin_memory,
        persistent_workers=False)
    return cfg


def test(args: argparse.Namespace):
    """Run the test loop; returns its metrics."""
    from mmengine.evaluator import DumpResults

    import mmcam  # noqa: F401  (stack fixes, registers CAMHook)
    from mmcam.engine.runner_config import (build_loops, build_runner,
                                            check_checkpoint_fits,
                                            close_distributed,
                                            load_runner_config,
                                            merge_cfg_options,
                                            read_runner_checkpoint)
    from mmcam.utils.local_files import check_writable
    from mmcam.utils.torch_threads import use_free_cores

    use_free_cores()
    cfg = merge_args(load_runner_config(args.config), args)
    if args.out:
        check_writable(args.out, '--out')
    # --cfg-options go last, so they override the flags above.
    cfg = merge_cfg_options(cfg, args.cfg_options)
    cfg.load_from, checkpoint = read_runner_checkpoint(args.checkpoint)
    runner = build_runner(cfg)
    check_checkpoint_fits(runner.model, checkpoint, args.checkpoint)
    del checkpoint
    build_loops(runner, 'test')
    if args.out and args.out_item in ('pred', None):
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    metrics = runner.test()
    close_distributed()
    return metrics


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        metrics = test(args)
    except Exception as error:  # noqa: B902  (mmcam's errors: one line)
        if not (command_line_module().is_cam_error(error)
                or isinstance(error, FileNotFoundError)):
            raise
        sys.exit(f'error: {error}')
    if args.out and args.out_item == 'metrics':
        import mmengine
        mmengine.dump(metrics, args.out)


if __name__ == '__main__':
    main()
