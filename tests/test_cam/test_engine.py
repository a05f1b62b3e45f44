"""The CAM engine on tiny random-init classifiers of every family."""
import copy

import numpy as np
import pytest
import torch
import torch.nn as nn
from grad_cam_reference import grad_cam_maps

from mmcam.cam import (CAMEngine, CAMError, get_layer, get_method,
                       supported_methods)

_TINY_VIT_ARCH = dict(
    embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)

# Perturbation methods run hundreds of forward passes; a 32x32 input keeps
# them cheap.
SLOW_METHODS = {'ScoreCAM', 'AblationCAM'}


# The methods that explain a target layer, on any network; the attention
# methods read a transformer's attention instead (tests/test_cam/
# test_attention.py runs them).
LAYER_METHODS = [
    m for m in supported_methods() if get_method(m).family != 'attention'
]


@pytest.mark.parametrize('method', supported_methods())
def test_every_method_gives_normalized_maps(method, classifier, images):
    # Attention methods need a transformer (and refuse a ResNet).
    attention = get_method(method).family == 'attention'
    model = classifier('vit' if attention else 'resnet')
    size = 32 if method in SLOW_METHODS else 64
    inputs = images(2, size, size)
    result = CAMEngine(model, method=method, topk=2)(inputs)

    assert result.heatmaps.shape == (2, 2, size, size)
    assert result.heatmaps.dtype == np.float32
    assert np.isfinite(result.heatmaps).all()
    assert result.heatmaps.min() >= 0 and result.heatmaps.max() <= 1 + 1e-6
    assert result.method == method
    logits = model(inputs, mode='tensor')
    assert (result.categories == logits.topk(2).indices.numpy()).all()
    # FEM may rightly find no outlier channel, RandomCAM's random
    # weights may all cancel out after the ReLU, and AttentionRollout's
    # discarded 90 % may hold all of a random ViT's class-token attention
    # to patches.
    if method not in ('FEM', 'RandomCAM', 'AttentionRollout'):
        # grad-cam rescales each map to [0, 1]: a non-empty map peaks at 1.
        assert np.allclose(result.heatmaps.max(axis=(2, 3)), 1, atol=1e-5)


def test_method_names_are_case_insensitive_with_aliases(classifier):
    model = classifier('resnet')
    assert CAMEngine(model, method='gradcam++').method.name == \
        'GradCAMPlusPlus'
    assert CAMEngine(model, method='KPCA-CAM').method.name == 'KPCA_CAM'
    with pytest.raises(CAMError, match=r"'GradCan'.*GradCAM, "):
        CAMEngine(model, method='GradCan')


@pytest.mark.parametrize('name,expected', [
    # layer4.1.bn2, the last norm, is bypassed by the block's shortcut.
    ('resnet', 'backbone.layer4'),
    ('mobilenet_v3', 'backbone.layer12.bn'),
    ('convnext', 'backbone.stages.3'),
    ('vit', 'backbone.layers.1.ln1'),
    ('deit_distilled', 'backbone.layers.1.ln1'),
    ('deit3', 'backbone.layers.1.ln1'),
    ('swin', 'backbone.norm3'),
    ('t2t_vit', 'backbone.encoder.1.ln1'),
    ('mixmim', 'backbone.norm'),
])
def test_default_target_layers(name, expected, classifier, images):
    engine = CAMEngine(classifier(name))
    result = engine(images(1, 64, 64))
    assert engine.target_layer_names == [expected]
    assert result.target_layers == [expected]
    assert result.heatmaps.max() == pytest.approx(1, abs=1e-5)


@pytest.mark.parametrize('name,extra', [('vit', 1), ('deit_distilled', 2),
                                        ('swin', 0), ('t2t_vit', 1)])
def test_extra_tokens_read_from_backbone(name, extra, classifier):
    assert CAMEngine(classifier(name)).num_extra_tokens == extra


@pytest.mark.parametrize('name', ['vit', 'deit_distilled', 'swin'])
def test_non_square_token_inputs(name, classifier, images):
    inputs = images(2, 64, 112)  # a 4x7 patch grid for patch 16
    result = CAMEngine(classifier(name), method='GradCAM')(inputs)
    assert result.heatmaps.shape == (2, 1, 64, 112)
    assert np.allclose(result.heatmaps.max(axis=(2, 3)), 1, atol=1e-5)


