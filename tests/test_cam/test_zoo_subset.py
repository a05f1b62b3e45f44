"""A quick subset of benchmarks/zoo_sweep.py: tiny random-init models of
the kinds the zoo sweep found hard, through the sweep's own code path
(CAMInferencer, the default layer, GradCAM, GradCAM++, LayerCAM and
EigenCAM)."""
import importlib.util
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

SWEEP = Path(__file__).resolve().parents[2] / 'benchmarks' / 'zoo_sweep.py'

_TINY_VIT = dict(
    embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)

MODELS = {
    # A CNN whose last norm sits inside a residual branch.
    'resnet': (dict(
        backbone=dict(
            type='ResNet', depth=18, stem_channels=8, base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=64)),
               'backbone.layer4'),
    # A class token.
    'vit': (dict(
        backbone=dict(
            type='VisionTransformer',
            arch=_TINY_VIT,
            img_size=64,
            patch_size=16),
        head=dict(
            type='VisionTransformerClsHead', num_classes=10,
            in_channels=32)), 'backbone.layers.1.ln1'),
    # Class and distillation tokens, and a layer called twice per pass.
    'deit3': (dict(
        backbone=dict(
            type='DeiT3', arch=_TINY_VIT, img_size=64, patch_size=16),
        head=dict(
            type='VisionTransformerClsHead', num_classes=10,
            in_channels=32)), 'backbone.layers.1.ln1'),
    'deit_distilled': (dict(
        backbone=dict(
            type='DistilledVisionTransformer',
            arch=_TINY_VIT,
            img_size=64,
            patch_size=16),
        head=dict(type='DeiTClsHead', num_classes=10, in_channels=32)),
                       'backbone.layers.1.ln1'),
    # A hybrid: conv and transformer branches, two summed classifiers.
    'conformer': (dict(
        backbone=dict(
            type='Conformer',
            arch=dict(embed_dims=32, depths=3, num_heads=2, channel_ratio=1),
            base_channels=8,
            patch_size=16),
        head=dict(type='ConformerHead', num_classes=10,
                  in_channels=[32, 32])),
                  'backbone.conv_trans_3.trans_block.ln1'),
}

CONFIG = '''\
model = dict(type='ImageClassifier', **{model!r})
data_preprocessor = dict(
    num_classes=10,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64)),
    dict(type='PackInputs'),
]
'''


@pytest.fixture(scope='module')
def sweep():
    spec = importlib.util.spec_from_file_location('zoo_sweep', SWEEP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _picture():
    """A disc on a colour ramp, BGR."""
    yy, xx = np.mgrid[0:96, 0:128]
    image = np.stack([xx * 2, yy * 2, (xx + yy)], -1).astype(np.float32)
    image[(yy - 40)**2 + (xx - 70)**2 < 400] = (20, 200, 240)
    return image.astype(np.uint8)


@pytest.mark.parametrize('name', list(MODELS))
def test_every_method_gives_a_map_at_the_default_layer(
        name, sweep, tmp_path):
    model, layer = MODELS[name]
    config = tmp_path / f'{name}.py'
    config.write_text(CONFIG.format(model=model))
    row = sweep.run_one(str(config), sweep.METHODS, image=_picture())
    assert 'error' not in row, row
    assert row['layer'] == layer
    assert row['methods'] == {m: 'ok' for m in sweep.METHODS}, row['reasons']


def test_blank_maps_are_counted_with_the_engines_warning(
        sweep, tmp_path, monkeypatch):
    # A layer the class token never reads: every gradient map is blank,
    # and the row carries the engine's one-line warning as the reason.
    model, _ = MODELS['vit']
    config = tmp_path / 'vit.py'
    config.write_text(CONFIG.format(model=model))
    from mmcam.cam import CAMEngine
    original = CAMEngine.__init__

    def at_ln2(engine, model, settings=None, **kwargs):
        original(engine, model,
                 replace(settings, target_layers=['backbone.layers.1.ln2']))

    monkeypatch.setattr(CAMEngine, '__init__', at_ln2)
    row = sweep.run_one(str(config), ['GradCAM'], image=_picture())
    assert row['methods'] == {'GradCAM': 'blank'}
    assert 'is constant' in row['reasons']['GradCAM']
    assert 'gradient there is exactly zero' in row['reasons']['GradCAM']
