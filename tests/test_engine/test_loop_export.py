"""LoopExport driven directly, without a Runner."""
import logging

import numpy as np
import pytest
from mmpretrain.structures import DataSample

from mmcam.cam import CAMError
from mmcam.engine.cam_export import LoopExport
from mmcam.visualization.raw_maps import read_index


class _Dataset:
    """No pipeline to invert: maps stay at the network input."""
    metainfo = dict(classes=('cat', 'dog', 'fox'))


def _sample(path: str) -> DataSample:
    return DataSample(metainfo=dict(img_path=path, ori_shape=(8, 8)))


def test_writes_maps_without_padding_and_resumes(tmp_path, caplog):
    folder = str(tmp_path / 'test')
    export = LoopExport(folder, dict(method='GradCAM'))
    heatmaps = np.full((1, 10, 12), 0.5, np.float32)
    export.write(_Dataset(), 4, _sample('a/b/four.png'), (8, 9), heatmaps, [2],
                 [0.75])
    export.write_failure(6, 'a/six.png', 'ValueError: odd sample')
    assert export.take_exported() == 1
    assert export.take_exported() == 0
    export.close()

    first, failed = read_index(folder)
    assert first['file'] == 'maps/4_four.npy'
    assert first['shape'] == [1, 8, 9]  # the padding is dropped
    assert first['space'] == 'input'
    assert first['class_names'] == ['fox']
    assert failed['error'] == 'ValueError: odd sample'

    logger = logging.getLogger('loop_export_test')
    with caplog.at_level(logging.INFO, logger='loop_export_test'):
        resumed = LoopExport(
            folder, dict(method='GradCAM'), resume=True, logger=logger)
    assert resumed.done(4, 'a/b/four.png')
    assert not resumed.done(6, 'a/six.png')  # failures are made again
    assert f'resuming the export in {folder}: 1 sample(s) done' in \
        caplog.text
    resumed.close()


def test_refuses_to_resume_with_other_settings(tmp_path):
    folder = str(tmp_path / 'test')
    LoopExport(folder, dict(method='GradCAM')).close()
    with pytest.raises(CAMError, match="made with method='GradCAM'"):
        LoopExport(folder, dict(method='LayerCAM'), resume=True)


def test_a_file_in_place_of_the_maps_folder_is_one_line(tmp_path):
    (tmp_path / 'test').mkdir()
    (tmp_path / 'test' / 'maps').write_text('not a folder')
    with pytest.raises(CAMError, match="raw-map folder .* is a file"):
        LoopExport(str(tmp_path / 'test'), dict(method='GradCAM'))
