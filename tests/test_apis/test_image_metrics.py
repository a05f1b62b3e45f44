"""ImageMetrics and ImageSample on their own, without an inferencer."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpretrain.apis import get_model

from mmcam.apis.image_metrics import ImageMetrics, input_region
from mmcam.apis.image_sample import ImageSample, sample_error
from mmcam.cam import CAMEngine, CAMError, CAMResult
from mmcam.evaluation import CAMQuality, values_per_image
from mmcam.utils import InputGeometry


@pytest.fixture(scope='module')
def engine(tiny_resnet):
    config, checkpoint = tiny_resnet
    model = get_model(Config.fromfile(str(config)), str(checkpoint))
    return CAMEngine(model, method='GradCAM')


def _sample(index, height, width, geometry=None, source=None):
    inputs = torch.zeros(3, height, width, dtype=torch.uint8)
    return ImageSample(
        index,
        source if source is not None else np.zeros((height, width, 3)),
        packed=dict(inputs=inputs),
        geometry=geometry)


def test_a_sample_is_named_by_its_path_or_its_index():
    from_file = ImageSample(0, 'photos/cat.jpg')
    from_array = _sample(3, 40, 64)
    assert (from_file.path, from_file.stem,
            from_file.name) == ('photos/cat.jpg', 'cat', 'photos/cat.jpg')
    assert (from_array.path, from_array.stem,
            from_array.name) == (None, 'image3', 'array 3')
    assert from_array.input_size == (40, 64)
    assert sample_error(from_array, 'could not load', OSError('gone')) == \
        "could not load image 'array 3': OSError: gone"
    assert sample_error(from_file, 'no heatmap for',
                        CAMError('own line')) == 'own line'


def test_each_image_is_measured_on_its_own_part_of_the_padded_batch(engine):
    metrics = ImageMetrics(engine, ['avg_drop', 'deletion_auc'], dict(steps=4))
    quality = metrics.configured()
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(3, 3, 64, 64, generator=generator)
    heatmaps = torch.rand(3, 1, 64, 64, generator=generator).numpy()
    categories = np.array([[0], [1], [2]])
    # The second image is 48 rows high, padded to 64 in the batch.
    samples = [_sample(0, 64, 64), _sample(1, 48, 64), _sample(2, 64, 64)]
    measured = metrics.measure(quality, samples, inputs, heatmaps, categories,
                               None)
    alone = values_per_image(
        quality(inputs[1:2, :, :48], heatmaps[1:2, :, :48],
                categories[1:2]))[0]
    together = values_per_image(
        quality(inputs[[0, 2]], heatmaps[[0, 2]], categories[[0, 2]]))
    for got, expected in zip(measured, [together[0], alone, together[1]]):
        assert list(got) == list(expected)
        for name in expected:
            np.testing.assert_allclose(got[name], expected[name], rtol=1e-5)


def test_boxes_are_placed_on_the_network_input():
    # The image was halved: a box of the image covers half its pixels.
    halved = InputGeometry((80, 120), (40, 60), 0.5, 0.5)
    boxes = [np.array([[10, 20, 50, 60]]), None, np.zeros((0, 4))]
    region = input_region(_sample(0, 40, 60, halved), boxes)
    np.testing.assert_allclose(region.bboxes, [[5, 10, 25, 30]])
    assert input_region(_sample(1, 40, 60, halved), boxes) is None
    assert input_region(_sample(2, 40, 60, halved), boxes) is None
    with pytest.raises(
            CAMError, match="image 'cat': the test pipeline "
            'cannot be inverted'):
        input_region(_sample(0, 40, 60, None, 'cat.jpg'), boxes)


def test_a_call_is_checked_before_any_work(engine):
    metrics = ImageMetrics(engine, False)
    assert metrics.configured() is None and metrics.for_call(False) is None
    with pytest.raises(
            CAMError, match='gt_bboxes has 1 entries for 2 '
            'image'):
        metrics.check_call(None, 2, [None])
    with pytest.raises(CAMError, match=r'gt_bboxes\[1\]'):
        metrics.check_call(None, 2, [None, [1, 2]])
    pointing = metrics.for_call(['pointing_game'])
    assert isinstance(pointing, CAMQuality)
    assert metrics.for_call(['pointing_game']) is not pointing
    with pytest.raises(
            CAMError, match="metric 'pointing_game' needs "
            'ground-truth regions'):
        metrics.check_call(pointing, 1, None)
    metrics.check_call(pointing, 1, [np.array([[0, 0, 4, 4]])])


def test_the_configured_measurer_is_kept(engine):
    metrics = ImageMetrics(engine, ['avg_drop'], dict(steps=4))
    assert metrics.configured() is metrics.configured()
    with pytest.raises(CAMError, match="unknown metric option 'step'"):
        ImageMetrics.check_arguments(True, dict(step=4))


def test_a_failing_measurement_names_the_images(engine, monkeypatch):

    def fail(*args, **kwargs):
        raise ValueError('broken')

    monkeypatch.setattr(CAMQuality, '__call__', fail)
    metrics = ImageMetrics(engine, ['avg_drop'])
    samples = [_sample(0, 8, 8, source='a.jpg'), _sample(1, 8, 8)]
    with pytest.raises(
            CAMError,
            match="could not measure the heatmaps of image 'a.jpg', "
            "'array 1': ValueError: broken"):
        metrics.measure(metrics.configured(), samples, torch.zeros(2, 3, 8, 8),
                        np.zeros((2, 1, 8, 8)), np.zeros((2, 1), int), None)


def _batch_result():
    """The engine's result for two images padded to 8x8, 2 maps each."""
    heatmaps = np.random.default_rng(0).random((2, 2, 8, 8), np.float32)
    return CAMResult(
        heatmaps=heatmaps,
        categories=np.array([[3, 1], [0, 2]]),
        scores=np.array([[0.5, 0.2], [0.4, 0.3]]),
        pred_scores=np.array([[0.1, 0.2, 0.0, 0.5, 0.2],
                              [0.4, 0.0, 0.3, 0.1, 0.2]]),
        target_layers=['backbone.layer4'],
        method='GradCAM')


