"""CAMHook's option checks, read without a Runner."""
from types import SimpleNamespace

import pytest
import torch

from mmcam.cam import CAMError
from mmcam.cam.engine import DEFAULT_INPUT_SHAPE
from mmcam.engine.run_start_checks import (check_hook_options,
                                           first_input_shape)


def _options(**kwargs):
    options = dict(
        interval=1,
        phases='test',
        out_dir=None,
        save_raw=False,
        resume=False,
        draw_cfg=None)
    options.update(kwargs)
    return check_hook_options(**options)


def test_one_phase_becomes_a_list():
    assert _options() == ['test']
    assert _options(phases=('val', 'test')) == ['val', 'test']


@pytest.mark.parametrize('options, message', [
    (dict(interval=0), 'interval must be a positive integer, got 0'),
    (dict(phases=['train']), r"phases \['train'\] unknown"),
    (dict(out_dir=' '), "out_dir must name a folder .* got ' '"),
    (dict(resume=True), 'resume=True needs out_dir'),
    (dict(draw_cfg=dict(min_size=100000)), 'draw_cfg .*min_size'),
])
def test_a_bad_option_is_one_line_naming_it(options, message):
    with pytest.raises(CAMError, match=message):
        _options(**options)


def _loop(dataset):
    return SimpleNamespace(dataloader=SimpleNamespace(dataset=dataset))


def test_the_first_samples_shape_is_tried_else_the_default():
    loop = _loop([dict(inputs=torch.zeros(1, 40, 30))])
    assert first_input_shape([loop]) == (1, 1, 40, 30)
    assert first_input_shape([_loop([])]) == DEFAULT_INPUT_SHAPE
    assert first_input_shape([]) == DEFAULT_INPUT_SHAPE
