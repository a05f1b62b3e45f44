"""Explanation-quality metrics in Runner loops: CAMHook measures,
CAMMetric averages, the loop logs ``cam/<name>``."""
import glob
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.runner import Runner
from mmpretrain.structures import DataSample
from runner_test_data import BLACK_SAMPLE, every

from mmcam.cam import CAMError
from mmcam.engine import CAMHook
from mmcam.evaluation import CAMMetric, CAMQuality, GroundTruthRegion

FAITHFULNESS = ['avg_drop', 'increase', 'deletion_auc', 'insertion_auc']
REPORTED = FAITHFULNESS + [
    'deletion_substrate_prob', 'insertion_substrate_prob'
]


def _with_metrics(cfg, tmp_path, **kwargs):
    hook = dict(
        type='CAMHook',
        interval=4,
        out_dir=str(tmp_path / 'cams'),
        metrics=True,
        metric_cfg=dict(steps=4))
    hook.update(kwargs)
    cfg.custom_hooks = [hook]
    return cfg


def test_test_loop_reports_the_mean_and_a_failing_sample_is_a_warning(
        tiny_cfg, tmp_path, monkeypatch):
    """The metric fails on the black image only: a warning names it, and
    the logged means are those of the other explained samples."""
    added = {}
    original_add = CAMMetric.add
    original_call = CAMQuality.__call__

    def record(metric, sample_idx, values):
        added[sample_idx] = values
        original_add(metric, sample_idx, values)

    def fail_on_black_image(quality, inputs, *args, **kwargs):
        if (inputs.flatten(2).std(dim=2).amax(dim=1) == 0).any():
            raise RuntimeError('an odd sample')
        return original_call(quality, inputs, *args, **kwargs)

    monkeypatch.setattr(CAMMetric, 'add', record)
    monkeypatch.setattr(CAMQuality, '__call__', fail_on_black_image)
    _with_metrics(tiny_cfg, tmp_path)
    runner = Runner.from_cfg(tiny_cfg)
    metrics = runner.test()

    assert sorted(added) == [i for i in every(4) if i != BLACK_SAMPLE]
    assert 'accuracy/top1' in metrics
    # No ground-truth regions: only the faithfulness metrics apply.
    assert sorted(k for k in metrics
                  if k.startswith('cam/')) == sorted(f'cam/{name}'
                                                     for name in REPORTED)
    for name in REPORTED:
        mean = np.mean([added[i][name] for i in added])
        assert metrics[f'cam/{name}'] == pytest.approx(mean, rel=1e-6)
    assert 0 <= metrics['cam/deletion_auc'] <= 1
    log = open(glob.glob(osp.join(runner.log_dir, '*.log'))[0]).read()
    warnings = [line for line in log.splitlines() if 'no metrics' in line]
    assert len(warnings) == 1
    assert f'test sample {BLACK_SAMPLE}' in warnings[0]
    assert 'an odd sample' in warnings[0]


def test_validation_logs_cam_metrics_beside_accuracy(tiny_cfg, tmp_path):
    _with_metrics(tiny_cfg, tmp_path, metrics=['insertion_auc'])
    # A CAMMetric listed in the config is the one the hook feeds.
    tiny_cfg.val_evaluator = [
        dict(type='Accuracy', topk=(1, )),
        dict(type='CAMMetric', prefix='quality')
    ]
    tiny_cfg.train_cfg.max_epochs = 1
    tiny_cfg.log_level = 'INFO'
    runner = Runner.from_cfg(tiny_cfg)
    runner.train()
    scalars = glob.glob(osp.join(runner.log_dir, 'vis_data', 'scalars.json'))
    lines = [json.loads(line) for line in open(scalars[0])]
    logged = [line for line in lines if 'quality/insertion_auc' in line]
    assert [line['step'] for line in logged] == [1]
    assert all('accuracy/top1' in line for line in logged)
    log = open(glob.glob(osp.join(runner.log_dir, '*.log'))[0]).read()
    assert 'quality/insertion_auc: ' in log


