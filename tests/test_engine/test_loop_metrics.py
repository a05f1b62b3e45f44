"""LoopMetrics driven directly, without a Runner."""
import pytest
import torch
from mmengine.config import Config
from mmpretrain.apis import get_model
from mmpretrain.structures import DataSample

from mmcam.cam import CAMEngine, CAMError
from mmcam.engine.loop_metrics import LoopMetrics
from mmcam.engine.loop_samples import network_inputs
from mmcam.evaluation import CAMMetric, CAMQuality


class _Evaluator:
    """What CAMMetric.attach_to reads of a loop's evaluator."""

    def __init__(self):
        self.metrics = []
        self.dataset_meta = None


@pytest.fixture(scope='module')
def engine(tiny_resnet):
    config, checkpoint = tiny_resnet
    model = get_model(Config.fromfile(str(config)), str(checkpoint))
    return CAMEngine(model, method='GradCAM')


def _batch(rows: int) -> dict:
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randint(0, 256, (rows, 3, 32, 32), generator=generator)
    return dict(
        inputs=inputs.to(torch.uint8),
        data_samples=[DataSample() for _ in range(rows)])


def _explain(engine, data_batch):
    inputs, _ = network_inputs(engine.model, data_batch,
                               range(len(data_batch['inputs'])))
    result = engine(inputs)
    return [(result.heatmaps[k], result.categories[k], result.scores[k])
            for k in range(len(inputs))]


def test_feeds_the_loop_metric_and_names_a_failing_sample(engine, monkeypatch):
    metrics = LoopMetrics(engine, ['avg_drop'], dict(steps=4))
    evaluator = _Evaluator()
    data_batch = _batch(3)
    results = _explain(engine, data_batch)
    chosen = [(0, 10), (1, 11), (2, 12)]
    # Not attached to a loop yet: nothing to feed.
    metrics.measure(data_batch, chosen, results, None)
    metrics.attach_to(evaluator)
    assert [type(m) for m in evaluator.metrics] == [CAMMetric]

    added, failed = [], []
    original_add, original_call = CAMMetric.add, CAMQuality.__call__

    def record(metric, sample_idx, values):
        added.append(sample_idx)
        original_add(metric, sample_idx, values)

    def fail_on_second_row(quality, inputs, *args, **kwargs):
        # The batch fails as a whole, then each sample is tried alone.
        if len(inputs) > 1 or torch.equal(
                inputs[0],
                network_inputs(engine.model, data_batch, [1])[0][0]):
            raise RuntimeError('an odd sample')
        return original_call(quality, inputs, *args, **kwargs)

    monkeypatch.setattr(CAMMetric, 'add', record)
    monkeypatch.setattr(CAMQuality, '__call__', fail_on_second_row)
    results[2] = None  # its heatmap failed: not measured
    metrics.measure(data_batch, chosen, results,
                    lambda sample, error: failed.append((sample, str(error))))
    assert added == [10]
    assert failed == [((1, 11), 'an odd sample')]
    assert set(evaluator.metrics[0].evaluate(1)) == {'cam/avg_drop'}


def test_refuses_a_named_localisation_metric_without_regions(engine):
    metrics = LoopMetrics(engine, ['pointing_game'])
    dataset = [dict(inputs=torch.zeros(3, 32, 32), data_samples=DataSample())]
    with pytest.raises(CAMError, match='pointing_game'):
        metrics.check_ground_truth([('TestLoop', dataset)])


def test_unknown_metric_names_fail_before_any_model():
    with pytest.raises(CAMError, match='no_such_metric'):
        LoopMetrics.check_arguments(['no_such_metric'], None)
