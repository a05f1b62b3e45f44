"""Batched ScoreCAM and AblationCAM give grad-cam's heatmaps."""
import numpy as np
import pytest
import torch
import torch.nn as nn
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


def _backbone_batches(model, method, inputs, topk):
    """Batch size of every backbone call of one engine run, and the
    engine's ``PerturbationCAM``."""
    calls = []
    handle = model.backbone.register_forward_pre_hook(
        lambda module, args: calls.append(args[0].shape[0]))
    engine = CAMEngine(
        model,
        method=method,
        target_layers='backbone.layer4',
        batch_size=32,
        topk=topk)
    try:
        engine(inputs)
    finally:
        handle.remove()
    return calls, engine.last_perturbation


def _layer_output(model, name, inputs):
    from mmcam.cam import get_layer
    saved = []
    handle = get_layer(model, name).register_forward_hook(
        lambda module, args, output: saved.append(output.clone()))
    try:
        with torch.no_grad():
            model(inputs, mode='tensor')
    finally:
        handle.remove()
    return saved[0]


def test_score_cam_one_pass_per_batch_serves_every_class(
        narrow_resnet, images):
    """2 images x 64 channels in batches of 32: one recording pass, then
    one masked image per non-constant channel and one all-zero image for
    the constant ones, however many classes are explained."""
    inputs = images(2, 64, 64)
    flat = _layer_output(narrow_resnet, 'backbone.layer4', inputs).flatten(2)
    constant = int((flat.amax(2) == flat.amin(2)).sum())
    assert 0 < constant < 128  # both kinds of channel are present
    expected = 128 - constant + 1
    calls, run = _backbone_batches(narrow_resnet, 'ScoreCAM', inputs, 3)
    assert calls[0] == 2 and sum(calls[1:]) == expected
    assert calls[1:] == [32] * (expected // 32) + [expected % 32]
    assert run.perturbed_images == expected
    assert _backbone_batches(narrow_resnet, 'ScoreCAM', inputs, 1)[0] == calls


def test_ablation_cam_runs_layers_before_the_target_once_per_batch(
        narrow_resnet, images):
    """The backbone sees one image per batch of ablated copies (after a
    check of two copies against a full pass); all-zero channels are not
    ablated; the count does not depend on the number of classes."""
    inputs = images(2, 64, 64)
    flat = _layer_output(narrow_resnet, 'backbone.layer4', inputs).flatten(2)
    nonzero = (flat.abs().amax(2) > 0).sum(1).tolist()
    calls, run = _backbone_batches(narrow_resnet, 'AblationCAM', inputs, 3)
    batches = sum(-(-n // 32) for n in nonzero)
    assert calls == [2, 2] + [1] * (batches + 1)
    assert run.shared_prefix is True
    assert run.perturbed_images == sum(nonzero)
    assert _backbone_batches(narrow_resnet, 'AblationCAM', inputs,
                             1)[0] == calls


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


class _ConstantChannelNet(nn.Module):
    """A conv + ReLU whose channels 0-5 are all zero and 6-7 constant 0.7
    on any input: ScoreCAM masks them all with zeros."""

    def __init__(self, batch_fixed=False):
        super().__init__()
        torch.manual_seed(0)
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=8, padding=1), nn.ReLU())
        self.head = nn.Linear(16, 10)
        self.batch_fixed = batch_fixed
        with torch.no_grad():
            conv = self.backbone[0]
            conv.weight[:8] = 0
            conv.bias[:6] = -1
            conv.bias[6:8] = 0.7

    def forward(self, inputs):
        # batch_fixed: the batch size is read before the target layer, as
        # in models that reshape with it; the layers before the target
        # cannot then run on one image for a batch of ablated copies.
        batch = inputs.shape[0] if self.batch_fixed else -1
        features = self.backbone(inputs)
        pooled = features.reshape(batch, features.shape[1], 64).mean(-1)
        return self.head(pooled)


@pytest.mark.parametrize('method', ['ScoreCAM', 'AblationCAM'])
def test_constant_channels_share_a_pass_with_grad_cam_maps(method, images):
    model = _ConstantChannelNet().eval()
    inputs = images(3, 64, 64)
    engine = CAMEngine(
        model, method=method, target_layers='backbone.1', batch_size=5)
    ours = engine(inputs, topk=2)
    theirs = _grad_cam(
        method, model, 'backbone.1', inputs, ours.categories, batch_size=5)
    np.testing.assert_allclose(ours.heatmaps, theirs, atol=1e-5)
    # ScoreCAM: 3 images x 8 varying channels + one all-zero image, and
    # the 0.7 channels if bilinear upsampling's rounding leaves them not
    # quite constant (grad-cam's normalization then blows that up into a
    # mask that is not zero); AblationCAM: the 6 all-zero channels are
    # not ablated.
    upsampled = torch.nn.functional.interpolate(
        torch.full((1, 1, 8, 8), 0.7),
        size=(64, 64),
        mode='bilinear',
        align_corners=True)
    rounded = bool(upsampled.max() > upsampled.min())
    expected = 3 * 8 + 1 + 3 * 2 * rounded if method == 'ScoreCAM' \
        else 3 * 10
    assert engine.last_perturbation.perturbed_images == expected


@pytest.mark.parametrize('batch_size', [4, 1])
def test_ablation_falls_back_to_full_passes(batch_size, images):
    # batch_size 1: the check still compares two copies.
    model = _ConstantChannelNet(batch_fixed=True).eval()
    inputs = images(2, 64, 64)
    engine = CAMEngine(
        model,
        method='AblationCAM',
        target_layers='backbone.1',
        batch_size=batch_size)
    ours = engine(inputs, target_category=[1, 7])
    assert engine.last_perturbation.shared_prefix is False
    theirs = _grad_cam(
        'AblationCAM',
        model,
        'backbone.1',
        inputs,
        ours.categories,
        batch_size=batch_size)
    np.testing.assert_allclose(ours.heatmaps, theirs, atol=1e-5)


def test_long_runs_are_announced_once_per_engine(narrow_resnet, images,
                                                 monkeypatch):
    from mmengine.logging import MMLogger

    from mmcam.cam import perturbation
    monkeypatch.setattr(perturbation, 'LONG_RUN_IMAGES', 50)
    lines = []
    monkeypatch.setattr(MMLogger.get_current_instance(), 'warning',
                        lines.append)
    engine = CAMEngine(
        narrow_resnet,
        method='ScoreCAM',
        target_layers='backbone.layer4',
        batch_size=32)
    engine(images(2, 64, 64))
    engine(images(2, 64, 64))
    count = engine.last_perturbation.perturbed_images
    passes = -(-count // 32)
    assert lines == [
        f'ScoreCAM at backbone.layer4: {count} masked images for 2 '
        f'image(s) x 64 channels ({128 - count + 1} constant channels '
        f'share one), in {passes} forward passes of up to 32; this can '
        'take minutes on a CPU'
    ]
    # Below the threshold nothing is said.
    monkeypatch.setattr(perturbation, 'LONG_RUN_IMAGES', 1000)
    quiet = CAMEngine(
        narrow_resnet, method='ScoreCAM', target_layers='backbone.layer4')
    quiet(images(2, 64, 64))
    assert len(lines) == 1
