"""How fast mmcam computes class activation maps, measured side by side.

Prints one markdown table, measured in one run on the machine at hand:

- (a) a plain ``torch.no_grad()`` forward of the batch;
- (b) pytorch-grad-cam called as MMPretrain's ``vis_cam.py`` calls it: the
  tool's own ``init_cam``, ``reshape_transform`` and default layer (loaded
  from the installed tool by ``run_reference_vis_cam.py``), called on the
  batch with the predicted classes as targets;
- (c) :class:`mmcam.cam.CAMEngine` on the same batch and classes;
- (d) ``tools/vis_cam.py`` on a folder of images, against the reference
  tool run once per image, and both tools' start-up.

Every measurement runs in a fresh process, so its peak memory is its own:
peak resident set size on the CPU (``wait4``'s ``ru_maxrss``), peak
``torch.cuda.max_memory_allocated`` on a GPU. Times are medians of several
runs after warm-up. Models are random-init (speed does not depend on the
weights).

Usage::

    python benchmarks/benchmark_cam.py [--device cpu|cuda] [--quick]

``--quick`` checks that every part runs: ResNet-50 and GradCAM only, one
timed round, no memory processes, each tool once or three times on 3
images. It took 1 min 12 s wall (1 min 18 s CPU) on an otherwise idle
2-core AMD EPYC (load average 1.2).
"""
import argparse
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)  # run from a checkout without installing
LAUNCHER = osp.join(REPO, 'benchmarks', 'run_reference_vis_cam.py')
TOOL = osp.join(REPO, 'tools', 'vis_cam.py')

MODELS = {
    'ResNet-50': 'resnet/resnet50_8xb32_in1k.py',
    'DeiT-S': 'deit/deit-small_4xb256_in1k.py',
}
METHODS = [
    'GradCAM', 'GradCAM++', 'XGradCAM', 'LayerCAM', 'EigenCAM', 'ScoreCAM'
]
# ScoreCAM runs one forward pass per channel of the target layer (2048 for
# ResNet-50, 384 for DeiT-S) per image: it gets its own, smaller setting.
SLOW_METHODS = {'ScoreCAM'}


def parse_args():
    parser = argparse.ArgumentParser(
        description=' '.join(__doc__.split('\n\n')[0].split()))
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument(
        '--quick',
        action='store_true',
        help='small batches and few repeats, to check the script runs')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch threads (default: all cores)')
    parser.add_argument(
        '--models', nargs='*', default=list(MODELS), help='none: tool only')
    parser.add_argument(
        '--methods',
        nargs='+',
        default=None,
        help=f'default: {" ".join(METHODS)} (--quick: GradCAM)')
    parser.add_argument(
        '--skip-tool', action='store_true', help='skip the tool rows (d)')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    return parser.parse_args()


# ----------------------------------------------------------------------
# One measurement, in a fresh process
# ----------------------------------------------------------------------
def _build_model(name: str, device: str):
    import mmpretrain.models  # noqa: F401  (registers the models)
    from mmengine.config import Config
    from mmpretrain.registry import MODELS as REGISTRY

    import mmcam  # noqa: F401  (stack fixes)
    from mmcam.compat import get_installed_path
    config = osp.join(
        get_installed_path('mmpretrain'), '.mim', 'configs', MODELS[name])
    model = REGISTRY.build(Config.fromfile(config).model)
    return model.to(device).eval()


def _reference_runner(model, method: str, inputs, categories, vit: bool):
    """pytorch-grad-cam wired up by the reference tool's own functions,
    constructed for each call as the tool does, hooks released after."""
    from functools import partial

    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    sys.path.insert(0, osp.dirname(LAUNCHER))
    from run_reference_vis_cam import load_reference
    reference = load_reference()
    args = argparse.Namespace(vit_like=vit, num_extra_tokens=None)
    layers = reference['get_default_target_layers'](model, args)
    targets = [ClassifierOutputTarget(int(c)) for c in categories]

    def run():
        cam = reference['init_cam'](method.lower(), model, layers,
                                    inputs.device.type == 'cuda',
                                    partial(
                                        reference['reshape_transform'],
                                        model=model,
                                        args=args))
        try:
            cam(inputs, targets, eigen_smooth=False, aug_smooth=False)
        finally:
            # Its hooks would otherwise slow the other variants' passes.
            cam.activations_and_grads.release()
            model.zero_grad(set_to_none=True)

    names = {id(m): n for n, m in model.named_modules()}
    return run, [names[id(m)] for m in layers]


