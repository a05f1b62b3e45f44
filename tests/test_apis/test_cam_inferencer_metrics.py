"""CAMInferencer(metrics=...): per-class metrics in each result."""
import numpy as np
import pytest

from mmcam.apis import CAMInferencer
from mmcam.cam import CAMError
from mmcam.evaluation import CAMQuality

FAITHFULNESS = ['avg_drop', 'increase', 'deletion_auc', 'insertion_auc']


@pytest.fixture(scope='module')
def measuring(tiny_resnet):
    config, checkpoint = tiny_resnet
    return CAMInferencer(
        str(config),
        pretrained=str(checkpoint),
        device='cpu',
        topk=2,
        # Not the default layer4: there one of the two maps of the colour
        # image is blank on these random weights (nowhere positive), and
        # the energy pointing game of a blank map is not a number.
        target_layers='backbone.layer4.1.bn2',
        metrics=True,
        metric_cfg=dict(steps=5))


def test_results_carry_one_value_per_class(measuring, test_images):
    images = [str(test_images['color']), str(test_images['wide'])]
    results = measuring(images, batch_size=2)
    for result in results:
        metrics = result['metrics']
        assert list(metrics) == FAITHFULNESS
        for value in metrics.values():
            assert value.shape == (2, ) and value.dtype == np.float32
    # Batching changes nothing.
    alone = measuring(images[1])[0]['metrics']
    for name in FAITHFULNESS:
        np.testing.assert_allclose(
            alone[name], results[1]['metrics'][name], rtol=1e-5, atol=1e-6)


def test_values_are_the_measurer_s_on_the_network_input(
        measuring, test_images):
    result = measuring(str(test_images['color']))[0]
    sample = next(measuring.preprocess([str(test_images['color'])]))[0]
    inputs = measuring.model.data_preprocessor(
        dict(inputs=[sample.packed['inputs']]), False)['inputs']
    direct = CAMQuality(
        measuring.engine, FAITHFULNESS,
        steps=5)(inputs, result['input_heatmaps'][None],
                 np.array([result['categories']]))
    for name in FAITHFULNESS:
        np.testing.assert_allclose(
            result['metrics'][name], direct[name][0], rtol=1e-6)


def test_per_call_choice_and_boxes(measuring, test_images):
    image = str(test_images['color'])
    assert 'metrics' not in measuring(image, metrics=False)[0]
    only = measuring(image, metrics=['avg_drop'])[0]['metrics']
    assert list(only) == ['avg_drop']
    # A box around the whole image contains every heatmap's maximum.
    height, width = 80, 100
    boxed = measuring(
        image,
        metrics=['pointing_game', 'energy_pointing_game'],
        gt_bboxes=[np.array([[0, 0, width, height]])])[0]['metrics']
    assert boxed['pointing_game'].tolist() == [1.0, 1.0]
    np.testing.assert_allclose(boxed['energy_pointing_game'], 1.0, rtol=1e-6)


def test_bad_metric_requests_are_one_line_errors(measuring, tiny_resnet,
                                                 test_images):
    config, checkpoint = tiny_resnet
    with pytest.raises(CAMError, match="unknown metric 'auc'; available"):
        CAMInferencer(str(config), pretrained=str(checkpoint), metrics='auc')
    image = str(test_images['color'])
    with pytest.raises(CAMError, match="'pointing_game' needs ground-truth"):
        measuring(image, metrics=['pointing_game'])
    with pytest.raises(CAMError, match='gt_bboxes has 2 entries for 1'):
        measuring(image, gt_bboxes=[None, None])
