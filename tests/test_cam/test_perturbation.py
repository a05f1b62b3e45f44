"""Batched ScoreCAM and AblationCAM give grad-cam's heatmaps."""
import numpy as np
import pytest
from grad_cam_reference import grad_cam_maps

from mmcam.cam import CAMEngine
from mmcam.cam.perturbation import PerturbationCAM


@pytest.fixture
def narrow_resnet(classifier):
    """The session's ResNet-18 with 64 channels in its last stage:
    ScoreCAM and AblationCAM run one forward pass per channel and image."""
    return classifier('narrow_resnet')


def _grad_cam(method,
              model,
              layer_name,
              inputs,
              categories,
              vit=False,
              batch_size=32):
    """grad-cam's own class, called directly, one class per call."""
    layers = layer_name if isinstance(layer_name, list) else [layer_name]
    return grad_cam_maps(
        method,
        model,
        layers,
        inputs,
        categories,
        batch_size=batch_size,
        vit=vit)


@pytest.mark.parametrize('method', ['ScoreCAM', 'AblationCAM'])
@pytest.mark.parametrize('categories', [[3], [3, 8]])
def test_cnn_maps_equal_grad_cam(method, categories, narrow_resnet, images):
    inputs = images(2, 64, 64)
    # layer4's output follows a ReLU (minimum 0) and is not modified in
    # place, so grad-cam is right here at any batch size.
    ours = CAMEngine(
        narrow_resnet,
        method=method,
        target_layers='backbone.layer4',
        batch_size=16)(
            inputs, target_category=categories)
    theirs = _grad_cam(
        method,
        narrow_resnet,
        'backbone.layer4',
        inputs,
        ours.categories,
        batch_size=16)
    assert ours.heatmaps.shape == (2, len(categories), 64, 64)
    assert ours.categories.tolist() == [categories] * 2
    np.testing.assert_allclose(ours.heatmaps, theirs, atol=1e-5)


@pytest.mark.parametrize('method', ['ScoreCAM', 'AblationCAM'])
def test_token_layer_maps_equal_grad_cam(method, classifier, images):
    model = classifier('vit')
    inputs = images(2, 64, 64)
    # The norm before the last attention block: tokens with negative
    # values, where grad-cam's ablation value drifts within a batch unless
    # its batch holds one copy.
    ours = CAMEngine(model, method=method, topk=2, batch_size=5)(inputs)
    assert ours.target_layers == ['backbone.layers.1.ln1']
    theirs = _grad_cam(
        method,
        model,
        'backbone.layers.1.ln1',
        inputs,
        ours.categories,
        vit=True,
        batch_size=1)
    np.testing.assert_allclose(ours.heatmaps, theirs, atol=1e-5)


@pytest.mark.parametrize('method', ['ScoreCAM', 'AblationCAM'])
def test_batch_size_changes_nothing(method, classifier, images):
    model = classifier('vit')
    inputs = images(3, 64, 64)
    maps = [
        CAMEngine(model, method=method, topk=2,
                  batch_size=batch_size)(inputs).heatmaps
        for batch_size in (1, 7, 1000)
    ]
    np.testing.assert_allclose(maps[1], maps[0], atol=1e-5)
    np.testing.assert_allclose(maps[2], maps[0], atol=1e-5)


@pytest.mark.parametrize('method', ['ScoreCAM', 'AblationCAM'])
def test_one_pass_per_batch_serves_every_class(method, narrow_resnet, images):
    """2 images x 64 channels in batches of 32: one recording pass and 4
    perturbed passes, however many classes are explained."""
    calls = []
    handle = narrow_resnet.backbone.register_forward_pre_hook(
        lambda module, args: calls.append(args[0].shape[0]))
    try:
        CAMEngine(
            narrow_resnet,
            method=method,
            target_layers='backbone.layer4',
            batch_size=32,
            topk=3)(
                images(2, 64, 64))
    finally:
        handle.remove()
    assert calls == [2, 32, 32, 32, 32]


def test_several_categories_equal_separate_calls(narrow_resnet, images):
    inputs = images(2, 64, 64)
    engine = CAMEngine(
        narrow_resnet, method='AblationCAM', target_layers='backbone.layer4')
    together = engine(inputs, target_category=[1, 6])
    for k, category in enumerate([1, 6]):
        alone = engine(inputs, target_category=category)
        np.testing.assert_allclose(
            together.heatmaps[:, k], alone.heatmaps[:, 0], atol=1e-6)


def test_eigen_smooth_and_several_layers_equal_grad_cam(narrow_resnet, images):
    inputs = images(2, 64, 64)
    layers = ['backbone.layer3', 'backbone.layer4']
    ours = CAMEngine(
        narrow_resnet,
        method='ScoreCAM',
        target_layers=layers,
        eigen_smooth=True)(
            inputs)
    theirs = grad_cam_maps(
        'ScoreCAM',
        narrow_resnet,
        layers,
        inputs,
        ours.categories,
        eigen_smooth=True)
    np.testing.assert_allclose(ours.heatmaps, theirs, atol=1e-5)


def test_rejects_other_methods():
    with pytest.raises(ValueError, match="'GradCAM'"):
        PerturbationCAM(lambda x: x, 'GradCAM')
