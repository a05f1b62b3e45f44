"""The CAM methods mmcam supports, by name, and how each is computed.

Most methods come from pytorch-grad-cam; the attention methods
(AttentionRollout, GAE) are mmcam's own (:mod:`mmcam.cam.attention_cam`).
Their names and families are listed in :mod:`mmcam.cam.method_names`.
grad-cam's classes are imported when a method is first run: importing
grad-cam loads scikit-learn, scipy and matplotlib, which a run of another
part of mmcam never needs.
"""
import importlib
from dataclasses import dataclass
from typing import Dict, List

from .errors import CAMError
from .method_names import ALIASES, METHOD_FAMILIES


@dataclass(frozen=True)
class CAMMethod:
    """A supported CAM method.

    Args:
        name (str): The canonical name, as grad-cam spells its class.
        family (str): ``'activation'``, ``'gradient'``, ``'perturbation'``
            ``'full-backward'`` or ``'attention'`` (see
            :mod:`mmcam.cam.method_names`).
    """
    name: str
    family: str

    @property
    def cam_class(self) -> type:
        """grad-cam's class of this method (imports grad-cam)."""
        if self.name == 'ShapleyCAM':
            # grad-cam's own fails on frozen models, on several target
            # layers and on tokens; see mmcam.cam.shapley_cam.
            from .shapley_cam import ShapleyCAM
            return ShapleyCAM
        if self.name == 'RandomCAM':
            # grad-cam's draws from numpy's global generator: no two runs
            # agree. See mmcam.cam.random_cam.
            from .random_cam import RandomCAM
            return RandomCAM
        return getattr(importlib.import_module('pytorch_grad_cam'), self.name)

    @property
    def uses_target_layers(self) -> bool:
        # FullGrad always uses every biased layer of the model; attention
        # methods read every attention block.
        return self.name != 'FullGrad' and self.family != 'attention'


_METHODS: List[CAMMethod] = [
    CAMMethod(name, family) for name, family in METHOD_FAMILIES
]

# Lower-case lookup table, aliases included.
METHODS: Dict[str, CAMMethod] = {m.name.lower(): m for m in _METHODS}
METHODS.update({
    alias: METHODS[name.lower()]
    for alias, name in ALIASES.items()
})


def supported_methods() -> List[str]:
    """Canonical names of the supported methods, in a stable order."""
    return [m.name for m in _METHODS]


def get_method(name: str) -> CAMMethod:
    """Look a method up by case-insensitive name or alias.

    Raises:
        CAMError: if the name is unknown; the message lists the supported
            methods.
    """
    method = METHODS.get(str(name).lower())
    if method is None:
        raise CAMError(f'unknown CAM method {name!r}; supported methods: '
                       f'{", ".join(supported_methods())} '
                       '(aliases: GradCAM++, KPCA-CAM, rollout)')
    return method
