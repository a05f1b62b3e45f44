"""The shipped configs load, and their models and CAMHooks build: the
target layers they name exist, and the default layers resolve."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from runner_test_data import REPO

from mmcam.cam import CAMEngine
from mmcam.engine import CAMHook

CONFIGS = sorted(
    osp.relpath(path, REPO)
    for path in glob.glob(str(REPO / 'configs' / '*' / '*_cam.py')))


def _build(cfg):
    from mmengine.registry import HOOKS
    # mmpretrain's registry builds in its own scope.
    from mmpretrain.registry import MODELS
    model = MODELS.build(cfg.model)
    hooks = [HOOKS.build(dict(h)) for h in cfg.custom_hooks]
    return model, [h for h in hooks if isinstance(h, CAMHook)]


def test_every_model_family_has_an_example():
    for family in ('resnet', 'mobilenet_v3', 'vision_transformer',
                   'swin_transformer'):
        assert any(path.startswith(f'configs/{family}/')
                   for path in CONFIGS), family


@pytest.mark.parametrize('config', CONFIGS)
def test_config_builds_model_and_hook(config):
    cfg = Config.fromfile(str(REPO / config))
    assert 'mmcam' in cfg.custom_imports.imports
    model, cam_hooks = _build(cfg)
    assert len(cam_hooks) == 1
    # What the hook does when the run starts: named layers must exist,
    # default layers come from a dry run at the config's input size.
    engine = CAMEngine(model, cam_hooks[0].settings)
    size = 32 if config.startswith('configs/tiny/') else 224
    names = [name for name, _ in engine.target_layers((1, 3, size, size))]
    assert names and all(name.startswith('backbone.') for name in names)
    if cam_hooks[0].settings.target_layers:
        assert names == cam_hooks[0].settings.target_layers


def test_cfg_options_reach_the_hook():
    cfg = Config.fromfile(
        str(REPO / 'configs' / 'resnet' / 'resnet50_8xb32_in1k_cam.py'))
    cfg.merge_from_dict({
        'custom_hooks.0.method': 'LayerCAM',
        'custom_hooks.0.target_layers': ['backbone.layer3'],
        'custom_hooks.0.target_category': 'gt',
    })
    model, (hook, ) = _build(cfg)
    assert hook.settings.method == 'LayerCAM'
    assert hook.settings.target_layers == ['backbone.layer3']
    assert hook.settings.target_category == 'gt'
