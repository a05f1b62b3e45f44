"""What AttentionRollout and GAE cost, beside a plain forward and GradCAM.

A ViT-B/16 classifier (mmpretrain's ``vit-base-p16`` architecture, random
weights: the cost does not depend on them) explains a batch of random
224x224 inputs. Prints, per way of running it, the median seconds of
``--repeats`` runs and the ratio to the plain forward pass (the model's
own ``scaled_dot_product_attention``, under ``torch.no_grad()``):

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
import os.path as osp
import statistics
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)  # run from a checkout without installing


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', default='base', help='ViT arch')
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument(
        '--methods', nargs='+', default=['AttentionRollout', 'GAE', 'GradCAM'])
    return parser.parse_args()


def median_seconds(run, repeats):
    run()  # warm-up: allocations, lazy imports, default layer choice
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    args = parse_args()
    import logging

    import torch
    from mmengine.logging import MMLogger
    torch.set_num_threads(args.threads)

    import mmcam  # noqa: F401  (stack fixes, registries)
    from mmcam.cam import AttentionRecorder, CAMEngine, attention_blocks
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
                in_channels=768 if args.arch in ('b',
                                                 'base') else 384))).eval()
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
    print('| run | s / batch | x forward |')
    print('| --- | --- | --- |')
    base = median_seconds(forward, args.repeats)
    print(f'| forward | {base:.2f} | 1.00 |', flush=True)
    rows = [('forward, attention read', forward_read)]
    for method in args.methods:
        engine = CAMEngine(model, method=method)
        rows.append((method, lambda engine=engine: engine(inputs)))
    for name, run in rows:
        seconds = median_seconds(run, args.repeats)
        print(f'| {name} | {seconds:.2f} | {seconds / base:.2f} |', flush=True)


if __name__ == '__main__':
    main()
