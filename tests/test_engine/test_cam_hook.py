"""CAMHook inside Runner loops, in this process: tiny model, 8 images."""
import glob
import os
import os.path as osp

import cv2
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from runner_test_data import BLACK_SAMPLE, every

from mmcam.cam import CAMEngine, CAMError
from mmcam.engine import CAMHook


def _cam_hook(cfg, **kwargs):
    hook = dict(type='CAMHook', interval=1)
    hook.update(kwargs)
    cfg.custom_hooks = [hook]
    return cfg


def _pictures(folder):
    return sorted(osp.basename(p) for p in glob.glob(osp.join(folder, '*')))


def _log_text(work_dir):
    logs = glob.glob(osp.join(work_dir, '*', '*.log'))
    assert logs, f'no log file in {work_dir}'
    return ''.join(open(log).read() for log in logs)


def test_test_run_writes_one_picture_per_sample(tiny_cfg, tmp_path):
    out_dir = str(tmp_path / 'cams')
    _cam_hook(tiny_cfg, out_dir=out_dir)
    Runner.from_cfg(tiny_cfg).test()

    expected = [f'{i}_GradCAM_pred.png' for i in every(1)]
    assert _pictures(osp.join(out_dir, 'test')) == sorted(expected)
    picture = cv2.imread(osp.join(out_dir, 'test', '0_GradCAM_pred.png'))
    # The original beside one overlay, at least as large as the image.
    assert picture.shape[0] >= 32 and picture.shape[1] >= 2 * 32


def test_interval_category_and_method_name_the_files(tiny_cfg, tmp_path):
    out_dir = str(tmp_path / 'cams')
    _cam_hook(
        tiny_cfg,
        out_dir=out_dir,
        interval=3,
        method='GradCAM++',
        target_category='gt',
        target_layers=['backbone.layer3'])
    Runner.from_cfg(tiny_cfg).test()
    assert _pictures(osp.join(out_dir,
                              'test')) == sorted(f'{i}_GradCAMPlusPlus_gt.png'
                                                 for i in every(3))


def test_training_with_validation_ema_frozen_fp16(tiny_cfg, tmp_path):
    """Validation inside training, with EMA weights swapped in, a frozen
    stem and autocast validation; pictures per epoch, training goes on."""
    out_dir = str(tmp_path / 'cams')
    _cam_hook(tiny_cfg, out_dir=out_dir, interval=2, topk=2)
    tiny_cfg.custom_hooks.append(dict(type='EMAHook', momentum=0.5))
    tiny_cfg.model.backbone.frozen_stages = 1
    tiny_cfg.val_cfg = dict(fp16=True)
    runner = Runner.from_cfg(tiny_cfg)
    runner.train()

    for epoch in (1, 2):
        assert _pictures(osp.join(out_dir, f'val_epoch_{epoch}')) == sorted(
            f'{i}_GradCAM_top2.png' for i in every(2))
    assert osp.isfile(osp.join(tiny_cfg.work_dir, 'epoch_2.pth'))
    # The engine restored what it changed.
    model = runner.model
    assert not model.backbone.layer1[0].conv1.weight.requires_grad
    assert model.backbone.layer4[0].conv1.weight.requires_grad
    assert 'CAMHook: no heatmap' not in _log_text(tiny_cfg.work_dir)


def test_pictures_reach_vis_backends_with_epoch_as_step(tiny_cfg):
    _cam_hook(tiny_cfg, interval=4)
    tiny_cfg.train_cfg.max_epochs = 1
    runner = Runner.from_cfg(tiny_cfg)
    runner.train()
    images = glob.glob(
        osp.join(runner.log_dir, 'vis_data', 'vis_image', '*.png'))
    assert sorted(osp.basename(p)
                  for p in images) == sorted(f'cam_val_{i}_GradCAM_pred_1.png'
                                             for i in every(4))


