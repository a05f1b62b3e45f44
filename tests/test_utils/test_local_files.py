"""Only regular files are read: devices, FIFOs, sockets and links to them
are named for what they are, before a byte is read."""
import os
import signal
import socket
from contextlib import contextmanager

import pytest

from mmcam.cam import CAMError
from mmcam.utils.local_files import describe_irregular, read_regular_file


@contextmanager
def deadline(seconds: int):
    """Fail instead of hanging (a FIFO blocks its reader forever)."""

    def give_up(*_):
        raise TimeoutError(f'still reading after {seconds} s')

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def special_files(tmp_path):
    os.mkfifo(tmp_path / 'fifo.png')
    (tmp_path / 'link_to_fifo.png').symlink_to(tmp_path / 'fifo.png')
    (tmp_path / 'zero.png').symlink_to('/dev/zero')
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / 'socket.png'))
    yield tmp_path
    server.close()


@pytest.mark.parametrize('name, words', [
    ('fifo.png', 'is a FIFO, not a regular file'),
    ('link_to_fifo.png', 'is a FIFO (a symbolic link to '),
    ('zero.png', "is a character device (a symbolic link to '/dev/zero'), "
     'not a regular file'),
    ('socket.png', 'is a socket, not a regular file'),
])
def test_special_files_are_refused_before_reading(special_files, name, words):
    with deadline(10), pytest.raises(CAMError) as refused:
        read_regular_file(str(special_files / name), 'image')
    assert str(
        refused.value).startswith(f"image '{special_files / name}' {words}")


def test_what_a_path_is(tmp_path):
    (tmp_path / 'file').write_bytes(b'x')
    (tmp_path / 'broken').symlink_to('nowhere')
    (tmp_path / 'loop').symlink_to('loop')
    assert describe_irregular(str(tmp_path / 'file')) is None
    assert describe_irregular(str(tmp_path)) == 'is a folder'
    assert describe_irregular(str(tmp_path / 'gone')) == 'does not exist'
    assert describe_irregular(str(tmp_path / 'broken')) == \
        "is a broken symbolic link (to 'nowhere')"
    assert describe_irregular(str(tmp_path / 'loop')) == \
        'is a loop of symbolic links'


def test_no_more_bytes_than_allowed_are_read(tmp_path):
    path = tmp_path / 'big.png'
    path.write_bytes(bytes(1000))
    assert read_regular_file(str(path), 'image', max_bytes=1000) == \
        bytes(1000)
    with pytest.raises(
            CAMError,
            match=r"image '.*big.png' is 1,000 bytes, "
            'over the limit of 999 bytes; raise it'):
        read_regular_file(str(path), 'image', 999, '; raise it')
