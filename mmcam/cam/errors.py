"""The error mmcam raises for a bad CAM setting or bad input."""


class CAMError(ValueError):
    """A bad CAM setting or input, with a one-line message naming the bad
    value and what to do instead.

    The tools print it as one line and exit non-zero; the hook reports it
    when a run starts.
    """