def measure(spec: dict) -> dict:
    """Time each of ``spec['variants']``, interleaved round by round so
    that a change in machine load affects all of them alike; the peak
    memory is that of the whole process."""
    import resource

    import torch
    torch.set_num_threads(spec['threads'])
    device = torch.device(spec['device'])
    model = _build_model(spec['model'], spec['device'])
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(
        spec['batch'], 3, spec['size'], spec['size'],
        generator=generator).to(device)
    if device.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    with torch.no_grad():
        categories = model(inputs, mode='tensor').argmax(-1).tolist()

    runners, layers = {}, {}
    for variant in spec['variants']:
        if variant == 'forward':

            def forward():
                with torch.no_grad():
                    model(inputs, mode='tensor')

            runners[variant] = forward
        elif variant == 'grad-cam':
            runners[variant], layers[variant] = _reference_runner(
                model, spec['method'], inputs, categories, spec['model']
                != 'ResNet-50')
        else:
            from mmcam.cam import CAMEngine
            engine = CAMEngine(model, method=spec['method'])
            runners[variant] = lambda: engine(inputs)

    times = {variant: [] for variant in runners}
    order = list(runners)
    for round_index in range(spec['warmup'] + spec['repeats']):
        for variant in order:
            if device.type == 'cuda':
                torch.cuda.synchronize()
            start = time.perf_counter()
            runners[variant]()
            if device.type == 'cuda':
                torch.cuda.synchronize()
            times[variant].append(time.perf_counter() - start)
        order = order[1:] + order[:1]
    if 'mmcam' in runners:
        layers['mmcam'] = engine.target_layer_names
    result = dict(
        seconds={
            variant: statistics.median(values[spec['warmup']:])
            for variant, values in times.items()
        },
        times=times,
        layers=layers,
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if device.type == 'cuda':
        result['peak_cuda_mib'] = torch.cuda.max_memory_allocated() / 2**20
    return result


def run_process(command: List[str], env: Optional[dict] = None) -> dict:
    """Run ``command``; its wall time, exit code, output and the peak
    resident memory of that process alone."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=REPO)
    output = proc.stdout.read().decode(errors='replace')
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return dict(
        seconds=time.perf_counter() - start,
        returncode=proc.returncode,
        output=output,
        peak_rss_mib=usage.ru_maxrss / 1024)


def run_measurement(spec: dict, env: dict) -> dict:
    with tempfile.NamedTemporaryFile('r', suffix='.json') as out:
        spec = dict(spec, out=out.name)
        proc = run_process(
            [sys.executable, __file__, '--worker',
             json.dumps(spec)], env)
        if proc['returncode'] != 0:
            tail = proc['output'].strip().splitlines()[-3:]
            return dict(error=' / '.join(tail))
        return json.load(out)


VARIANTS = ('forward', 'grad-cam', 'mmcam')


def measure_row(spec: dict,
                memory_key: str,
                env: dict,
                memory: bool = True) -> Dict[str, dict]:
    """Times and peak memory of (a), (b) and (c) for one model and method.

    Times come from one process that interleaves the three, round by round;
    each peak memory from a fresh process running one variant once
    (skipped without ``memory``).
    """
    results = {variant: {} for variant in VARIANTS}
    timing = run_measurement(dict(spec, variants=VARIANTS), env)
    _log(spec, 'timing', timing)
    for variant in VARIANTS:
        if 'error' in timing:
            results[variant]['error'] = timing['error']
            continue
        results[variant].update(
            seconds=timing['seconds'][variant],
            times=timing['times'][variant][spec['warmup']:],
            layers=timing['layers'].get(variant))
    for variant in VARIANTS if memory else ():
        single = run_measurement(
            dict(spec, variants=[variant], warmup=0, repeats=1), env)
        _log(spec, variant, single)
        if 'error' in single:
            results[variant]['error'] = single['error']
        else:
            results[variant][memory_key] = single.get(memory_key)
    return results


def _log(spec: dict, what: str, result: dict) -> None:
    print(
        f'{spec["model"]} {spec["method"]} {what}: {result}',
        file=sys.stderr,
        flush=True)


def worker_main(spec_json: str) -> None:
    spec = json.loads(spec_json)
    result = measure(spec)
    with open(spec['out'], 'w') as f:
        json.dump(result, f)


# ----------------------------------------------------------------------
# (d) The tools on a folder of images
# ----------------------------------------------------------------------
def prepare_tool_assets(workdir: str, num_images: int) -> dict:
    """A ResNet-50 config file, a random-init checkpoint and a folder of
    JPEG images."""
    import cv2
    import numpy as np
    import torch
    from mmengine.config import Config

    import mmcam  # noqa: F401
    from mmcam.compat import get_installed_path
    config = Config.fromfile(
        osp.join(
            get_installed_path('mmpretrain'), '.mim', 'configs',
            MODELS['ResNet-50']))
    config_path = osp.join(workdir, 'resnet50.py')
    config.dump(config_path)
    model = _build_model('ResNet-50', 'cpu')
    checkpoint = osp.join(workdir, 'resnet50_random.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    image_dir = osp.join(workdir, 'images')
    os.makedirs(image_dir)
    rng = np.random.default_rng(0)
    for i in range(num_images):
        # Smooth random pictures, 320x240 like small photos.
        small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        image = cv2.resize(small, (320, 240), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(osp.join(image_dir, f'image_{i:02d}.jpg'), image)
    images = sorted(
        osp.join(image_dir, name) for name in os.listdir(image_dir))
    return dict(
        config=config_path,
        checkpoint=checkpoint,
        image_dir=image_dir,
        images=images)


def _count_outputs(folder: str) -> int:
    count = 0
    for _, _, files in os.walk(folder):
        count += sum(f.lower().endswith(('.jpg', '.png')) for f in files)
    return count


def tool_measurements(workdir: str,
                      num_images: int,
                      device: str,
                      env: dict,
                      quick: bool = False) -> Dict[str, dict]:
    assets = prepare_tool_assets(workdir, num_images)
    common = [assets['config'], assets['checkpoint'], '--device', device]

    def reference(image, out):
        return run_process(
            [sys.executable, LAUNCHER, image, *common, '--save-path', out],
            env)

    def ours(image_or_dir, out_dir):
        return run_process([
            sys.executable, TOOL, image_or_dir, *common, '--save-path', out_dir
        ], env)

    have_tool = osp.exists(TOOL)
    ref_dir = osp.join(workdir, 'out_reference')
    os.makedirs(ref_dir)
    # Our runs go between the reference's, so that a change in machine
    # load falls on both: one-image runs after every other image, folder
    # runs after images 2 and 8.
    single_after = set(range(0, num_images, 2))
    folder_after = {num_images // 6, 2 * num_images // 3}
    if quick:  # one run of each: a check, not a measurement
        single_after, folder_after = {0}, {num_images - 1}
    runs, singles, folders = [], [], []
    for i, image in enumerate(assets['images']):
        runs.append(reference(image, osp.join(ref_dir, osp.basename(image))))
        if have_tool and i in single_after:
            singles.append(ours(image, osp.join(workdir, f'out_single_{i}')))
            singles[-1]['outputs'] = _count_outputs(
                osp.join(workdir, f'out_single_{i}'))
        if have_tool and i in folder_after:
            folders.append(
                ours(assets['image_dir'], osp.join(workdir,
                                                   f'out_folder_{i}')))
            folders[-1]['outputs'] = _count_outputs(
                osp.join(workdir, f'out_folder_{i}'))
    results = dict(
        reference_folder=_summary(runs, total=True),
        reference_single=_summary(runs))
    results['reference_folder']['outputs'] = _count_outputs(ref_dir)
    if not have_tool:
        results['ours_folder'] = results['ours_single'] = dict(
            error='tools/vis_cam.py does not exist yet')
        return results
    results['ours_single'] = _summary(singles)
    results['ours_folder'] = _summary(folders)
    results['ours_folder']['outputs'] = min(r['outputs'] for r in folders)
    # Where start-up goes: one more run of each on one image, with
    # Python's import timer.
    image = assets['images'][0]
    results['imports'] = dict(
        reference=import_breakdown(
            run_process([
                sys.executable, '-X', 'importtime', LAUNCHER, image, *common,
                '--save-path',
                osp.join(workdir, 'out_importtime_reference.jpg')
            ], env)['output']),
        mmcam=import_breakdown(
            run_process([
                sys.executable, '-X', 'importtime', TOOL, image, *common,
                '--save-path',
                osp.join(workdir, 'out_importtime_mmcam.jpg')
            ], env)['output']))
    return results


def import_breakdown(importtime_output: str, top: int = 8) -> str:
    """``total 4.1 s: torch 2.0, mmengine 0.5, ...``: the self time of
    every import (``python -X importtime``), summed by top-level
    package."""
    per_package: Dict[str, int] = {}
    for line in importtime_output.splitlines():
        if not line.startswith('import time:'):
            continue
        fields = line[len('import time:'):].split('|')
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header line
        package = fields[2].strip().split('.')[0]
        per_package[package] = per_package.get(package, 0) + int(fields[0])
    ranked = sorted(per_package.items(), key=lambda item: -item[1])
    parts = [f'{name} {micros / 1e6:.2f}' for name, micros in ranked[:top]]
    total = sum(per_package.values()) / 1e6
    return f'total {total:.2f} s: ' + ', '.join(parts)


def _summary(runs: List[dict], total: bool = False) -> dict:
    """The median run (or, with ``total``, the sum of all runs), the
    largest peak memory and the first failure."""
    failed = [r for r in runs if r['returncode'] != 0]
    seconds = [r['seconds'] for r in runs]
    return dict(
        seconds=sum(seconds) if total else statistics.median(seconds),
        runs=len(runs),
        peak_rss_mib=max(r['peak_rss_mib'] for r in runs),
        error=_last_line(failed[0]) if failed else None)


def _last_line(run: dict) -> str:
    lines = run['output'].strip().splitlines()
    return lines[-1] if lines else f'exit code {run["returncode"]}'


# ----------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------
def machine_description(device: str, threads: int) -> str:
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    parts = [
        f'CPU: {cpu}, {os.cpu_count()} cores', f'torch {torch.__version__}',
        f'torch threads: {threads}', f'device: {device}'
    ]
    if device == 'cuda':
        parts.append(f'GPU: {torch.cuda.get_device_name(0)}')
    try:
        load = ', '.join(f'{x:.1f}' for x in os.getloadavg())
        parts.append(f'load average at start: {load}')
    except OSError:
        pass
    return '; '.join(parts)


def _seconds(result: Optional[dict]) -> str:
    if not result:
        return '-'
    if result.get('error'):
        return 'failed'
    return f'{result["seconds"]:.3f}'


def _ratio(numerator: Optional[dict], denominator: Optional[dict]) -> str:
    """The median over rounds of the per-round ratio: rounds interleave
    the variants, so each ratio compares runs made under the same load."""
    if not numerator or not denominator or numerator.get(
            'error') or denominator.get('error'):
        return '-'
    pairs = zip(
        numerator.get('times', [numerator['seconds']]),
        denominator.get('times', [denominator['seconds']]))
    return f'{statistics.median(n / d for n, d in pairs):.2f}'


def _memory(result: Optional[dict], key: str) -> str:
    if not result or result.get('error') or key not in result:
        return '-'
    return f'{result[key]:.0f}'


def main() -> None:
    args = parse_args()
    if args.worker:
        worker_main(args.worker)
        return

    import torch
    if args.device == 'cuda' and not torch.cuda.is_available():
        sys.exit('--device cuda: no GPU is visible to torch')
    threads = args.threads or torch.get_num_threads()
    env = dict(
        os.environ,
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        PYTHONPATH=os.pathsep.join([REPO,
                                    os.environ.get('PYTHONPATH',
                                                   '')]).rstrip(os.pathsep),
        PYTHONWARNINGS='ignore')
    # ScoreCAM: one image at 64x64 (ResNet-50's last stage is then 2x2),
    # still 2048 forward passes for ResNet-50 and 384 for DeiT-S.
    slow = dict(batch=1, size=64, warmup=0, repeats=1)
    if args.quick:
        # A check that every part runs, in about two minutes on 2 cores.
        batch, size, warmup, repeats, num_images = 2, 224, 1, 1, 3
        methods = args.methods or ['GradCAM']
        if args.models == list(MODELS):
            args.models = ['ResNet-50']
    else:
        batch, size, warmup, repeats, num_images = 16, 224, 1, 3, 12
        methods = args.methods or METHODS
    memory_key = 'peak_cuda_mib' if args.device == 'cuda' else \
        'peak_rss_mib'
    machine = machine_description(args.device, threads)

    rows = []
    layers = {}
    for model in args.models:
        for method in methods:
            setting = dict(
                batch=batch, size=size, warmup=warmup, repeats=repeats)
            if method in SLOW_METHODS:
                setting = slow
            spec = dict(
                setting,
                model=model,
                method=method,
                threads=threads,
                device=args.device)
            results = measure_row(spec, memory_key, env, memory=not args.quick)
            for variant in ('grad-cam', 'mmcam'):
                if results[variant].get('layers'):
                    layers[(model, variant)] = results[variant]['layers']
            forward, reference, ours = (results['forward'],
                                        results['grad-cam'], results['mmcam'])
            rows.append([
                model, method, f'{setting["batch"]}x{setting["size"]}px, '
                f'{setting["repeats"]} run(s)',
                _seconds(forward),
                _seconds(reference),
                _seconds(ours),
                _ratio(ours, forward),
                _ratio(reference, ours), ' / '.join(
                    _memory(r, memory_key) for r in (forward, reference, ours))
            ])

    tool = None
    if not args.skip_tool:
        with tempfile.TemporaryDirectory() as workdir:
            tool = tool_measurements(
                workdir, num_images, args.device, env, quick=args.quick)
        print(f'tools: {tool}', file=sys.stderr, flush=True)
        folder_ref, folder_ours = tool['reference_folder'], tool['ours_folder']
        single_ref, single_ours = tool['reference_single'], tool['ours_single']
        rows.append([
            'ResNet-50', f'tools/vis_cam.py, folder of {num_images} images',
            f'reference: {num_images} processes (total); mmcam: 1 process '
            f'(median of {folder_ours.get("runs", 0)})', '-',
            _seconds(folder_ref),
            _seconds(folder_ours), '-',
            _ratio(folder_ref, folder_ours),
            f'- / {_memory(folder_ref, "peak_rss_mib")} / '
            f'{_memory(folder_ours, "peak_rss_mib")}'
        ])
        rows.append([
            'ResNet-50', 'tools/vis_cam.py start-up (1 image)',
            f'process start to exit, median of '
            f'{single_ref.get("runs", 0)} / {single_ours.get("runs", 0)}', '-',
            _seconds(single_ref),
            _seconds(single_ours), '-',
            _ratio(single_ref, single_ours),
            f'- / {_memory(single_ref, "peak_rss_mib")} / '
            f'{_memory(single_ours, "peak_rss_mib")}'
        ])

    memory_name = ('peak CUDA MiB'
                   if args.device == 'cuda' else 'peak RSS MiB')
    header = [
        'model', 'method', 'batch', '(a) forward s', '(b) grad-cam s',
        '(c) mmcam s', '(c)/(a)', '(b)/(c)', f'{memory_name} a / b / c'
    ]
    lines = [
        '| ' + ' | '.join(header) + ' |',
        '|' + '|'.join(['---'] * len(header)) + '|'
    ]
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    print(f'Machine: {machine}')
    print(f'Command: python benchmarks/benchmark_cam.py --device '
          f'{args.device}{" --quick" if args.quick else ""}')
    print()
    print('\n'.join(lines))
    print()
    notes = [
        '(a) torch.no_grad() forward; (b) pytorch-grad-cam as '
        "MMPretrain's vis_cam.py calls it (its init_cam, reshape_transform "
        'and default layer); (c) mmcam.cam.CAMEngine with its default '
        'layer. (b) and (c) explain the predicted class of each image.',
        f'Times: median of the runs after {warmup} warm-up run(s), the '
        'three variants interleaved round by round in one process; ratios: '
        'median of the per-round ratios. ScoreCAM rows: one interleaved '
        'run on one 64x64 image, no warm-up (one forward pass per channel '
        'and image: 2048 for ResNet-50, 384 for DeiT-S).',
        f'Memory: {memory_name} of a fresh process running that variant '
        'once (model and libraries included).',
    ]
    for (model, variant), names in sorted(layers.items()):
        notes.append(f'{model} target layer, {variant}: {", ".join(names)}')
    if os.cpu_count() and os.cpu_count() <= 2:
        notes.append(f'This machine has {os.cpu_count()} cores; other '
                     'processes may share them (see the load average).')
    if tool is not None:
        notes.append(
            'Tool rows: random-init ResNet-50 (mmpretrain '
            'resnet50_8xb32_in1k config), 320x240 JPEGs, GradCAM, '
            '--save-path; the reference is run by '
            'benchmarks/run_reference_vis_cam.py. Start-up = wall time of '
            'one process on one image, from launch to exit. Outputs '
            f'written: reference {tool["reference_folder"].get("outputs")}, '
            f'mmcam {tool["ours_folder"].get("outputs")}.')
        imports = tool.get('imports', {})
        notes.append('Start-up imports, self time summed by top-level '
                     'package (one run each, python -X importtime): '
                     f'reference: {imports.get("reference")}; '
                     f'mmcam: {imports.get("mmcam")}.')
        for key, result in tool.items():
            if key == 'imports':
                continue
            if result.get('error'):
                notes.append(f'{key} failed: {result["error"]}')
    print('\n'.join(f'- {note}' for note in notes))


if __name__ == '__main__':
    main()
