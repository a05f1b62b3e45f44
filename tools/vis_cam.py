#!/usr/bin/env python
"""Draw class activation maps of images with an mmpretrain classifier.

A thin layer over :class:`mmcam.apis.CAMInferencer`: it parses the flags
of MMPretrain's ``tools/visualization/vis_cam.py`` (plus ``--topk``,
``--save-raw`` and ``--batch-size``), runs the inferencer and reports bad
input as one line ``error: ...`` with a non-zero exit code.

Examples: see ``EXAMPLES`` below, the end of ``--help``.
"""
import argparse
import importlib.util
import os
import os.path as osp
import sys
from pathlib import Path
from typing import Optional

PICTURE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')
# Pillow's decompression-bomb limit, as mmcam.utils.image_loading has it;
# repeated so that --help does not import torch.
DEFAULT_MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3
TOP_PREDICTIONS = 5

EXAMPLES = """\
examples:
  # one photo, the predicted class, written to this file
  python tools/vis_cam.py cat.jpg CONFIG CHECKPOINT --save-path cam.png
  # a folder: the 3 likeliest classes with GradCAM++, heatmaps as .npy too
  python tools/vis_cam.py photos/ CONFIG CHECKPOINT --method GradCAM++ \\
      --topk 3 --save-path cams/ --save-raw
  # a model-zoo model by name, its checkpoint from a URL (needs network)
  python tools/vis_cam.py cat.jpg resnet50_8xb32_in1k https://.../x.pth \\
      --save-path cam.png
  # the layer names --target-layers accepts, then exit
  python tools/vis_cam.py cat.jpg CONFIG CHECKPOINT --preview-model
  # every method with its family
  python tools/vis_cam.py --list-methods
"""


def mmcam_file_module(relative_path: str):
    """A module of mmcam read from its file without importing mmcam (which
    loads torch and takes seconds, and may be what fails on a broken
    install), e.g. ``'cam/method_names.py'``."""
    package = importlib.util.find_spec('mmcam')
    path = osp.join(osp.dirname(package.origin), relative_path)
    name = '_mmcam_' + osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def method_names_module():
    """:mod:`mmcam.cam.method_names`, so that ``--help`` and
    ``--list-methods`` answer at once."""
    return mmcam_file_module(osp.join('cam', 'method_names.py'))


