"""AttentionRollout and GAE: every global-attention family runs through the
engine and the API, the attention read is the model's own, and other
models are refused before any work."""
import numpy as np
import pytest
import torch

from mmcam.cam import CAMEngine, CAMError, CAMSettings
from mmcam.cam.attention import AttentionRecorder, attention_blocks
from mmcam.cam.attention_cam import (discard_lowest, fuse_heads, rollout_step)

NUM_CLASSES = 4
_ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def _vit_head(dims=32):
    return dict(
        type='VisionTransformerClsHead',
        num_classes=NUM_CLASSES,
        in_channels=dims)


def _linear_head(dims=32):
    return dict(
        type='LinearClsHead', num_classes=NUM_CLASSES, in_channels=dims)


# The smallest config of each global-attention family, at 32x48 (a 4x6 grid
# of 8-pixel patches; T2T-ViT, built square, gets 2x3 of its 16-pixel
# tokens).
FAMILIES = {
    'vit':
    dict(
        backbone=dict(
            type='VisionTransformer',
            arch=_ARCH,
            img_size=(32, 48),
            patch_size=8),
        head=_vit_head()),
    # CLIP fine-tunes: pre-norm, no bias on the patch projection.
    'vit_clip':
    dict(
        backbone=dict(
            type='VisionTransformer',
            arch=_ARCH,
            img_size=(32, 48),
            patch_size=8,
            pre_norm=True,
            patch_cfg=dict(bias=False)),
        head=_vit_head()),
    # MAE fine-tunes: the mean of the patch tokens, no class token read.
    'vit_avg_pool':
    dict(
        backbone=dict(
            type='VisionTransformer',
            arch=_ARCH,
            img_size=(32, 48),
            patch_size=8,
            out_type='avg_featmap',
            final_norm=False),
        neck=None,
        head=_linear_head()),
    'deit_distilled':
    dict(
        backbone=dict(
            type='DistilledVisionTransformer',
            arch=_ARCH,
            img_size=(32, 48),
            patch_size=8),
        head=dict(type='DeiTClsHead', num_classes=NUM_CLASSES,
                  in_channels=32)),
    'deit3':
    dict(
        backbone=dict(
            type='DeiT3', arch=_ARCH, img_size=(32, 48), patch_size=8),
        head=_vit_head()),
    'beit':
    dict(
        backbone=dict(
            type='BEiTViT',
            arch=_ARCH,
            img_size=(32, 48),
            patch_size=8,
            use_rel_pos_bias=True,
            use_abs_pos_emb=False,
            layer_scale_init_value=0.1),
        neck=None,
        head=_linear_head()),
    'eva02':
    dict(
        backbone=dict(
            type='ViTEVA02',
            arch=dict(_ARCH, feedforward_channels=48),
            img_size=(32, 48),
            patch_size=8,
            out_type='avg_featmap'),
        neck=None,
        head=_linear_head()),
    't2t_vit':
    dict(
        backbone=dict(
            type='T2T_ViT',
            img_size=32,
            embed_dims=32,
            num_layers=2,
            layer_cfgs=dict(num_heads=2, feedforward_channels=64),
            t2t_cfg=dict(token_dims=16)),
        head=_vit_head()),
}


@pytest.fixture(scope='module')
def family():
    from mmpretrain.registry import MODELS
    cache = {}

    def build(name, seed=0):
        if name not in cache:
            torch.manual_seed(seed)
            model = MODELS.build(
                dict(type='ImageClassifier', **FAMILIES[name]))
            cache[name] = model.eval()
        return cache[name]

    return build


def _batch(seed=0, batch=2):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, 32, 48, generator=generator)


@pytest.mark.parametrize('name', sorted(FAMILIES))
def test_both_methods_run_on_every_family(family, name):
    model = family(name)
    inputs = _batch()
    blocks = attention_blocks(model, 'GAE')
    assert len(blocks) == 2
    for method in ('AttentionRollout', 'GAE'):
        # Nothing discarded: with the default 90 %, a random model's class
        # token can lose all its attention to patches, and its map is
        # blank (a trained one attends to some patches strongly).
        result = CAMEngine(
            model, method=method, topk=2, discard_ratio=0.0)(
                inputs)
        assert result.heatmaps.shape == (2, 2, 32, 48)
        assert result.method == method
        assert result.target_layers == [n for n, _ in blocks]
        assert np.isfinite(result.heatmaps).all()
        assert result.heatmaps.min() >= 0 and result.heatmaps.max() <= 1
        # Not blank: every map spans [0, 1].
        assert (result.heatmaps.reshape(4, -1).max(1) == 1).all()
        if method == 'AttentionRollout':
            # Class-agnostic: both classes get the same map.
            np.testing.assert_array_equal(result.heatmaps[:, 0],
                                          result.heatmaps[:, 1])


