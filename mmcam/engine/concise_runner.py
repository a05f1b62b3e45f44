"""The Runner ``tools/train.py`` and ``tools/test.py`` build: mmengine's,
with a console kept to what a user reads.

mmengine's Runner starts every run by logging the whole environment
(compiler flags included), the whole config and the order of every hook
at every stage: about 230 of the 280 lines a two-epoch run of the tiny
example printed, before its first loss. Those tables stay in the run's log
file (``<work_dir>/<timestamp>/<timestamp>.log``) and the config in
``<work_dir>/<config name>``; the console shows the progress lines, the
metrics, checkpoints and CAMHook's lines. ``log_level='DEBUG'`` in the
config (``--cfg-options log_level=DEBUG``), mmengine's own switch, or
``MMCAM_DEBUG=1`` shows everything on the console again.
"""
import logging

from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..library_noise import debugging

# The start of each message the console leaves to the log file.
SETUP_MESSAGES = (
    '\n' + '-' * 60 + '\nSystem environment:',
    'Config:\n',
    'Hooks will be executed in the following order:',
    'Distributed training is not used, all SyncBatchNorm',
    # mmengine's deprecation notes about its own file backends.
    '"FileClient" will be deprecated',
    '"HardDiskBackend" is the alias of "LocalBackend"',
)


class SetupTablesFilter(logging.Filter):
    """Leaves out the records whose message starts with one of
    :data:`SETUP_MESSAGES`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(SETUP_MESSAGES)


@RUNNERS.register_module()
class ConciseRunner(Runner):
    """mmengine's ``Runner``, whose console handler leaves mmengine's set-up
    tables to the log file (see the module's docstring). Everything else,
    including the log file, is mmengine's."""

    def build_logger(self, log_level='INFO', log_file=None, **kwargs):
        logger = super().build_logger(
            log_level=log_level, log_file=log_file, **kwargs)
        level = logging.getLevelName(log_level) if isinstance(
            log_level, str) else log_level
        if debugging() or level <= logging.DEBUG:
            return logger
        for handler in logger.handlers:
            # The console only: a FileHandler is a StreamHandler too.
            if type(handler) is logging.StreamHandler and not any(
                    isinstance(f, SetupTablesFilter) for f in handler.filters):
                handler.addFilter(SetupTablesFilter())
        return logger
