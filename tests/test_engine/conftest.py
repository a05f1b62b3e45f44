"""A tiny classifier and an 8-image dataset for Runner tests."""
import os.path as osp
import sys
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from shapes_dataset import make_shapes_dataset  # noqa: E402

import mmcam  # noqa: E402,F401  (stack fixes, registries)

TINY_CONFIG = str(REPO / 'configs' / 'tiny' / 'resnet-tiny_shapes_cam.py')

# Four discs, four squares and one black square: an odd number, so the
# sampler pads on two processes. The black image sorts last
# (square/9.png): sample 8 of 9.
NUM_SAMPLES = 9
BLACK_SAMPLE = 8


def every(interval):
    """The dataset indices CAMHook explains at ``interval``."""
    return list(range(0, NUM_SAMPLES, interval))


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('shapes'))
    make_shapes_dataset(root, per_class=(4, 4))
    cv2.imwrite(
        osp.join(root, 'square', '9.png'), np.zeros((32, 32, 3), np.uint8))
    return root


@pytest.fixture
def tiny_cfg(shapes_root, tmp_path):
    """The shipped tiny config on the test dataset, quiet and in tmp."""
    from mmengine.config import Config
    cfg = Config.fromfile(TINY_CONFIG)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = shapes_root
    cfg.work_dir = str(tmp_path / 'work_dir')
    cfg.experiment_name = f'cam_test_{uuid.uuid4().hex[:8]}'
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.log_level = 'WARNING'
    return cfg