def test_tensorboard_backend_receives_the_pictures(tiny_cfg):
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    _cam_hook(tiny_cfg, interval=3)
    tiny_cfg.visualizer = dict(
        type='CAMVisualizer',
        vis_backends=[dict(type='TensorboardVisBackend')])
    runner = Runner.from_cfg(tiny_cfg)
    runner.test()
    runner.visualizer.close()  # flushes the event file

    event_dir = osp.join(runner.log_dir, 'vis_data')
    events = glob.glob(osp.join(event_dir, 'events.out.tfevents.*'))
    assert events
    accumulator = EventAccumulator(event_dir, size_guidance={'images': 0})
    accumulator.Reload()
    tags = sorted(accumulator.Tags()['images'])
    assert tags == sorted(f'cam_test_{i}_GradCAM_pred' for i in every(3))
    image = accumulator.Images(tags[0])[0]
    # The 32x32 input is enlarged to 224 px, as with any other visualizer:
    # the original and one overlay side by side, captions above them.
    assert image.step == 0
    assert image.width >= 2 * 224 and image.height > 224


def test_unknown_layer_is_reported_when_the_run_starts(tiny_cfg):
    _cam_hook(tiny_cfg, target_layers=['backbone.layer9'])
    runner = Runner.from_cfg(tiny_cfg)
    seen_batches = []
    runner.register_hook(_BatchCounter(seen_batches))
    with pytest.raises(CAMError) as error:
        runner.test()
    message = str(error.value)
    assert message.startswith("unknown target layer 'backbone.layer9'")
    assert '\n' not in message
    assert seen_batches == []


def test_bad_settings_fail_when_the_hook_is_built():
    with pytest.raises(CAMError, match="unknown CAM method 'Nope'"):
        CAMHook(method='Nope')
    with pytest.raises(CAMError, match='interval'):
        CAMHook(interval=0)
    with pytest.raises(CAMError, match='phases'):
        CAMHook(phases=['train'])


class _BatchCounter(Hook):

    def __init__(self, seen):
        self.seen = seen

    def before_test_iter(self, runner, batch_idx, data_batch=None):
        self.seen.append(batch_idx)


@pytest.mark.parametrize('error, loop', [
    (RuntimeError('an odd sample'), 'train'),
    (torch.OutOfMemoryError('CUDA out of memory. Tried to allocate 2 GiB'),
     'test'),
])
def test_failing_sample_is_a_warning_and_the_run_goes_on(
        tiny_cfg, tmp_path, monkeypatch, error, loop):
    """The engine fails on the black image only; the other samples get
    their pictures, the run finishes, the log names the sample."""
    original_call = CAMEngine.__call__

    def fail_on_black_image(engine, inputs, **kwargs):
        # Each channel of a constant image is constant after normalization.
        if (inputs.flatten(2).std(dim=2).amax(dim=1) == 0).any():
            raise error
        return original_call(engine, inputs, **kwargs)

    monkeypatch.setattr(CAMEngine, '__call__', fail_on_black_image)
    out_dir = str(tmp_path / 'cams')
    _cam_hook(tiny_cfg, out_dir=out_dir)
    tiny_cfg.train_cfg.max_epochs = 1
    runner = Runner.from_cfg(tiny_cfg)
    if loop == 'train':
        runner.train()
        assert osp.isfile(osp.join(tiny_cfg.work_dir, 'epoch_1.pth'))
        phase, phase_dir = 'val', 'val_epoch_1'
    else:
        runner.test()
        phase, phase_dir = 'test', 'test'

    drawn = _pictures(osp.join(out_dir, phase_dir))
    assert drawn == sorted(f'{i}_GradCAM_pred.png' for i in every(1)
                           if i != BLACK_SAMPLE)
    log = _log_text(tiny_cfg.work_dir)
    warning = [line for line in log.splitlines() if 'CAMHook' in line]
    assert len(warning) == 1
    assert f'no heatmap for {phase} sample {BLACK_SAMPLE}' in warning[0]
    assert '9.png' in warning[0]
    assert type(error).__name__ in warning[0]


