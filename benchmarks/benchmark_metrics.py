"""What explanation-quality metrics cost, in forward passes.

For each metric of :class:`mmcam.evaluation.CAMQuality`, measures the
wall time of measuring ``--images`` heatmaps (one class each) and divides
it by the time of one image's forward pass: the cost in forward-pass
equivalents per image. Beside
it: the images the metric sent through the network per image, and the
count no implementation can avoid (deletion or insertion: ``steps + 1``
curve points, the first or last being the image itself; Average Drop: the
image and the image times its heatmap; both curves and Average Drop
together share the image, ``2 * steps + 2``).

Random-init weights (speed does not depend on them) and random images at
the config's input size. Each round times the metric and then the same
number of forward passes alone, in the same batch sizes: their ratio is
the metric's overhead beyond the passes it needs (median of
``--repeats`` rounds).

Usage::

    python benchmarks/benchmark_metrics.py [--config CONFIG] [--steps 50]
"""
import argparse
import os.path as osp
import platform
import statistics
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)  # run from a checkout without installing

CONFIG = osp.join(REPO, 'configs', 'efficientnet_lite',
                  'efficientnet-lite0_in1k.py')
ROWS = [
    ('avg_drop + increase', ['avg_drop', 'increase'], lambda s: 2),
    ('deletion_auc', ['deletion_auc'], lambda s: s + 1),
    ('insertion_auc', ['insertion_auc'], lambda s: s + 1),
    ('all four faithfulness',
     ['avg_drop', 'increase', 'deletion_auc',
      'insertion_auc'], lambda s: 2 * s + 2),
    ('pointing_game + energy', ['pointing_game',
                                'energy_pointing_game'], lambda s: 0),
]


def parse_args():
    parser = argparse.ArgumentParser(
        description=' '.join(__doc__.split('\n\n')[0].split()))
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--images', type=int, default=4)
    parser.add_argument('--steps', type=int, default=50)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=None)
    return parser.parse_args()


def cpu_name():
    try:
        with open('/proc/cpuinfo') as info:
            for line in info:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main():
    args = parse_args()
    import numpy as np
    import torch
    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmpretrain.apis import get_model

    import mmcam  # noqa: F401  (stack fixes)
    from mmcam.cam import CAMEngine
    from mmcam.evaluation import CAMQuality, GroundTruthRegion
    if args.threads:
        torch.set_num_threads(args.threads)
    MMLogger.get_current_instance().setLevel('WARNING')
    model = get_model(Config.fromfile(args.config), device=args.device)
    engine = CAMEngine(model)
    generator = torch.Generator().manual_seed(0)
    shape = (args.images, 3, args.size, args.size)
    inputs = torch.randn(shape, generator=generator).to(args.device)
    heatmaps = torch.rand(
        args.images, 1, args.size, args.size, generator=generator).numpy()
    categories = np.zeros((args.images, 1), np.int64)
    half = args.size // 2
    regions = [GroundTruthRegion(bboxes=np.array([[0, 0, half, half]]))
               ] * args.images

    def forward_only(count):
        """Just the forward passes: ``count`` images in the batches the
        metric sends, without building any perturbed image."""
        images = torch.randn(
            (min(count, args.batch_size), 3, args.size, args.size),
            generator=generator).to(args.device)
        for start in range(0, count, args.batch_size):
            engine.logits(images[:min(args.batch_size, count - start)])

    print(f'# metric cost: {osp.basename(args.config)}, '
          f'{args.size}x{args.size}, {args.images} images x 1 class, '
          f'steps={args.steps}, batch {args.batch_size}, '
          f'{args.repeats} rounds')
    print(f'# {cpu_name()}, {torch.get_num_threads()} torch threads, '
          f'device {args.device}; load average before: '
          f'{load_average()}\n')
    print('| metric | images forwarded / image | unavoidable | '
          'time in forward passes / image | ratio to the forward passes '
          'alone |')
    print('| --- | ---: | ---: | ---: | ---: |')
    for label, names, unavoidable in ROWS:
        quality = CAMQuality(
            engine, names, steps=args.steps, batch_size=args.batch_size)

        def measure():
            quality(inputs, heatmaps, categories, regions)

        measure()  # warm-up, and the count of images it sends
        count = quality.images_forwarded
        ratios, equivalents = [], []
        for _ in range(args.repeats):
            # Interleaved round by round, so a load that changes during
            # the run weighs on both alike.
            metric = timed(measure)
            forward = timed(lambda: forward_only(count)) if count else 0
            if count:
                ratios.append(metric / forward)
                equivalents.append(metric / args.images / (forward / count))
        needed = unavoidable(args.steps)
        if count:
            cells = (f'{statistics.median(equivalents):.1f} | '
                     f'{statistics.median(ratios):.2f}x')
        else:
            cells = f'0 | - ({metric * 1000 / args.images:.0f} ms / image)'
        print(
            f'| {label} | {count / args.images:.0f} | {needed} | {cells} |',
            flush=True)
    print(f'\n# load average after: {load_average()}')
    print('# time in forward passes: the metric\'s time divided by one '
          'image\'s forward pass in the same batches; ratio: the metric\'s '
          'time over the time of those forward passes alone (median of '
          'the rounds).')


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def load_average():
    try:
        with open('/proc/loadavg') as loadavg:
            return ' '.join(loadavg.read().split()[:3])
    except OSError:
        return 'unknown'


if __name__ == '__main__':
    main()
