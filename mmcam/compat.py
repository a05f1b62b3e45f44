"""Every fix mmcam applies to its stack's versions, in one place.

Each fix says which version it is for and when it can go. :func:`apply_all`
runs once when ``mmcam`` is imported; every fix is idempotent and changes
nothing on versions that do not need it.
"""
import builtins
import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import os.path as osp
import pickle
import sys
import types
from typing import Callable, List

_applied = False


# --------------------------------------------------------------------------
# Any torch/torchvision pair not built for each other (different releases,
# or the same release from two indexes: a ``+cpu`` torch from
# download.pytorch.org beside PyPI's CUDA torchvision). torchvision's C++
# operators then fail to register and ``import torchvision``, deep inside
# mmpretrain's imports, raises "operator torchvision::nms does not exist"
# after a 30-line traceback. Checked first, so the user reads one line
# naming both versions and the fix. Keep for as long as torchvision's
# import can fail this way.
# --------------------------------------------------------------------------
# The pair the tests and ``.ci/run`` use, as the README's Install says.
KNOWN_GOOD_TORCH = ('torch==2.14.1', 'torchvision==0.29.1')


def torchvision_mismatch_message(error: BaseException) -> str:
    """One line naming the installed torch and torchvision, what failed
    and how to install a pair that fits."""
    import torch
    try:
        torchvision_version = importlib.metadata.version('torchvision')
    except importlib.metadata.PackageNotFoundError:
        torchvision_version = '(version unknown)'
    reason = ' '.join(str(error).split())
    return (f'torchvision {torchvision_version} does not fit torch '
            f'{torch.__version__}: its C++ operators do not load ({reason}); '
            'install the two together, in one pip command from one index, '
            f'e.g. pip install {" ".join(KNOWN_GOOD_TORCH)} (see Install in '
            "mmcam's README)")


def check_torchvision_fits_torch() -> None:
    """Import torchvision, or say in one line that it does not fit torch.

    Raises:
        CAMError: torchvision's operators do not load with this torch.
    """
    try:
        import torchvision  # noqa: F401
    except RuntimeError as error:
        if 'torchvision::' not in str(error):
            raise
        from mmcam.cam.errors import CAMError
        raise CAMError(torchvision_mismatch_message(error)) from None


# --------------------------------------------------------------------------
# mmengine 0.10.x + setuptools >= 81: ``pkg_resources`` is gone.
# mmengine's package helpers import it, so ``mmpretrain::`` config paths and
# ``Config.fromfile`` on configs that inherit them fail with ImportError.
# Remove once mmengine's package_utils stops importing pkg_resources.
# --------------------------------------------------------------------------
def _distribution(package: str):
    try:
        return importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def is_installed(package: str) -> bool:
    """Whether ``package`` is installed, without ``pkg_resources``."""
    if _distribution(package) is not None:
        return True
    spec = importlib.util.find_spec(package)
    return spec is not None and spec.origin is not None


def package2module(package: str) -> str:
    """The import name of a distribution, e.g. ``mmcv-lite`` -> ``mmcv``."""
    dist = _distribution(package)
    if dist is None:
        raise ValueError(f'can not infer the module name of {package}')
    top_level = dist.read_text('top_level.txt')
    if top_level:
        return top_level.split('\n')[0]
    # Wheels without top_level.txt: the first top-level package in RECORD.
    for file in dist.files or []:
        parts = file.parts
        if len(parts) > 1 and parts[1] == '__init__.py':
            return parts[0]
    raise ValueError(f'can not infer the module name of {package}')


def get_installed_path(package: str) -> str:
    """The folder a package is installed in, without ``pkg_resources``."""
    dist = _distribution(package)
    if dist is None:
        spec = importlib.util.find_spec(package)
        if spec is None:
            raise importlib.metadata.PackageNotFoundError(package)
        if spec.origin is None:
            raise RuntimeError(f'{package} is a namespace package, which is '
                               'invalid for `get_installed_path`')
        return osp.dirname(spec.origin)
    location = str(dist.locate_file(''))
    possible_path = osp.join(location, package)
    if osp.exists(possible_path):
        return possible_path
    module = importlib.util.find_spec(package2module(package))
    if module is not None and module.origin is not None:
        return osp.dirname(module.origin)
    return osp.join(location, package2module(package))


