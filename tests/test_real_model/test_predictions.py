"""The converted EfficientNet-Lite0 recognizes real photos, and the engine
picks a sensible default layer for it.

Measured on the demo photos through the config's test pipeline
(probabilities): cat: tiger cat 0.39, Egyptian cat 0.34, tabby 0.18;
coffee: espresso 0.95; cameraman: tripod 0.94.
"""
import numpy as np
import pytest
from lite0_paths import PHOTOS

from mmcam.cam import CAMEngine

# ImageNet's domestic cats: tabby, tiger cat, Persian, Siamese, Egyptian.
DOMESTIC_CATS = (281, 282, 283, 284, 285)
ESPRESSO, TRIPOD = 967, 872


@pytest.fixture(scope='module')
def engine(lite0_model):
    return CAMEngine(lite0_model, topk=3)


def test_default_target_layer_is_the_last_norm_at_7x7(engine):
    assert engine.target_layer_names == ['backbone.timm_model.bn2']
    records = {r.name: r for r in engine.record_layers((1, 3, 224, 224))}
    assert records['backbone.timm_model.bn2'].output_shape == (1, 1280, 7, 7)


def test_cat_photo_is_a_domestic_cat(engine, network_input):
    result = engine(network_input(PHOTOS / 'cat.jpg'))
    scores = result.pred_scores[0]
    assert int(np.argmax(scores)) in DOMESTIC_CATS
    assert scores[list(DOMESTIC_CATS)].sum() > 0.8
    # The three heatmaps explain the three most likely classes.
    assert set(result.categories[0]) <= set(DOMESTIC_CATS)
    assert result.heatmaps.shape == (1, 3, 224, 224)


def test_coffee_photo_is_an_espresso(engine, network_input):
    result = engine(network_input(PHOTOS / 'coffee.jpg'))
    assert result.categories[0][0] == ESPRESSO
    assert result.scores[0][0] > 0.85


def test_cameraman_photo_shows_a_tripod(engine, network_input):
    result = engine(network_input(PHOTOS / 'cameraman.jpg'))
    assert result.categories[0][0] == TRIPOD
    assert result.scores[0][0] > 0.85
