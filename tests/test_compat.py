"""The stack fixes applied by ``import mmcam``."""
import os
import os.path as osp
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import mmcam  # noqa: E402,F401
from mmcam import compat  # noqa: E402

REPO = str(Path(__file__).resolve().parents[1])


def test_mmpretrain_base_configs_load(tmp_path):
    from mmengine.config import Config
    config = tmp_path / 'cfg.py'
    config.write_text("_base_ = ['mmpretrain::resnet/resnet50_8xb32_in1k.py']"
                      '\nmodel = dict(head=dict(num_classes=7))\n')
    cfg = Config.fromfile(str(config))
    assert cfg.model.backbone.depth == 50
    assert cfg.model.head.num_classes == 7


_MAIN_ONLY_IMPORT_BASE = """\
from mmpretrain.models import build_classifier

model = dict(type='ImageClassifier',
             backbone=dict(type='ResNet', depth=18),
             neck=dict(type='GlobalAveragePooling'),
             head=dict(type='LinearClsHead', num_classes=5, in_channels=512))

if __name__ == '__main__':
    print(build_classifier(model))
"""


def test_config_whose_base_imports_only_for_main_loads(tmp_path):
    # mmpretrain 1.2's RepLKNet bases import build_classifier for a
    # __main__ demo; mmengine took that for a lazy-import config.
    from mmengine.config import Config
    (tmp_path / 'base.py').write_text(_MAIN_ONLY_IMPORT_BASE)
    config = tmp_path / 'cfg.py'
    config.write_text("_base_ = ['base.py']\n"
                      'model = dict(head=dict(num_classes=7))\n')
    cfg = Config.fromfile(str(config))
    assert cfg.model.backbone.depth == 18
    assert cfg.model.head.num_classes == 7
    assert 'build_classifier' not in cfg


def test_replknet_configs_of_the_wheel_load():
    from mmengine.config import Config
    for name in ('replknet-31B_32xb64_in1k.py', 'replknet-XL_32xb64_in1k-'
                 '320px.py'):
        cfg = Config.fromfile(
            osp.join(compat.get_installed_path('mmpretrain'), '.mim',
                     'configs', 'replknet', name))
        assert cfg.model.backbone.type == 'RepLKNet'


@pytest.mark.parametrize('source,lazy', [
    (_MAIN_ONLY_IMPORT_BASE, False),
    ('from mmpretrain.models import ResNet\nmodel = dict(type=ResNet)\n',
     True),
    ('from mmengine.config import read_base\nwith read_base():\n'
     '    from .base import *\n', True),
    ("import os\nmodel = dict(type='ResNet')\n", False),
])
def test_lazy_import_detection_ignores_only_main_guard_imports(
        tmp_path, source, lazy):
    from mmengine.config import Config
    path = tmp_path / 'cfg.py'
    path.write_text(source)
    assert Config._is_lazy_import(str(path)) is lazy


def test_package_helpers_without_pkg_resources():
    path = compat.get_installed_path('mmpretrain')
    assert osp.isdir(osp.join(path, '.mim', 'configs'))
    assert compat.is_installed('mmcv-lite')
    assert compat.package2module('mmcv-lite') == 'mmcv'
    assert not compat.is_installed('surely-not-a-package-xyz')


class _NotAllowed:
    pass


def test_runner_checkpoints_load_with_weights_only(tmp_path):
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('compat-test')
    hub.update_scalar('train/loss', np.float64(0.5))
    hub.update_scalar('train/lr', 0.1)
    hub.update_info('iter', np.int64(12))
    checkpoint = dict(
        state_dict={'w': torch.ones(2)},
        meta=dict(
            seed=np.int64(3),
            epoch=2,
            best_score=np.float32(0.75),
            hist=np.arange(4),
            message_hub=hub.state_dict()))
    path = tmp_path / 'epoch_2.pth'
    torch.save(checkpoint, path)

    loaded = torch.load(path, map_location='cpu')  # weights_only default
    assert loaded['meta']['seed'] == 3
    assert loaded['meta']['best_score'] == np.float32(0.75)
    buffer = loaded['meta']['message_hub']['log_scalars']['train/loss']
    assert buffer.current() == 0.5


def test_unsafe_types_are_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'obj': _NotAllowed()}, path)
    with pytest.raises(Exception, match='weights_only'):
        torch.load(path, map_location='cpu', weights_only=True)


def test_checkpoint_getattr_is_limited_to_history_buffer(tmp_path):

    class Sneaky:

        def __reduce__(self):
            # ndarray is allow-listed; its file-writing method must not be.
            return getattr, (np.ndarray, 'tofile')

    path = tmp_path / 'sneaky.pth'
    torch.save({'x': Sneaky()}, path)
    with pytest.raises(Exception, match='refusing getattr|not an allowed'):
        torch.load(path, map_location='cpu', weights_only=True)