def _patch_package_utils() -> None:
    try:
        import pkg_resources  # noqa: F401
        return
    except ImportError:
        pass
    replacements = dict(
        is_installed=is_installed,
        get_installed_path=get_installed_path,
        package2module=package2module)
    # mmengine imports these by name into several modules; patch each one.
    for module_name in ('mmengine.utils.package_utils', 'mmengine.utils',
                        'mmengine.config.config', 'mmengine.config.utils',
                        'mmengine.hub.hub'):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name, func in replacements.items():
            if hasattr(module, name):
                setattr(module, name, func)


# --------------------------------------------------------------------------
# torch >= 2.6 loads checkpoints with ``weights_only=True``. Checkpoints
# saved by mmengine's Runner hold numpy scalars and arrays (in the message
# hub) and ``HistoryBuffer`` objects, and some training code saves its config
# in ``meta`` as mmengine ``Config``/``ConfigDict`` objects; that unpickler
# refuses all of them. We keep ``weights_only=True`` and allow-list exactly
# these benign types; nothing ever falls back to unsafe loading. A
# ``ConfigDict`` is rebuilt by calling it on a dict and a ``Config`` by
# setting its fields, from values the unpickler has already checked, so
# neither can carry code. Remove once mmengine saves plain tensors/containers
# or registers its own safe globals.
# --------------------------------------------------------------------------
def runner_checkpoint_safe_globals() -> List[object]:
    """The types a Runner-saved checkpoint holds besides tensors, and the
    mmengine config containers some training code saves in ``meta``."""
    import numpy as np
    safe: List[object] = [np.ndarray, np.dtype]
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    safe += [_reconstruct, scalar]
    # Each dtype has its own class (np.dtypes.Float64DType, ...) in
    # numpy >= 1.25; pickles of arrays and scalars reference them.
    for type_code in np.typecodes['All']:
        try:
            safe.append(type(np.dtype(type_code)))
        except TypeError:
            continue
    safe += [
        np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
        np.uint32, np.uint64, np.float16, np.float32, np.float64, np.complex64,
        np.complex128
    ]
    from mmengine.logging.history_buffer import HistoryBuffer
    safe.append(HistoryBuffer)
    from mmengine.config import Config, ConfigDict
    safe += [Config, ConfigDict]
    return list(dict.fromkeys(safe))


