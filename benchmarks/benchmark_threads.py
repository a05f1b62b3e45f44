"""How many torch threads to use on a small, shared CPU machine.

torch starts one thread per core. On a machine whose cores other work
also uses, those threads wait for each other (OpenMP barriers) and a
small model can run many times slower than on one thread. This script
measures, interleaved round by round so that both see the same load:

- ``step``: one training step (forward, loss, backward, SGD) of the tiny
  ResNet of ``configs/tiny/resnet-tiny_shapes_cam.py`` on a batch of 4
  32x32 images, the kind of model the tests run, in this process with
  ``torch.set_num_threads(n)``;
- ``quick start``: ``tools/vis_cam.py`` on ``demo/photos`` with the real
  EfficientNet-Lite0 (``--checkpoint``, written by
  ``tools/model_converters/efficientnet_lite0_to_mmpretrain.py``), a
  fresh process with ``OMP_NUM_THREADS=n``, from launch to exit.

The load average (1 minute) is printed beside every number: it says how
busy the machine was while it was measured. ``--busy K`` adds K processes
that spin on the CPU while it measures (and are ended with it), to see a
loaded machine on an idle one.

Example::

    python benchmarks/benchmark_threads.py --rounds 5 \\
        --checkpoint checkpoints/efficientnet-lite0_in1k.pth
"""
import argparse
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
TINY_CONFIG = osp.join(REPO, 'configs/tiny/resnet-tiny_shapes_cam.py')
LITE0_CONFIG = osp.join(
    REPO, 'configs/efficientnet_lite/efficientnet-lite0_in1k.py')


def parse_args():
    parser = argparse.ArgumentParser(
        description='Time a tiny training step and the quick start with '
        'different torch thread counts, interleaved, with the load average '
        'beside each number.')
    parser.add_argument(
        '--threads',
        type=int,
        nargs='+',
        default=[1, 2],
        help='Thread counts to compare; 0 for the tools\' own choice (the '
        'cores the load average leaves free, OMP_NUM_THREADS unset). '
        'Defaults to 1 2.')
    parser.add_argument(
        '--rounds',
        type=int,
        default=5,
        help='Interleaved rounds (each thread count once per round). '
        'Defaults to 5.')
    parser.add_argument(
        '--steps',
        type=int,
        default=20,
        help='Training steps timed per round; the median step is kept. '
        'Defaults to 20.')
    parser.add_argument(
        '--busy',
        type=int,
        default=0,
        help='Processes spinning on the CPU during the measurement, to '
        'stand in for other work. Defaults to 0.')
    parser.add_argument(
        '--checkpoint',
        help='EfficientNet-Lite0 checkpoint for the quick-start rows; '
        'without it only the training step is measured.')
    return parser.parse_args()


def load_1min() -> float:
    return os.getloadavg()[0]


def tiny_training_step(threads: int, steps: int) -> float:
    """Median seconds of one training step of the tiny ResNet."""
    import torch
    import torch.nn.functional as F
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    import mmcam  # noqa: F401  (registries)
    if threads == 0:  # what the tools choose (mmcam.utils.torch_threads)
        from mmcam.utils.torch_threads import (available_cores,
                                               free_core_threads)

        # torch's default is one thread per core.
        threads = free_core_threads(available_cores(),
                                    os.getloadavg()[0], available_cores())
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(TINY_CONFIG).model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    images = torch.rand(4, 3, 32, 32)
    labels = torch.tensor([0, 1, 0, 1])
    times = []
    for step in range(steps + 1):  # the first is a warm-up
        start = time.perf_counter()
        optimizer.zero_grad()
        logits = model.head(model.neck(model.backbone(images)))
        F.cross_entropy(logits, labels).backward()
        optimizer.step()
        if step:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def quick_start(threads: int, checkpoint: str) -> float:
    """Seconds from launch to exit of the quick start's ``vis_cam.py``."""
    env = dict(
        os.environ,
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        PYTHONPATH=REPO)
    if threads == 0:  # the tool chooses
        del env['OMP_NUM_THREADS'], env['MKL_NUM_THREADS']
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([
            sys.executable,
            osp.join(REPO, 'tools/vis_cam.py'),
            osp.join(REPO, 'demo/photos'), LITE0_CONFIG, checkpoint,
            '--save-path', out
        ],
                       env=env,
                       check=True,
                       stdout=subprocess.DEVNULL)
        return time.perf_counter() - start


def start_busy_processes(count: int) -> list:
    """``count`` processes that keep one core busy each until ended."""
    return [
        subprocess.Popen([sys.executable, '-c', 'while True: pass'])
        for _ in range(count)
    ]


def main() -> None:
    args = parse_args()
    print(f'# {os.cpu_count()} cores; load average at start: '
          f'{", ".join(f"{v:.2f}" for v in os.getloadavg())}; '
          f'{args.busy} busy process(es) added')
    busy = start_busy_processes(args.busy)
    try:
        rows = measure(args)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    print('\n| what | torch threads | median s | each round s (load 1 min) |')
    print('| --- | ---: | ---: | --- |')
    for (what, threads), values in rows.items():
        median = statistics.median(v for v, _ in values)
        each = ', '.join(f'{v:.3f} ({load:.1f})' for v, load in values)
        label = threads or "tools' choice"
        print(f'| {what} | {label} | {median:.3f} | {each} |')
    print(f'\n# load average at end: '
          f'{", ".join(f"{v:.2f}" for v in os.getloadavg())}')


def measure(args) -> dict:
    """``{(what, threads): [(seconds, load average), ...]}``."""
    rows = {}
    for round_index in range(args.rounds):
        for threads in args.threads:
            load = load_1min()
            step = tiny_training_step(threads, args.steps)
            rows.setdefault(('tiny training step', threads), []).append(
                (step, load))
            if args.checkpoint:
                load = load_1min()
                seconds = quick_start(threads, args.checkpoint)
                rows.setdefault(('quick start (3 photos)', threads),
                                []).append((seconds, load))
        print(f'# round {round_index + 1}/{args.rounds} done', flush=True)
    return rows


if __name__ == '__main__':
    main()
