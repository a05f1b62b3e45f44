"""tools/train.py, tools/test.py and the dist_*.sh launchers: on 2
processes (gloo on the CPU) in subprocesses, as a user runs them, once
each; tools/test.py's argument handling also in this process."""
import argparse
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
from runner_test_data import REPO, TINY_CONFIG, every

from mmcam.cam import CAMError
from mmcam.engine.runner_config import (build_runner, load_runner_config,
                                        merge_cfg_options)
from mmcam.utils.command_line import add_runner_arguments


def _env():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(REPO), env.get('PYTHONPATH', '')])
    # Two processes on a small machine: one thread each.
    env['OMP_NUM_THREADS'] = '1'
    env['PYTHON'] = sys.executable
    return env


def _run(args, timeout=300):
    return subprocess.run(
        args,
        cwd=str(REPO),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout)


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


def _data_options(shapes_root):
    return [
        f'{loader}.dataset.data_root={shapes_root}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]


def _names(folder):
    return sorted(osp.basename(p) for p in glob.glob(osp.join(folder, '*')))


@pytest.fixture(scope='module')
def trained(shapes_root, tmp_path_factory):
    """One epoch on two processes (DDP on gloo) through dist_train.sh."""
    work_dir = str(tmp_path_factory.mktemp('train'))
    env = _env()
    env['PORT'] = _free_port()
    result = subprocess.run([
        'bash', 'tools/dist_train.sh', TINY_CONFIG, '2', '--work-dir',
        work_dir, '--cfg-options', *_data_options(shapes_root),
        'train_cfg.max_epochs=1', 'custom_hooks.0.interval=3',
        f'custom_hooks.0.out_dir={work_dir}/cams'
    ],
                            cwd=str(REPO),
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    # Library warnings stay out of the tools' output (MMCAM_DEBUG shows
    # them).
    for warning in ('MultiScaleDeformableAttention', "'pin_memory'"):
        assert warning not in result.stderr
    return work_dir


def test_distributed_training_validates_with_cams(trained):
    assert osp.isfile(osp.join(trained, 'epoch_1.pth'))
    assert _names(osp.join(trained, 'cams',
                           'val_epoch_1')) == sorted(f'{i}_GradCAM_pred.png'
                                                     for i in every(3))


@pytest.fixture(scope='module')
def test_tool(load_tool):
    """tools/test.py as a module: its ``main`` runs in this process, as
    the two-process test below runs it in subprocesses."""
    return load_tool(REPO / 'tools' / 'test.py')


def _main(tool, monkeypatch, args):
    monkeypatch.setattr(sys, 'argv', ['tools/test.py', *map(str, args)])
    tool.main()


def test_test_tool_loads_checkpoint_and_takes_cfg_options(
        trained, shapes_root, tmp_path, test_tool, monkeypatch):
    out_dir = str(tmp_path / 'cams')
    _main(test_tool, monkeypatch, [
        TINY_CONFIG,
        osp.join(trained, 'epoch_1.pth'), '--work-dir',
        str(tmp_path), '--cfg-options', *_data_options(shapes_root),
        'custom_hooks.0.method=LayerCAM',
        "custom_hooks.0.target_layers=['backbone.layer3']",
        'custom_hooks.0.target_category=gt', 'custom_hooks.0.interval=2',
        f'custom_hooks.0.out_dir={out_dir}'
    ])
    assert _names(osp.join(out_dir, 'test')) == sorted(f'{i}_LayerCAM_gt.png'
                                                       for i in every(2))


def test_two_processes_draw_each_sample_exactly_once(trained, shapes_root,
                                                     tmp_path):
    """9 samples on 2 processes with interval 1, pictures both to out_dir
    (each process writes its own) and to the vis backend (gathered on
    process 0): every sample once, none of the sampler's repeats."""
    record_dir = str(tmp_path / 'record')
    out_dir = str(tmp_path / 'cams')
    config = tmp_path / 'two_cam_hooks.py'
    config.write_text(f"""_base_ = [{TINY_CONFIG!r}]
custom_hooks = [
    dict(type='CAMHook', interval=1, out_dir={out_dir!r}),
    dict(type='CAMHook', interval=1, method='EigenCAM'),
]
""")
    # An odd number of samples, so the sampler pads the last batch.
    result = _run([
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
        '--master_port',
        _free_port(),
        osp.join('tests', 'test_engine',
                 'record_pictures.py'), record_dir, 'tools/test.py',
        str(config),
        osp.join(trained,
                 'epoch_1.pth'), '--launcher', 'pytorch', '--work-dir',
        str(tmp_path), '--cfg-options', *_data_options(shapes_root),
        'test_dataloader.batch_size=3'
    ])
    assert result.returncode == 0, result.stderr[-3000:]
    records = [
        json.load(open(osp.join(record_dir, f'rank{rank}.json')))
        for rank in (0, 1)
    ]
    files = [osp.basename(f) for r in records for f in r['files']]
    expected = [f'{i}_GradCAM_pred.png' for i in every(1)]
    assert sorted(files) == sorted(expected)  # each exactly once
    assert _names(osp.join(out_dir, 'test')) == sorted(expected)
    # Both processes drew their own share.
    assert all(r['files'] for r in records)

    assert records[1]['backend'] == []
    assert sorted(name for name, _ in records[0]['backend']) == sorted(
        f'cam_test_{i}_EigenCAM_pred' for i in every(1))
    if not torch.cuda.is_available():
        assert records[0]['dist_backend'] == 'gloo'
        # The config the Runner logs says so too.
        log = ''.join(
            open(p).read()
            for p in glob.glob(osp.join(str(tmp_path), '*', '*.log')))
        assert "backend='gloo'" in log and "backend='nccl'" not in log
    # One line per loop and hook says where the pictures went.
    output = result.stdout + result.stderr
    count = len(expected)
    assert f'CAMHook: {count} picture(s) of test went to ' \
        f'{osp.join(out_dir, "test")}\n' in output
    assert f'CAMHook: {count} picture(s) of test went to LocalVisBackend (' \
        in output
    for warning in ('MultiScaleDeformableAttention', "'pin_memory'"):
        assert warning not in result.stderr


def test_unknown_layer_is_one_line(trained, shapes_root, tmp_path, test_tool,
                                   monkeypatch):
    """Reported as the run starts; the hook's own tests cover the other
    settings, which fail the same way. The tool exits with the line as
    its message, which Python prints to stderr with exit code 1."""
    with pytest.raises(SystemExit) as exit_:
        _main(test_tool, monkeypatch, [
            TINY_CONFIG,
            osp.join(trained, 'epoch_1.pth'), '--work-dir',
            str(tmp_path), '--cfg-options', *_data_options(shapes_root),
            "custom_hooks.0.target_layers=['backbone.layer9']"
        ])
    message = exit_.value.code
    assert isinstance(message, str) and '\n' not in message
    assert message.startswith(
        "error: unknown target layer 'backbone.layer9'; closest: ")


def test_config_and_option_mistakes_name_the_bad_value(tmp_path):
    """What the tools print as ``error: ...`` (the unknown-layer test above
    shows the printing)."""
    with pytest.raises(CAMError, match="config file 'no/such.py' does not"):
        load_runner_config('no/such.py')
    cfg = load_runner_config(TINY_CONFIG)
    with pytest.raises(CAMError, match='Index 3 exceeds the length'):
        merge_cfg_options(cfg, {'custom_hooks.3.method': 'LayerCAM'})
    cfg.model.backbone.type = 'NoSuchBackbone'
    cfg.work_dir = str(tmp_path)
    with pytest.raises(CAMError, match='NoSuchBackbone is not in the'):
        build_runner(cfg).model


def test_export_is_the_same_on_one_and_two_processes(trained, shapes_root,
                                                     tmp_path):
    """An odd dataset (9 samples) in batches of 2: the same map files,
    maps and index on 1 process and on 2 (torchrun, gloo)."""
    import numpy as np

    from mmcam.visualization.raw_maps import read_index
    folders = {}

    def export(processes, *options):
        out_dir = str(tmp_path / f'export_{processes}')
        launch = [sys.executable, 'tools/test.py'] if processes == 1 else [
            sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
            '2', '--master_port',
            _free_port(), 'tools/test.py'
        ]
        result = _run([
            *launch, TINY_CONFIG,
            osp.join(trained, 'epoch_1.pth'), '--work-dir',
            str(tmp_path / f'work_{processes}'), '--cfg-options',
            *_data_options(shapes_root), 'test_dataloader.batch_size=2',
            'custom_hooks.0.interval=1', 'custom_hooks.0.save_raw=True',
            'custom_hooks.0.draw=False', f'custom_hooks.0.out_dir={out_dir}',
            *options, *(['--launcher', 'pytorch'] if processes == 2 else [])
        ])
        assert result.returncode == 0, result.stderr[-3000:]
        folders[processes] = osp.join(out_dir, 'test')
        return result.stdout + result.stderr

    for processes in (1, 2):
        export(processes)
    # Resuming on 2 processes: both processes' counts, in one line.
    log = export(2, 'custom_hooks.0.resume=True')
    assert 'resuming the export' in log and '9 sample(s) done' in log, log

    one, two = (read_index(folders[n]) for n in (1, 2))
    assert len(glob.glob(osp.join(folders[2], 'index_rank*.jsonl'))) == 2
    assert [r['index'] for r in one] == list(range(9))
    assert [r['file'] for r in one] == [r['file'] for r in two]
    for a, b in zip(one, two):
        assert a['categories'] == b['categories']
        np.testing.assert_allclose(
            np.load(osp.join(folders[1], a['file'])).astype(np.float32),
            np.load(osp.join(folders[2], b['file'])).astype(np.float32),
            atol=2e-3)


def test_cfg_options_take_a_list_of_dicts():
    """docs/runner.md's TensorBoard recipe, given on the command line."""
    parser = argparse.ArgumentParser()
    add_runner_arguments(parser)
    args = parser.parse_args([
        '--cfg-options', 'visualizer.type=CAMVisualizer',
        "visualizer.vis_backends=[dict(type='TensorboardVisBackend')]",
        'custom_hooks.0.interval=2'
    ])
    cfg = merge_cfg_options(load_runner_config(TINY_CONFIG), args.cfg_options)
    assert cfg.visualizer.type == 'CAMVisualizer'
    assert cfg.visualizer.vis_backends == [dict(type='TensorboardVisBackend')]
    assert cfg.custom_hooks[0].interval == 2
    # Literals only: a call inside the dict is refused, never run.
    with pytest.raises(SystemExit):
        parser.parse_args(
            ['--cfg-options', "a=[dict(b=__import__('os').getcwd())]"])
