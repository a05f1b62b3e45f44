"""CAMHook's dataset export: raw maps and an index on disk, resumable,
with memory that does not grow over a loop (in this process; the 1 vs 2
processes comparison is in test_runner_tools.py)."""
import glob
import io
import json
import logging
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.runner import Runner
from runner_test_data import BLACK_SAMPLE, NUM_SAMPLES

from mmcam.cam import CAMEngine, CAMError, ClassifierLogits
from mmcam.engine import CAMHook
from mmcam.engine.hooks import cam_hook
from mmcam.visualization.raw_maps import RawMapWriter, read_index


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
        most.append(len(hook._pictures.pending))
        original_publish(hook, runner, phase, **kwargs)

    monkeypatch.setattr(CAMHook, '_publish', publish)
    runner = Runner.from_cfg(tiny_cfg)
    runner.test()
    assert max(most) <= 2  # one batch at a time
    images = glob.glob(
        osp.join(runner.log_dir, 'vis_data', 'vis_image', '*.png'))
    assert len(images) == NUM_SAMPLES


def _log_lines(runner) -> list:
    """What the runner's logger says from now on (the caller reads the
    list after the run)."""
    import logging
    lines = []

    class Collect(logging.Handler):

        def emit(self, record):
            lines.append(record.getMessage())

    runner.logger.addHandler(Collect())
    return lines


def _loop_end_lines(cfg) -> list:
    """Run the test loop; what CAMHook says at its end (its first line, on
    where a resumed export is, left out)."""
    runner = Runner.from_cfg(cfg)
    lines = _log_lines(runner)
    runner.test()
    return [
        line for line in lines if line.startswith('CAMHook:')
        and not line.startswith('CAMHook: resuming the export')
    ]


def test_resume_says_how_many_samples_were_already_exported(
        tiny_cfg, tmp_path):
    out_dir = tmp_path / 'cams'
    _export(tiny_cfg, out_dir)
    Runner.from_cfg(tiny_cfg).test()

    tiny_cfg.custom_hooks[0]['resume'] = True
    tiny_cfg.experiment_name += '_all_done'
    said = _loop_end_lines(tiny_cfg)
    assert said == [
        f'CAMHook: all {NUM_SAMPLES} sample(s) of test were already '
        f'exported to {out_dir / "test"} (resume=True): nothing to do'
    ]

    for record in read_index(str(out_dir / 'test'))[:2]:
        (out_dir / 'test' / record['file']).unlink()
    tiny_cfg.experiment_name += '_two_missing'
    said = _loop_end_lines(tiny_cfg)
    assert len(said) == 1
    assert said[0].startswith(
        f'CAMHook: 0 picture(s) and the raw maps of 2 sample(s) '
        f'({NUM_SAMPLES - 2} sample(s) already exported were skipped) of '
        'test went to ')


def _strict_json(line):
    """``json.loads`` that refuses NaN and Infinity, as other readers do."""

    def refuse(constant):
        raise ValueError(f'{constant} in {line!r}')

    return json.loads(line, parse_constant=refuse)


def test_a_nan_model_writes_no_map_and_logs_no_metric(tiny_cfg, tmp_path):
    """NaN weights: no map is written, each sample is a failure in valid
    JSON, and no metric is logged as if measured."""
    out_dir = tmp_path / 'cams'
    _export(tiny_cfg, out_dir, metrics=['avg_drop', 'increase'])
    runner = Runner.from_cfg(tiny_cfg)
    runner.model.head.fc.weight.data.fill_(float('nan'))
    metrics = runner.test()
    assert not [k for k in metrics if k.startswith('cam/')], metrics

    folder = out_dir / 'test'
    assert not glob.glob(str(folder / 'maps' / '*.npy'))
    lines = (folder / 'index_rank0.jsonl').read_text().splitlines()
    assert len(lines) == NUM_SAMPLES
    for line in lines:
        assert 'not a number' in _strict_json(line)['error']


