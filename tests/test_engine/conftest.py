"""A tiny classifier and an 8-image dataset for Runner tests."""
import os.path as osp
import sys
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runner_test_data import REPO, TINY_CONFIG  # noqa: E402,F401
from shapes_dataset import make_shapes_dataset  # noqa: E402

import mmcam  # noqa: E402,F401  (stack fixes, registries)


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
