"""The progress bar of long runs: folders in the tool and the API, whole
datasets in the hook."""
import logging
import sys
from typing import Callable


def terminal_progress(total: int,
                      description: str,
                      unit: str,
                      enabled: bool = True):
    """A tqdm bar on stderr, drawn only when stderr is a terminal.

    Logs and redirected output stay free of bar fragments: tqdm's
    ``disable=None`` turns the bar off on anything but a TTY.

    Args:
        total (int): How many units the run has.
        description (str): The bar's label, e.g. ``'CAM'``.
        unit (str): What one step is, e.g. ``'image'``.
        enabled (bool): False never draws. Defaults to True.

    Returns:
        tqdm.tqdm: call ``update(n)`` and, at the end, ``close()``.
    """
    from tqdm import tqdm
    return tqdm(
        total=total,
        desc=description,
        unit=unit,
        file=sys.stderr,
        disable=None if enabled else True)


class _ConsoleLinesAboveBars(logging.Handler):
    """A console handler's lines, written with ``tqdm.write`` so that they
    go above the progress bars instead of through them."""

    def __init__(self, console: logging.StreamHandler):
        super().__init__(console.level)
        self.setFormatter(console.formatter)
        for log_filter in console.filters:
            self.addFilter(log_filter)
        self.stream = console.stream

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm
        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # noqa: BLE001  (logging's own rule)
            self.handleError(record)


def log_above_progress(logger: logging.Logger) -> Callable[[], None]:
    """Send ``logger``'s terminal lines (its handlers that write to stdout
    or stderr; log files are left alone) above the progress bars while a
    bar is drawn, as mmengine's Runner logs in the middle of a loop.

    Args:
        logger (logging.Logger): e.g. ``runner.logger``.

    Returns:
        Callable[[], None]: puts the logger's own handlers back.
    """
    original = list(logger.handlers)
    logger.handlers = [
        _ConsoleLinesAboveBars(handler)
        if _writes_to_terminal(handler) else handler for handler in original
    ]

    def restore() -> None:
        logger.handlers = original

    return restore


def _writes_to_terminal(handler: logging.Handler) -> bool:
    return (type(handler) is logging.StreamHandler
            and getattr(handler, 'stream', None) in (sys.stdout, sys.stderr))
