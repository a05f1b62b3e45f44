"""What exporting CAMs of a whole dataset costs: time against the plain
test loop, and peak memory as the dataset grows.

A ResNet-18 (random weights: the cost does not depend on them) runs
mmengine's test loop on a generated dataset of 224x224 images, each
variant in a fresh process, timed from process start to exit:

- ``plain``: the test loop alone;
- ``export``: ``CAMHook(interval=1, save_raw=True, draw=False)``;
- ``export+draw``: the same, with pictures written too;
- ``backends``: pictures to the visualizer's local vis backend, no
  ``out_dir`` (what used to pile up in memory until the loop ended).

Peak RSS of ``export`` and ``backends`` is measured at N and 4N samples.

Example::

    python benchmarks/benchmark_export.py --num-samples 200
    python benchmarks/benchmark_export.py --quick   # 32 / 128 samples
"""
import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

VARIANTS = {
    'plain': None,
    'export': dict(save_raw=True, draw=False, out_dir='cams'),
    'export+draw': dict(save_raw=True, draw=True, out_dir='cams'),
    'backends': dict(),
}


def make_dataset(root: str, count: int, size: int = 224) -> None:
    """``count`` images of a disc or a square on noise, in two classes."""
    import cv2
    import numpy as np
    rng = np.random.default_rng(0)
    for index in range(count):
        name = ('disc', 'square')[index % 2]
        os.makedirs(osp.join(root, name), exist_ok=True)
        image = rng.integers(0, 80, (size, size, 3), dtype=np.uint8)
        centre = tuple(int(c) for c in rng.integers(60, size - 60, 2))
        if name == 'disc':
            cv2.circle(image, centre, 40, (220, 200, 60), -1)
        else:
            cv2.rectangle(image, (centre[0] - 40, centre[1] - 40),
                          (centre[0] + 40, centre[1] + 40), (60, 200, 220), -1)
        cv2.imwrite(osp.join(root, name, f'{index:05d}.png'), image)


def config(data_root: str, work_dir: str, variant: str) -> dict:
    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    hook = VARIANTS[variant]
    return dict(
        model=dict(
            type='ImageClassifier',
            backbone=dict(type='ResNet', depth=18),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=2, in_channels=512),
            data_preprocessor=dict(
                num_classes=2,
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                to_rgb=True)),
        test_dataloader=dict(
            batch_size=16,
            num_workers=0,
            dataset=dict(
                type='CustomDataset',
                data_root=data_root,
                classes=('disc', 'square'),
                pipeline=pipeline),
            sampler=dict(type='DefaultSampler', shuffle=False)),
        test_evaluator=dict(type='Accuracy', topk=(1, )),
        test_cfg=dict(),
        default_scope='mmpretrain',
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1000)),
        custom_hooks=[]
        if hook is None else [dict(type='CAMHook', interval=1, **hook)],
        log_level='WARNING',
        work_dir=work_dir)


def run_one(args) -> None:
    """One variant in this process; prints JSON with its peak RSS."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    import mmcam  # noqa: F401
    cfg = Config(config(args.data, args.work, args.run_one))
    Runner.from_cfg(cfg).test()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(dict(peak_rss_mib=peak_kib / 1024)))


def measure(variant: str, data: str, work: str) -> dict:
    start = time.perf_counter()
    done = subprocess.run([
        sys.executable, __file__, '--run-one', variant, '--data', data,
        '--work', work
    ],
                          capture_output=True,
                          text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f'{variant} failed:\n{done.stderr[-2000:]}')
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result['wall_s'] = wall
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=' '.join(__doc__.split('\n\n')[0].split()))
    parser.add_argument('--num-samples', type=int, default=200)
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument(
        '--quick', action='store_true', help='32 and 128 samples, 1 run')
    parser.add_argument('--run-one', choices=list(VARIANTS))
    parser.add_argument('--data')
    parser.add_argument('--work')
    args = parser.parse_args()
    if args.run_one:
        run_one(args)
        return
    if args.quick:
        args.num_samples, args.repeats = 32, 1
    import torch
    n = args.num_samples
    print(f'machine: {os.cpu_count()} CPU core(s), torch '
          f'{torch.__version__}, threads {torch.get_num_threads()}, '
          f'load average {os.getloadavg()}')
    with tempfile.TemporaryDirectory() as tmp:
        datasets = {}
        for count in (n, 4 * n):
            datasets[count] = osp.join(tmp, f'data_{count}')
            make_dataset(datasets[count], count)
        times = {v: [] for v in VARIANTS}
        # Interleaved rounds: a change in the machine's load hits every
        # variant alike.
        for round_ in range(args.repeats):
            for variant in VARIANTS:
                work = osp.join(tmp, f'work_{variant}_{round_}')
                times[variant].append(
                    measure(variant, datasets[n], work)['wall_s'])
        plain = min(times['plain'])
        print(f'\n{n} samples of 224x224, ResNet-18, GradCAM, batch 16, '
              f'whole process (best of {args.repeats}):')
        print('| variant | seconds | vs plain |')
        print('| --- | --- | --- |')
        for variant in VARIANTS:
            best = min(times[variant])
            print(f'| {variant} | {best:.1f} | {best / plain:.2f}x |')
        print(f'\npeak RSS at {n} and {4 * n} samples:')
        print(f'| variant | {n} samples MiB | {4 * n} samples MiB | '
              'growth MiB |')
        print('| --- | --- | --- | --- |')
        for variant in ('plain', 'export', 'backends'):
            rss = [
                measure(variant, datasets[count],
                        osp.join(tmp,
                                 f'rss_{variant}_{count}'))['peak_rss_mib']
                for count in (n, 4 * n)
            ]
            print(f'| {variant} | {rss[0]:.0f} | {rss[1]:.0f} | '
                  f'{rss[1] - rss[0]:.0f} |')
        print(f'load average at the end {os.getloadavg()}')


if __name__ == '__main__':
    main()
