"""Keeping the stack's own chatter out of mmcam's output, in one place.

The tools, :class:`~mmcam.apis.CAMInferencer` and the hook all print what
the user asked for; these messages say nothing about it:

- mmcv-lite warns on import that ``MultiScaleDeformableAttention`` is
  missing (a compiled op of full mmcv that no classifier uses);
- torch's ``DataLoader`` warns that ``pin_memory`` (on in mmpretrain's
  configs) does nothing without an accelerator;
- mmpretrain logs the ``backbone feature_info`` of every timm backbone at
  INFO while the model is built;
- libpng and OpenCV write lines such as ``libpng error: IDAT: invalid
  stored block lengths`` and ``[ WARN:0@4.487] global grfmt_png.cpp:793
  ... PNG input buffer is incomplete`` straight to the process's stderr
  while a corrupt image is decoded, beside mmcam's own one-line error.
- mmengine's DDP wrapper makes torch (2.14.1 here) warn that
  ``broadcast_buffers`` is deprecated (a ``FutureWarning`` per process).

Set the environment variable ``MMCAM_DEBUG=1`` to see all of them; the
INFO lines also show when the user's own logging asks for INFO (e.g.
``logging.basicConfig(level=logging.INFO)``).
"""
import logging
import os
import sys
import warnings
from contextlib import contextmanager
from typing import Iterator

# Regular expressions matching the start of each warning's message.
LIBRARY_WARNINGS = (
    r'Fail to import ``MultiScaleDeformableAttention``',
    r"'pin_memory' argument is set as true but no accelerator is found",
    # mmengine 0.10's DDP wrapper passes an argument that torch (2.14.1
    # here) deprecates, once per process under torchrun.
    r'`broadcast_buffers` is deprecated',
)


def debugging() -> bool:
    """Whether ``MMCAM_DEBUG`` asks for everything (any value but
    ``''``/``'0'``)."""
    return os.environ.get('MMCAM_DEBUG', '') not in ('', '0')


def silence_library_warnings() -> None:
    """Ignore :data:`LIBRARY_WARNINGS`, unless :func:`debugging`.

    Called by ``import mmcam``, before mmcv and torch's data loading can
    warn; other warnings keep Python's rules.
    """
    if debugging():
        return
    for message in LIBRARY_WARNINGS:
        warnings.filterwarnings('ignore', message=message)


def user_wants_info() -> bool:
    """Whether the user's logging shows INFO: :func:`debugging`, or the
    root logger set to INFO or lower."""
    root_level = logging.getLogger().level
    return debugging() or logging.NOTSET < root_level <= logging.INFO


@contextmanager
def quiet_model_building() -> Iterator[None]:
    """mmengine's current logger at WARNING while a model is built, so its
    INFO lines (``backbone feature_info``) stay out of the output, unless
    :func:`user_wants_info`."""
    if user_wants_info():
        yield
        return
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """The process's stderr (file descriptor 2) sent to ``/dev/null`` for
    the duration, unless :func:`debugging`.

    For calls into C libraries that print on their own (libpng through
    OpenCV's decoders); Python's ``sys.stderr`` is flushed first, so
    nothing written before is lost. Keep the block short: other threads'
    output to stderr is dropped meanwhile too.
    """
    if debugging():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no real stderr
        yield
        return
    try:
        with open(os.devnull, 'wb') as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
