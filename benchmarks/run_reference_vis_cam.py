"""Run MMPretrain's own ``tools/visualization/vis_cam.py`` on today's stack.

The reference tool, as installed with mmpretrain 1.2.0, does not start on
this stack: it imports ``pkg_resources`` (gone with setuptools >= 81) and
passes ``use_cuda`` to grad-cam classes (gone in grad-cam 1.5). This
launcher patches exactly those two things from outside and then runs the
installed file unchanged, so the benchmark compares against the real thing.

Usage (same arguments as the reference tool)::

    python benchmarks/run_reference_vis_cam.py IMG CONFIG CHECKPOINT \\
        [--save-path OUT.jpg] [--method GradCAM] ...

``load_reference()`` returns the tool's functions (``init_cam``,
``reshape_transform``, ``get_default_target_layers``) for in-process use.
"""
import functools
import importlib.metadata
import importlib.util
import os.path as osp
import runpy
import sys
import types

# Run from a checkout without installing mmcam.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import mmcam  # noqa: E402,F401  (mmengine's config fixes; before the shim)
from mmcam.compat import import_grad_cam_as_shipped  # noqa: E402

# The reference imports grad-cam as grad-cam ships it (with scikit-learn,
# scipy and matplotlib), not with the deferral mmcam applies for itself.
import_grad_cam_as_shipped()


def reference_path() -> str:
    """The installed reference tool's file."""
    package = osp.dirname(importlib.util.find_spec('mmpretrain').origin)
    return osp.join(package, '.mim', 'tools', 'visualization', 'vis_cam.py')


def _install_pkg_resources_shim() -> None:
    """The tool calls ``pkg_resources.get_distribution(name).version``
    only; answer it from ``importlib.metadata``."""
    try:
        import pkg_resources  # noqa: F401
        return
    except ImportError:
        pass
    shim = types.ModuleType('pkg_resources')
    shim.get_distribution = lambda name: types.SimpleNamespace(
        version=importlib.metadata.version(name))
    sys.modules['pkg_resources'] = shim


def _accept_use_cuda() -> None:
    """grad-cam >= 1.5 picks the model's device itself and no longer takes
    ``use_cuda``; make its classes accept and ignore it."""
    from pytorch_grad_cam.base_cam import BaseCAM

    def classes(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from classes(sub)

    for cls in [BaseCAM, *classes(BaseCAM)]:
        init = cls.__dict__.get('__init__')
        if init is None or hasattr(init, '__wrapped__'):
            continue

        @functools.wraps(init)
        def init_without_use_cuda(self, *args, _original=init, **kwargs):
            kwargs.pop('use_cuda', None)
            _original(self, *args, **kwargs)

        cls.__init__ = init_without_use_cuda


def load_reference() -> dict:
    """The reference tool's module globals, without running ``main``."""
    _install_pkg_resources_shim()
    _accept_use_cuda()
    return runpy.run_path(reference_path(), run_name='reference_vis_cam')


if __name__ == '__main__':
    _install_pkg_resources_shim()
    _accept_use_cuda()
    sys.argv[0] = reference_path()
    runpy.run_path(reference_path(), run_name='__main__')