def history_buffer_statistic(owner, name: str):
    """Stands in for ``getattr`` while unpickling a checkpoint.

    ``HistoryBuffer`` pickles its statistics methods as
    ``getattr(HistoryBuffer, 'mean')``. Allow-listing the real ``getattr``
    would let a checkpoint reach any attribute of any allowed object, so only
    these lookups are answered.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    allowed = {'min', 'max', 'current', 'mean'}
    allowed.update(HistoryBuffer._statistics_methods)
    if owner is HistoryBuffer and name in allowed:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'refusing getattr({owner!r}, {name!r}) in a weights_only load')


def _allow_runner_checkpoints() -> None:
    import torch
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:  # torch < 2.4 loads them unrestricted
        return
    add_safe_globals(runner_checkpoint_safe_globals())
    # torch.save pickles with protocol 2, which spells builtins __builtin__.
    add_safe_globals([(history_buffer_statistic, '__builtin__.getattr'),
                      (history_buffer_statistic, 'builtins.getattr')])


# --------------------------------------------------------------------------
# mmengine 0.10.x calls ``torch.load`` without ``weights_only`` and
# ``torch.hub.load_state_dict_from_url`` (whose default is
# ``weights_only=False``) for every checkpoint it reads: Runner ``load_from``
# and ``resume``, ``init_cfg=dict(type='Pretrained')``, URLs. On torch >= 2.6
# the first is safe only until a user sets ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``
# (the usual workaround for loading errors), and the second never is: a
# checkpoint's pickle could run any code. Every load in mmengine's checkpoint
# module therefore passes ``weights_only=True`` explicitly, which torch
# honours whatever the environment says. Remove once mmengine passes
# ``weights_only=True`` itself.
# --------------------------------------------------------------------------
def safe_torch_load(f, map_location=None, **kwargs):
    """``torch.load`` that only ever unpickles weights.

    Tensors, containers and the types :func:`runner_checkpoint_safe_globals`
    allow-lists load; anything else (a global such as ``os.system``) raises
    ``pickle.UnpicklingError`` naming it. ``weights_only=False`` and custom
    pickle modules are refused rather than honoured.
    """
    import torch
    if kwargs.pop('weights_only', True) is not True or \
            kwargs.pop('pickle_module', None) is not None:
        raise pickle.UnpicklingError(
            'mmcam loads checkpoints with weights_only=True only')
    return torch.load(
        f, map_location=map_location, weights_only=True, **kwargs)


def safe_load_url(url: str,
                  model_dir=None,
                  map_location=None,
                  progress: bool = True,
                  check_hash: bool = False,
                  file_name=None,
                  **kwargs):
    """``torch.hub.load_state_dict_from_url`` with ``weights_only=True``."""
    from torch.hub import load_state_dict_from_url
    kwargs.pop('weights_only', None)
    return load_state_dict_from_url(
        url,
        model_dir=model_dir,
        map_location=map_location,
        progress=progress,
        check_hash=check_hash,
        file_name=file_name,
        weights_only=True)


class _TorchWithSafeLoad(types.ModuleType):
    """The ``torch`` module as mmengine's checkpoint module sees it: the
    same in every attribute but ``load``."""

    def __init__(self, torch_module) -> None:
        super().__init__('torch')
        self._torch = torch_module

    def __getattr__(self, name: str):
        return getattr(self._torch, name)

    load = staticmethod(safe_torch_load)


def _force_weights_only_loads() -> None:
    import torch
    from mmengine.runner import checkpoint
    if not isinstance(checkpoint.torch, _TorchWithSafeLoad):
        checkpoint.torch = _TorchWithSafeLoad(torch)
    checkpoint.load_url = safe_load_url


# --------------------------------------------------------------------------
# mmengine 0.10.7 on a machine without a GPU:
# 1. ``init_dist(launcher='pytorch'|'slurm')`` always calls
#    ``torch.cuda.set_device``, which raises there;
# 2. the Runner passes ``device_ids=[LOCAL_RANK]`` to DDP even for a model on
#    the CPU, which DDP rejects.
# Both make gloo-on-CPU multi-process runs impossible. On machines with a GPU
# these patches call the original code unchanged. Remove when mmengine
# checks for CUDA before using it.
# --------------------------------------------------------------------------
def _cpu_safe(init_fn: Callable) -> Callable:

    def init_without_cuda(backend, *args, **kwargs):
        import torch
        if torch.cuda.is_available():
            return init_fn(backend, *args, **kwargs)
        import torch.cuda
        original_set_device = torch.cuda.set_device
        # nccl needs a GPU; gloo is the CPU backend of torch.distributed.
        if backend == 'nccl':
            backend = 'gloo'
        torch.cuda.set_device = lambda *_, **__: None
        try:
            return init_fn(backend, *args, **kwargs)
        finally:
            torch.cuda.set_device = original_set_device

    init_without_cuda.__wrapped__ = init_fn
    return init_without_cuda


def _patch_cpu_distributed() -> None:
    from mmengine.dist import utils as dist_utils
    for name in ('_init_dist_pytorch', '_init_dist_slurm'):
        original = getattr(dist_utils, name)
        if not hasattr(original, '__wrapped__'):
            setattr(dist_utils, name, _cpu_safe(original))

    from mmengine.model.wrappers import MMDistributedDataParallel
    original_init = MMDistributedDataParallel.__init__
    if hasattr(original_init, '__wrapped__'):
        return

    def ddp_init(self, module, detect_anomalous_params=False, **kwargs):
        first_param = next(module.parameters(), None)
        if first_param is not None and first_param.device.type == 'cpu':
            # DDP requires device_ids=None for modules on the CPU.
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        original_init(
            self,
            module=module,
            detect_anomalous_params=detect_anomalous_params,
            **kwargs)

    ddp_init.__wrapped__ = original_init
    MMDistributedDataParallel.__init__ = ddp_init


# --------------------------------------------------------------------------
# mmengine 0.10.x decides that a config file is a "lazy import" (pure
# Python style) config when it imports any non-builtin module, and refuses
# an inheritance chain that mixes the two styles. mmpretrain 1.2's
# ``_base_/models/replknet-*.py`` import ``build_classifier`` only for an
# ``if __name__ == '__main__':`` demo, so every RepLKNet config failed
# ("configuration file type in the inheritance chain must match"). Imports
# whose names are used only under that guard cannot change the config, so
# they no longer make a file lazy; ``with read_base():``, relative imports
# and imports used by the config itself still do. Remove when mmpretrain
# drops those imports or mmengine looks at what an import is used for.
# --------------------------------------------------------------------------
def _is_main_guard(node) -> bool:
    import ast
    test = getattr(node, 'test', None)
    return (isinstance(node, ast.If) and isinstance(test, ast.Compare)
            and isinstance(test.left, ast.Name)
            and test.left.id == '__name__' and len(test.comparators) == 1
            and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == '__main__')


def imports_only_serve_main_guard(source: str) -> bool:
    """Whether every name the file's top-level imports bind is used only
    inside ``if __name__ == '__main__':`` blocks (or not at all), and the
    file has no ``read_base`` block and no relative import."""
    import ast
    tree = ast.parse(source)
    imported = set()
    for node in tree.body:
        if isinstance(node, ast.With):
            return False  # read_base(): a lazy-import config
        if isinstance(node, ast.ImportFrom) and node.level:
            return False
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imported.update((alias.asname or alias.name).split('.')[0]
                            for alias in node.names)
    outside_guard = [
        node for node in tree.body
        if not isinstance(node, (ast.Import, ast.ImportFrom))
        and not _is_main_guard(node)
    ]
    used = {
        name.id
        for node in outside_guard for name in ast.walk(node)
        if isinstance(name, ast.Name)
    }
    return bool(imported) and not imported & used


def _is_lazy_import_unless_main_only(original: Callable) -> Callable:

    def is_lazy_import(filename: str) -> bool:
        if not original(filename):
            return False
        try:
            with open(filename, encoding='utf-8') as file:
                return not imports_only_serve_main_guard(file.read())
        except (OSError, SyntaxError, ValueError):
            return True

    is_lazy_import.__wrapped__ = original
    return is_lazy_import


def _patch_lazy_import_detection() -> None:
    from mmengine.config import Config
    original = Config.__dict__['_is_lazy_import'].__func__
    if not hasattr(original, '__wrapped__'):
        Config._is_lazy_import = staticmethod(
            _is_lazy_import_unless_main_only(original))


# --------------------------------------------------------------------------
# grad-cam 1.5.x imports matplotlib.pyplot, scipy.ndimage and
# sklearn.decomposition at the top of ``pytorch_grad_cam.utils`` (for
# plotting helpers, 3-D resizing, KPCA_CAM and DeepFeatureFactorization),
# and every method's module imports ``utils``. In ``python -X importtime``
# of tools/vis_cam.py on a 2-core CPU that was 2.9 s of 7 s of imports, for
# code that a Grad-CAM run never calls.
# grad-cam's own modules are loaded with an ``__import__`` that hands out
# stand-ins for those three packages; a stand-in imports the real thing the
# first time it is called or an attribute of it is read, so every grad-cam
# function still works. Other packages, the user's imports and packages
# that are already imported are untouched. Remove once grad-cam imports
# its optional dependencies where it uses them.
# --------------------------------------------------------------------------
DEFERRED_BY_GRAD_CAM = ('matplotlib', 'scipy', 'sklearn')


class _Deferred:
    """``owner.attribute`` of a package that is not imported yet: a module,
    class or function, resolved (imported) on first use."""

    def __init__(self, owner: str, attribute: str):
        self._owner = owner
        self._attribute = attribute
        self._target = None

    def _resolve(self):
        if self._target is None:
            owner = importlib.import_module(self._owner)
            try:
                self._target = getattr(owner, self._attribute)
            except AttributeError:  # a submodule not imported by its parent
                self._target = importlib.import_module(
                    f'{self._owner}.{self._attribute}')
        return self._target

    def __getattr__(self, name: str):
        return getattr(self._resolve(), name)

    def __call__(self, *args, **kwargs):
        return self._resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f'<deferred {self._owner}.{self._attribute}>'


class _DeferredModule(types.ModuleType):
    """What ``import``/``from ... import`` gets for a deferred package
    while a grad-cam module is executed: every name read from it is a
    :class:`_Deferred`."""

    def __getattr__(self, name: str):
        if name.startswith('__'):
            raise AttributeError(name)
        return _Deferred(self.__name__, name)


def _deferring_import(name, globals=None, locals=None, fromlist=(), level=0):
    if (level == 0 and name.split('.')[0] in DEFERRED_BY_GRAD_CAM
            and name not in sys.modules):
        # ``import a.b`` binds ``a``; ``from a.b import c`` reads c off a.b.
        return _DeferredModule(name if fromlist else name.split('.')[0])
    return builtins.__import__(name, globals, locals, fromlist, level)


class _DeferringLoader(importlib.abc.Loader):
    """Executes a grad-cam module with :func:`_deferring_import` as its
    ``__import__``, which also serves imports inside its functions."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return None  # the default module object

    def __getattr__(self, name: str):
        # get_source, is_package, get_resource_reader, ...: the file's own.
        if name.startswith('_'):
            raise AttributeError(name)
        return getattr(self._loader, name)

    def exec_module(self, module) -> None:
        deferring_builtins = dict(vars(builtins), __import__=_deferring_import)
        module.__dict__['__builtins__'] = deferring_builtins
        exec(self._loader.get_code(module.__name__), module.__dict__)


