"""The local files a user names: read from regular files only, never more
bytes than the caller allows; written where a check before the run says
they can be.

A path named like an image or a checkpoint can be anything. A symbolic link
to ``/dev/zero`` or ``/dev/urandom`` never ends (a reader fills memory), a
FIFO blocks its reader until some writer comes, a socket cannot be opened.
Each of these is a one-line :class:`~mmcam.cam.CAMError` saying what the
path is, raised before a byte is read.
"""
import errno
import os
import os.path as osp
import stat
from typing import Optional

from ..cam.errors import CAMError
from .messages import one_line

_KINDS = (
    (stat.S_ISDIR, 'a folder'),
    (stat.S_ISFIFO, 'a FIFO'),
    (stat.S_ISCHR, 'a character device'),
    (stat.S_ISBLK, 'a block device'),
    (stat.S_ISSOCK, 'a socket'),
)


def _kind(mode: int) -> str:
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return 'not a regular file'


def _link_note(path: str) -> str:
    """`` (a symbolic link to '...')`` when ``path`` is a link."""
    if not osp.islink(path):
        return ''
    return f' (a symbolic link to {osp.realpath(path)!r})'


def describe_irregular(path: str) -> Optional[str]:
    """What ``path`` is, in words that follow its name, when it is no
    regular file (links followed); None for a regular file.

    Examples: ``'does not exist'``, ``"is a broken symbolic link (to
    'x.png')"``, ``'is a loop of symbolic links'``, ``'is a folder'``,
    ``"is a character device (a symbolic link to '/dev/zero'), not a
    regular file"``.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if osp.islink(path):
            return (f'is a broken symbolic link (to '
                    f'{os.readlink(path)!r})')
        return 'does not exist'
    except OSError as error:
        if error.errno == errno.ELOOP:
            return 'is a loop of symbolic links'
        return f'cannot be read: {error.strerror or error}'
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return 'is a folder'
    return f'is {_kind(mode)}{_link_note(path)}, not a regular file'


def read_regular_file(path: str,
                      what: str,
                      max_bytes: Optional[int] = None,
                      too_big_hint: str = '') -> bytes:
    """The bytes of the regular file ``path``.

    The file is opened without blocking and checked again once open, so a
    FIFO swapped in after the first check cannot block the read either.

    Args:
        path (str): A local path.
        what (str): What the file is meant to be, e.g. ``'image'``, for the
            message.
        max_bytes (int, optional): Refuse files longer than this, before
            reading them (and stop reading a file that grows past it).
            None for no limit.
        too_big_hint (str): Appended to the message of a file over
            ``max_bytes``, e.g. how to raise the limit.

    Raises:
        CAMError: naming the file when it is no regular file (saying what
            it is), cannot be read, or is over ``max_bytes``.
    """
    problem = describe_irregular(path)
    if problem is not None:
        raise CAMError(f'{what} {path!r} {problem}')
    flags = os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) | getattr(
        os, 'O_CLOEXEC', 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        raise CAMError(f'could not read {what} {path!r}: '
                       f'{error.strerror or error}') from None
    with os.fdopen(descriptor, 'rb') as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise CAMError(f'{what} {path!r} is {_kind(status.st_mode)}, '
                           'not a regular file')
        if max_bytes is not None and status.st_size > max_bytes:
            _refuse_size(path, what, status.st_size, max_bytes, too_big_hint)
        try:
            content = _read_up_to(file, status.st_size,
                                  None if max_bytes is None else max_bytes + 1)
        except OSError as error:
            raise CAMError(f'could not read {what} {path!r}: '
                           f'{error.strerror or error}') from None
    if max_bytes is not None and len(content) > max_bytes:
        _refuse_size(path, what, None, max_bytes, too_big_hint)
    return content


def _read_up_to(file, expected: int, limit: Optional[int]) -> bytes:
    """The rest of ``file``, at most ``limit`` bytes. ``read(n)`` would
    allocate ``n`` bytes before reading any; this reads the size the file
    declares, then more only while it keeps growing."""
    parts, total = [], 0
    chunk = expected + 1
    while limit is None or total < limit:
        part = file.read(chunk if limit is None else min(chunk, limit - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
        chunk = 1 << 20
    return b''.join(parts)


def _refuse_size(path: str, what: str, size: Optional[int], max_bytes: int,
                 hint: str) -> None:
    size_words = f'is {size:,} bytes' if size is not None else \
        'grew while it was read'
    raise CAMError(f'{what} {path!r} {size_words}, over the limit of '
                   f'{max_bytes:,} bytes{hint}')


def check_writable(path: str,
                   what: str,
                   folder: bool = False,
                   fix: str = 'give a folder') -> None:
    """Fail now, not after a whole run, if ``path`` cannot be written.

    Args:
        path (str): A file to write (its folder is created) or, with
            ``folder``, a folder to write in (created; a probe file is
            written in it and removed).
        what (str): What the path is for, e.g. ``'--out'`` or ``'CAMHook
            out_dir'``, for the message.
        folder (bool): Whether ``path`` is a folder. Defaults to False.
        fix (str): What to do when a folder is meant and ``path`` is a
            file. Defaults to ``'give a folder'``.

    Raises:
        CAMError: naming ``what`` and the path: a folder where a file is
            meant, a file where a folder is meant, a FIFO or device, or
            the system's reason (a parent that is a file, no permission).
    """
    if osp.lexists(path):
        problem = describe_irregular(path)
        if folder and problem != 'is a folder':
            raise CAMError(f'{what} {path!r} {problem or "is a file"}; {fix}')
        if not folder and problem is not None and \
                problem != 'does not exist':
            hint = '; give a file name' if problem == 'is a folder' else ''
            raise CAMError(f'{what} {path!r} {problem}{hint}')
    target = osp.join(path, f'.mmcam_probe_{os.getpid()}') if folder else path
    existed = osp.exists(target)
    try:
        os.makedirs(osp.dirname(osp.abspath(target)), exist_ok=True)
        with open(target, 'ab'):
            pass
    except OSError as error:
        raise CAMError(f'{what} {path!r} cannot be written: '
                       f'{error.strerror or one_line(error)}') from None
    if not existed:
        os.remove(target)
