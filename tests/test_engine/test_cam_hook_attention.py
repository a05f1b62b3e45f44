"""CAMHook with the attention methods: a tiny ViT in a Runner's test loop
exports raw maps and metrics like any other method."""
import glob
import os.path as osp

import numpy as np
import pytest
from mmengine.runner import Runner

from mmcam.cam import CAMError

TINY_VIT = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch=dict(
            embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
        img_size=32,
        patch_size=8),
    head=dict(type='VisionTransformerClsHead', num_classes=2, in_channels=32))


@pytest.mark.parametrize('method', ['AttentionRollout', 'GAE'])
def test_hook_exports_attention_maps_with_metrics(tiny_cfg, tmp_path, method):
    tiny_cfg.model = TINY_VIT
    out_dir = tmp_path / 'cams'
    tiny_cfg.custom_hooks = [
        dict(
            type='CAMHook',
            interval=1,
            method=method,
            head_fusion='max',
            discard_ratio=0.2,
            out_dir=str(out_dir),
            save_raw=True,
            draw=False,
            metrics=['deletion_auc'])
    ]
    metrics = Runner.from_cfg(tiny_cfg).test()
    maps = glob.glob(osp.join(out_dir, 'test', 'maps', '*.npy'))
    assert len(maps) == 9
    heatmap = np.load(maps[0])
    assert heatmap.shape == (1, 32, 32) and np.isfinite(heatmap).all()
    assert 0 <= metrics['cam/deletion_auc'] <= 1


def test_hook_with_a_cnn_fails_when_the_run_starts(tiny_cfg):
    tiny_cfg.custom_hooks = [dict(type='CAMHook', method='GAE')]
    with pytest.raises(CAMError, match='GAE cannot explain ResNet_CIFAR'):
        Runner.from_cfg(tiny_cfg).test()