def test_localisation_without_ground_truth_fails_before_the_run(
        tiny_cfg, tmp_path):
    _with_metrics(tiny_cfg, tmp_path, metrics=['avg_drop', 'pointing_game'])
    runner = Runner.from_cfg(tiny_cfg)
    with pytest.raises(CAMError, match="'pointing_game' needs ground-truth"):
        runner.test()
    assert not glob.glob(str(tmp_path / 'cams' / 'test' / '*'))


def test_bad_metric_settings_fail_when_the_hook_is_built():
    with pytest.raises(CAMError, match="unknown metric 'drop'"):
        CAMHook(metrics=['drop'])
    with pytest.raises(CAMError, match="unknown metric option 'step'"):
        CAMHook(metrics=True, metric_cfg=dict(step=3))
    with pytest.raises(CAMError, match='steps must be a positive'):
        CAMHook(metrics=True, metric_cfg=dict(steps=0))


def test_every_sample_counts_once_across_processes():
    """Parts of two processes, one with a repeat of the other's sample,
    as ``collect_results`` hands them to the first process."""
    metric = CAMMetric()
    parts = [{
        0: dict(avg_drop=np.float32([10.0, 30.0])),
        2: dict(avg_drop=np.float32([20.0, 20.0]))
    }, {
        1: dict(avg_drop=np.float32([0.0, np.nan])),
        2: dict(avg_drop=np.float32([20.0, 20.0]))
    }]
    means = metric.compute_metrics(parts)
    assert means == pytest.approx(dict(avg_drop=(10 + 30 + 20 + 20 + 0) / 5))
    assert metric.compute_metrics([{}, {}]) == {}


def test_ground_truth_regions_of_data_samples():
    sample = DataSample(metainfo=dict(gt_bboxes=[[1, 2, 5, 6]]))
    region = GroundTruthRegion.of_data_sample(sample)
    mask = region.mask_for(3, (8, 8))
    assert mask.sum() == 16 and mask[2, 1] and not mask[6, 1]
    assert GroundTruthRegion.of_data_sample(DataSample()) is None
    masked = DataSample()
    masked.set_field(np.eye(4, dtype=bool), 'gt_mask')
    assert GroundTruthRegion.of_data_sample(masked).mask_for(0,
                                                             (4, 4)).sum() == 4


def test_substrate_options_reach_the_loop_s_metrics(tiny_cfg, tmp_path,
                                                    monkeypatch):
    import torch

    from mmcam.evaluation import PixelSpace
    added = {}
    original_add = CAMMetric.add

    def record(metric, sample_idx, values):
        added[sample_idx] = values
        original_add(metric, sample_idx, values)

    monkeypatch.setattr(CAMMetric, 'add', record)
    _with_metrics(
        tiny_cfg,
        tmp_path,
        metrics=['insertion_auc'],
        metric_cfg=dict(steps=2, insertion_substrate='black'))
    runner = Runner.from_cfg(tiny_cfg)
    metrics = runner.test()
    hook = next(h for h in runner.hooks if isinstance(h, CAMHook))
    # Every tiny image is 32x32, so the black substrate is one image: each
    # value is the probability of the explained class on it.
    engine = hook.engine
    black = PixelSpace.of_model(engine.model).to_inputs(
        torch.zeros(1, 3, 32, 32))
    probs = engine.probabilities(engine.logits(black))[0].numpy()
    values = [v['insertion_substrate_prob'][0] for v in added.values()]
    assert len(values) == len(every(4))
    for value in values:
        assert np.abs(probs - value).min() < 1e-6
    assert metrics['cam/insertion_substrate_prob'] == pytest.approx(
        np.mean(values), rel=1e-6)
    with pytest.raises(CAMError, match='metric insertion_substrate must be'):
        CAMHook(metrics=True, metric_cfg=dict(insertion_substrate='grey'))