def test_wrong_num_extra_tokens_is_reported(classifier, images):
    # 16 patch tokens + 1 class token, read as 13 patch tokens: no grid.
    engine = CAMEngine(classifier('vit'), num_extra_tokens=4)
    with pytest.raises(CAMError, match='num_extra_tokens'):
        engine(images(1, 64, 64))


def _grad_cam_reference(model,
                        layer,
                        inputs,
                        categories,
                        method='GradCAM',
                        **call_kwargs):
    """pytorch-grad-cam called directly, one class per sample."""
    return grad_cam_maps(method, model, [layer], inputs, categories,
                         **call_kwargs)[:, 0]


@pytest.mark.parametrize('method', ['EigenCAM', 'KPCA_CAM', 'FEM'])
def test_activation_methods_match_grad_cam(method, classifier, images):
    model = classifier('resnet')
    inputs = images(2, 64, 64)
    # layer4's output is not modified in place, so grad-cam is right here.
    engine = CAMEngine(model, method=method, target_layers='backbone.layer4')
    ours = engine(inputs)
    theirs = _grad_cam_reference(model, model.backbone.layer4, inputs,
                                 ours.categories[:, 0], method)
    np.testing.assert_allclose(ours.heatmaps[:, 0], theirs, atol=1e-5)


def test_in_place_ops_after_target_layer_do_not_change_the_map(
        classifier, images):
    """A BasicBlock's last norm is followed by ``out += identity`` and an
    in-place ReLU; the map must be that of the norm's own output."""
    model = classifier('narrow_resnet')
    inputs = images(2, 64, 64)
    ours = CAMEngine(model, target_layers='backbone.layer4.1.bn2')(inputs)

    # The same network, but the norm's output is copied before the block
    # modifies it, so grad-cam sees the true activation.
    class CopyAfter(nn.Module):

        def __init__(self, norm):
            super().__init__()
            self.norm = norm

        def forward(self, x):
            return self.norm(x).clone()

    copied = copy.deepcopy(model)
    copied.backbone.layer4[1].bn2 = CopyAfter(copied.backbone.layer4[1].bn2)
    truth = _grad_cam_reference(copied, copied.backbone.layer4[1].bn2.norm,
                                inputs, ours.categories[:, 0])
    np.testing.assert_allclose(ours.heatmaps[:, 0], truth, atol=1e-5)

    # Called directly on the original model, grad-cam on the CPU keeps a
    # reference and sees the block's final output instead: the trap.
    trapped = _grad_cam_reference(model, model.backbone.layer4[1].bn2, inputs,
                                  ours.categories[:, 0])
    assert not np.allclose(trapped, truth, atol=1e-3)


def test_frozen_model_still_gets_gradient_cams(classifier, images):
    model = copy.deepcopy(classifier('resnet'))
    inputs = images(2, 64, 64)
    expected = CAMEngine(model)(inputs).heatmaps
    for param in model.parameters():
        param.requires_grad_(False)
    result = CAMEngine(model, method='GradCAM')(inputs)
    np.testing.assert_allclose(result.heatmaps, expected, atol=1e-6)
    assert not any(p.requires_grad for p in model.parameters())


def test_runs_under_no_grad_and_restores_state(classifier, images):
    model = copy.deepcopy(classifier('resnet'))
    model.train()
    model.backbone.layer1.requires_grad_(False)
    before = {n: p.requires_grad for n, p in model.named_parameters()}
    with torch.no_grad():
        result = CAMEngine(model, topk=3)(images(2, 64, 64))
    assert result.heatmaps.max() > 0
    assert all(m.training for m in model.modules())
    assert {n: p.requires_grad for n, p in model.named_parameters()} == before
    assert all(p.grad is None for p in model.parameters())


def test_several_categories_equal_separate_calls(classifier, images):
    model = classifier('narrow_resnet')
    inputs = images(2, 64, 64)
    engine = CAMEngine(model, method='GradCAM++')
    together = engine(inputs, target_category=[1, 4, 7])
    assert together.categories.tolist() == [[1, 4, 7]] * 2
    for k, category in enumerate([1, 4, 7]):
        alone = engine(inputs, target_category=category)
        np.testing.assert_allclose(
            together.heatmaps[:, k], alone.heatmaps[:, 0], atol=1e-6)
        probs = model(inputs, mode='tensor').softmax(-1)[:, category]
        np.testing.assert_allclose(
            together.scores[:, k], probs.detach().numpy(), rtol=1e-5)