def test_hook_disabled_draws_nothing(tiny_cfg, tmp_path):
    out_dir = str(tmp_path / 'cams')
    _cam_hook(
        tiny_cfg,
        out_dir=out_dir,
        enable=False,
        target_layers=['backbone.not_checked_when_disabled'])
    Runner.from_cfg(tiny_cfg).test()
    assert not os.path.exists(out_dir)


def _wrapped_test_set(cfg, wrapper):
    inner = cfg.test_dataloader.dataset
    if wrapper == 'ConcatDataset':
        return dict(type='ConcatDataset', datasets=[inner, inner])
    if wrapper == 'RepeatDataset':
        return dict(type='RepeatDataset', dataset=inner, times=2)
    return dict(type='ClassBalancedDataset', dataset=inner, oversample_thr=1)


@pytest.mark.parametrize(
    'wrapper', ['ConcatDataset', 'RepeatDataset', 'ClassBalancedDataset'])
def test_wrapped_datasets_keep_every_sample_picture(tiny_cfg, tmp_path,
                                                    monkeypatch, wrapper):
    """Files are named by the index into the loop's dataset, not by the
    inner ``sample_idx``, which restarts in each part; a shuffled sampler
    still names each picture after the sample it shows."""
    drawn = []
    original_draw = CAMHook._draw

    def record(hook, runner, phase, phase_name, step, data_batch, sample,
               result, dataset):
        row, index = sample
        drawn.append(
            (index, data_batch['data_samples'][row].metainfo['img_path']))
        return original_draw(hook, runner, phase, phase_name, step, data_batch,
                             sample, result, dataset)

    monkeypatch.setattr(CAMHook, '_draw', record)
    out_dir = str(tmp_path / 'cams')
    _cam_hook(tiny_cfg, out_dir=out_dir)
    tiny_cfg.test_dataloader.dataset = _wrapped_test_set(tiny_cfg, wrapper)
    tiny_cfg.test_dataloader.sampler = dict(
        type='DefaultSampler', shuffle=True)
    runner = Runner.from_cfg(tiny_cfg)
    runner.test()

    dataset = runner.test_dataloader.dataset
    assert len(dataset) >= 18
    assert _pictures(osp.join(out_dir,
                              'test')) == sorted(f'{i}_GradCAM_pred.png'
                                                 for i in range(len(dataset)))
    assert sorted(index for index, _ in drawn) == list(range(len(dataset)))
    for index, path in drawn:
        assert dataset[index]['data_samples'].img_path == path


@pytest.mark.parametrize('settings, message', [
    (dict(target_category=[5]), 'target category 5 is out of range: the '
     r'head has 2 classes \(0..1\)'),
    (dict(topk=3), 'topk 3 exceeds the 2 classes of the head'),
    (dict(target_layers=['neck']), r"target layer 'neck' outputs shape "
     r'\(1, 128\), which is not a spatial feature map'),
    (dict(draw_cfg=dict(colormap='nope')),
     r"CAMHook draw_cfg \{'colormap': 'nope'\}: .*nope"),
    (dict(draw_cfg=dict(colour='jet')), 'CAMHook draw_cfg .*colour'),
])
def test_settings_that_can_never_draw_fail_when_the_run_starts(
        tiny_cfg, settings, message):
    _cam_hook(tiny_cfg, **settings)
    runner = Runner.from_cfg(tiny_cfg)
    seen_batches = []
    runner.register_hook(_BatchCounter(seen_batches))
    with pytest.raises(CAMError, match=message) as error:
        runner.test()
    assert '\n' not in str(error.value)
    assert seen_batches == []


