"""Measure what a resumed export's checks cost.

The checks are:

- once per loop, the fingerprint of the weights: the SHA-1 of every
  ``state_dict`` tensor of mmpretrain models (random weights; the cost
  depends only on their size);
- once per resume, reading back every map a process indexed (its SHA-1,
  shape and values), for maps of a 500x375 image.

Example::

    python benchmarks/benchmark_resume_checks.py --maps 2000
"""
import argparse
import tempfile
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

MODELS = {
    'resnet18':
    dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=18),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=512)),
    'resnet50':
    dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=50),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048)),
    'vit-base-p16':
    dict(
        type='ImageClassifier',
        backbone=dict(type='VisionTransformer', arch='b', img_size=224),
        head=dict(
            type='VisionTransformerClsHead', num_classes=1000,
            in_channels=768)),
}


def time_read_back(num_maps: int) -> None:
    """Seconds to resume over ``num_maps`` indexed maps (page cache warm:
    they were just written)."""
    import numpy as np

    from mmcam.visualization.raw_maps import RawMapWriter
    with tempfile.TemporaryDirectory() as folder:
        writer = RawMapWriter(folder, 0, dict(method='GradCAM'), False)
        maps = np.random.default_rng(0).random((1, 375, 500))
        for index in range(num_maps):
            writer.write(index, f'{index}.jpg', maps, [0], [0.5], ['a'],
                         'image')
        writer.close()
        start = time.perf_counter()
        resumed = RawMapWriter(folder, 0, dict(method='GradCAM'), True)
        seconds = time.perf_counter() - start
        resumed.close()
        megabytes = num_maps * maps.size * 2 / 1e6
        print(f'\nresume read-back: {resumed.done_count} maps '
              f'(1x375x500 float16, {megabytes:.0f} MB) in {seconds:.2f} s, '
              f'{seconds / num_maps * 1e3:.2f} ms a map')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=' '.join(__doc__.split('\n\n')[0].split()))
    parser.add_argument('--maps', type=int, default=2000)
    args = parser.parse_args()
    import torch
    from mmpretrain.registry import MODELS as REGISTRY

    import mmcam  # noqa: F401
    from mmcam.engine.export_fingerprint import weights_sha1
    torch.set_num_threads(1)
    print(f'{"model":<14}{"MB":>8}{"seconds":>10}{"MB/s":>8}')
    for name, cfg in MODELS.items():
        model = REGISTRY.build(cfg)
        size = sum(t.numel() * t.element_size()
                   for t in model.state_dict().values()) / 1e6
        start = time.perf_counter()
        weights_sha1(model)
        seconds = time.perf_counter() - start
        print(f'{name:<14}{size:>8.1f}{seconds:>10.3f}{size / seconds:>8.0f}')
    time_read_back(args.maps)


if __name__ == '__main__':
    main()
