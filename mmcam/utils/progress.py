"""The progress bar of long runs: folders in the tool and the API, whole
datasets in the hook."""
import sys


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
