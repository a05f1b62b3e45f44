"""CallSettings: the categories and topk of one CAMInferencer call.

A call may override the configured ``target_category`` or ``topk``:
categories given for a call replace the configured topk, and a topk given
for a call replaces the configured categories. This class turns a call's
overrides into the engine's arguments, validated once with
:class:`~mmcam.cam.CAMSettings`' one-line errors, and checks that they fit
the classifier's head before any image is read.
"""
from typing import Optional

from ..cam import CAMSettings
from ..cam.targets import check_categories

#: An argument the call did not give: the configured setting holds.
UNSET = object()


class CallSettings:
    """The configured categories and topk, with a call's overrides.

    Args:
        settings (CAMSettings): The inferencer's settings.
        num_classes (int, optional): Classes of the head; None when the
            model does not say (the first batch tells).
    """

    def __init__(self, settings: CAMSettings,
                 num_classes: Optional[int]) -> None:
        self.settings = settings
        self.num_classes = num_classes

    @staticmethod
    def engine_arguments(target_category=UNSET, topk=UNSET) -> dict:
        """The :class:`~mmcam.cam.CAMEngine` arguments of a call: only
        what it overrides.

        Raises:
            CAMError: For categories or a topk that are not settings.
        """
        overrides = {}
        if target_category is not UNSET:
            overrides['target_category'] = target_category
            overrides['topk'] = None
        if topk is not UNSET:
            overrides['topk'] = topk
            overrides.setdefault('target_category', None)
        # Validated here, once, with the settings' one-line errors.
        CAMSettings(**overrides)
        return overrides

    def resolved(self, target_category=UNSET, topk=UNSET) -> CAMSettings:
        """The categories and topk a call with these overrides uses."""
        overrides = self.engine_arguments(target_category, topk)
        return CAMSettings(
            target_category=overrides.get('target_category',
                                          self.settings.target_category),
            topk=overrides.get('topk', self.settings.topk))

    def check_fit_the_head(self, target_category=UNSET, topk=UNSET) -> None:
        """Class ids or a topk the head does not have fail once, before
        any image is loaded, not once per image.

        Raises:
            CAMError: Naming the class id or topk and the head's size.
        """
        if self.num_classes is None:
            return  # the first batch tells
        settings = self.resolved(target_category, topk)
        categories = settings.target_category
        check_categories(self.num_classes,
                         categories if isinstance(categories, list) else None,
                         settings.topk)
