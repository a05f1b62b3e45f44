"""Shared fixtures: the repo on sys.path, tiny classifier configs with
checkpoints, and small test images of every kind.

Test modules reach the helpers here through fixtures, not ``from conftest
import``: several folders have a conftest.py, and which one Python finds
under that name depends on the order pytest collects them.
"""
import importlib.util
import os
import sys
from pathlib import Path

import pytest

# One torch thread, here and in every process a test starts (the tools
# read OMP_NUM_THREADS): the tiny models gain nothing from more, and on a
# machine other work shares, a second thread made a tiny training step
# 12-16x slower (docs/threads.md). Set OMP_NUM_THREADS to
# choose another count.
os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('MKL_NUM_THREADS', os.environ['OMP_NUM_THREADS'])

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
import torch  # noqa: E402

import mmcam  # noqa: E402,F401  (stack fixes, registries)

torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))

TINY_CLASSES = ('cat', 'dog', 'bird', 'fish', 'frog')

# ResNet-18 with 8 base channels on a 64x64 crop: a real residual network
# that runs in milliseconds.
TINY_RESNET = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=5, in_channels=64))

# A 2-layer ViT on a non-square 32x48 input (a 4x6 patch grid).
TINY_VIT = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch=dict(
            embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
        img_size=(32, 48),
        patch_size=8),
    head=dict(type='VisionTransformerClsHead', num_classes=5, in_channels=32))

RESIZE_CROP_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=72, edge='short'),
    dict(type='CenterCrop', crop_size=64),
    dict(type='PackInputs'),
]

VIT_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(48, 32)),
    dict(type='PackInputs'),
]

_CONFIG_TEMPLATE = '''\
model = {model!r}
data_preprocessor = dict(
    num_classes={num_classes},
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
test_pipeline = {pipeline!r}
test_dataloader = dict(
    batch_size=2,
    dataset=dict(type='CustomDataset', data_root='', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
default_scope = 'mmpretrain'
'''


def write_tiny_model(folder,
                     name: str = 'resnet',
                     pipeline=None,
                     num_classes: int = 5,
                     classes=TINY_CLASSES,
                     seed: int = 0):
    """Write ``<name>.py`` and a matching ``<name>.pth`` into ``folder``.

    Args:
        folder (Path): Where to write.
        name (str): ``'resnet'`` or ``'vit'``.
        pipeline (list, optional): Test pipeline; defaults to resize +
            centre crop for the ResNet and a plain resize for the ViT.
        num_classes (int): Outputs of the head.
        classes (Sequence[str] | None): Saved in the checkpoint's
            ``meta['dataset_meta']``; None saves no names.
        seed (int): Seed of the random weights.

    Returns:
        tuple[Path, Path]: The config and the checkpoint.
    """
    import copy

    import torch
    from mmengine.runner import save_checkpoint
    from mmpretrain.registry import MODELS

    model_cfg = copy.deepcopy(TINY_RESNET if name == 'resnet' else TINY_VIT)
    model_cfg['head']['num_classes'] = num_classes
    if pipeline is None:
        pipeline = RESIZE_CROP_PIPELINE if name == 'resnet' else VIT_PIPELINE
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / f'{name}.py'
    config.write_text(
        _CONFIG_TEMPLATE.format(
            model=model_cfg, num_classes=num_classes, pipeline=pipeline))
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    meta = {} if classes is None else dict(
        dataset_meta=dict(classes=list(classes)))
    checkpoint = folder / f'{name}.pth'
    save_checkpoint(
        dict(state_dict=model.state_dict(), meta=meta), str(checkpoint))
    return config, checkpoint


