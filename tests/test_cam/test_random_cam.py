"""RandomCAM is seeded: a known map per seed and class, the same in every
run, batch and order, and numpy's global generator is left alone."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from mmcam.cam import CAMEngine, CAMError, CAMSettings
from mmcam.cam.random_cam import random_channel_weights


class Channels(nn.Module):
    """Three channels of a one-channel image: ``x``, ``x ** 2``, ``|x|``."""

    def forward(self, x):
        return torch.cat([x, x**2, x.abs()], 1)


class ThreeChannelModel(nn.Module):
    """``features`` at the input's resolution, so a map needs no resize;
    four classes read the channels' means."""

    def __init__(self):
        super().__init__()
        self.features = Channels()
        self.fc = nn.Linear(3, 4)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


def expected_map(image: np.ndarray, seed: int, category: int) -> np.ndarray:
    """grad-cam's map of weights ``w``: ``relu(sum_c w_c A_c)`` scaled to
    [0, 1]."""
    weights = random_channel_weights(seed, category, 3)
    channels = [image, image**2, np.abs(image)]
    cam = np.maximum(sum(w * a for w, a in zip(weights, channels)), 0)
    cam = cam - cam.min()
    return cam / (1e-7 + cam.max())


@pytest.fixture(scope='module')
def images():
    return torch.randn(3, 1, 6, 5, generator=torch.Generator().manual_seed(0))


def random_cam(seed=0):
    torch.manual_seed(0)
    return CAMEngine(
        ThreeChannelModel().eval(),
        method='RandomCAM',
        target_layers=['features'],
        seed=seed)


def test_maps_are_the_seeded_weights_of_each_class(images):
    result = random_cam(seed=5)(images, target_category=[2, 0])
    for b in range(3):
        for k, category in enumerate([2, 0]):
            np.testing.assert_allclose(
                result.heatmaps[b, k],
                expected_map(images[b, 0].numpy(), 5, category),
                atol=1e-5)


def test_same_seed_same_maps_in_any_batch_and_order(images):
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    first = random_cam(seed=1)(images, target_category=[1]).heatmaps
    # grad-cam's RandomCAM would have drawn from numpy's global generator.
    assert np.random.random() == before
    again = random_cam(seed=1)(images, target_category=[1]).heatmaps
    np.testing.assert_array_equal(first, again)
    engine = random_cam(seed=1)
    reversed_order = engine(images.flip(0), target_category=[1]).heatmaps
    np.testing.assert_array_equal(first, reversed_order[::-1])
    alone = engine(images[1:2], target_category=[1]).heatmaps
    np.testing.assert_array_equal(first[1:2], alone)
    other = random_cam(seed=2)(images, target_category=[1]).heatmaps
    assert not np.allclose(first, other)


@pytest.mark.parametrize('seed', [-1, 1.5, True, '3'])
def test_bad_seeds_are_one_line_errors(seed):
    with pytest.raises(CAMError, match='seed must be a non-negative integer'):
        CAMSettings(seed=seed)


def test_the_hook_and_the_inferencer_take_the_seed():
    from mmcam.apis import CAMInferencer
    from mmcam.engine import CAMHook
    assert CAMHook(method='RandomCAM', seed=4).settings.seed == 4
    with pytest.raises(CAMError, match='seed must be a non-negative'):
        CAMHook(method='RandomCAM', seed=-1)
    # Settings are checked before the model is built.
    with pytest.raises(CAMError, match='seed must be a non-negative'):
        CAMInferencer('no_such_config.py', seed='x')
