"""The CAM methods mmcam supports, by name, and how each is computed.

Methods come from pytorch-grad-cam. They fall into three families, which
decide how :class:`~mmcam.cam.CAMEngine` runs them:

- ``activation``: the heatmap needs only the target layer's activations
  (EigenCAM, KPCA_CAM, FEM): one forward pass, no backward.
- ``gradient``: it needs activations and d(score)/d(activation) (GradCAM and
  its relatives): one forward and a backward that stops at the target layer.
- ``perturbation``: the method runs the model on perturbed inputs or
  activations (ScoreCAM, AblationCAM: batched in
  :mod:`mmcam.cam.perturbation`, one pass for every class) or needs
  gradients beyond the target layer (FullGrad, ShapleyCAM: grad-cam's own
  ``forward``).
"""
from dataclasses import dataclass
from typing import Dict, List, Type

import pytorch_grad_cam as gc

from .errors import CAMError
from .shapley_cam import ShapleyCAM


@dataclass(frozen=True)
class CAMMethod:
    """A supported CAM method.

    Args:
        name (str): The canonical name, as grad-cam spells its class.
        cam_class (type): grad-cam's class.
        family (str): ``'activation'``, ``'gradient'`` or ``'perturbation'``.
    """
    name: str
    cam_class: Type[gc.base_cam.BaseCAM]
    family: str

    @property
    def uses_target_layers(self) -> bool:
        # FullGrad always uses every biased layer of the model.
        return self.cam_class is not gc.FullGrad


_METHODS: List[CAMMethod] = [
    CAMMethod('GradCAM', gc.GradCAM, 'gradient'),
    CAMMethod('GradCAMPlusPlus', gc.GradCAMPlusPlus, 'gradient'),
    CAMMethod('XGradCAM', gc.XGradCAM, 'gradient'),
    CAMMethod('EigenGradCAM', gc.EigenGradCAM, 'gradient'),
    CAMMethod('LayerCAM', gc.LayerCAM, 'gradient'),
    CAMMethod('HiResCAM', gc.HiResCAM, 'gradient'),
    CAMMethod('GradCAMElementWise', gc.GradCAMElementWise, 'gradient'),
    CAMMethod('RandomCAM', gc.RandomCAM, 'gradient'),
    CAMMethod('EigenCAM', gc.EigenCAM, 'activation'),
    CAMMethod('KPCA_CAM', gc.KPCA_CAM, 'activation'),
    CAMMethod('FEM', gc.FEM, 'activation'),
    CAMMethod('ScoreCAM', gc.ScoreCAM, 'perturbation'),
    CAMMethod('AblationCAM', gc.AblationCAM, 'perturbation'),
    CAMMethod('FullGrad', gc.FullGrad, 'perturbation'),
    CAMMethod('ShapleyCAM', ShapleyCAM, 'perturbation'),
]

# Lower-case lookup table. The aliases are those of MMPretrain's vis_cam.py
# (``gradcam++``) plus spellings users type for the same methods.
METHODS: Dict[str, CAMMethod] = {m.name.lower(): m for m in _METHODS}
METHODS.update({
    'gradcam++': METHODS['gradcamplusplus'],
    'kpcacam': METHODS['kpca_cam'],
    'kpca-cam': METHODS['kpca_cam'],
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
                       '(aliases: GradCAM++, KPCA-CAM)')
    return method