def write_test_images(folder):
    """Small images of every kind the tools must read.

    Returns:
        dict[str, Path]: ``color`` (80x100 JPEG), ``wide`` (60x120 PNG),
        ``gray`` (8-bit PNG), ``rgba`` (PNG with alpha), ``gray16``
        (16-bit PNG using 12 bits).
    """
    import cv2
    import numpy as np
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:80, 0:100]
    color = np.stack([xx * 2.5, yy * 3, (xx + yy) * 1.4], -1)
    color = np.clip(color + rng.normal(0, 10, color.shape), 0, 255)
    images = {
        'color': ('color.jpg', color.astype(np.uint8)),
        'wide':
        ('wide.png', rng.integers(0, 255, (60, 120, 3), dtype=np.uint8)),
        'gray': ('gray.png', (yy * 3).astype(np.uint8)),
        'rgba':
        ('rgba.png',
         np.dstack([color.astype(np.uint8), (xx * 2.5).astype(np.uint8)])),
        'gray16': ('gray16.png', (xx * 40).astype(np.uint16)),
    }
    paths = {}
    for key, (filename, array) in images.items():
        path = folder / filename
        assert cv2.imwrite(str(path), array)
        paths[key] = path
    return paths


def write_png_bomb(path, width: int, height: int, bit_depth: int = 8,
                   color_type: int = 0) -> None:
    """Write a valid PNG of ``width`` x ``height`` zeros in a few MB.

    Each row is compressed with a full flush, which resets zlib's window,
    so every row after the first compresses to the same bytes: the file is
    one row's output repeated, made in milliseconds whatever the size
    (20000x20000 16-bit RGBA: 3.5 MB on disk, 3.2 GB decoded).

    Args:
        color_type (int): PNG's: 0 gray, 2 RGB, 4 gray + alpha, 6 RGBA.
    """
    import struct
    import zlib
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    row = bytes(1 + width * channels * bit_depth // 8)  # filter byte 0
    compressor = zlib.compressobj(9)
    first = compressor.compress(row) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(row) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush(zlib.Z_FINISH)[:-4]  # without its Adler-32
    # Adler-32 of n zero bytes: a = 1, b = n mod 65521.
    adler = (height * len(row) % 65521) << 16 | 1
    data = first + repeated * (height - 1) + end + struct.pack('>I', adler)

    def chunk(kind, payload):
        crc = zlib.crc32(kind + payload) & 0xffffffff
        return struct.pack('>I', len(payload)) + kind + payload + \
            struct.pack('>I', crc)

    header = struct.pack('>IIBBBBB', width, height, bit_depth, color_type, 0,
                         0, 0)
    Path(path).write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) +
                           chunk(b'IDAT', data) + chunk(b'IEND', b''))


@pytest.fixture(scope='session')
def load_tool():
    """``load_tool(path)``: a script under ``tools/`` imported as a module,
    so tests can call its functions and ``main`` in-process."""

    def load(path):
        path = Path(path)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope='session')
def tiny_resnet(tmp_path_factory):
    """``(config, checkpoint)`` of a tiny 5-class ResNet-18 whose test
    pipeline resizes the short edge to 72 and centre-crops 64x64."""
    return write_tiny_model(tmp_path_factory.mktemp('resnet'), 'resnet')


@pytest.fixture(scope='session')
def tiny_vit(tmp_path_factory):
    """``(config, checkpoint)`` of a tiny 5-class ViT on 32x48 inputs."""
    return write_tiny_model(tmp_path_factory.mktemp('vit'), 'vit')


@pytest.fixture(scope='session')
def test_images(tmp_path_factory):
    """Paths of small images of every kind (see ``write_test_images``)."""
    return write_test_images(tmp_path_factory.mktemp('images'))


@pytest.fixture(scope='session')
def tiny_model_writer():
    """``write_tiny_model`` (see above), for configs a test varies."""
    return write_tiny_model


@pytest.fixture(scope='session')
def tiny_classes():
    """The class names saved in the tiny models' checkpoints."""
    return TINY_CLASSES


@pytest.fixture(scope='session')
def png_bomb_writer():
    """``write_png_bomb`` (see above): huge valid PNGs, cheaply."""
    return write_png_bomb