def _run_fresh_python(script: str) -> subprocess.CompletedProcess:
    """``script`` in a new interpreter, where nothing is imported yet."""
    result = subprocess.run([sys.executable, '-c', script],
                            capture_output=True,
                            text=True,
                            env=dict(
                                os.environ, PYTHONPATH=REPO, MPLBACKEND='Agg'),
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def test_grad_cam_methods_run_without_its_plotting_and_sklearn_imports():
    """mmcam loads grad-cam with matplotlib, scipy and scikit-learn
    deferred: a Grad-CAM run imports none of them, and the grad-cam
    functions that need them still import and use them when called."""
    script = '''
import sys
import numpy as np
import torch
import mmcam
from pytorch_grad_cam import GradCAM, KPCA_CAM
from pytorch_grad_cam.utils.image import scale_cam_image, show_cam_on_image

model = torch.nn.Sequential(
    torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(),
    torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2))
image = torch.rand(1, 3, 16, 16)
grayscale = GradCAM(model, [model[1]])(image, targets=None)
heavy = ('matplotlib.pyplot', 'scipy', 'sklearn')
print('after GradCAM', [m for m in heavy if m in sys.modules])
kpca = KPCA_CAM(model, [model[1]])(image, targets=None)
volume = scale_cam_image(np.random.rand(1, 2, 3, 4), (5, 6, 7))
print('after KPCA_CAM', [m for m in heavy if m in sys.modules])
print('shapes', grayscale.shape, kpca.shape, volume.shape)
# A plotting helper: pyplot, its rcParams and Line2D on first use.
from pytorch_grad_cam.utils.image import show_factorization_on_image
legend = show_factorization_on_image(
    np.zeros((32, 32, 3), np.float32), np.random.rand(2, 32, 32),
    colors=[np.array([1., 0, 0]), np.array([0, 0, 1.])],
    concept_labels=['disc', 'square'])
print('legend', legend.shape, 'matplotlib.pyplot' in sys.modules)
'''
    result = _run_fresh_python(script)
    lines = result.stdout.splitlines()
    assert 'after GradCAM []' in lines
    # KPCA_CAM's KernelPCA and the 3-D resize's scipy zoom were imported
    # when they were called.
    assert "after KPCA_CAM ['scipy', 'sklearn']" in lines
    assert 'shapes (1, 16, 16) (1, 16, 16) (1, 7, 6, 5)' in lines
    assert 'legend (32, 64, 3) True' in lines


def test_reference_launcher_imports_grad_cam_as_shipped():
    script = '''
import sys
import mmcam
from mmcam.compat import import_grad_cam_as_shipped
import_grad_cam_as_shipped()
import pytorch_grad_cam
print('sklearn' in sys.modules)
'''
    result = _run_fresh_python(script)
    assert result.stdout.split() == ['True']


_READ_BASE_BASE = '''\
from mmpretrain.models import (GlobalAveragePooling, ImageClassifier,
                               LinearClsHead, ResNet)

model = dict(
    type=ImageClassifier,
    backbone=dict(type=ResNet, depth=18, stem_channels=8, base_channels=8),
    neck=dict(type=GlobalAveragePooling),
    head=dict(type=LinearClsHead, num_classes=5, in_channels=64))
'''

_READ_BASE_CONFIG = '''\
from mmengine.config import read_base
from mmcv.transforms import LoadImageFromFile
from mmpretrain.datasets import PackInputs, Resize

with read_base():
    from .base_model import *

test_pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=Resize, scale=(32, 32)),
    dict(type=PackInputs),
]
'''


@pytest.mark.parametrize('style', ['read_base', 'main_only_import'])
def test_both_config_styles_load_wherever_a_config_is_accepted(
        tmp_path, style):
    from mmcam.apis.model_source import resolve_model
    from mmcam.engine.runner_config import load_runner_config
    if style == 'read_base':
        (tmp_path / 'base_model.py').write_text(_READ_BASE_BASE)
        (tmp_path / 'cfg.py').write_text(_READ_BASE_CONFIG)
    else:
        (tmp_path / 'base.py').write_text(_MAIN_ONLY_IMPORT_BASE)
        (tmp_path / 'cfg.py').write_text("_base_ = ['base.py']\n")
    path = str(tmp_path / 'cfg.py')
    cfg, _ = resolve_model(path, None, None)  # CAMInferencer, vis_cam.py
    assert 'ResNet' in str(cfg.model.backbone.type)
    cfg = load_runner_config(path)  # tools/train.py, tools/test.py
    assert 'ResNet' in str(cfg.model.backbone.type)
    if style == 'read_base':
        from mmcam.apis import CAMInferencer
        with pytest.warns(UserWarning, match='random weights'):
            inferencer = CAMInferencer(path, pretrained=None)
        result = inferencer(np.full((40, 50, 3), 90, np.uint8))[0]
        assert result['input_heatmaps'].shape == (1, 32, 32)