def test_category_checks(classifier, images):
    engine = CAMEngine(classifier('resnet'))
    with pytest.raises(CAMError, match='target category 10 is out of range'):
        engine(images(1, 64, 64), target_category=[3, 10])
    with pytest.raises(CAMError, match="'gt'"):
        engine(images(1, 64, 64), target_category='gt')
    with pytest.raises(CAMError, match='topk 11'):
        engine(images(1, 64, 64), topk=11)
    gt = engine(images(2, 64, 64), target_category='gt', gt_labels=[2, 5])
    assert gt.categories.tolist() == [[2], [5]]


def test_smoothing_options(classifier, images):
    model = classifier('narrow_resnet')
    inputs = images(1, 64, 64)
    plain = CAMEngine(model, target_layers='backbone.layer4')(inputs)
    eigen = CAMEngine(
        model, target_layers='backbone.layer4', eigen_smooth=True)(
            inputs)
    aug = CAMEngine(
        model, target_layers='backbone.layer4', aug_smooth=True)(
            inputs)
    assert not np.allclose(plain.heatmaps, eigen.heatmaps)
    # With the class fixed, aug_smooth is grad-cam's test-time augmentation.
    theirs = _grad_cam_reference(
        model,
        model.backbone.layer4,
        inputs,
        plain.categories[:, 0],
        aug_smooth=True)
    np.testing.assert_allclose(aug.heatmaps[:, 0], theirs, atol=1e-5)


def test_several_target_layers_match_grad_cam(classifier, images):
    model = classifier('narrow_resnet')
    inputs = images(2, 64, 64)
    ours = CAMEngine(
        model, target_layers=['backbone.layer3', 'backbone.layer4'])(
            inputs)
    theirs = grad_cam_maps('GradCAM', model,
                           ['backbone.layer3', 'backbone.layer4'], inputs,
                           ours.categories)
    np.testing.assert_allclose(ours.heatmaps, theirs, atol=1e-5)


def test_unknown_target_layer_names_closest(classifier):
    model = classifier('resnet')
    with pytest.raises(
            CAMError, match=r"'backbone.layer4.2'.*"
            r'backbone.layer4.1'):
        CAMEngine(model, target_layers=['backbone.layer4.2'])
    # The reference tool's indexing style also works.
    assert get_layer(model, 'backbone.layer4[-1].bn2') is \
        model.backbone.layer4[1].bn2


def test_layer_without_spatial_output_is_reported(classifier, images):
    engine = CAMEngine(classifier('resnet'), target_layers='neck')
    with pytest.raises(CAMError, match="'neck' outputs shape"):
        engine(images(1, 64, 64))


@pytest.mark.parametrize('check_first', [True, False])
def test_pooled_token_output_is_not_a_spatial_layer(check_first, classifier,
                                                    images):
    # MixMIM's AdaptiveAvgPool1d gives (1, 128, 1): 128 channels pooled,
    # not 128 tokens of one channel.
    engine = CAMEngine(classifier('mixmim'), target_layers='backbone.avgpool')
    with pytest.raises(CAMError, match=r"'backbone.avgpool' outputs shape "
                       r'\(1, 128, 1\)'):
        if check_first:
            engine.check_settings((1, 3, 64, 64))
        else:
            engine(images(1, 64, 64))


def test_record_layers_lists_names_and_shapes(classifier):
    records = CAMEngine(classifier('resnet')).record_layers((1, 3, 64, 64))
    shapes = {r.name: r.output_shape for r in records}
    assert shapes['backbone.layer4.1.bn2'] == (1, 512, 2, 2)
    assert shapes['head.fc'] == (1, 10)


def test_shapley_cam_at_layers_the_score_reaches_linearly(classifier, images):
    """With frozen parameters the gradient at ``layer4`` (pooling, then
    FC) is a constant without a graph; its Hessian term is 0, as for
    grad-cam's ShapleyCAM on a trainable model."""
    model = classifier('resnet')
    inputs = images(2, 64, 64)
    ours = CAMEngine(
        model, method='ShapleyCAM', target_layers=['backbone.layer4'], topk=2)(
            inputs)
    theirs = grad_cam_maps('ShapleyCAM', model, ['backbone.layer4'], inputs,
                           ours.categories)
    np.testing.assert_allclose(ours.heatmaps, theirs, atol=1e-5)


