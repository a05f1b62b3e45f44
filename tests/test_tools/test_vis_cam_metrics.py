"""tools/vis_cam.py --metrics, through ``main()`` in this process."""
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'vis_cam.py'


@pytest.fixture(scope='module')
def vis_cam(load_tool):
    return load_tool(TOOL)


def test_each_line_has_its_metrics_and_a_mean_ends_the_run(
        vis_cam, tiny_resnet, test_images, tmp_path, capsys):
    config, checkpoint = tiny_resnet
    folder = tmp_path / 'two'
    folder.mkdir()
    for key in ('color', 'wide'):
        (folder / test_images[key].name).write_bytes(
            test_images[key].read_bytes())
    code = vis_cam.main([
        str(folder),
        str(config),
        str(checkpoint), '--save-path',
        str(tmp_path / 'cams'), '--metrics', 'avg_drop', 'deletion_auc',
        '--metric-steps', '4', '--target-layers', 'backbone.layer4.1.bn2'
    ])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    lines = [line for line in out if '| avg_drop ' in line]
    assert len(lines) == 2
    values = [
        float(line.split('avg_drop ')[1].split(',')[0]) for line in lines
    ]
    assert all(', deletion_auc 0.' in line for line in lines)
    mean = [line for line in out if line.startswith('mean over 2 heatmap')]
    assert len(mean) == 1
    # Printed with 3 decimals.
    mean_drop = float(mean[0].split('avg_drop ')[1].split(',')[0])
    assert mean_drop == pytest.approx(sum(values) / 2, abs=1.5e-3)


@pytest.mark.parametrize('args, message', [
    (['--metrics', 'drop'], "error: unknown metric 'drop'; available: "),
    (['--metrics', 'pointing_game'
      ], "error: metric 'pointing_game' needs ground-truth regions"),
    (['--metrics', '--metric-steps', '0'
      ], 'error: metric steps must be a positive integer, got 0'),
    (['--metrics', '--metric-options', 'insertion_substrate=gray'
      ], "error: metric insertion_substrate must be one of 'black'"),
    (['--metrics', '--metric-options', 'insertion_substrate'
      ], "error: bad --metric-options 'insertion_substrate': expected"),
    (['--metric-options', 'steps=3'
      ], 'error: --metric-options needs --metrics'),
    (['--metrics', '--metric-options', 'tie_break=first'
      ], "error: metric tie_break must be one of 'raster', 'random'"),
])
def test_bad_metric_requests(vis_cam, tiny_resnet, test_images, tmp_path,
                             capsys, args, message):
    config, checkpoint = tiny_resnet
    code = vis_cam.main([
        str(test_images['color']),
        str(config),
        str(checkpoint), '--save-path',
        str(tmp_path / 'cam.png'), *args
    ])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith(message)


def test_random_cam_maps_and_numbers_repeat_and_follow_the_seed(
        vis_cam, tiny_resnet, test_images, tmp_path, capsys):
    import numpy as np
    config, checkpoint = tiny_resnet

    def run(*extra):
        code = vis_cam.main([
            str(test_images['color']),
            str(config),
            str(checkpoint), '--save-path',
            str(tmp_path / 'cam.png'), '--save-raw', '--method', 'RandomCAM',
            '--metrics', 'deletion_auc', '--metric-steps', '4', *extra
        ])
        assert code == 0
        lines = [
            line for line in capsys.readouterr().out.splitlines()
            if 'deletion_auc' in line
        ]
        return lines, np.load(tmp_path / 'cam.npy')

    lines, heatmap = run()
    again_lines, again = run()
    assert len(lines) == 1 and again_lines == lines
    np.testing.assert_array_equal(again, heatmap)
    np.testing.assert_array_equal(run('--seed', '0')[1], heatmap)
    assert not np.allclose(run('--seed', '7')[1], heatmap)


@pytest.mark.parametrize('metric, options, reported', [
    ('insertion_auc', ['insertion_substrate=black', 'blur_kernel=3'
                       ], ['insertion_auc', 'insertion_substrate_prob']),
    ('deletion_auc', ['inverted=True', 'random_baseline=2'], [
        'deletion_auc', 'deletion_substrate_prob', 'inverted_deletion_auc',
        'random_deletion_auc', 'random_deletion_auc_std'
    ]),
])
def test_metric_options_reach_the_measurer(vis_cam, tiny_resnet, test_images,
                                           tmp_path, capsys, metric, options,
                                           reported):
    config, checkpoint = tiny_resnet
    code = vis_cam.main([
        str(test_images['color']),
        str(config),
        str(checkpoint), '--save-path',
        str(tmp_path / 'cam.png'), '--metrics', metric, '--metric-steps', '3',
        '--metric-options', *options
    ])
    assert code == 0
    line = [
        line for line in capsys.readouterr().out.splitlines()
        if f'| {metric}' in line
    ]
    assert len(line) == 1
    names = [
        part.rsplit(' ', 1)[0] for part in line[0].split(' | ')[1].split(', ')
    ]
    assert names == reported
