"""CAMQuality's baselines: the inverted map's curve by hand, and the
options' checks. The RandomCAM draws are tested with the maps they are
known to give, in tests/test_cam/test_random_cam.py."""
import pytest
import torch
from known_models import LinearModel, sigmoid

from mmcam.cam import CAMError
from mmcam.evaluation import CAMQuality


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
