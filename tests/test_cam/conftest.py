"""Tiny random-init classifiers of every architecture family the engine
must handle; small enough for a 2-core CI machine."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import mmcam  # noqa: E402,F401  (stack fixes, registries)

NUM_CLASSES = 10

_GAP = dict(type='GlobalAveragePooling')


def _linear_head(in_channels):
    return dict(
        type='LinearClsHead', num_classes=NUM_CLASSES, in_channels=in_channels)


_TINY_VIT = dict(
    embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)

CLASSIFIERS = {
    'resnet':
    dict(
        backbone=dict(type='ResNet', depth=18),
        neck=_GAP,
        head=_linear_head(512)),
    # ResNet-18 with 8 base channels (64 in its last stage): the same
    # layers and in-place additions as 'resnet' at 1/64 of the compute, for
    # tests that compare many maps with grad-cam's, and for ScoreCAM and
    # AblationCAM (one forward pass per channel and image).
    'narrow_resnet':
    dict(
        backbone=dict(
            type='ResNet', depth=18, stem_channels=8, base_channels=8),
        neck=_GAP,
        head=_linear_head(64)),
    'mobilenet_v3':
    dict(
        backbone=dict(type='MobileNetV3', arch='small'),
        neck=_GAP,
        head=_linear_head(576)),
    'convnext':
    dict(backbone=dict(type='ConvNeXt', arch='atto'), head=_linear_head(320)),
    'vit':
    dict(
        backbone=dict(
            type='VisionTransformer',
            arch=_TINY_VIT,
            img_size=64,
            patch_size=16),
        head=dict(
            type='VisionTransformerClsHead',
            num_classes=NUM_CLASSES,
            in_channels=32)),
    'deit_distilled':
    dict(
        backbone=dict(
            type='DistilledVisionTransformer',
            arch=_TINY_VIT,
            img_size=64,
            patch_size=16),
        head=dict(type='DeiTClsHead', num_classes=NUM_CLASSES,
                  in_channels=32)),
    # DeiT III blocks call ln1 twice (before the attention and before the
    # FFN): a target layer that runs twice per forward pass.
    'deit3':
    dict(
        backbone=dict(
            type='DeiT3', arch=_TINY_VIT, img_size=64, patch_size=16),
        head=dict(
            type='VisionTransformerClsHead',
            num_classes=NUM_CLASSES,
            in_channels=32)),
    # A hybrid: a CNN branch and a transformer branch exchanging features,
    # each with its own classifier; the head predicts from their sum.
    'conformer':
    dict(
        backbone=dict(
            type='Conformer',
            arch=dict(embed_dims=32, depths=3, num_heads=2, channel_ratio=1),
            base_channels=8,
            patch_size=16),
        head=dict(
            type='ConformerHead',
            num_classes=NUM_CLASSES,
            in_channels=[32, 32])),
    # Ends in an AdaptiveAvgPool1d over its tokens: (B, C, 1), not tokens.
    'mixmim':
    dict(
        backbone=dict(
            type='MixMIMTransformer',
            arch=dict(
                embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2]),
            img_size=64,
            window_size=[4, 4, 4, 2]),
        head=_linear_head(128)),
    'swin':
    dict(
        backbone=dict(
            type='SwinTransformer',
            arch=dict(
                embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2]),
            img_size=64,
            window_size=2),
        neck=_GAP,
        head=_linear_head(128)),
    't2t_vit':
    dict(
        backbone=dict(
            type='T2T_ViT',
            img_size=64,
            embed_dims=32,
            num_layers=2,
            layer_cfgs=dict(num_heads=2, feedforward_channels=64),
            t2t_cfg=dict(token_dims=16)),
        head=dict(
            type='VisionTransformerClsHead',
            num_classes=NUM_CLASSES,
            in_channels=32)),
}


def build_classifier(name: str, seed: int = 0):
    from mmpretrain.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(dict(type='ImageClassifier', **CLASSIFIERS[name]))
    return model.eval()


@pytest.fixture(scope='session')
def classifier():
    """``classifier(name)``: a cached tiny classifier of that family."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = build_classifier(name)
        return cache[name]

    return get


@pytest.fixture
def images():
    """``images(batch, height, width)``: a seeded normalized batch."""

    def make(batch=2, height=64, width=64, seed=0):
        generator = torch.Generator().manual_seed(seed)
        return torch.randn(batch, 3, height, width, generator=generator)

    return make
