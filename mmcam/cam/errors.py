"""The error mmcam raises for a bad CAM setting or bad input."""


class CAMError(ValueError):
    """A bad CAM setting or input, with a one-line message naming the bad
    value and what to do instead.

    The tools print it as one line and exit non-zero; the hook reports it
    when a run starts.
    """


class NotANumberError(CAMError):
    """The model's output or a heatmap is NaN or infinite: a broken
    checkpoint or input, never a heatmap to keep.

    Args:
        message (str): The one-line message.
        rows (list[int]): The rows of the batch that are broken.
    """

    def __init__(self, message: str, rows=()) -> None:
        super().__init__(message)
        self.rows = list(rows)
