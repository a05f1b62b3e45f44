"""Checkpoints the Runner tools load: never code, always the right weights,
and every bad file or option one line before the work.

The tools run in-process (their ``main``), which reads the same environment
variables and takes the same code paths as a user's shell, in a fraction of
the time of a subprocess.
"""
import os
import os.path as osp
import sys

import pytest
import torch
from runner_test_data import TINY_CONFIG

from mmcam.cam import CAMError
from mmcam.compat import safe_load_url
from mmcam.utils import download_checkpoint

REPO_TOOLS = osp.join(osp.dirname(TINY_CONFIG), '..', '..', 'tools')


class _RunsShell:
    """A pickle that runs a shell command when it is loaded unsafely."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """Files of every kind for the tiny config's model."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    folder = tmp_path_factory.mktemp('checkpoints')
    cfg = Config.fromfile(TINY_CONFIG)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
        cfg.model.backbone.depth = 34
        other = MODELS.build(cfg.model)
    marker = folder / 'code_ran'
    paths = dict(
        good=folder / 'good.pth',
        evil=folder / 'evil.pth',
        other_arch=folder / 'other_arch.pth',
        text=folder / 'text.pth',
        empty=folder / 'empty.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), paths['good'])
    torch.save(
        dict(state_dict=model.state_dict(), meta=dict(x=_RunsShell(marker))),
        paths['evil'])
    torch.save(dict(state_dict=other.state_dict()), paths['other_arch'])
    paths['text'].write_text('not a checkpoint\n')
    paths['empty'].write_bytes(b'')
    paths = {key: str(path) for key, path in paths.items()}
    paths['marker'] = str(marker)
    return paths


@pytest.fixture
def run_tool(load_tool, monkeypatch, tmp_path, shapes_root):
    """``run_tool(name, *args)``: the tool's ``main`` on the tiny config;
    returns the one line it exits with, or None for a clean exit."""

    def run(name, *args, options=()):
        tool = load_tool(osp.join(REPO_TOOLS, f'{name}.py'))
        monkeypatch.setattr(sys, 'argv', [
            f'{name}.py', TINY_CONFIG, *args, '--work-dir',
            str(tmp_path / 'work_dir'), '--cfg-options',
            f'test_dataloader.dataset.data_root={shapes_root}',
            f'train_dataloader.dataset.data_root={shapes_root}',
            f'val_dataloader.dataset.data_root={shapes_root}',
            'log_level=WARNING', *options
        ])
        try:
            tool.main()
        except SystemExit as stop:
            return str(stop.code)
        return None

    return run


def test_code_in_a_checkpoint_never_runs(checkpoints, run_tool, monkeypatch):
    # The usual workaround for torch >= 2.6 loading errors; torch honours
    # an explicit weights_only=True whatever it says.
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    message = run_tool('test', checkpoints['evil'])
    assert not osp.exists(checkpoints['marker'])
    assert message.startswith(f"error: {checkpoints['evil']!r} is not a "
                              'PyTorch checkpoint that can be loaded safely')
    assert 'posix.system' in message and '\n' not in message

    message = run_tool('train', '--resume', checkpoints['evil'])
    assert 'posix.system' in message
    message = run_tool('train', options=[f"load_from={checkpoints['evil']}"])
    assert 'posix.system' in message
    assert not osp.exists(checkpoints['marker'])


def test_mmengine_loaders_keep_weights_only(checkpoints, monkeypatch,
                                            tmp_path):
    """Every route into mmengine's checkpoint module: local files (Runner
    load_from/resume, init_cfg Pretrained) and URLs (whose torch.hub
    loader defaults to weights_only=False)."""
    from mmengine.runner.checkpoint import _load_checkpoint, load_from_http
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    with pytest.raises(Exception, match='posix.system'):
        _load_checkpoint(checkpoints['evil'], map_location='cpu')
    assert _load_checkpoint(checkpoints['good'], map_location='cpu')['meta'] \
        == {}
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'hub'))
    url = 'file://' + checkpoints['evil']
    assert load_from_http.__globals__['load_url'] is safe_load_url
    with pytest.raises(Exception, match='posix.system'):
        load_from_http(url, map_location='cpu')
    assert not osp.exists(checkpoints['marker'])


def test_checkpoint_of_another_architecture_is_refused(checkpoints, run_tool):
    message = run_tool('test', checkpoints['other_arch'])
    assert message.startswith(
        f"error: checkpoint {checkpoints['other_arch']!r} does not fit "
        'the config: 96 unexpected key(s) (backbone.layer1.2.conv1.weight')
    assert 'unexpected key' in run_tool('train', '--resume',
                                        checkpoints['other_arch'])


@pytest.mark.parametrize('kind, expected', [
    ('text', 'neither a torch.save zip archive nor a pickle'),
    ('empty', 'is an empty file'),
])
def test_files_that_are_not_checkpoints(checkpoints, run_tool, kind, expected):
    message = run_tool('test', checkpoints[kind])
    assert message.startswith('error: ') and expected in message
    assert '\n' not in message


def test_url_without_network(run_tool, monkeypatch, tmp_path):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'hub'))
    message = run_tool('test', 'http://127.0.0.1:9/ckpt/best.pth')
    assert message.startswith("error: could not download checkpoint "
                              "'http://127.0.0.1:9/ckpt/best.pth'")


def test_url_cache_is_keyed_by_the_whole_url(monkeypatch, tmp_path):
    import torch.hub
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'hub'))
    downloads = []

    def fake_download(url, path, progress=True):
        downloads.append(url)
        with open(path, 'w') as f:
            f.write(url)

    monkeypatch.setattr(torch.hub, 'download_url_to_file', fake_download)
    first = download_checkpoint('https://one.host/a/best.pth')
    second = download_checkpoint('https://other.host/b/best.pth')
    assert first != second
    assert open(second).read() == 'https://other.host/b/best.pth'
    assert download_checkpoint('https://one.host/a/best.pth') == first
    assert len(downloads) == 2  # the second call of a URL is cached


def test_unwritable_out_and_bad_option_types_fail_before_the_test(
        checkpoints, run_tool, tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    out = str(blocker / 'results.pkl')
    message = run_tool('test', checkpoints['good'], '--out', out)
    assert message.startswith(f'error: --out {out!r} cannot be written')
    message = run_tool(
        'test',
        checkpoints['good'],
        options=['test_dataloader.batch_size=abc'])
    assert message == ("error: bad cfg-options test_dataloader.batch_size="
                       "'abc': the config has a number there (4); give a "
                       'number')


def test_good_checkpoint_still_tests(checkpoints, run_tool, tmp_path):
    out = str(tmp_path / 'metrics.json')
    assert run_tool(
        'test',
        checkpoints['good'],
        '--out',
        out,
        '--out-item',
        'metrics',
        options=['custom_hooks.0.enable=False']) is None
    assert 'accuracy/top1' in open(out).read()


def test_read_errors_are_cam_errors(checkpoints):
    from mmcam.engine.runner_config import read_runner_checkpoint
    with pytest.raises(CAMError, match='posix.system'):
        read_runner_checkpoint(checkpoints['evil'])
    path, checkpoint = read_runner_checkpoint(checkpoints['good'])
    assert path == checkpoints['good'] and 'state_dict' in checkpoint
