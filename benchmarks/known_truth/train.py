"""Train the known-truth benchmark's small ViT and small CNN on a CPU.

Both learn the class of the one coloured shape in the pictures of
:mod:`shapes` (fresh pictures every step, so there is no overfitting to
speak of), with one torch thread, in a few minutes together. Each model is
saved as ``<out>/<name>.pth`` with its mmpretrain config beside it
(``<name>.py``), so ``tools/vis_cam.py`` and ``CAMInferencer`` load it like
any other checkpoint; :mod:`evaluate` measures the CAM methods on them.

Seeded: the same seed gives the same pictures and the same initial
weights; the result is reproducible up to float summation order.

Example::

    OMP_NUM_THREADS=1 python benchmarks/known_truth/train.py \\
        --out work_dirs/known_truth
"""
import argparse
import os
import os.path as osp
import sys
import time

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, REPO)

from shapes import CLASSES, SIZE, make_pictures  # noqa: E402

MEAN = [127.5, 127.5, 127.5]
STD = [64.0, 64.0, 64.0]
PREPROCESSOR = dict(
    type='ClsDataPreprocessor',
    mean=MEAN,
    std=STD,
    to_rgb=False,
    num_classes=len(CLASSES))

MODELS = {
    # 4 blocks of 4 heads over 8x8 patches of 8 pixels and a class token.
    'vit':
    dict(
        type='ImageClassifier',
        data_preprocessor=PREPROCESSOR,
        backbone=dict(
            type='VisionTransformer',
            arch=dict(
                embed_dims=64,
                num_layers=4,
                num_heads=4,
                feedforward_channels=128),
            img_size=SIZE,
            patch_size=8),
        head=dict(
            type='VisionTransformerClsHead',
            num_classes=len(CLASSES),
            in_channels=64)),
    # ResNet-18 with a CIFAR stem and 8 base channels: 8x8 maps at the end.
    'cnn':
    dict(
        type='ImageClassifier',
        data_preprocessor=PREPROCESSOR,
        backbone=dict(
            type='ResNet_CIFAR', depth=18, stem_channels=16, base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead', num_classes=len(CLASSES), in_channels=64)),
}

# Steps of 64 pictures and peak learning rate of AdamW, per model.
SCHEDULE = {'vit': (400, 2e-3), 'cnn': (100, 3e-3)}
BATCH = 64
TEST_SEED = 10_000


def config_text(model_cfg: dict) -> str:
    return (f'model = {model_cfg!r}\n'
            "test_pipeline = [dict(type='LoadImageFromFile'), "
            "dict(type='PackInputs')]\n"
            'test_dataloader = dict(batch_size=16, dataset=dict('
            "type='CustomDataset', data_root='', pipeline=test_pipeline))\n"
            "default_scope = 'mmpretrain'\n")


def to_inputs(images):
    import torch
    # Contiguous NCHW: a channels-last batch made the CPU convolution
    # backward of torch 2.14 crash (segmentation fault).
    pixels = torch.from_numpy(images).permute(0, 3, 1, 2).float().contiguous()
    mean = torch.tensor(MEAN).reshape(1, 3, 1, 1)
    std = torch.tensor(STD).reshape(1, 3, 1, 1)
    return (pixels - mean) / std


def accuracy(model, images, labels) -> float:
    import torch
    model.eval()
    with torch.no_grad():
        logits = torch.cat([
            model(to_inputs(images[i:i + 256]), mode='tensor')
            for i in range(0, len(images), 256)
        ])
    return float((logits.argmax(1).numpy() == labels).mean())


def train(name: str, steps: int, lr: float, seed: int, out: str) -> None:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from mmengine.runner import save_checkpoint
    from mmpretrain.registry import MODELS as REGISTRY

    torch.manual_seed(seed)
    model = REGISTRY.build(MODELS[name])
    model.init_weights()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    warmup = steps // 20
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, 0.5 *
                                 (1 + np.cos(np.pi * s / steps))))
    rng_seed = seed * 1000 + 1
    test_images, test_labels, _ = make_pictures(1000, TEST_SEED)
    start = time.perf_counter()
    for step in range(steps):
        model.train()
        images, labels, _ = make_pictures(BATCH, rng_seed + step)
        loss = F.cross_entropy(
            model(to_inputs(images), mode='tensor'), torch.from_numpy(labels))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if (step + 1) % 100 == 0 or step + 1 == steps:
            acc = accuracy(model, test_images[:200], test_labels[:200])
            print(
                f'{name} step {step + 1}/{steps} loss {loss.item():.3f} '
                f'accuracy {acc:.2f} ({time.perf_counter() - start:.0f} s)',
                flush=True)
    seconds = time.perf_counter() - start
    acc = accuracy(model, test_images, test_labels)
    print(
        f'{name}: {steps} steps x {BATCH} pictures in {seconds:.0f} s, '
        f'test accuracy {acc:.3f} on 1000 pictures',
        flush=True)
    os.makedirs(out, exist_ok=True)
    with open(osp.join(out, f'{name}.py'), 'w') as file:
        file.write(config_text(MODELS[name]))
    save_checkpoint(
        dict(
            state_dict=model.state_dict(),
            meta=dict(
                dataset_meta=dict(classes=list(CLASSES)),
                test_accuracy=acc,
                train_seconds=seconds)), osp.join(out, f'{name}.pth'))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--out', default=osp.join(REPO, 'work_dirs', 'known_truth'))
    parser.add_argument('--models', nargs='+', default=list(MODELS))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--steps', type=int, help='override the steps of every model')
    args = parser.parse_args()
    import torch
    torch.set_num_threads(1)
    import logging

    from mmengine.logging import MMLogger

    import mmcam  # noqa: F401  (stack fixes, registries)

    # init_weights logs every parameter at INFO.
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    for name in args.models:
        steps, lr = SCHEDULE[name]
        train(name, args.steps or steps, lr, args.seed, args.out)


if __name__ == '__main__':
    main()
