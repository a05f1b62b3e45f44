"""Every method ``--method`` accepts runs on the real EfficientNet-Lite0 at
its default layer (ShapleyCAM used to fail there: the score is linear in
that layer's activations)."""
import numpy as np
import pytest
import torch.nn.functional as F
from lite0_paths import PHOTOS

from mmcam.cam import CAMEngine, get_method, supported_methods


@pytest.fixture(scope='module')
def small_cat(network_input):
    """The cat photo's network input at 48x48 (a 2x2 final map), so the
    perturbation methods' 1280 passes stay cheap."""
    return F.interpolate(
        network_input(PHOTOS / 'cat.jpg'),
        size=(48, 48),
        mode='bilinear',
        align_corners=False)


# Attention methods refuse a CNN (tests/test_cam/test_attention.py).
@pytest.mark.parametrize(
    'method',
    [m for m in supported_methods() if get_method(m).family != 'attention'])
def test_every_method_runs_on_the_real_model(method, lite0_model, small_cat):
    engine = CAMEngine(lite0_model, method=method, topk=2, batch_size=128)
    result = engine(small_cat)
    assert result.target_layers == ['backbone.timm_model.bn2']
    assert result.heatmaps.shape == (1, 2, 48, 48)
    assert np.isfinite(result.heatmaps).all()
    assert result.heatmaps.min() >= 0 and result.heatmaps.max() <= 1 + 1e-6
