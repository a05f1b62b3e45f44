"""What fingerprinting an export's weights costs once per loop: the
SHA-1 of every ``state_dict`` tensor of mmpretrain models (random
weights; the cost depends only on their size).

Example::

    python benchmarks/benchmark_fingerprint.py
"""
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


def main() -> None:
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


if __name__ == '__main__':
    main()
