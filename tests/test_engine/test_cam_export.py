"""CAMHook's dataset export: raw maps and an index on disk, resumable,
with memory that does not grow over a loop (in this process; the 1 vs 2
processes comparison is in test_runner_tools.py)."""
import glob
import io
import json
import os.path as osp
import sys

import numpy as np
import pytest
from mmengine.runner import Runner
from runner_test_data import BLACK_SAMPLE, NUM_SAMPLES

from mmcam.cam import CAMEngine, CAMError
from mmcam.engine import CAMHook
from mmcam.engine.hooks import cam_hook
from mmcam.visualization.raw_maps import read_index


def _export(cfg, out_dir, **kwargs):
    hook = dict(
        type='CAMHook',
        interval=1,
        out_dir=str(out_dir),
        save_raw=True,
        draw=False)
    hook.update(kwargs)
    cfg.custom_hooks = [hook]
    return cfg


def _fail_on_black_image(monkeypatch, calls):
    original_call = CAMEngine.__call__

    def call(engine, inputs, **kwargs):
        calls.append(len(inputs))
        if (inputs.flatten(2).std(dim=2).amax(dim=1) == 0).any():
            raise RuntimeError('an odd sample')
        return original_call(engine, inputs, **kwargs)

    monkeypatch.setattr(CAMEngine, '__call__', call)


def test_export_writes_maps_and_index_only(tiny_cfg, tmp_path):
    out_dir = tmp_path / 'cams'
    _export(tiny_cfg, out_dir, topk=2)
    Runner.from_cfg(tiny_cfg).test()

    folder = out_dir / 'test'
    assert not glob.glob(str(folder / '*.png'))  # draw=False
    records = read_index(str(folder))
    assert [r['index'] for r in records] == list(range(NUM_SAMPLES))
    for record in records:
        maps = np.load(folder / record['file'])
        assert maps.dtype == np.float16 and maps.shape == (2, 32, 32)
        assert record['shape'] == [2, 32, 32] and record['space'] == 'image'
        assert 0 <= maps.min() and maps.max() <= 1
        stem = osp.splitext(osp.basename(record['img_path']))[0]
        assert record['file'] == f"maps/{record['index']}_{stem}.npy"
        assert record['class_names'][0] in ('disc', 'square')
        assert len(record['categories']) == len(record['scores']) == 2
    settings = json.loads((folder / 'export.json').read_text())
    assert settings['method'] == 'GradCAM' and settings['topk'] == 2


class _Terminal(io.StringIO):
    """stderr as a terminal, where progress bars are drawn."""

    def isatty(self):
        return True


def test_export_shows_progress_on_a_terminal(tiny_cfg, tmp_path, monkeypatch):
    stderr = _Terminal()
    monkeypatch.setattr(sys, 'stderr', stderr)
    _export(tiny_cfg, tmp_path / 'cams', interval=2)
    runner = Runner.from_cfg(tiny_cfg)
    handlers = list(runner.logger.handlers)
    runner.test()
    # The runner's terminal lines went above the bar during the loop;
    # its own handlers are back.
    assert runner.logger.handlers == handlers
    bar = stderr.getvalue()
    # Samples 0, 2, 4, ... of the test set, counted to the end.
    explained = len(range(0, NUM_SAMPLES, 2))
    assert 'CAM export (test)' in bar
    assert f'{explained}/{explained}' in bar

    # Redirected to a file or a log: no bar.
    log = io.StringIO()
    monkeypatch.setattr(sys, 'stderr', log)
    _export(tiny_cfg, tmp_path / 'cams_again', interval=2)
    Runner.from_cfg(tiny_cfg).test()
    assert 'CAM export' not in log.getvalue()


def test_export_returns_freed_memory_after_each_batch(tiny_cfg, tmp_path,
                                                      monkeypatch):
    """Long exports give the heap memory each batch freed back, so the
    process does not grow over a dataset (see benchmarks/
    benchmark_export.py for the measured resident memory)."""
    trims = []
    monkeypatch.setattr(cam_hook, 'return_freed_memory',
                        lambda: trims.append(1))
    tiny_cfg.test_dataloader.batch_size = 2
    _export(tiny_cfg, tmp_path / 'cams', interval=3)
    Runner.from_cfg(tiny_cfg).test()
    # Batches (0, 1) (2, 3) (4, 5) (6, 7) (8): samples 0, 3 and 6 fall in
    # three of them; the other two have nothing to explain.
    assert len(trims) == 3


def test_maps_land_on_the_original_image(tiny_cfg, tmp_path):
    """Resize 48 + centre crop 40 on the 32x32 images: the maps come back
    at 32x32, zero where the network saw nothing."""
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='ResizeEdge', scale=48, edge='short'),
        dict(type='CenterCrop', crop_size=40),
        dict(type='PackInputs'),
    ]
    tiny_cfg.test_dataloader.dataset.pipeline = pipeline
    out_dir = tmp_path / 'cams'
    _export(tiny_cfg, out_dir)
    Runner.from_cfg(tiny_cfg).test()
    record = read_index(str(out_dir / 'test'))[0]
    maps = np.load(out_dir / 'test' / record['file'])
    assert record['space'] == 'image' and maps.shape == (1, 32, 32)
    # 48 / 32 = 1.5x; the 40 px crop starts at 4 px: image x in [2.67,
    # 29.33) was seen.
    assert (maps[:, :, :2] == 0).all() and (maps[:, :, 30:] == 0).all()
    assert maps[:, 4:28, 4:28].max() > 0.9


