"""CAMQuality's baselines on known answers: the inverted map's curve by
hand, and RandomCAM draws whose maps are known (see test_random_cam)."""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from mmcam.cam import CAMEngine, CAMError
from mmcam.cam.random_cam import random_channel_weights
from mmcam.evaluation import CAMQuality


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


class LinearModel(nn.Module):
    """Logit of class 0 is ``sum(weight * x)``, of class 1 is 0."""

    def __init__(self, weight):
        super().__init__()
        self.weight = weight

    def forward(self, x):
        logit = (x * self.weight).sum((1, 2, 3))
        return torch.stack([logit, torch.zeros_like(logit)], 1)


class Channels(nn.Module):
    """Three channels of a one-channel image: ``x``, ``x ** 2``, ``|x|``."""

    def forward(self, x):
        return torch.cat([x, x**2, x.abs()], 1)


class ThreeChannelModel(nn.Module):
    """``features`` at the input's resolution; four classes."""

    def __init__(self):
        super().__init__()
        self.features = Channels()
        self.fc = nn.Linear(3, 4)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


def random_cam_map(image: np.ndarray, seed: int, category: int):
    weights = random_channel_weights(seed, category, 3)
    cam = np.maximum(
        sum(w * a for w, a in zip(
            weights, [image, image**2, np.abs(image)])), 0)
    cam = cam - cam.min()
    return (cam / (1e-7 + cam.max())).astype(np.float32)


def test_inverted_map_by_hand():
    image = torch.tensor([[1., 2.], [3., 4.]]).reshape(1, 1, 2, 2)
    weight = torch.tensor([[1., 0.5], [-1., 0.25]]).reshape(1, 2, 2)
    heatmap = torch.tensor([[0.9, 0.1], [0.5, 0.3]]).reshape(1, 1, 2, 2)
    quality = CAMQuality(
        LinearModel(weight), ['avg_drop', 'deletion_auc'],
        steps=4,
        inverted=True)
    values = quality(image, heatmap, [[0]])
    assert list(values) == [
        'avg_drop', 'deletion_auc', 'deletion_substrate_prob',
        'inverted_avg_drop', 'inverted_deletion_auc'
    ]
    # 1 - heatmap = [[0.1, 0.9], [0.5, 0.7]]: order (0,1), (1,1), (1,0),
    # (0,0); the pixel sums after each deletion: 0, -1, -2, 1, 0.
    curve = [0.5, sigmoid(-1), sigmoid(-2), sigmoid(1), 0.5]
    area = (sum(curve) - (curve[0] + curve[-1]) / 2) / 4
    assert values['inverted_deletion_auc'][0, 0] == pytest.approx(
        area, rel=1e-6)
    # image * (1 - heatmap) = [[0.1, 1.8], [1.5, 2.8]]: 0.1 + 0.9 - 1.5
    # + 0.7 = 0.2, above Y's logit 0: no drop.
    assert values['inverted_avg_drop'][0, 0] == 0
    # The map itself still gets its own numbers.
    plain = CAMQuality(
        LinearModel(weight), ['avg_drop', 'deletion_auc'],
        steps=4)(image, heatmap, [[0]])
    for name in plain:
        assert values[name] == plain[name]


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
            random_cam_map(images[b, 0].numpy(), seed, c)
            for c in categories[b]
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


@pytest.mark.parametrize('options, message', [
    (dict(inverted='yes'), "metric inverted must be True or False, got 'yes'"),
    (dict(random_baseline=-1),
     'metric random_baseline must be a non-negative integer, got -1'),
    (dict(random_baseline=2.5),
     'metric random_baseline must be a non-negative integer, got 2.5'),
])
def test_bad_baseline_options(options, message):
    with pytest.raises(CAMError, match=message):
        CAMQuality.check_arguments(True, options)
