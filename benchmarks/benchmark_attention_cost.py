"""What AttentionRollout and GAE cost, beside a plain forward and GradCAM.

A ViT-B/16 classifier (mmpretrain's ``vit-base-p16`` architecture, random
weights: the cost does not depend on them) explains a batch of random
224x224 inputs. Prints, per way of running it, the median seconds of
``--repeats`` runs and the ratio to the plain forward pass (the model's
own ``scaled_dot_product_attention``, under ``torch.no_grad()``). The
ratios use the process's CPU time, which one torch thread on a machine
shared with other work measures far more steadily than wall time (both
are printed):

- ``forward``: ``model(inputs, mode='tensor')``;
- ``forward, attention read``: the same with
  :class:`~mmcam.cam.AttentionRecorder` active (the probabilities computed
  explicitly), to separate that cost from the methods' own;
- ``AttentionRollout``, ``GAE``, ``GradCAM``: :class:`~mmcam.cam.CAMEngine`
  calls, one heatmap per image (the predicted class).

Targets (issue 16): AttentionRollout within 1.2x a forward, GAE within
1.5x.

Example::

    OMP_NUM_THREADS=1 python benchmarks/benchmark_attention_cost.py
"""
import argparse
import os
import os.path as osp
import statistics
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)  # run from a checkout without installing


def parse_args():
    parser = argparse.ArgumentParser(
        description=' '.join(__doc__.split('\n\n')[0].split()))
    parser.add_argument('--arch', default='base', help='ViT arch')
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument(
        '--methods',
        nargs='+',
        default=['AttentionRollout', 'AttentionRollout:0', 'GAE', 'GradCAM'],
        help='methods; AttentionRollout:R uses discard_ratio R')
    return parser.parse_args()


def median_seconds(run, repeats):
    """Median CPU and wall seconds of ``repeats`` runs after a warm-up."""
    run()  # warm-up: allocations, lazy imports, default layer choice
    cpu, wall = [], []
    for _ in range(repeats):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        run()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return statistics.median(cpu), statistics.median(wall)


def main():
    args = parse_args()
    import logging

    import torch
    from mmengine.logging import MMLogger
    torch.set_num_threads(args.threads)

    import mmcam  # noqa: F401  (stack fixes, registries)
    from mmcam.cam import AttentionRecorder, CAMEngine, attention_blocks
    from mmpretrain.models.backbones import VisionTransformer
    from mmpretrain.registry import MODELS

    MMLogger.get_current_instance().setLevel(logging.WARNING)
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(
                type='VisionTransformer',
                arch=args.arch,
                img_size=args.size,
                patch_size=16),
            head=dict(
                type='VisionTransformerClsHead',
                num_classes=1000,
                in_channels=VisionTransformer.arch_zoo[args.arch]
                ['embed_dims']))).eval()
    inputs = torch.randn(args.batch, 3, args.size, args.size)

    def forward():
        with torch.no_grad():
            model(inputs, mode='tensor')

    def forward_read():
        blocks = attention_blocks(model, 'benchmark')
        with torch.no_grad(), AttentionRecorder(blocks, lambda i, p: None):
            model(inputs, mode='tensor')

    print(f'# ViT-{args.arch}/16 at {args.size}px, batch {args.batch}, '
          f'{torch.get_num_threads()} torch thread(s), median of '
          f'{args.repeats}, torch {torch.__version__}')
    print(f'# load average before: {os.getloadavg()}')
    print('| run | CPU s / batch | x forward (CPU) | wall s / batch |')
    print('| --- | --- | --- | --- |')
    base, wall = median_seconds(forward, args.repeats)
    print(f'| forward | {base:.2f} | 1.00 | {wall:.2f} |', flush=True)
    rows = [('forward, attention read', forward_read)]
    for name in args.methods:
        method, _, ratio = name.partition(':')
        options = dict(discard_ratio=float(ratio)) if ratio else {}
        engine = CAMEngine(model, method=method, **options)
        if method == 'AttentionRollout':
            name = (f'{method} ({engine.settings.head_fusion}, discard '
                    f'{engine.settings.discard_ratio:g})')
        rows.append((name, lambda engine=engine: engine(inputs)))
    for name, run in rows:
        seconds, wall = median_seconds(run, args.repeats)
        print(
            f'| {name} | {seconds:.2f} | {seconds / base:.2f} | '
            f'{wall:.2f} |',
            flush=True)
    print(f'# load average after: {os.getloadavg()}')


if __name__ == '__main__':
    main()
