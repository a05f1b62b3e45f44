# isort: skip_file
"""mmcam: class activation maps for OpenMMLab classification models.

Importing mmcam applies the fixes in :mod:`mmcam.compat` and registers
``CAMHook``, ``CAMVisualizer`` and ``CAMMetric`` into mmengine's
registries, so
``custom_imports = dict(imports=['mmcam'])`` is all a config needs.
"""
from . import compat
from .library_noise import silence_library_warnings
from .version import __version__

compat.apply_all()
# Before mmcv and torch's data loading get the chance to warn.
silence_library_warnings()

from .visualization import CAMVisualizer  # noqa: E402  (registers it)
from .apis import CAMInferencer  # noqa: E402
from .engine import CAMHook  # noqa: E402  (registers it)
from .evaluation import CAMMetric  # noqa: E402  (registers it)

__all__ = [
    '__version__', 'CAMHook', 'CAMInferencer', 'CAMMetric', 'CAMVisualizer'
]