def test_shapley_cam_matches_grad_cam_where_the_gradient_has_a_graph(
        classifier, images):
    """Mid-network in MobileNetV3 the gradient passes later nonlinear
    layers (it keeps a graph), and the map is grad-cam's ShapleyCAM."""
    model = classifier('mobilenet_v3')
    inputs = images(2, 64, 64)
    layers = ['backbone.layer10']
    ours = CAMEngine(model, method='ShapleyCAM', target_layers=layers)(inputs)
    theirs = grad_cam_maps('ShapleyCAM', model, layers, inputs,
                           ours.categories)
    np.testing.assert_allclose(ours.heatmaps, theirs, atol=1e-5)


def test_shapley_cam_on_tokens_and_several_layers(classifier, images):
    """Where grad-cam 1.5.7's ShapleyCAM fails: token outputs, two target
    layers (their maps are averaged), attention without a fused second
    derivative. GELU and softmax make the second-order term count: the map
    is not GradCAM's."""
    model = classifier('vit')
    inputs = images(2, 64, 64)
    layers = ['backbone.layers.0.ln1', 'backbone.layers.1.ln1']
    both = CAMEngine(model, method='ShapleyCAM', target_layers=layers)(inputs)
    assert both.heatmaps.shape == (2, 1, 64, 64)
    assert np.isfinite(both.heatmaps).all() and both.heatmaps.max() > 0.5
    gradcam = CAMEngine(model, target_layers=layers)(inputs)
    assert np.abs(gradcam.heatmaps - both.heatmaps).max() > 1e-3


@pytest.mark.parametrize('method', ['GradCAM', 'ShapleyCAM'])
def test_inference_mode_and_float64_models(method, classifier, images):
    """A caller inside ``torch.inference_mode()`` (as many inference loops
    are) and a float64 model both get the float32 model's maps."""
    model = classifier('resnet')
    inputs = images(2, 64, 64)
    engine = CAMEngine(model, method=method, batch_size=64)
    expected = engine(inputs).heatmaps
    with torch.inference_mode():
        inference_inputs = inputs.clone()
        np.testing.assert_allclose(
            engine(inference_inputs).heatmaps, expected, atol=1e-5)
    double = copy.deepcopy(model).double()
    result = CAMEngine(double, method=method, batch_size=64)(inputs)
    assert result.heatmaps.dtype == np.float32
    np.testing.assert_allclose(result.heatmaps, expected, atol=1e-4)


@pytest.mark.parametrize('name', ['narrow_resnet', 'convnext'])
def test_full_grad_pairs_each_bias_with_its_own_layer(name, classifier,
                                                      images):
    """ConvNeXt registers its downsampling layers before its stages, so
    grad-cam's FullGrad pairs biases with other layers' gradients and
    fails; in the order the layers run it works, and where the two orders
    agree (ResNet) the map is grad-cam's."""
    model = classifier(name)
    inputs = images(2, 64, 64)
    ours = CAMEngine(model, method='FullGrad')(inputs)
    assert np.isfinite(ours.heatmaps).all()
    assert np.allclose(ours.heatmaps.max(axis=(2, 3)), 1, atol=1e-5)
    if name == 'narrow_resnet':
        theirs = grad_cam_maps('FullGrad', model, [], inputs,
                               ours.categories)
        np.testing.assert_allclose(ours.heatmaps, theirs, atol=1e-5)


@pytest.mark.parametrize('method', LAYER_METHODS)
def test_layer_running_twice_is_explained_at_its_first_call(
        method, classifier, images):
    # DeiT III's ln1 runs before the attention and again before the FFN.
    # Its second call reaches the class token through no attention, so a
    # map of that call is zero; every method must explain the first call.
    model = classifier('deit3')
    engine = CAMEngine(model, method=method)
    layer = engine.target_layers()[0][1]
    outputs = []
    handle = layer.register_forward_hook(
        lambda module, args, output: outputs.append(output))
    model(images(1, 64, 64), mode='tensor')
    handle.remove()
    assert len(outputs) == 2

    result = engine(images(1, 64, 64))
    if method not in ('FEM', 'RandomCAM'):
        assert result.heatmaps.max() == pytest.approx(1, abs=1e-5)
        assert result.heatmaps.min() < 0.5