def test_nan_heatmap_is_a_warning_naming_the_sample(tiny_cfg, tmp_path,
                                                    monkeypatch):
    original_call = CAMEngine.__call__

    def nan_on_black_image(engine, inputs, **kwargs):
        result = original_call(engine, inputs, **kwargs)
        black = (inputs.flatten(2).std(dim=2).amax(dim=1) == 0).numpy()
        result.heatmaps[black] = float('nan')
        return result

    monkeypatch.setattr(CAMEngine, '__call__', nan_on_black_image)
    out_dir = str(tmp_path / 'cams')
    _cam_hook(tiny_cfg, out_dir=out_dir)
    Runner.from_cfg(tiny_cfg).test()
    assert len(_pictures(osp.join(out_dir, 'test'))) == len(every(1))
    warnings = [
        line for line in _log_text(tiny_cfg.work_dir).splitlines()
        if 'CAMHook' in line
    ]
    assert len(warnings) == 1
    assert f'GradCAM heatmap of test sample {BLACK_SAMPLE}' in warnings[0]
    assert '9.png' in warnings[0] and 'NaN' in warnings[0]


@pytest.mark.parametrize('draw_cfg, message', [
    (dict(min_size=15000), 'min_size must be an integer from 0 to 2048'),
    (dict(min_size=100000), 'min_size must be an integer from 0 to 2048'),
    (dict(min_size=-1), 'min_size must be an integer from 0 to 2048'),
    (dict(max_columns=0), 'max_columns must be a positive integer, got 0'),
    (dict(max_columns=-2), 'max_columns must be a positive integer, got -2'),
])
def test_draw_sizes_fail_when_the_hook_is_built(draw_cfg, message):
    with pytest.raises(CAMError, match=message) as error:
        CAMHook(draw_cfg=draw_cfg)
    assert '\n' not in str(error.value)


def test_a_drawing_that_fails_is_called_so(tiny_cfg, tmp_path, monkeypatch):
    """The heatmap and its raw maps are fine; the warning says the drawing
    failed, not that there is no heatmap."""
    from mmcam.visualization import CAMVisualizer
    from mmcam.visualization.raw_maps import read_index

    def fail(*args, **kwargs):
        raise MemoryError('cannot allocate the canvas')

    monkeypatch.setattr(CAMVisualizer, 'draw_cam', fail)
    out_dir = tmp_path / 'cams'
    _cam_hook(tiny_cfg, out_dir=str(out_dir), save_raw=True, interval=4)
    Runner.from_cfg(tiny_cfg).test()
    warnings = [
        line for line in _log_text(tiny_cfg.work_dir).splitlines()
        if 'CAMHook' in line and 'WARNING' in line
    ]
    assert len(warnings) == len(every(4))
    assert all('drawing failed for test sample' in w and 'MemoryError' in w
               and 'no heatmap' not in w for w in warnings)
    assert all('file' in r for r in read_index(str(out_dir / 'test')))


def test_constant_heatmap_is_a_warning_naming_the_sample(
        tiny_cfg, tmp_path, monkeypatch):
    # The engine warns; the hook names each sample by dataset index and
    # path.
    original_compute = CAMEngine._compute

    def constant_on_black_image(engine, inputs, layers, choose):
        logits, categories, heatmaps = original_compute(
            engine, inputs, layers, choose)
        black = (inputs.flatten(2).std(dim=2).amax(dim=1) == 0).numpy()
        heatmaps[black] = 0
        return logits, categories, heatmaps

    monkeypatch.setattr(CAMEngine, '_compute', constant_on_black_image)
    _cam_hook(tiny_cfg, out_dir=str(tmp_path / 'cams'))
    Runner.from_cfg(tiny_cfg).test()
    warnings = [
        line for line in _log_text(tiny_cfg.work_dir).splitlines()
        if 'is constant' in line
    ]
    assert len(warnings) == 1
    assert f'GradCAM heatmap of sample {BLACK_SAMPLE} (' in warnings[0]
    assert '9.png' in warnings[0] and 'backbone.' in warnings[0]
