"""LoopPictures driven directly, without a Runner."""
import logging

import numpy as np

from mmcam.cam import CAMSettings
from mmcam.engine.loop_pictures import LoopPictures, picture_stem


class _Visualizer:
    """Records add_image and fails on one name."""

    def __init__(self):
        self.images = []
        self._vis_backends = {}

    def add_image(self, name, image, step=0):
        if name == 'cam_test_bad':
            raise OSError('disk full')
        self.images.append((name, step))


def test_picture_stems_name_the_sample_method_and_categories():
    settings = CAMSettings.from_kwargs(topk=3)
    assert picture_stem(12, 'GradCAM', settings) == '12_GradCAM_top3'
    settings = CAMSettings.from_kwargs(target_category=[1, 4])
    assert picture_stem(0, 'LayerCAM', settings) == '0_LayerCAM_class1-4'
    assert picture_stem(5, 'GradCAM', CAMSettings.from_kwargs()) == \
        '5_GradCAM_pred'


def test_writes_to_out_dir_and_says_where(tmp_path, caplog):
    logger = logging.getLogger('loop_pictures_test')
    pictures = LoopPictures(str(tmp_path))
    picture = np.zeros((4, 4, 3), np.uint8)
    pictures.add(picture, 'val', 'val_epoch_2', '3_GradCAM_pred', 3, 2)
    assert pictures.exists('val_epoch_2', '3_GradCAM_pred')
    assert not pictures.exists('val_epoch_2', '6_GradCAM_pred')
    pictures.skipped = 1
    with caplog.at_level(logging.INFO, logger='loop_pictures_test'):
        pictures.publish(_Visualizer(), logger, exported=2)
        pictures.log_end(logger, _Visualizer(), 'val', 'val_epoch_2', 3,
                         str(tmp_path / 'val_epoch_2' / 'maps'))
    assert (f'1 picture(s) and the raw maps of 2 sample(s) (1 sample(s) '
            'already exported were skipped) of val went to '
            f'{tmp_path / "val_epoch_2"}, {tmp_path / "val_epoch_2" / "maps"}'
            ) in caplog.text


def test_hands_pictures_to_the_visualizer_in_sample_order(caplog):
    logger = logging.getLogger('loop_pictures_test')
    pictures, visualizer = LoopPictures(), _Visualizer()
    picture = np.zeros((4, 4, 3), np.uint8)
    for index in (8, 0):
        pictures.add(picture, 'test', 'test', f'{index}_GradCAM_pred', index,
                     0)
    pictures.add(picture, 'test', 'test', 'bad', 4, 0)
    with caplog.at_level(logging.INFO, logger='loop_pictures_test'):
        pictures.publish(visualizer, logger)
        assert pictures.pending == []
        pictures.log_end(logger, visualizer, 'test', 'test', 4)
    assert visualizer.images == [('cam_test_0_GradCAM_pred', 0),
                                 ('cam_test_8_GradCAM_pred', 0)]
    assert 'could not store picture cam_test_bad: OSError: disk full' in \
        caplog.text
    assert ("2 picture(s) of test went to nowhere: the runner's visualizer "
            'has no vis_backends') in caplog.text