class ListMethodsAction(argparse.Action):
    """``--list-methods``: print every method and exit, before the other
    arguments are checked (as ``--version`` does)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(
            option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(method_names_module().method_listing())
        parser.exit(0)


def command_line_module():
    """:mod:`mmcam.utils.command_line`: the argument conventions the tools
    share."""
    return mmcam_file_module(osp.join('utils', 'command_line.py'))


def parse_args(argv=None) -> argparse.Namespace:
    names = method_names_module()
    command_line = command_line_module()
    parser = command_line.OneLineParser(
        description='Visualize class activation maps (CAM) of images.',
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        'img',
        help='Image file, folder of images, or glob pattern '
        "(quote it: 'photos/*.jpg')")
    parser.add_argument(
        'config',
        help='Config file, a config inside mmpretrain '
        '(mmpretrain::resnet/resnet50_8xb32_in1k.py) or an mmpretrain '
        'model name (resnet50_8xb32_in1k, see mmpretrain.list_models)')
    parser.add_argument('checkpoint', help='Checkpoint file or URL')
    parser.add_argument(
        '--list-methods',
        action=ListMethodsAction,
        help='Print every CAM method with its family and exit (no other '
        'argument needed).')
    parser.add_argument(
        '--target-layers',
        default=[],
        nargs='+',
        type=str,
        help='Dotted names of the layers to compute the CAM at, e.g. '
        'backbone.layer4.1.bn2 (see --preview-model). Defaults to the '
        'last norm at the final resolution that everything the head reads '
        'goes through, else the block or stage there (for ViTs: the norm '
        'before the last attention block).')
    parser.add_argument(
        '--preview-model',
        action='store_true',
        help='Print the layer names accepted by --target-layers with '
        'their output shapes, mark the default one, and exit.')
    parser.add_argument(
        '--method',
        default='GradCAM',
        help='CAM method, case-insensitive: '
        f'{", ".join(name for name, _ in names.METHOD_FAMILIES)} '
        '(GradCAM++ = GradCAMPlusPlus). Defaults to GradCAM.')
    parser.add_argument(
        '--target-category',
        default=[],
        nargs='+',
        type=int,
        help='Class ids to explain, one picture each. Defaults to the '
        'predicted class.')
    parser.add_argument(
        '--topk',
        type=int,
        help='Explain the K most likely classes of each image.')
    parser.add_argument(
        '--eigen-smooth',
        action='store_true',
        help='Reduce noise with the first principal component of '
        'weights * activations.')
    parser.add_argument(
        '--aug-smooth',
        action='store_true',
        help='Average over test-time augmentation (flips, brightness).')
    parser.add_argument(
        '--head-fusion',
        help='AttentionRollout: how a block\'s heads are fused: mean, max '
        'or min. Defaults to mean.')
    parser.add_argument(
        '--discard-ratio',
        type=float,
        help='AttentionRollout: share of each block\'s lowest fused '
        'attentions set to zero, in [0, 1). Defaults to 0.9.')
    parser.add_argument(
        '--save-path',
        type=Path,
        help='Where to write the pictures: a file (.png/.jpg) when the run '
        'makes one picture, otherwise a folder, with names '
        '<image>_<method>_<category>.png. Without it a window shows them.')
    parser.add_argument(
        '--save-raw',
        action='store_true',
        help='Also write each heatmap as a float32 .npy in [0, 1] beside '
        'its picture, with the same name and size.')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=1,
        help='Images per forward pass. Defaults to 1.')
    parser.add_argument(
        '--device',
        default='cpu',
        help='Device, e.g. cpu, cuda or cuda:0. Defaults to cpu.')
    parser.add_argument(
        '--max-pixels',
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help='Refuse images over this many pixels before decoding them, '
        'and images a resize of the test pipeline would make larger '
        f"(extreme aspect ratios). Defaults to {DEFAULT_MAX_PIXELS:,}, "
        "Pillow's decompression-bomb limit; 0 for no limit.")
    parser.add_argument(
        '--vit-like',
        action='store_true',
        help='Treat the model as ViT-like when choosing the default layer '
        '(token outputs are detected anyway).')
    parser.add_argument(
        '--num-extra-tokens',
        type=int,
        help='Class/distillation tokens before the patch tokens. Defaults '
        "to the backbone's num_extra_tokens.")
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help="Seed of RandomCAM's channel weights, so a run repeats. "
        'Defaults to 0.')
    parser.add_argument(
        '--metrics',
        nargs='*',
        metavar='NAME',
        help='Measure each heatmap and print the values on the image\'s '
        'line, and their means at the end: no NAME for all of avg_drop, '
        'increase, deletion_auc, insertion_auc; or some of them.')
    parser.add_argument(
        '--metric-steps',
        type=int,
        default=50,
        help='Steps of the deletion and insertion curves. Defaults to 50.')
    parser.add_argument(
        '--metric-options',
        nargs='+',
        metavar='KEY=VALUE',
        help='Other options of the metrics (mmcam.evaluation.CAMQuality), '
        'e.g. insertion_substrate=black deletion_substrate=blur '
        'blur_kernel=41 blur_sigma=20.')
    command_line.add_cfg_options_argument(parser, 'model.head.num_classes=10')
    return parser.parse_args(argv)


def print_layers(inferencer, image) -> None:
    # An unreadable image raises here: shapes for another size would be
    # the wrong answer.
    records, targets = inferencer.record_layers(image)
    height, width = inferencer.input_shape(image)
    print(f'network input 1x3x{height}x{width}; output shape of each '
          'layer:')
    width = max(len(r.name) for r in records) + 2
    type_width = max(len(r.type_name) for r in records) + 2
    for record in records:
        mark = '  <- target layer' if record.name in targets else ''
        shape = 'x'.join(str(d) for d in record.output_shape) or '-'
        print(f'{record.name:<{width}}{record.type_name:<{type_width}}'
              f'{shape}{mark}')
    given = 'given' if inferencer.settings.target_layers else 'default'
    print(f'\n{given} target layer(s): {", ".join(targets)}; pass other '
          'names to --target-layers')


def picture_destination(save_path, num_pictures: int) -> dict:
    """``out_file`` for one picture written to a file path, else
    ``show_dir``."""
    from mmcam.cam import CAMError
    path = str(save_path)
    is_file = osp.splitext(path)[1].lower() in PICTURE_SUFFIXES
    if is_file and num_pictures == 1:
        return dict(out_file=path)
    if is_file:
        raise CAMError(f'this run makes {num_pictures} pictures, so '
                       f'--save-path must be a folder, not {path!r}')
    if osp.isfile(path):
        raise CAMError(f'--save-path {path!r} is a file; give a folder')
    return dict(show_dir=path)


def mistake_before_imports(args) -> Optional[str]:
    """What the arguments and the file system alone show to be wrong, said
    before mmcam and torch are imported (seconds): several pictures cannot
    go to one picture file. Counted here: the classes of each image and a
    folder's files with a picture suffix, which mmcam takes as images
    (:func:`picture_destination` gives the exact count, globs and other
    image formats included, before the model is built)."""
    if args.save_path is None or args.preview_model:
        return None
    path = str(args.save_path)
    if osp.splitext(path)[1].lower() not in PICTURE_SUFFIXES:
        return None
    per_image = args.topk if args.topk is not None else (
        len(args.target_category) or 1)
    images = 1
    if osp.isdir(args.img):
        images = max(
            1,
            sum(1 for entry in os.scandir(args.img)
                if entry.name.lower().endswith(PICTURE_SUFFIXES)
                and entry.is_file()))
    if per_image * images > 1:
        return (f'this run makes at least {per_image * images} pictures, so '
                f'--save-path must be a folder, not {path!r}')
    return None


def describe(result, inferencer) -> str:
    name = osp.basename(result['img_path'] or 'array')
    scores = result['pred_scores']
    top = scores.argsort()[::-1][:TOP_PREDICTIONS]
    ranked = ', '.join(f'{inferencer.class_name(c)} ({c}) {scores[c]:.3f}'
                       for c in top)
    return f'{name}: {ranked}'


def attention_arguments(args) -> dict:
    """The AttentionRollout options given; the settings default the
    others."""
    given = dict(
        head_fusion=args.head_fusion, discard_ratio=args.discard_ratio)
    return {key: value for key, value in given.items() if value is not None}


def metric_arguments(args) -> dict:
    """The inferencer's metric arguments; ``--metrics`` alone asks for
    every metric, with names for those."""
    from mmcam.cam import CAMError
    if args.metrics is None:
        if args.metric_options:
            raise CAMError('--metric-options needs --metrics')
        return {}
    from mmcam.utils.command_line import read_key_value
    options = {}
    for item in args.metric_options or ():
        try:
            key, value = read_key_value(item, '--metric-options')
        except ValueError as error:
            raise CAMError(str(error)) from None
        options[key] = value
    return dict(
        metrics=args.metrics or True,
        metric_cfg=dict(steps=args.metric_steps, **options))


def describe_metrics(metrics: dict) -> str:
    """`` | name value ...``, values of several classes joined by /."""
    if not metrics:
        return ''
    return ' | ' + ', '.join(f'{name} ' + '/'.join(f'{v:.3f}' for v in values)
                             for name, values in metrics.items())


def run(args) -> int:
    import logging

    import numpy as np
    from mmengine.logging import MMLogger

    import mmcam  # noqa: F401  (stack fixes and registries, before configs)
    from mmcam.apis import CAMInferencer
    from mmcam.cam import CAMError, CAMSettings
    from mmcam.utils import collect_images
    from mmcam.utils.torch_threads import use_free_cores
    from mmcam.visualization import check_can_show

    use_free_cores()

    # Models log their structure at INFO while being built (timm backbones
    # list every stage); the tool's output is the predictions.
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    if args.save_raw and args.save_path is None:
        raise CAMError('--save-raw needs --save-path')
    # Bad arguments are named before the question of where pictures go.
    images = collect_images(args.img)
    missing = [p for p in images if '://' not in p and not osp.exists(p)]
    if missing and len(images) == 1:
        raise CAMError(f'image {missing[0]!r} does not exist')
    if args.preview_model:
        output = {}
    elif args.save_path is not None:
        # Known before the model is built, which takes seconds.
        per_image = CAMSettings(
            target_category=args.target_category or None,
            topk=args.topk).heatmaps_per_sample
        output = picture_destination(args.save_path, len(images) * per_image)
        output['save_raw'] = args.save_raw
    else:
        check_can_show('pass --save-path FILE_OR_FOLDER to write the '
                       'pictures instead')
        output = dict(show=True)

    inferencer = CAMInferencer(
        args.config,
        pretrained=args.checkpoint,
        device=args.device,
        cfg_options=args.cfg_options,
        method=args.method,
        target_layers=args.target_layers,
        target_category=args.target_category or None,
        topk=args.topk,
        eigen_smooth=args.eigen_smooth,
        aug_smooth=args.aug_smooth,
        vit_like=args.vit_like,
        num_extra_tokens=args.num_extra_tokens,
        seed=args.seed,
        max_pixels=args.max_pixels,
        **attention_arguments(args),
        **metric_arguments(args))

    if args.preview_model:
        print_layers(inferencer, images[0])
        return 0

    # The inferencer draws a progress bar on stderr when it is a
    # terminal; tqdm.write keeps each line whole, above the bar.
    from tqdm import tqdm

    def say(text: str, file=sys.stdout) -> None:
        tqdm.write(text, file=file)
        file.flush()

    failed = written = 0
    first = True
    measured = {}
    for result in inferencer.iter_results(
            images, batch_size=args.batch_size, on_bad_image='report',
            **output):
        if 'error' in result:
            failed += 1
            say(f'error: {result["error"]}', file=sys.stderr)
            continue
        if first:
            say(f'{result["method"]} at '
                f'{", ".join(result["target_layers"])}')
            if result['note']:
                say(f'note: {result["note"]}')
            first = False
        say(
            describe(result, inferencer) +
            describe_metrics(result.get('metrics')))
        for name, values in result.get('metrics', {}).items():
            measured.setdefault(name, []).extend(values)
        written += sum(f.lower().endswith(PICTURE_SUFFIXES)
                       for f in result.get('out_files', []))
    if measured and len(images) > 1:
        means = ', '.join(f'{name} {np.nanmean(values):.3f}'
                          for name, values in measured.items())
        count = len(next(iter(measured.values())))
        say(f'mean over {count} heatmap(s): {means}')
    if args.save_path is not None and written:
        print(f'wrote {written} picture(s) to {args.save_path}')
    if failed and len(images) > 1:
        print(
            f'error: {failed} of {len(images)} image(s) failed',
            file=sys.stderr)
    return 1 if failed else 0


def show_warning_line(message, category, filename, lineno, file=None,
                      line=None) -> None:
    """A warning as one ``warning: ...`` line on stderr, as errors are."""
    print(f'warning: {message}', file=sys.stderr)


def main(argv=None) -> int:
    args = parse_args(argv)
    import warnings

    debugging = mmcam_file_module('library_noise.py').debugging

    # Library warnings (mmcv-lite's missing ops, deprecations) would
    # bury the tool's own output; problems are reported as errors. mmcam's
    # own warnings (a model left with random weights) are for the user.
    if not debugging():
        warnings.filterwarnings('ignore')
        warnings.filterwarnings('default', module=r'mmcam\.')
    warnings.showwarning = show_warning_line
    mistake = mistake_before_imports(args)
    if mistake is not None:
        print(f'error: {mistake}', file=sys.stderr)
        return 1
    try:
        return run(args)
    except KeyboardInterrupt:
        print('error: interrupted', file=sys.stderr)
        return 130
    except Exception as error:  # noqa: B902  (one line, never a traceback)
        message = ' '.join(str(error).split()) or type(error).__name__
        if not command_line_module().is_cam_error(error):
            if debugging():
                raise
            message = (f'{type(error).__name__}: {message} (set '
                       'MMCAM_DEBUG=1 for the traceback)')
        print(f'error: {message}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    code = main()  # --help and --list-methods exit in here, without torch
    # Read from its file: mmcam may be what failed to import.
    mmcam_file_module(osp.join('utils',
                               'process_exit.py')).exit_without_teardown(code)
