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
        bare=folder / 'bare.pth',
        ddp=folder / 'ddp.pth',
        good=folder / 'good.pth',
        evil=folder / 'evil.pth',
        other_arch=folder / 'other_arch.pth',
        text=folder / 'text.pth',
        empty=folder / 'empty.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), paths['good'])
    torch.save(model.state_dict(), paths['bare'])
    torch.save({
        f'module.{k}': v
        for k, v in model.state_dict().items()
    }, paths['ddp'])
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


@pytest.mark.parametrize('kind', ['bare', 'ddp', 'good'])
def test_resuming_from_a_weights_file_says_to_give_it_as_load_from(
        checkpoints, run_tool, kind):
    """A state_dict, bare or saved from DDP, or a checkpoint without the
    epoch and iteration: mmengine's resume stopped with KeyError: 'meta'."""
    path = checkpoints[kind]
    assert run_tool('train', '--resume', path) == (
        f'error: {path!r} is a weights file, not a checkpoint a run can '
        'resume from (it has no epoch and iteration in its meta); give it '
        f'as load_from (--cfg-options load_from={path}) to train from these '
        'weights, not --resume')


@pytest.fixture(scope='module')
def config_checkpoints(tmp_path_factory):
    """The tiny model's weights with its config saved in ``meta`` as
    mmengine ``Config`` and ``ConfigDict`` objects (as some training code
    does), and the same with a ``ConfigDict`` holding a pickle that runs a
    shell command."""
    from mmengine.config import Config, ConfigDict
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    folder = tmp_path_factory.mktemp('config_checkpoints')
    cfg = Config.fromfile(TINY_CONFIG)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        state_dict = MODELS.build(cfg.model).state_dict()
    marker = folder / 'code_ran'
    paths = dict(
        with_config=folder / 'with_config.pth',
        evil_config=folder / 'evil_config.pth')
    torch.save(
        dict(
            state_dict=state_dict,
            meta=dict(cfg=cfg, model=ConfigDict(cfg.model), epoch=1, iter=2)),
        paths['with_config'])
    torch.save(
        dict(
            state_dict=state_dict,
            meta=dict(cfg=ConfigDict(hook=_RunsShell(marker)))),
        paths['evil_config'])
    paths = {key: str(path) for key, path in paths.items()}
    paths['marker'] = str(marker)
    return paths


def test_configs_in_meta_load_on_every_path_and_carry_no_code(
        config_checkpoints, run_tool, monkeypatch, tmp_path):
    from mmengine.config import Config, ConfigDict
    from mmengine.runner.checkpoint import _load_checkpoint, load_from_http

    from mmcam.utils import read_checkpoint
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'hub'))
    good = config_checkpoints['with_config']
    evil = config_checkpoints['evil_config']
    loaders = {
        'mmcam': read_checkpoint,
        'mmengine': lambda path: _load_checkpoint(path, map_location='cpu'),
        'url': lambda path: load_from_http('file://' + path, 'cpu'),
    }
    for name, load in loaders.items():
        meta = load(good)['meta']
        assert isinstance(meta['cfg'], Config), name
        assert isinstance(meta['model'], ConfigDict), name
        assert meta['cfg'].model.backbone.type == 'ResNet_CIFAR', name
        assert meta['model'].head.num_classes == \
            meta['cfg'].model.head.num_classes, name
        with pytest.raises(Exception, match='posix.system'):
            load(evil)
    assert run_tool('test', good) is None
    message = run_tool('test', evil)
    assert message.startswith(f'error: {evil!r} is not a PyTorch checkpoint '
                              'that can be loaded safely')
    assert 'posix.system' in message
    assert not osp.exists(config_checkpoints['marker'])


def test_a_fifo_or_device_checkpoint_is_named_for_what_it_is(tmp_path):
    """Not 'does not exist'; and torch.load never opens a FIFO, which
    would wait for a writer for ever."""
    from mmcam.utils import read_checkpoint
    os.mkfifo(tmp_path / 'fifo.pth')
    (tmp_path / 'zero.pth').symlink_to('/dev/zero')
    with pytest.raises(CAMError) as refused:
        read_checkpoint(str(tmp_path / 'fifo.pth'))
    assert str(refused.value) == (f"checkpoint '{tmp_path / 'fifo.pth'}' is "
                                  'a FIFO, not a regular file')
    with pytest.raises(CAMError) as refused:
        read_checkpoint(str(tmp_path / 'zero.pth'))
    assert str(refused.value) == (
        f"checkpoint '{tmp_path / 'zero.pth'}' is a character device (a "
        "symbolic link to '/dev/zero'), not a regular file")
    with pytest.raises(CAMError, match='does not exist$'):
        read_checkpoint(str(tmp_path / 'none.pth'))
    with pytest.raises(CAMError, match='is a folder$'):
        read_checkpoint(str(tmp_path))


def _serve_files_as_urls(monkeypatch, tmp_path):
    """torch.hub downloads of ``https://files/<path>`` copy ``<path>``."""
    import shutil

    import torch.hub
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'hub'))

    def fake_download(url, path, progress=True):
        shutil.copy(url[len('https://files'):], path)

    monkeypatch.setattr(torch.hub, 'download_url_to_file', fake_download)


@pytest.mark.parametrize('as_url', [False, True])
def test_an_unsafe_pretrained_init_cfg_is_one_line_before_training(
        checkpoints, run_tool, monkeypatch, tmp_path, as_url):
    """model.init_weights() loaded it once training had started, and the
    refusal came as a ~40-line traceback."""
    _serve_files_as_urls(monkeypatch, tmp_path)
    evil = checkpoints['evil']
    source = f'https://files{evil}' if as_url else evil
    message = run_tool(
        'train',
        options=[
            "model.backbone.init_cfg=dict(type='Pretrained', "
            f"checkpoint='{source}', prefix='backbone')"
        ])
    assert message.startswith(f'error: {source!r} is not a PyTorch '
                              'checkpoint that can be loaded safely')
    assert 'posix.system' in message and '\n' not in message
    assert not osp.exists(checkpoints['marker'])


def test_pretrained_urls_are_loaded_from_the_copy_that_was_read(
        checkpoints, monkeypatch, tmp_path):
    from mmengine.config import Config

    from mmcam.engine.runner_config import read_pretrained_checkpoints
    _serve_files_as_urls(monkeypatch, tmp_path)
    good = checkpoints['good']
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.model.backbone.init_cfg = [
        dict(type='Pretrained', checkpoint=f'https://files{good}'),
        dict(type='Kaiming', layer='Conv2d')
    ]
    cfg.model.head.init_cfg = dict(type='Pretrained', checkpoint=good)
    read_pretrained_checkpoints(cfg)
    local = cfg.model.backbone.init_cfg[0].checkpoint
    assert local.startswith(str(tmp_path / 'hub')) and osp.isfile(local)
    assert cfg.model.head.init_cfg.checkpoint == good