def test_layer_running_twice_matches_grad_cam_on_its_first_call(
        classifier, images):
    inputs = images(2, 64, 64)
    model = classifier('deit3')
    names = ['backbone.layers.1.ln1']
    ours = CAMEngine(model, method='GradCAM', target_layers=names)(inputs)
    # grad-cam pairs a layer with its first recorded activation.
    reference = grad_cam_maps('GradCAM', model, names, inputs,
                              ours.categories)
    np.testing.assert_allclose(ours.heatmaps, reference, atol=1e-4)


def test_dry_run_records_every_call_and_defaults_read_the_first(
        classifier):
    records = CAMEngine(classifier('deit3')).record_layers((1, 3, 64, 64))
    calls = [(r.call, r.start < r.end)
             for r in records if r.name == 'backbone.layers.1.ln1']
    assert calls == [(0, True), (1, True)]


@pytest.mark.parametrize('name', ['conformer', 'deit_distilled', 'resnet'])
def test_scores_are_what_the_model_predicts(name, classifier, images):
    # ConformerHead returns (conv logits, transformer logits) and predicts
    # from their sum; the first alone explained another class.
    model = classifier(name)
    inputs = images(4, 64, 64)
    with torch.no_grad():
        predictions = model(inputs, mode='predict')
    result = CAMEngine(model, method='GradCAM')(inputs)
    expected = np.stack([p.pred_score.numpy() for p in predictions])
    np.testing.assert_allclose(result.pred_scores, expected, atol=1e-5)
    assert (result.categories[:, 0] == expected.argmax(1)).all()
    assert np.allclose(result.heatmaps.max(axis=(2, 3)), 1, atol=1e-5)


@pytest.fixture
def warnings_logged(monkeypatch):
    """The lines the engine logs as warnings during a test."""
    from mmengine.logging import MMLogger
    lines = []
    monkeypatch.setattr(MMLogger.get_current_instance(), 'warning',
                        lines.append)
    return lines


def test_constant_map_of_a_layer_off_the_path_is_one_warning(
        classifier, images, warnings_logged):
    # The last block's ln2 feeds only the FFN, which never reaches the
    # class token the head reads: the class score's gradient there is 0.
    engine = CAMEngine(
        classifier('vit'), method='GradCAM',
        target_layers='backbone.layers.1.ln2')
    result = engine(images(2, 64, 64), sample_names=['a.jpg', 'b.jpg'])
    assert result.constant.tolist() == [[True], [True]]
    assert len(warnings_logged) == 2
    first = warnings_logged[0]
    assert '\n' not in first
    assert first.startswith(
        f'GradCAM heatmap of a.jpg for class {result.categories[0, 0]} at '
        'backbone.layers.1.ln2 is constant')
    assert 'gradient there is exactly zero' in first
    assert 'try a layer on the path' in first
    assert 'b.jpg' in warnings_logged[1]


