"""CAMInferencer(metrics=...): per-class metrics in each result."""
import numpy as np
import pytest

from mmcam.apis import CAMInferencer
from mmcam.cam import CAMError
from mmcam.evaluation import CAMQuality

FAITHFULNESS = ['avg_drop', 'increase', 'deletion_auc', 'insertion_auc']
# Each curve's area, then the class probability on its substrate image.
REPORTED = [
    'avg_drop', 'increase', 'deletion_auc', 'deletion_substrate_prob',
    'insertion_auc', 'insertion_substrate_prob'
]


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
        assert list(metrics) == REPORTED
        for value in metrics.values():
            assert value.shape == (2, ) and value.dtype == np.float32
    # Batching changes nothing.
    alone = measuring(images[1])[0]['metrics']
    for name in REPORTED:
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


def test_substrate_options_and_the_probability_on_the_substrate(
        tiny_resnet, test_images):
    import torch

    from mmcam.evaluation import PixelSpace
    config, checkpoint = tiny_resnet
    inferencer = CAMInferencer(
        str(config),
        pretrained=str(checkpoint),
        device='cpu',
        metrics=['insertion_auc', 'deletion_auc'],
        metric_cfg=dict(
            steps=4, insertion_substrate='black', deletion_substrate='mean'))
    result = inferencer(str(test_images['color']))[0]
    metrics = result['metrics']
    assert list(metrics) == [
        'insertion_auc', 'insertion_substrate_prob', 'deletion_auc',
        'deletion_substrate_prob'
    ]
    # Insertion starts from black pixels, normalized for the network.
    space = PixelSpace.of_model(inferencer.model)
    black = space.to_inputs(
        torch.zeros(1, 3, *result['input_heatmaps'].shape[-2:]))
    engine = inferencer.engine
    expected = engine.probabilities(engine.logits(black))[0,
                                                          result['categories']]
    np.testing.assert_allclose(
        metrics['insertion_substrate_prob'], expected.numpy(), rtol=1e-5)
    with pytest.raises(CAMError, match='metric deletion_substrate must be'):
        CAMInferencer(
            str(config),
            pretrained=str(checkpoint),
            metrics=True,
            metric_cfg=dict(deletion_substrate='white'))


def test_random_tie_break_reaches_the_measurer(tiny_resnet, test_images):
    config, checkpoint = tiny_resnet
    inferencer = CAMInferencer(
        str(config),
        pretrained=str(checkpoint),
        device='cpu',
        metrics=['deletion_auc'],
        metric_cfg=dict(steps=4, tie_break='random', seed=2))
    quality = inferencer._quality_for()
    assert (quality.tie_break, quality.seed) == ('random', 2)
    result = inferencer(str(test_images['color']))[0]
    sample = next(inferencer.preprocess([str(test_images['color'])]))[0]
    inputs = inferencer.model.data_preprocessor(
        dict(inputs=[sample.packed['inputs']]), False)['inputs']
    direct = CAMQuality(
        inferencer.engine, ['deletion_auc'],
        steps=4,
        tie_break='random',
        seed=2)(inputs, result['input_heatmaps'][None],
                np.array([result['categories']]))
    np.testing.assert_allclose(
        result['metrics']['deletion_auc'],
        direct['deletion_auc'][0],
        rtol=1e-6)


def test_baselines_in_results(tiny_resnet, test_images):
    config, checkpoint = tiny_resnet
    options = dict(steps=3, inverted=True, random_baseline=2, seed=1)
    inferencer = CAMInferencer(
        str(config),
        pretrained=str(checkpoint),
        device='cpu',
        topk=2,
        metrics=['insertion_auc'],
        metric_cfg=options)
    image = str(test_images['color'])
    result = inferencer(image)[0]
    assert list(result['metrics']) == [
        'insertion_auc', 'insertion_substrate_prob', 'inverted_insertion_auc',
        'random_insertion_auc', 'random_insertion_auc_std'
    ]
    sample = next(inferencer.preprocess([image]))[0]
    inputs = inferencer.model.data_preprocessor(
        dict(inputs=[sample.packed['inputs']]), False)['inputs']
    direct = CAMQuality(inferencer.engine, ['insertion_auc'],
                        **options)(inputs, result['input_heatmaps'][None],
                                   np.array([result['categories']]))
    for name, value in result['metrics'].items():
        np.testing.assert_allclose(value, direct[name][0], rtol=1e-6)


@pytest.mark.parametrize('boxes, message', [
    (np.array([[1, 2, 3]]), r'gt_bboxes\[0\] has shape \(1, 3\)'),
    (np.array([[0, 0, np.inf, 5]]), r'gt_bboxes\[0\] has values that are '
     'not finite'),
    ([['x', 0, 1, 1]], r'gt_bboxes\[0\] is not an array of numbers'),
])
def test_malformed_boxes_are_one_cam_error_before_any_work(
        measuring, test_images, boxes, message):
    """Also when images are reported one by one: the boxes are a bad
    argument, not an image without a heatmap."""
    image = str(test_images['color'])
    for on_bad_image in ('raise', 'report'):
        with pytest.raises(CAMError, match=message):
            measuring(
                image,
                metrics=['pointing_game'],
                gt_bboxes=[boxes],
                on_bad_image=on_bad_image)


def test_a_failing_measurement_is_not_called_a_missing_heatmap(
        measuring, test_images, monkeypatch):

    def fail(*args, **kwargs):
        raise RuntimeError('out of memory')

    monkeypatch.setattr(CAMQuality, '__call__', fail)
    image = str(test_images['color'])
    result = measuring(image, on_bad_image='report')[0]
    assert result['error'] == (f'could not measure the heatmaps of image '
                               f"'{image}': RuntimeError: out of memory")


def test_metrics_of_a_call_that_writes_one_file(measuring, test_images,
                                                tmp_path):
    """out_file counts the call's pictures from its categories; the
    call's metrics are no part of that count."""
    out_file = tmp_path / 'one.png'
    result = measuring(
        str(test_images['color']),
        out_file=str(out_file),
        target_category=1,
        metrics=['avg_drop'])[0]
    assert result['out_files'] == [str(out_file)] and out_file.is_file()
    assert list(result['metrics']) == ['avg_drop']