def test_a_sample_takes_its_own_part_of_the_padded_batch():
    result = _batch_result()
    # A 12x16 image halved onto a 6x8 input; padded to 8x8 in the batch.
    halved = InputGeometry((12, 16), (6, 8), 0.5, 0.5)
    sample = _sample(1, 6, 8, halved)
    sample.image = np.zeros((12, 16, 3), np.uint8)
    sample.take_result(result, 1, lambda c: f'class {c}', 'a note')
    prediction = sample.prediction
    np.testing.assert_array_equal(prediction['input_heatmaps'],
                                  result.heatmaps[1, :, :6, :8])
    assert prediction['heatmaps'].shape == (2, 12, 16)
    np.testing.assert_allclose(prediction['heatmaps'],
                               halved.to_image(result.heatmaps[1, :, :6]))
    assert prediction['categories'] == [0, 2]
    assert prediction['class_names'] == ['class 0', 'class 2']
    assert (prediction['pred_label'], prediction['pred_class'],
            prediction['pred_score']) == (0, 'class 0', 0.4)
    assert prediction['scores'].dtype == np.float32
    assert (prediction['method'], prediction['target_layers'],
            prediction['note']) == ('GradCAM', ['backbone.layer4'], 'a note')
    canvas, heatmaps, outside = sample.drawing_ground()
    assert canvas.shape == (12, 16, 3) and heatmaps is prediction['heatmaps']
    assert outside.shape == (12, 16) and not outside.any()


def test_without_inversion_pictures_are_drawn_on_the_network_input():
    sample = _sample(0, 8, 8, None)
    sample.take_result(_batch_result(), 0, str, None)
    assert sample.prediction['heatmaps'] is None
    assert sample.prediction['input_region'] is None
    canvas, heatmaps, outside = sample.drawing_ground()
    assert canvas.shape == (8, 8, 3) and outside is None
    assert heatmaps is sample.prediction['input_heatmaps']