class _NegativeEvidence(nn.Module):
    """Class 0's score falls as the ReLU's output grows: every GradCAM
    weight is negative and the activations are not, so the map is
    nowhere positive."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 2)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[-1.] * 4, [1.] * 4]))

    def forward(self, x):
        return self.fc(self.pool(self.relu(self.conv(x))).flatten(1))


def test_map_nowhere_positive_is_a_warning_saying_what_to_try(
        images, warnings_logged):
    torch.manual_seed(0)
    engine = CAMEngine(
        _NegativeEvidence().eval(),
        method='GradCAM',
        target_layers='relu',
        target_category=[0])
    result = engine(images(1, 16, 16))
    assert result.constant.tolist() == [[True]]
    assert warnings_logged == [
        'GradCAM heatmap of sample 0 of the batch for class 0 at relu is '
        'constant (drawn as no heatmap): its gradient-weighted activations '
        "are nowhere positive and the method's ReLU zeroes them, which "
        'random or barely trained weights often give; try another method '
        '(EigenCAM, LayerCAM, GradCAM++), another target layer, or check '
        'that the checkpoint was loaded'
    ]
    # The other class has positive weights: a real map, no warning.
    engine(images(1, 16, 16), target_category=[1])
    assert len(warnings_logged) == 1


def test_maps_that_are_not_constant_warn_nothing(classifier, images,
                                                 warnings_logged):
    result = CAMEngine(classifier('resnet'), topk=2)(images(2, 64, 64))
    assert not result.constant.any()
    assert warnings_logged == []


class _TwoBranches(nn.Module):
    """Inception-style: two branches concatenated; each ends in a norm."""

    def __init__(self):
        super().__init__()
        self.wide = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1),
                                  nn.BatchNorm2d(4))
        self.pool = nn.Sequential(nn.AvgPool2d(3, 1, 1), nn.Conv2d(4, 4, 1),
                                  nn.BatchNorm2d(4))

    def forward(self, x):
        return torch.cat([self.wide(x), self.pool(x)], dim=1)


class _InceptionLike(nn.Module):

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.mixed = _TwoBranches()
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))

    def forward(self, x):
        return self.head(self.mixed(self.stem(x)))


def test_default_layer_is_one_the_head_reads_everything_through(images):
    # The last norm (mixed.pool.2) ends one branch of a concatenation: the
    # other branch reaches the head around it. The concatenation is the
    # layer everything goes through.
    torch.manual_seed(0)
    engine = CAMEngine(_InceptionLike().eval())
    engine(images(1, 32, 32))
    assert engine.target_layer_names == ['mixed']


class _SpreadMean(nn.Module):
    """Every position gets the mean of all: what a uniform attention
    does to tokens (LeViT's at random initialisation)."""

    def forward(self, x):
        return x.mean(dim=(2, 3), keepdim=True).expand_as(x)


def test_layer_output_same_everywhere_is_named_as_the_cause(
        images, warnings_logged):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), _SpreadMean(), nn.Conv2d(4, 4, 1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)).eval()
    for method in ('GradCAM', 'EigenCAM'):
        result = CAMEngine(model, method=method, target_layers='1')(
            images(1, 16, 16))
        assert result.constant.all()
    assert len(warnings_logged) == 2
    assert all("the layer's output is the same at every position" in line
               for line in warnings_logged)


def test_default_layer_skips_final_maps_that_are_the_same_everywhere(
        images):
    # As LeViT at initialisation: a uniform attention gives every final
    # position the same value. The last layer that varies and that the
    # head reads everything through is taken instead.
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), _SpreadMean(),
        nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(4, 3)).eval()
    engine = CAMEngine(model)
    result = engine(images(1, 16, 16))
    assert engine.target_layer_names == ['1']
    assert not result.constant.any()


def test_blank_map_warning_suggests_only_other_methods():
    from mmcam.cam.blank_maps import blank_map_warning
    line = blank_map_warning('GradCAMPlusPlus', 'gradient', 'a.jpg', 3,
                             ['backbone.layer4'])
    assert 'another method (EigenCAM, LayerCAM), ' in line


def test_linear_probe_frozen_backbone_gives_the_maps_of_an_unfrozen_one(
        images):
    # The MoCo v3 linear-probe config freezes every stage of its ViT; its
    # constant GradCAM map (issue 20) came from the random weights, not
    # from the freezing: the engine freezes every parameter anyway.
    from mmpretrain.registry import MODELS

    def build(frozen_stages):
        torch.manual_seed(0)
        return MODELS.build(
            dict(
                type='ImageClassifier',
                backbone=dict(
                    type='MoCoV3ViT',
                    arch=_TINY_VIT_ARCH,
                    img_size=64,
                    patch_size=16,
                    stop_grad_conv1=frozen_stages > 0,
                    frozen_stages=frozen_stages,
                    norm_eval=True),
                head=dict(
                    type='VisionTransformerClsHead',
                    num_classes=10,
                    in_channels=32))).eval()

    inputs = images(2, 64, 64)
    frozen, unfrozen = build(2), build(-1)
    assert not any(p.requires_grad for p in frozen.backbone.parameters())
    for method in ('GradCAM', 'LayerCAM'):
        np.testing.assert_array_equal(
            CAMEngine(frozen, method=method)(inputs).heatmaps,
            CAMEngine(unfrozen, method=method)(inputs).heatmaps)
