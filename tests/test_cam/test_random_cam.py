"""RandomCAM is seeded: a known map per seed and class, the same in every
run, batch and order, and numpy's global generator is left alone; and
CAMQuality's random baseline is the mean and spread of such draws."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from mmcam.cam import CAMEngine, CAMError, CAMSettings
from mmcam.cam.random_cam import random_channel_weights
from mmcam.evaluation import CAMQuality


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


def test_random_baseline_is_the_mean_and_spread_of_seeded_draws():
    images = torch.randn(
        2, 1, 6, 5, generator=torch.Generator().manual_seed(1))
    categories = np.array([[2, 0], [1, 2]])
    torch.manual_seed(0)
    model = ThreeChannelModel().eval()
    engine = CAMEngine(model, target_layers=['features'])
    own_maps = torch.rand(
        2, 2, 6, 5, generator=torch.Generator().manual_seed(2))
    names = ['deletion_auc', 'insertion_auc']
    quality = CAMQuality(
        engine,
        names,
        steps=5,
        seed=4,
        random_baseline=3,
        insertion_substrate='black')
    values = quality(images, own_maps, categories)
    assert list(values) == [
        'deletion_auc', 'deletion_substrate_prob', 'insertion_auc',
        'insertion_substrate_prob', 'random_deletion_auc',
        'random_deletion_auc_std', 'random_insertion_auc',
        'random_insertion_auc_std'
    ]
    # Each draw: RandomCAM with seed 4, 5, 6, whose maps are known.
    plain = CAMQuality(engine, names, steps=5, insertion_substrate='black')
    draws = []
    for seed in (4, 5, 6):
        maps = np.array([[
            expected_map(images[b, 0].numpy(), seed, c) for c in categories[b]
        ] for b in range(2)])
        draws.append(plain(images, maps, categories))
    for name in names:
        per_draw = np.array([d[name] for d in draws], np.float64)
        np.testing.assert_allclose(
            values[f'random_{name}'], per_draw.mean(0), rtol=1e-5)
        np.testing.assert_allclose(
            values[f'random_{name}_std'],
            per_draw.std(0, ddof=1),
            rtol=1e-4,
            atol=1e-7)
        assert (values[f'random_{name}_std'] > 0).any()
    # A second measurer gives the same numbers: the draws are seeded.
    again = CAMQuality(
        engine,
        names,
        steps=5,
        seed=4,
        random_baseline=3,
        insertion_substrate='black')(images, own_maps, categories)
    for name in values:
        np.testing.assert_array_equal(again[name], values[name])