def test_resume_does_only_what_is_missing(tiny_cfg, tmp_path, monkeypatch):
    out_dir = tmp_path / 'cams'
    calls = []
    _fail_on_black_image(monkeypatch, calls)
    _export(tiny_cfg, out_dir)
    Runner.from_cfg(tiny_cfg).test()
    folder = str(out_dir / 'test')
    records = read_index(folder)
    assert records[BLACK_SAMPLE]['error'] == 'RuntimeError: an odd sample'
    assert sum(1 for r in records if 'file' in r) == NUM_SAMPLES - 1

    monkeypatch.undo()
    calls.clear()
    original_call = CAMEngine.__call__
    monkeypatch.setattr(
        CAMEngine, '__call__', lambda engine, inputs, **kwargs: (calls.append(
            len(inputs)), original_call(engine, inputs, **kwargs))[1])
    tiny_cfg.custom_hooks[0]['resume'] = True
    tiny_cfg.experiment_name += '_resumed'
    Runner.from_cfg(tiny_cfg).test()
    assert calls == [1]  # only the sample that failed
    records = read_index(folder)
    assert all('file' in r for r in records)
    assert len(records) == NUM_SAMPLES

    tiny_cfg.custom_hooks[0]['method'] = 'LayerCAM'
    tiny_cfg.experiment_name += '_other'
    with pytest.raises(
            CAMError,
            match="cannot resume in .*made with "
            "method='GradCAM', this run has 'LayerCAM'"):
        Runner.from_cfg(tiny_cfg).test()


def test_export_needs_a_writable_out_dir(tiny_cfg, tmp_path):
    with pytest.raises(CAMError, match='save_raw=True needs out_dir'):
        CAMHook(save_raw=True)
    with pytest.raises(CAMError, match='resume=True needs out_dir'):
        CAMHook(resume=True)
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    _export(tiny_cfg, blocker / 'cams')
    with pytest.raises(
            CAMError, match="CAMHook out_dir '.*a_file/cams' "
            'cannot be written'):
        Runner.from_cfg(tiny_cfg).test()


def test_pictures_for_vis_backends_never_pile_up(tiny_cfg, monkeypatch):
    """Handed to the backends every few iterations, not at the end."""
    monkeypatch.setattr(cam_hook, '_PUBLISH_INTERVAL', 1)
    tiny_cfg.test_dataloader.batch_size = 2
    tiny_cfg.custom_hooks = [dict(type='CAMHook', interval=1)]
    most = []
    original_publish = CAMHook._publish

    def publish(hook, runner, phase, **kwargs):
        most.append(len(hook._pending))
        original_publish(hook, runner, phase, **kwargs)

    monkeypatch.setattr(CAMHook, '_publish', publish)
    runner = Runner.from_cfg(tiny_cfg)
    runner.test()
    assert max(most) <= 2  # one batch at a time
    images = glob.glob(
        osp.join(runner.log_dir, 'vis_data', 'vis_image', '*.png'))
    assert len(images) == NUM_SAMPLES


def test_a_file_where_the_maps_folder_goes_is_one_line_before_the_loop(
        tiny_cfg, tmp_path, monkeypatch):
    out_dir = tmp_path / 'cams'
    (out_dir / 'test').mkdir(parents=True)
    (out_dir / 'test' / 'maps').write_text('not a folder')
    _export(tiny_cfg, out_dir)
    explained = []
    monkeypatch.setattr(CAMEngine, '__call__',
                        lambda *args, **kwargs: explained.append(1))
    with pytest.raises(CAMError) as refused:
        Runner.from_cfg(tiny_cfg).test()
    assert str(refused.value) == (
        f"CAMHook's raw-map folder '{out_dir / 'test' / 'maps'}' is a file; "
        'move it away or choose another out_dir')
    assert not explained


def test_an_out_dir_that_is_a_file_is_one_line(tiny_cfg, tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    _export(tiny_cfg, blocker)
    with pytest.raises(CAMError) as refused:
        Runner.from_cfg(tiny_cfg).test()
    assert str(refused.value) == \
        f"CAMHook out_dir '{blocker}' is a file; give a folder"


@pytest.mark.parametrize('out_dir', ['', '  ', 3])
def test_an_out_dir_that_names_no_folder_is_refused(out_dir):
    """'' used to join to the work dir and write among its checkpoints."""
    with pytest.raises(CAMError) as refused:
        CAMHook(out_dir=out_dir)
    assert str(refused.value) == (
        f'CAMHook out_dir must name a folder (relative to the work dir), got '
        f"{out_dir!r}; use '.' for the work dir itself, or leave it unset to "
        'give pictures to the visualizer')
