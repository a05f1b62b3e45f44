"""CAM settings are validated in one place, with one-line errors."""
import pytest
import torch

from mmcam.cam import (CAMError, CAMSettings, infer_token_grid,
                       tokens_to_feature_map)


def test_defaults_and_normalisation():
    settings = CAMSettings(
        method='gradcam++', target_layers='backbone.x', target_category='3, 5')
    assert settings.method == 'GradCAMPlusPlus'
    assert settings.target_layers == ['backbone.x']
    assert settings.target_category == [3, 5]
    assert CAMSettings(target_category=7).target_category == [7]
    assert CAMSettings(target_category='GT').target_category == 'gt'
    assert CAMSettings(target_category=[]).target_category is None


@pytest.mark.parametrize('kwargs,message', [
    (dict(method='nope'), "unknown CAM method 'nope'"),
    (dict(topk=0), 'topk must be a positive integer, got 0'),
    (dict(topk=2, target_category=[1]), 'either topk or target categories'),
    (dict(target_category=['cat']), "target category 'cat'"),
    (dict(target_category=[-1]), 'target category -1 is negative'),
    (dict(num_extra_tokens=-1), 'num_extra_tokens'),
    (dict(batch_size=0), 'batch_size'),
    (dict(eigen_smooth='maybe'), "eigen_smooth must be True or False, got "
     "'maybe'"),
    (dict(aug_smooth='false'), 'aug_smooth must be True or False'),
    (dict(vit_like=1), 'vit_like must be True or False, got 1'),
])
def test_bad_values_name_themselves(kwargs, message):
    with pytest.raises(CAMError, match=message):
        CAMSettings(**kwargs)


def test_unknown_keys_are_named():
    with pytest.raises(CAMError, match='unknown CAM setting.*methd'):
        CAMSettings.from_kwargs(methd='GradCAM')


def test_token_grid_follows_the_input_aspect_ratio():
    assert infer_token_grid(196, (224, 224)) == (14, 14)
    assert infer_token_grid(280, (224, 320)) == (14, 20)
    assert infer_token_grid(70, (224, 320)) == (7, 10)  # Swin, stride 32
    with pytest.raises(CAMError, match='num_extra_tokens'):
        infer_token_grid(13, (224, 224))


def test_tokens_land_where_their_patches_are():
    batch, h, w, channels = 2, 3, 5, 4
    patches = torch.arange(h * w, dtype=torch.float32)
    tokens = patches[None, :, None].expand(batch, h * w, channels)
    cls = torch.full((batch, 1, channels), -1.0)
    feature_map = tokens_to_feature_map(
        torch.cat([cls, tokens], dim=1), (48, 80), num_extra_tokens=1)
    assert feature_map.shape == (batch, channels, h, w)
    # Row-major patch order: patch (row, col) is token row * w + col.
    assert feature_map[0, 0, 2, 4] == 2 * w + 4
    assert feature_map[1, 3, 1, 0] == 1 * w


def test_heatmaps_per_sample():
    assert CAMSettings().heatmaps_per_sample == 1
    assert CAMSettings(target_category='gt').heatmaps_per_sample == 1
    assert CAMSettings(target_category=[3, 5, 7]).heatmaps_per_sample == 3
    assert CAMSettings(topk=4).heatmaps_per_sample == 4
