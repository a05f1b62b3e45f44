"""Every ImageNet classifier family of mmpretrain's model zoo through mmcam.

For each folder of ``mmpretrain/.mim/configs`` whose metafile lists an
ImageNet-1k image-classification result, takes its smallest config (fewest
parameters, counted by building the model on the ``meta`` device; then
fewest FLOPs), builds it with random weights, and explains one photo
(scikit-image's cat, ``skimage.data.chelsea``) with GradCAM, GradCAM++,
LayerCAM and EigenCAM at the default target layer through
:class:`~mmcam.apis.CAMInferencer`. Each model runs in its own process
under a time limit. Prints one markdown table: family, config, parameters,
default layer, each method ``ok`` / ``blank`` (a constant map) /
``error``, and the seconds the model took (build and the four methods);
then one line per blank or error saying why.

Random weights say nothing about what a map shows; they do say whether a
method gives a map at all, which is what this checks.

    OMP_NUM_THREADS=1 python benchmarks/zoo_sweep.py [--families deit3 vig]
        [--time-limit 600] [--methods GradCAM ...]
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
import warnings
from dataclasses import replace

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)  # run from a checkout without installing

METHODS = ('GradCAM', 'GradCAM++', 'LayerCAM', 'EigenCAM')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=' '.join(__doc__.split('\n\n')[0].split()))
    parser.add_argument(
        '--families',
        nargs='+',
        help='config folders to run (default: every classifier family)')
    parser.add_argument('--methods', nargs='+', default=list(METHODS))
    parser.add_argument(
        '--time-limit',
        type=float,
        default=600,
        help='seconds per model, build included (default 600)')
    parser.add_argument(
        '--jsonl',
        help='also append each family\'s row to this file as it finishes '
        '(a long sweep keeps what it measured if stopped)')
    parser.add_argument(
        '--part',
        help='K/N: run only the K-th of N equal parts of the families (for '
        'several processes)')
    parser.add_argument(
        '--table-from',
        nargs='+',
        help='print the table of these --jsonl files and run nothing')
    parser.add_argument(
        '--one', help=argparse.SUPPRESS)  # a config, run in this process
    return parser.parse_args(argv)


def configs_root() -> str:
    import mmpretrain
    return osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'configs')


def classifier_configs(family_dir: str):
    """``(config path, FLOPs)`` of every model of a family's metafile with
    an ImageNet-1k image-classification result."""
    import yaml
    metafile = osp.join(family_dir, 'metafile.yml')
    if not osp.isfile(metafile):
        return []
    with open(metafile) as file:
        models = (yaml.safe_load(file) or {}).get('Models') or []
    found = []
    for model in models:
        results = model.get('Results') or []
        if not any(
                r.get('Task') == 'Image Classification'
                and r.get('Dataset') == 'ImageNet-1k' for r in results):
            continue
        config = model.get('Config') or ''
        path = osp.join(osp.dirname(family_dir), config[len('configs/'):])
        if osp.isfile(path) and path not in [p for p, _ in found]:
            flops = (model.get('Metadata') or {}).get('FLOPs')
            found.append((path, flops if flops is not None else float('inf')))
    return found


def count_parameters(config_path: str) -> int:
    """Parameters of a config's model, built on the meta device (no
    memory, no initialisation)."""
    import torch
    from mmengine.config import Config
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(config_path)
    with torch.device('meta'), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = MODELS.build(cfg.model)
    return sum(p.numel() for p in model.parameters())


def smallest_configs(families=None):
    """``{family: config path}``, the smallest classifier of each."""
    import mmcam  # noqa: F401  (stack fixes, registries)
    root = configs_root()
    chosen = {}
    for family_dir in sorted(glob.glob(osp.join(root, '*'))):
        family = osp.basename(family_dir)
        if families and family not in families:
            continue
        candidates = []
        for path, flops in classifier_configs(family_dir):
            try:
                params = count_parameters(path)
            except Exception:  # noqa: BLE001  (run it; it will say why)
                params = float('inf')
            candidates.append((params, flops, path))
        if candidates:
            chosen[family] = min(candidates)[2]
    return chosen


def photo():
    """scikit-image's cat photo, BGR as mmcv reads images."""
    from skimage import data
    return data.chelsea()[:, :, ::-1].copy()


