"""The engine's fast path for gradient methods (frozen parameters, backward
stopped at the target layer, one forward for every class) gives the maps of
grad-cam's own classes called the unoptimised way."""
import numpy as np
import pytest
import torch
from grad_cam_reference import grad_cam_maps

from mmcam.cam import CAMEngine

GRADIENT_METHODS = [
    'GradCAM', 'GradCAMPlusPlus', 'XGradCAM', 'EigenGradCAM', 'LayerCAM',
    'HiResCAM', 'GradCAMElementWise'
]

# Layers whose output nothing modifies in place, so grad-cam called
# directly is a trustworthy reference on the CPU.
CASES = [
    ('narrow_resnet', 'backbone.layer4.1'),
    ('narrow_resnet', 'backbone.layer4'),
    ('vit', 'backbone.layers.1.ln1'),
]


def _unoptimised(model, method, layer_name, inputs, categories):
    """grad-cam's class as the reference tool calls it: parameters
    trainable, one forward and full backward per class."""
    return grad_cam_maps(method, model, [layer_name], inputs, categories)


@pytest.mark.parametrize('name,layer', CASES)
@pytest.mark.parametrize('method', GRADIENT_METHODS)
def test_maps_equal_unoptimised_grad_cam(method, name, layer, classifier,
                                         images):
    model = classifier(name)
    inputs = images(2, 64, 64)
    ours = CAMEngine(model, method=method, target_layers=layer, topk=2)(inputs)
    theirs = _unoptimised(model, method, layer, inputs, ours.categories)
    assert ours.heatmaps.shape == theirs.shape == (2, 2, 64, 64)
    assert theirs.max() > 0.5  # not a comparison of empty maps
    np.testing.assert_allclose(ours.heatmaps, theirs, atol=1e-5)


@pytest.mark.parametrize('method', GRADIENT_METHODS + ['EigenCAM'])
def test_several_categories_in_one_call_equal_separate_calls(
        method, classifier, images):
    model = classifier('narrow_resnet')
    inputs = images(2, 64, 64)
    engine = CAMEngine(model, method=method, target_layers='backbone.layer4')
    together = engine(inputs, target_category=[2, 5, 9])
    for k, category in enumerate([2, 5, 9]):
        alone = engine(inputs, target_category=[category])
        np.testing.assert_allclose(
            together.heatmaps[:, k], alone.heatmaps[:, 0], atol=1e-6)
        np.testing.assert_allclose(
            together.scores[:, k], alone.scores[:, 0], rtol=1e-6)


def test_backward_stops_at_the_target_layer(classifier, images):
    """Nothing below the target layer, and no parameter, gets a gradient;
    grad-cam called directly back-propagates through the whole network."""
    model = classifier('narrow_resnet')
    inputs = images(2, 64, 64)
    reached = []
    handle = model.backbone.layer3.register_full_backward_hook(
        lambda module, grad_in, grad_out: reached.append(module))
    try:
        CAMEngine(model, target_layers='backbone.layer4', topk=2)(inputs)
        assert reached == []
        assert all(p.grad is None for p in model.parameters())

        _unoptimised(model, 'GradCAM', 'backbone.layer4', inputs,
                     torch.tensor([[1], [2]]))
        assert reached, 'grad-cam should back-propagate below layer4'
    finally:
        handle.remove()
        model.zero_grad(set_to_none=True)