@pytest.mark.parametrize('name', sorted(FAMILIES))
def test_reading_attention_leaves_logits_unchanged(family, name):
    model = family(name)
    inputs = _batch(seed=1)
    with torch.no_grad():
        plain = model(inputs, mode='tensor')
        read = []
        blocks = attention_blocks(model, 'AttentionRollout')
        with AttentionRecorder(blocks, lambda i, p: read.append(p)):
            recorded = model(inputs, mode='tensor')
        after = model(inputs, mode='tensor')
    torch.testing.assert_close(recorded, plain, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(after, plain, rtol=0, atol=0)
    assert len(read) == 2
    for probs in read:
        assert probs.shape[:2] == (2, 2)
        torch.testing.assert_close(probs.sum(-1), torch.ones(probs.shape[:-1]))


def test_python_attention_function_is_reproduced_as_is():
    # With qk_scale, mmpretrain's MultiheadAttention runs its Python
    # attention function, which divides by the scale; the recorder must
    # give the same output, not the textbook one.
    from mmpretrain.models.utils import MultiheadAttention
    torch.manual_seed(0)
    attention = MultiheadAttention(16, 2, qk_scale=0.3).eval()
    tokens = torch.randn(2, 5, 16)
    with torch.no_grad():
        plain = attention(tokens)
        with AttentionRecorder([('attn', attention)], lambda i, p: None):
            recorded = attention(tokens)
    torch.testing.assert_close(recorded, plain, rtol=1e-5, atol=1e-6)


def test_a_scale_given_in_the_call_is_honoured():
    # Subclasses such as PromptMultiheadAttention call the attention
    # function themselves; a scale they pass must count.
    import torch.nn.functional as F
    from mmpretrain.models.utils import MultiheadAttention
    attention = MultiheadAttention(16, 2).eval()
    generator = torch.Generator().manual_seed(0)
    q, k, v = torch.randn(3, 2, 2, 5, 8, generator=generator)
    with torch.no_grad(), AttentionRecorder([('attn', attention)],
                                            lambda i, p: None):
        recorded = attention.scaled_dot_product_attention(q, k, v, scale=0.1)
    torch.testing.assert_close(
        recorded,
        F.scaled_dot_product_attention(q, k, v, scale=0.1),
        rtol=1e-5,
        atol=1e-6)


def _manual_maps(model, inputs, method, category):
    """The papers' formulas written out on attention read by hand."""
    blocks = attention_blocks(model, method)
    probs = []

    def keep(index, p):
        p = p if p.requires_grad else p.detach().requires_grad_(True)
        probs.append(p)
        return p

    with torch.enable_grad(), AttentionRecorder(blocks, keep):
        logits = model(inputs, mode='tensor')
    tokens = probs[0].shape[-1]
    eye = torch.eye(tokens)
    relevance = eye.expand(inputs.shape[0], tokens, tokens)
    if method == 'GAE':
        grads = torch.autograd.grad(logits[:, category].sum(), probs)
        for p, g in zip(probs, grads):
            cam = (g * p).clamp(min=0).mean(1)
            relevance = relevance + cam @ relevance
    else:
        for p in probs:
            a = p.detach().mean(1) + eye
            a = a / a.sum(-1, keepdim=True)
            relevance = a @ relevance
    return relevance[:, 0, 1:]


@pytest.mark.parametrize('method', ['AttentionRollout', 'GAE'])
def test_maps_follow_the_papers_formulas(family, method):
    model = family('vit')
    inputs = _batch(seed=2)
    result = CAMEngine(
        model, method=method, target_category=3, discard_ratio=0.0)(
            inputs)
    expected = _manual_maps(model, inputs, method, 3).reshape(2, 1, 4, 6)
    expected = torch.nn.functional.interpolate(
        expected, size=(32, 48), mode='bilinear', align_corners=False)[:, 0]
    flat = expected.reshape(2, -1)
    expected = (expected - flat.min(1).values[:, None, None]) / (
        flat.max(1).values - flat.min(1).values)[:, None, None]
    np.testing.assert_allclose(
        result.heatmaps[:, 0], expected.detach().numpy(), atol=1e-5)


def test_gae_is_class_specific(family):
    result = CAMEngine(
        family('vit'), method='GAE', target_category=[0, 1])(
            _batch())
    assert not np.allclose(result.heatmaps[:, 0], result.heatmaps[:, 1])


def test_rollout_options_change_the_map(family):
    model = family('vit')
    inputs = _batch()
    base = CAMEngine(model, method='AttentionRollout')(inputs).heatmaps
    for options in (dict(head_fusion='max'), dict(discard_ratio=0.0)):
        other = CAMEngine(
            model, method='AttentionRollout', **options)(inputs).heatmaps
        assert not np.allclose(base, other)


def test_fusion_and_discard_helpers():
    probs = torch.tensor([[[[0.2, 0.8], [0.5, 0.5]], [[0.6, 0.4], [0.1,
                                                                   0.9]]]])
    torch.testing.assert_close(
        fuse_heads(probs, 'max'), torch.tensor([[[0.6, 0.8], [0.5, 0.9]]]))
    torch.testing.assert_close(
        fuse_heads(probs, 'min'), torch.tensor([[[0.2, 0.4], [0.1, 0.5]]]))
    fused = torch.tensor([[[0.1, 0.2], [0.3, 0.4]]])
    # The lowest half goes, but never the first token's own attention.
    torch.testing.assert_close(
        discard_lowest(fused, 0.5), torch.tensor([[[0.1, 0.0], [0.3, 0.4]]]))
    step = rollout_step(None, torch.tensor([[[0.0, 1.0], [1.0, 0.0]]]))
    torch.testing.assert_close(step, torch.full((1, 2, 2), 0.5))


@pytest.mark.parametrize('name', ['resnet', 'swin', 'convnext'])
def test_models_without_global_attention_are_refused_up_front(
        classifier, name):
    model = classifier(name)
    forwards = []
    handle = model.register_forward_pre_hook(lambda *args: forwards.append(1))
    for method in ('AttentionRollout', 'GAE'):
        with pytest.raises(CAMError) as error:
            CAMEngine(model, method=method)
        message = str(error.value)
        assert method in message
        assert type(model.backbone).__name__ in message
        assert 'GradCAM' in message
        assert '\n' not in message
    handle.remove()
    assert not forwards  # refused before any work


def test_a_failing_forward_leaves_the_model_as_it_was(family):
    model = family('vit')
    blocks = attention_blocks(model, 'GAE')
    original = [m.scaled_dot_product_attention for _, m in blocks]

    def fail(index, probs):
        raise RuntimeError('stop')

    with pytest.raises(RuntimeError, match='stop'):
        with AttentionRecorder(blocks, fail):
            model(_batch(), mode='tensor')
    assert [m.scaled_dot_product_attention for _, m in blocks] == original
    assert all('scaled_dot_product_attention' in vars(m) for _, m in blocks)


@pytest.mark.parametrize('settings, bad', [
    (dict(head_fusion='median'), 'median'),
    (dict(discard_ratio=1.0), '1.0'),
    (dict(discard_ratio='lots'), 'lots'),
    (dict(method='GAE', target_layers=['backbone.layers.0']), 'target_layers'),
    (dict(method='rollout', aug_smooth=True), 'aug_smooth'),
])
def test_bad_attention_settings_are_named(settings, bad):
    with pytest.raises(CAMError, match=bad):
        CAMSettings.from_kwargs(**settings)


def test_settings_accept_aliases_and_case():
    settings = CAMSettings(
        method='rollout', head_fusion='MAX', discard_ratio=0.9)
    assert (settings.method, settings.head_fusion,
            settings.discard_ratio) == ('AttentionRollout', 'max', 0.9)


def test_api_runs_attention_methods_on_a_picture(tiny_vit, test_images):
    from mmcam.apis import CAMInferencer
    config, checkpoint = tiny_vit
    for method in ('AttentionRollout', 'GAE'):
        inferencer = CAMInferencer(
            str(config),
            pretrained=str(checkpoint),
            method=method,
            head_fusion='max',
            show_progress=False,
            metrics=['deletion_auc'])
        result = inferencer(str(test_images['color']))[0]
        assert result['heatmaps'].shape == (1, 80, 100)
        assert 'deletion_auc' in result['metrics']


def test_api_refuses_a_cnn_before_any_image(tiny_resnet):
    from mmcam.apis import CAMInferencer
    config, checkpoint = tiny_resnet
    with pytest.raises(CAMError, match='GAE cannot explain ResNet'):
        CAMInferencer(str(config), pretrained=str(checkpoint), method='GAE')


def test_tool_runs_attention_methods_and_names_bad_options(
        load_tool, tiny_vit, tiny_resnet, test_images, tmp_path, capsys):
    from pathlib import Path
    vis_cam = load_tool(
        Path(__file__).resolve().parents[2] / 'tools' / 'vis_cam.py')
    config, checkpoint = tiny_vit
    image = str(test_images['wide'])
    assert vis_cam.main([
        image,
        str(config),
        str(checkpoint), '--method', 'rollout', '--head-fusion', 'min',
        '--discard-ratio', '0.5', '--save-path',
        str(tmp_path), '--save-raw'
    ]) == 0
    assert 'AttentionRollout' in capsys.readouterr().out
    maps = list(tmp_path.glob('wide_attentionrollout*.npy'))
    assert len(maps) == 1 and np.load(maps[0]).shape == (60, 120)
    assert vis_cam.main([
        image,
        str(config),
        str(checkpoint), '--method', 'GAE', '--head-fusion', 'median',
        '--save-path',
        str(tmp_path)
    ]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "got 'median'" in err[0]
    config, checkpoint = tiny_resnet
    assert vis_cam.main([
        image,
        str(config),
        str(checkpoint), '--method', 'GAE', '--save-path',
        str(tmp_path)
    ]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: GAE cannot explain')


def test_list_methods_shows_the_attention_family(load_tool, capsys):
    from pathlib import Path
    vis_cam = load_tool(
        Path(__file__).resolve().parents[2] / 'tools' / 'vis_cam.py')
    with pytest.raises(SystemExit):
        vis_cam.main(['--list-methods'])
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split()[:2] == ['AttentionRollout', 'attention']
               for line in lines)
    assert any(line.split()[:2] == ['GAE', 'attention'] for line in lines)