class _GradCamFinder(importlib.abc.MetaPathFinder):
    """Gives ``pytorch_grad_cam`` and its submodules a
    :class:`_DeferringLoader`."""

    def find_spec(self, fullname, path, target=None):
        if fullname.split('.')[0] != 'pytorch_grad_cam':
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(
                spec.loader, importlib.machinery.SourceFileLoader):
            return spec
        spec.loader = _DeferringLoader(spec.loader)
        return spec


def _defer_grad_cam_heavy_imports() -> None:
    if 'pytorch_grad_cam' in sys.modules or any(
            isinstance(finder, _GradCamFinder) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _GradCamFinder())


def import_grad_cam_as_shipped() -> None:
    """Take the deferral above out again, so a later ``import
    pytorch_grad_cam`` imports everything grad-cam's modules name.

    For code that must measure or run grad-cam unchanged (the reference
    tool's launcher in ``benchmarks/``); it changes nothing once
    ``pytorch_grad_cam`` is imported.
    """
    sys.meta_path[:] = [
        finder for finder in sys.meta_path
        if not isinstance(finder, _GradCamFinder)
    ]


def apply_all() -> None:
    """Apply every fix once. Called by ``import mmcam``."""
    global _applied
    if _applied:
        return
    check_torchvision_fits_torch()
    _patch_package_utils()
    _allow_runner_checkpoints()
    _force_weights_only_loads()
    _patch_cpu_distributed()
    _patch_lazy_import_detection()
    _defer_grad_cam_heavy_imports()
    _applied = True


__all__ = [
    'apply_all', 'check_torchvision_fits_torch', 'import_grad_cam_as_shipped',
    'is_installed', 'get_installed_path', 'package2module',
    'runner_checkpoint_safe_globals', 'safe_load_url', 'safe_torch_load'
]
