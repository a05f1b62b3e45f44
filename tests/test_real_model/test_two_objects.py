"""A photo with two objects: each class's heatmap lies on its own object.

The cat photo and the coffee photo side by side go through the whole-image
config (no center crop, so both stay in view). A heatmap's share of mass on
the half that holds its object, measured (tiger cat / espresso):
GradCAM 0.95 / 0.92, GradCAM++ 0.79 / 0.72, LayerCAM 0.76 / 0.67,
ScoreCAM 0.89 / 0.81. At the default layer (after the last norm and its
ReLU6, just before global pooling) GradCAM, XGradCAM and HiResCAM are the
same map: the gradient there is the class's fc weight, uniform in space.
"""
import numpy as np
import pytest
from lite0_paths import WHOLE_IMAGE_CONFIG

from mmcam.cam import CAMEngine

TIGER_CAT, ESPRESSO = 282, 967


def mass_on_each_half(heatmap: np.ndarray, split: int):
    total = heatmap.sum()
    return heatmap[:, :split].sum() / total, heatmap[:, split:].sum() / total


@pytest.fixture(scope='module')
def two_object_input(cat_and_coffee, network_input):
    import cv2
    path, coffee_starts = cat_and_coffee
    inputs = network_input(path, WHOLE_IMAGE_CONFIG)
    width = cv2.imread(str(path)).shape[1]
    split = round(inputs.shape[-1] * coffee_starts / width)
    return inputs, split


@pytest.mark.parametrize('method, threshold', [('GradCAM', 0.8),
                                               ('GradCAM++', 0.6)])
def test_each_class_heatmap_lies_on_its_object(lite0_model, two_object_input,
                                               method, threshold):
    inputs, split = two_object_input
    # The whole composite is seen: 256 high, about three times as wide.
    assert inputs.shape[-2] == 256 and inputs.shape[-1] > 700

    result = CAMEngine(
        lite0_model, method=method)(
            inputs, target_category=[TIGER_CAT, ESPRESSO])

    assert list(result.categories[0]) == [TIGER_CAT, ESPRESSO]
    cat_map, coffee_map = result.heatmaps[0]
    cat_on_cat, _ = mass_on_each_half(cat_map, split)
    _, coffee_on_coffee = mass_on_each_half(coffee_map, split)
    assert cat_on_cat > threshold, cat_on_cat
    assert coffee_on_coffee > threshold, coffee_on_coffee


def test_both_objects_rank_among_the_top_classes(lite0_model,
                                                 two_object_input):
    inputs, _ = two_object_input
    result = CAMEngine(lite0_model, topk=5)(inputs)
    top5 = set(result.categories[0])
    assert ESPRESSO in top5
    assert top5 & {281, 282, 285}