def test_a_nan_map_is_retried_on_resume(tiny_cfg, tmp_path, monkeypatch):
    original_forward = ClassifierLogits.forward

    def nan_on_black_image(module, inputs):
        logits = original_forward(module, inputs)
        black = inputs.flatten(2).std(dim=2).amax(dim=1) == 0
        return torch.where(black[:, None], float('nan'), logits)

    monkeypatch.setattr(ClassifierLogits, 'forward', nan_on_black_image)
    out_dir = tmp_path / 'cams'
    _export(tiny_cfg, out_dir)
    Runner.from_cfg(tiny_cfg).test()
    folder = out_dir / 'test'
    records = read_index(str(folder))
    assert 'not a number' in records[BLACK_SAMPLE]['error']
    assert not glob.glob(str(folder / 'maps' / f'{BLACK_SAMPLE}_*.npy'))

    monkeypatch.undo()
    tiny_cfg.custom_hooks[0]['resume'] = True
    tiny_cfg.experiment_name += '_resumed'
    Runner.from_cfg(tiny_cfg).test()
    records = read_index(str(folder))
    assert len(records) == NUM_SAMPLES and all('file' in r for r in records)
    maps = np.load(folder / records[BLACK_SAMPLE]['file'])
    assert np.isfinite(maps).all()


def _count_engine_calls(monkeypatch):
    calls = []
    original_call = CAMEngine.__call__

    def call(engine, inputs, **kwargs):
        calls.append(len(inputs))
        return original_call(engine, inputs, **kwargs)

    monkeypatch.setattr(CAMEngine, '__call__', call)
    return calls


def _resume(cfg):
    cfg.custom_hooks[0]['resume'] = True
    cfg.experiment_name += '_resumed'
    runner = Runner.from_cfg(cfg)
    # Read from the logger, not the log file: two runs started within the
    # same second share a timestamped log folder.
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(
        f'{record.levelname} - {record.getMessage()}')
    runner.logger.addHandler(handler)
    runner.test()
    return [line for line in lines if 'CAMHook' in line]