def run_one(config_path: str, methods, image=None) -> dict:
    """Explain ``image`` (default: the photo) with each method at the
    default layer; what happened, as a dict: ``methods`` (method ->
    ``'ok'``, ``'blank'`` or ``'error'``), ``reasons`` (method -> the
    engine's warning or the error), ``layer``, ``params``, ``seconds``."""
    import logging

    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    # The engine's one-line warnings (a blank map and why) are the
    # reasons; catch them from the logger.
    caught = []

    class Catch(logging.Handler):

        def emit(self, record):
            if record.levelno >= logging.WARNING:
                caught.append(record.getMessage())

    handler, level = Catch(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    try:
        return _explain_with_each_method(config_path, methods, image,
                                         caught)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _explain_with_each_method(config_path, methods, image, caught) -> dict:
    import numpy as np
    import torch

    from mmcam.apis import CAMInferencer
    from mmcam.cam import CAMEngine
    torch.manual_seed(0)
    row = dict(config=config_path, methods={}, reasons={})
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # "no checkpoint: random weights"
        try:
            inferencer = CAMInferencer(
                config_path,
                pretrained=None,
                device='cpu',
                show_progress=False)
        except Exception as error:  # noqa: BLE001
            row['error'] = f'{type(error).__name__}: {error}'.splitlines()[0]
            row['seconds'] = time.perf_counter() - start
            return row
    row['params'] = sum(p.numel() for p in inferencer.model.parameters())
    image = photo() if image is None else image
    for method in methods:
        del caught[:]
        try:
            # One model for the four methods: a new engine per method.
            inferencer.settings = replace(inferencer.settings, method=method)
            inferencer.engine = CAMEngine(inferencer.model,
                                          inferencer.settings)
            result = inferencer(image)[0]
            row['layer'] = ', '.join(result['target_layers'])
            heatmap = np.asarray(result['input_heatmaps'])
            blank = bool(heatmap.max() == heatmap.min())
            row['methods'][method] = 'blank' if blank else 'ok'
            if blank:
                row['reasons'][method] = caught[-1] if caught else \
                    'constant map and NO WARNING'
        except Exception as error:  # noqa: BLE001
            row['methods'][method] = 'error'
            row['reasons'][method] = f'{type(error).__name__}: ' + \
                str(error).splitlines()[0][:300]
    row['seconds'] = time.perf_counter() - start
    return row


def run_in_subprocess(config_path: str, methods, time_limit: float) -> dict:
    command = [
        sys.executable,
        osp.abspath(__file__), '--one', config_path, '--methods', *methods
    ]
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=time_limit,
            env={
                **os.environ, 'PYTHONPATH': REPO
            })
    except subprocess.TimeoutExpired:
        return dict(
            config=config_path,
            methods={m: 'timeout'
                     for m in methods},
            error=f'over the {time_limit:.0f} s time limit',
            seconds=time.perf_counter() - start)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith('{'):
            return json.loads(line)
    tail = (done.stderr.strip().splitlines() or ['no output'])[-1]
    return dict(
        config=config_path,
        methods={m: 'error'
                 for m in methods},
        error=f'process ended with code {done.returncode}: {tail}',
        seconds=time.perf_counter() - start)


def table(rows, methods) -> str:
    lines = [
        '| family | config | params (M) | default layer | ' +
        ' | '.join(methods) + ' | time (s) |',
        '|' + ' --- |' * (5 + len(methods)),
    ]
    for family, row in rows:
        params = row.get('params')
        lines.append('| ' + ' | '.join([
            family,
            osp.basename(row['config']),
            f'{params / 1e6:.1f}' if params else '-',
            f"`{row['layer']}`" if row.get('layer') else '-',
            *[row['methods'].get(m, '-') for m in methods],
            f"{row['seconds']:.0f}",
        ]) + ' |')
    return '\n'.join(lines)


def report(rows, methods) -> None:
    """The table, then one line per blank map or error."""
    print(table(rows, methods))
    print()
    for family, row in rows:
        if row.get('error'):
            print(f"- {family}: {row['error']}")
        for method, reason in row.get('reasons', {}).items():
            print(f'- {family} {method}: {reason}')
    ok = sum(
        all(row['methods'].get(m) == 'ok' for m in methods)
        for _, row in rows)
    print(f'\nall methods ok: {ok} of {len(rows)} families')


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.methods)))
        return 0
    if args.table_from:
        rows = []
        for path in args.table_from:
            with open(path) as file:
                rows += [tuple(json.loads(line)) for line in file]
        report(sorted(rows, key=lambda row: row[0]), args.methods)
        return 0
    started = time.perf_counter()
    import logging

    from mmengine.logging import MMLogger

    # Building models logs at INFO (batch augments, timm stages).
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    families = args.families or [
        osp.basename(d) for d in sorted(glob.glob(osp.join(configs_root(),
                                                           '*')))
    ]
    if args.part:
        part, parts = map(int, args.part.split('/'))
        families = families[part - 1::parts]
    chosen = smallest_configs(families)
    print(f'{len(chosen)} families; torch threads: '
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}; load average "
          f'{os.getloadavg()[0]:.1f}', flush=True)
    rows = []
    for family, config in chosen.items():
        row = run_in_subprocess(config, args.methods, args.time_limit)
        rows.append((family, row))
        states = ' '.join(f'{m}:{s}' for m, s in row['methods'].items())
        print(f"{family}: {osp.basename(config)} {row['seconds']:.0f}s "
              f'{states}', flush=True)
        if args.jsonl:
            with open(args.jsonl, 'a') as file:
                file.write(json.dumps([family, row]) + '\n')
    print()
    report(rows, args.methods)
    print(f'{time.perf_counter() - started:.0f} s in all; load average '
          f'{os.getloadavg()[0]:.1f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
