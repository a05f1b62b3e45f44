"""Errors as the one line a user sees."""


def one_line(error: BaseException, limit: int = 300) -> str:
    """The message of ``error`` on one line, at most ``limit`` characters.

    ``KeyError`` quotes its message; its first argument is shown as is.
    Multi-line messages keep their first non-empty line, except torch's
    ``weights_only`` refusal, whose line naming the refused type is the one
    that helps.
    """
    text = str(error.args[0]) if isinstance(error, KeyError) and \
        error.args else str(error)
    lines = [
        line.strip() for line in text.strip().splitlines() if line.strip()
    ]
    if not lines:
        return type(error).__name__
    # torch words it 'Unsupported global' or 'unsupported GLOBAL'.
    refused = [line for line in lines if 'unsupported global' in line.lower()]
    line = ' '.join((refused or lines)[0].split())
    return line if len(line) <= limit else line[:limit - 3] + '...'