def test_baselines_are_logged_beside_the_method(tiny_cfg, tmp_path):
    _with_metrics(
        tiny_cfg,
        tmp_path,
        metrics=['deletion_auc'],
        metric_cfg=dict(steps=2, inverted=True, random_baseline=2))
    metrics = Runner.from_cfg(tiny_cfg).test()
    assert sorted(k for k in metrics if k.startswith('cam/')) == [
        'cam/deletion_auc', 'cam/deletion_substrate_prob',
        'cam/inverted_deletion_auc', 'cam/random_deletion_auc',
        'cam/random_deletion_auc_std'
    ]
    assert metrics['cam/random_deletion_auc_std'] >= 0


def test_requested_localisation_that_vanishes_is_a_warning(
        tiny_cfg, tmp_path, monkeypatch):
    """Every sample's box is empty (zero area): pointing_game has no
    value to average. It is missing from the metrics, and the log says
    why, instead of it vanishing without a word."""
    from mmcv.transforms import BaseTransform
    from mmpretrain.registry import TRANSFORMS

    @TRANSFORMS.register_module(force=True)
    class EmptyBoxForCAMTest(BaseTransform):

        def transform(self, results):
            results['gt_bboxes'] = np.array([[5., 5., 5., 5.]])
            return results

    pipeline = tiny_cfg.test_dataloader.dataset.pipeline
    pipeline.insert(1, dict(type='EmptyBoxForCAMTest'))
    pipeline[-1] = dict(
        type='PackInputs',
        meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                   'gt_bboxes'))
    _with_metrics(tiny_cfg, tmp_path, metrics=['avg_drop', 'pointing_game'])
    runner = Runner.from_cfg(tiny_cfg)
    metrics = runner.test()
    assert 'cam/avg_drop' in metrics and 'cam/pointing_game' not in metrics
    log = open(glob.glob(osp.join(runner.log_dir, '*.log'))[0]).read()
    warnings = [line for line in log.splitlines() if 'CAMMetric' in line]
    assert len(warnings) == 1 and 'cam/pointing_game not logged' in warnings[0]


@pytest.mark.parametrize('boxes, shape', [([[1, 2, 5]], '(1, 3)'),
                                          ([1, 2, 5], '(3,)')])
def test_boxes_of_the_wrong_width_are_one_line_at_run_start(
        tiny_cfg, tmp_path, monkeypatch, boxes, shape):
    """Once, before the loop: it used to be a warning on every sample."""
    from mmcv.transforms import BaseTransform
    from mmpretrain.registry import TRANSFORMS

    from mmcam.cam import CAMEngine

    class AddBoxesForTest(BaseTransform):
        """Every sample gets the same ``gt_bboxes``."""

        def transform(self, results):
            results['gt_bboxes'] = np.asarray(boxes, np.float32)
            return results

    TRANSFORMS.register_module(module=AddBoxesForTest, force=True)
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='AddBoxesForTest'),
        dict(type='PackInputs', algorithm_keys=['gt_bboxes']),
    ]
    tiny_cfg.test_dataloader.dataset.pipeline = pipeline
    _with_metrics(tiny_cfg, tmp_path, metrics=['pointing_game'])
    explained = []
    monkeypatch.setattr(CAMEngine, '__call__',
                        lambda *args, **kwargs: explained.append(1))
    with pytest.raises(CAMError) as refused:
        Runner.from_cfg(tiny_cfg).test()
    assert str(refused.value) == (
        f'ground truth of sample 0 of the TestLoop: gt_bboxes has shape '
        f'{shape}; expected (N, 4) boxes x1, y1, x2, y2')
    assert not explained


def test_region_shapes():
    GroundTruthRegion(
        bboxes=np.zeros((2, 4)), labels=np.zeros(2), mask=np.zeros(
            (3, 3))).check_shapes('x')
    GroundTruthRegion(bboxes=np.zeros(4)).check_shapes('x')
    with pytest.raises(
            CAMError,
            match=r'gt_bbox_labels has shape \(3,\); '
            r'expected \(2,\), one class id per box'):
        GroundTruthRegion(
            bboxes=np.zeros((2, 4)), labels=np.zeros(3)).check_shapes('x')
    with pytest.raises(
            CAMError, match=r'gt_mask has shape \(3,\); '
            r'expected \(H, W\)'):
        GroundTruthRegion(mask=np.zeros(3)).check_shapes('x')
