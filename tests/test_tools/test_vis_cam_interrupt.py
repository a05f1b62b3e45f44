"""Ctrl-C during a long tools/vis_cam.py run keeps every finished picture
whole and leaves no partial file."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmcam.cam import CAMEngine
from mmcam.visualization import save_picture

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'vis_cam.py'


def test_ctrl_c_keeps_finished_pictures(load_tool, tiny_resnet, test_images,
                                        tmp_path, monkeypatch, capsys):
    config, checkpoint = tiny_resnet
    folder = tmp_path / 'photos'
    folder.mkdir()
    for name in ('color', 'wide', 'gray'):
        path = test_images[name]
        (folder / path.name).write_bytes(path.read_bytes())
    out = tmp_path / 'cams'
    # The third image's heatmap is interrupted, as a ScoreCAM run minutes
    # long would be by Ctrl-C (GradCAM keeps the test quick).
    compute = CAMEngine.__call__
    calls = []

    def interrupted_on_third(engine, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return compute(engine, *args, **kwargs)

    monkeypatch.setattr(CAMEngine, '__call__', interrupted_on_third)
    code = load_tool(TOOL).main([
        str(folder), str(config), str(checkpoint), '--save-path',
        str(out), '--save-raw'
    ])

    assert code == 130
    assert 'error: interrupted' in capsys.readouterr().err
    pictures = sorted(out.glob('*.png'))
    assert len(pictures) == 2
    for picture in pictures:
        assert cv2.imread(str(picture)) is not None
        heatmap = np.load(picture.with_suffix('.npy'))
        assert heatmap.ndim == 2 and heatmap.dtype == np.float32
    assert sorted(p.name for p in out.iterdir() if p.name.startswith('.')) \
        == []


def test_interrupted_write_leaves_the_old_picture(tmp_path, monkeypatch):
    target = tmp_path / 'cat_scorecam_282.png'
    old = np.full((8, 8, 3), 200, np.uint8)
    save_picture(old, str(target))

    def interrupt(source, destination):
        raise KeyboardInterrupt

    monkeypatch.setattr('os.replace', interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_picture(np.zeros((8, 8, 3), np.uint8), str(target))
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    np.testing.assert_array_equal(cv2.imread(str(target)), old)