def test_resume_repairs_a_torn_index_and_broken_maps(tiny_cfg, tmp_path,
                                                     monkeypatch):
    """Killed mid-line, a garbage line, a truncated map, a map replaced
    since, a map renamed into place without its index line: the resumed
    export makes exactly those samples again, says so in one line, and
    ends complete."""
    out_dir = tmp_path / 'cams'
    _export(tiny_cfg, out_dir)
    Runner.from_cfg(tiny_cfg).test()
    folder = out_dir / 'test'
    index = folder / 'index_rank0.jsonl'
    lines = index.read_text().splitlines(keepends=True)
    by_index = {json.loads(line)['index']: line for line in lines}
    by_index[3] = 'x{"index": 3, "file"\n'  # garbage in the middle
    torn = by_index.pop(8)
    del by_index[6]  # its map is there, its line never written
    index.write_text(''.join(by_index[i] for i in sorted(by_index)) +
                     torn[:len(torn) // 2])  # killed mid-line
    truncated = folder / json.loads(by_index[5])['file']
    truncated.write_bytes(truncated.read_bytes()[:100])
    replaced = folder / json.loads(by_index[7])['file']
    np.save(replaced, np.zeros((1, 32, 32), np.float16))  # same shape
    with pytest.warns(UserWarning, match='2 line.* not records'):
        assert len(read_index(str(folder))) == NUM_SAMPLES - 3

    calls = _count_engine_calls(monkeypatch)
    log = _resume(tiny_cfg)
    assert sum(calls) == 5  # samples 3, 5, 6, 7 and 8
    log = [line for line in log if 'resuming the export' in line]
    assert len(log) == 1
    assert (f'{NUM_SAMPLES - 5} sample(s) done; repaired 2 broken index '
            'line(s) (dropped), 2 unreadable or changed map(s) and 3 map(s) '
            'without an index line') in log[0]
    for line in index.read_text().splitlines():
        _strict_json(line)
    records = read_index(str(folder))
    assert [r['index'] for r in records] == list(range(NUM_SAMPLES))
    for record in records:
        assert np.load(folder / record['file']).shape == (1, 32, 32)

    # Nothing left to repair or to make.
    calls.clear()
    log = _resume(tiny_cfg)
    assert calls == [] and 'WARNING' not in ''.join(log)


def test_resume_on_fewer_processes_reads_back_their_maps(tmp_path):
    """Maps another process indexed count as done only if they read back
    (the number of processes changed between runs)."""
    folder = str(tmp_path / 'test')
    settings = dict(method='GradCAM')
    RawMapWriter(folder, 0, settings, resume=False).close()
    other = RawMapWriter(folder, 1, settings, resume=False)
    for index in (1, 3):
        other.write(index, f'{index}.png', np.ones((1, 4, 4)), [0], [0.5],
                    ['disc'], 'image')
    other.close()
    broken = tmp_path / 'test' / RawMapWriter.file_name(3, '3.png')
    broken.write_bytes(broken.read_bytes()[:64])

    writer = RawMapWriter(folder, 0, settings, resume=True)
    assert writer.done(1, '1.png')
    assert not writer.done(3, '3.png') and not writer.done(5, '5.png')
    writer.close()


def _checkpoint_of(cfg, path, seed):
    """A checkpoint of the config's model with weights drawn from
    ``seed``."""
    import torch
    from mmengine.runner import save_checkpoint
    model = Runner.from_cfg(cfg).model
    generator = torch.Generator().manual_seed(seed)
    for param in model.parameters():
        param.data = torch.randn(param.shape, generator=generator) * 0.1
    save_checkpoint(dict(state_dict=model.state_dict(), meta={}), str(path))


@pytest.mark.parametrize('change, message', [
    (lambda cfg: cfg.data_preprocessor.update(mean=[0, 0, 0]),
     'other data preprocessor'),
    (lambda cfg: cfg.test_dataloader.dataset.pipeline.insert(
        1, dict(type='Resize', scale=40)), 'other test pipeline'),
    (lambda cfg: cfg.custom_hooks[0].update(target_layers='backbone.layer3'),
     "target_layers=\\['backbone.layer4'\\]"),
])
def test_resume_refuses_what_changes_the_maps(tiny_cfg, tmp_path, change,
                                              message):
    out_dir = tmp_path / 'cams'
    _export(tiny_cfg, out_dir, target_layers='backbone.layer4')
    Runner.from_cfg(tiny_cfg).test()
    tiny_cfg.custom_hooks[0]['resume'] = True
    tiny_cfg.experiment_name += '_changed'
    change(tiny_cfg)
    with pytest.raises(
            CAMError, match=f'cannot resume in .*made with '
            f'{message}') as error:
        Runner.from_cfg(tiny_cfg).test()
    assert '\n' not in str(error.value)


def test_resume_knows_weights_by_content_not_path(tiny_cfg, tmp_path,
                                                  monkeypatch):
    """The same checkpoint by a relative path resumes; other weights saved
    under the same path are refused."""
    checkpoint = tmp_path / 'model.pth'
    _checkpoint_of(tiny_cfg, checkpoint, seed=1)
    out_dir = tmp_path / 'cams'
    tiny_cfg.load_from = str(checkpoint)
    _export(tiny_cfg, out_dir)
    Runner.from_cfg(tiny_cfg).test()

    monkeypatch.chdir(tmp_path)
    tiny_cfg.load_from = 'model.pth'
    calls = _count_engine_calls(monkeypatch)
    _resume(tiny_cfg)
    assert calls == []

    _checkpoint_of(tiny_cfg, checkpoint, seed=2)
    tiny_cfg.experiment_name += '_other_weights'
    with pytest.raises(
            CAMError,
            match='made with other weights '
            r'\(fingerprint [0-9a-f]{12}, this run has'):
        Runner.from_cfg(tiny_cfg).test()


@pytest.mark.parametrize('tamper, message', [
    (lambda path: path.write_text('{"method": "GradC'),
     'its export.json is not readable'),
    (lambda path: path.write_text('[1, 2]'), 'its export.json is not '
     'readable'),
    (lambda path: path.unlink(), 'it has maps but no export.json'),
])
def test_resume_refuses_unknown_settings_in_one_line(tmp_path, tamper,
                                                     message):
    folder = str(tmp_path / 'test')
    writer = RawMapWriter(folder, 0, dict(method='GradCAM'), resume=False)
    writer.write(0, '0.png', np.ones((1, 4, 4)), [0], [0.5], ['disc'], 'image')
    writer.close()
    tamper(tmp_path / 'test' / 'export.json')
    with pytest.raises(CAMError, match=f'cannot resume in .*{message}'):
        RawMapWriter(folder, 0, dict(method='GradCAM'), resume=True)


def test_resume_follows_no_line_out_of_the_maps_folder(tmp_path):
    """A tampered line naming a FIFO beside the maps (reading it would
    hang) or a file elsewhere is a broken line, not a map to read."""
    import os
    folder = tmp_path / 'test'
    settings = dict(method='GradCAM')
    RawMapWriter(str(folder), 0, settings, resume=False).close()
    os.mkfifo(folder / 'maps' / 'fifo.npy')
    lines = [
        dict(index=0, file='maps/../maps/fifo.npy', shape=[1, 4, 4]),
        dict(index=1, file='/etc/hostname', shape=[1, 4, 4]),
    ]
    (folder / 'index_rank0.jsonl').write_text(''.join(
        json.dumps(line) + '\n' for line in lines))
    writer = RawMapWriter(str(folder), 0, settings, resume=True)
    writer.close()
    assert writer.repairs['index_lines'] == 2 and writer.done_count == 0


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
