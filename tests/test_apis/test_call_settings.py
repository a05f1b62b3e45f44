"""CallSettings on its own: a call's categories and topk."""
import pytest

from mmcam.apis.call_settings import CallSettings
from mmcam.cam import CAMError, CAMSettings


def test_categories_of_a_call_replace_the_configured_topk():
    call = CallSettings(CAMSettings(topk=3), num_classes=5)
    assert call.engine_arguments() == {}
    assert call.engine_arguments(target_category=[1, 2]) == dict(
        target_category=[1, 2], topk=None)
    assert call.engine_arguments(topk=2) == dict(target_category=None, topk=2)
    assert call.resolved().topk == 3
    resolved = call.resolved(target_category=[1, 2])
    assert (resolved.target_category, resolved.topk) == ([1, 2], None)
    assert resolved.heatmaps_per_sample == 2


def test_a_topk_of_a_call_replaces_the_configured_categories():
    call = CallSettings(CAMSettings(target_category=[0, 4]), num_classes=5)
    assert call.resolved().heatmaps_per_sample == 2
    resolved = call.resolved(topk=4)
    assert (resolved.target_category, resolved.topk) == (None, 4)
    # None for a call: the predicted class.
    assert call.resolved(target_category=None).heatmaps_per_sample == 1


def test_overrides_are_checked_against_the_head():
    call = CallSettings(CAMSettings(), num_classes=5)
    call.check_fit_the_head(target_category=4)
    with pytest.raises(CAMError, match='target category 5 is out of range'):
        call.check_fit_the_head(target_category=5)
    with pytest.raises(CAMError, match='topk 6 exceeds the 5 classes'):
        call.check_fit_the_head(topk=6)
    with pytest.raises(CAMError, match='topk must be a positive integer'):
        call.engine_arguments(topk=0)
    # A head that does not say its size: the first batch tells.
    CallSettings(CAMSettings(), num_classes=None).check_fit_the_head(topk=6)
