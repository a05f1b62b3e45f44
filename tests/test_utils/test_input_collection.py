"""Paths, folders, globs and arrays as inputs."""
import numpy as np
import pytest

from mmcam.cam import CAMError
from mmcam.utils import collect_images


def test_folder_gives_its_images_sorted(tmp_path):
    for name in ('b.png', 'a.JPG', 'notes.txt'):
        (tmp_path / name).write_bytes(b'x')
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'c.png').write_bytes(b'x')
    assert collect_images(
        str(tmp_path)) == [str(tmp_path / 'a.JPG'),
                           str(tmp_path / 'b.png')]


def test_glob_list_and_arrays(tmp_path):
    for name in ('x1.png', 'x2.png', 'y.png'):
        (tmp_path / name).write_bytes(b'x')
    array = np.zeros((4, 4, 3), np.uint8)
    collected = collect_images([str(tmp_path / 'x*.png'), array])
    assert collected[:2] == [
        str(tmp_path / 'x1.png'),
        str(tmp_path / 'x2.png')
    ]
    assert collected[2] is array


def test_missing_file_is_kept_for_loading_to_report(tmp_path):
    assert collect_images(str(tmp_path /
                              'gone.png')) == [str(tmp_path / 'gone.png')]


def test_empty_folder_and_unmatched_glob_are_errors(tmp_path):
    with pytest.raises(CAMError, match='holds no images'):
        collect_images(str(tmp_path))
    with pytest.raises(CAMError, match=r"no files match '.*\*.png'"):
        collect_images(str(tmp_path / '*.png'))
    with pytest.raises(CAMError, match='path or a numpy array'):
        collect_images([3])


def test_special_files_named_like_images_are_kept_for_reading_to_report(
        tmp_path):
    import os
    os.mkfifo(tmp_path / 'a_fifo.png')
    (tmp_path / 'b_zero.png').symlink_to('/dev/zero')
    (tmp_path / 'c_good.png').write_bytes(b'x')
    names = ['a_fifo.png', 'b_zero.png', 'c_good.png']
    assert collect_images(
        str(tmp_path)) == [str(tmp_path / name) for name in names]
    assert collect_images(str(
        tmp_path / '*.png')) == [str(tmp_path / name) for name in names]


def test_recursive_glob_ends_in_a_tree_with_two_link_loops(tmp_path):
    """glob follows links to folders without remembering them: two links
    back up the tree make ``**`` run for ever (one loop only repeats)."""
    import signal
    (tmp_path / 'a' / 'b').mkdir(parents=True)
    (tmp_path / 'c' / '.hidden').mkdir(parents=True)
    for name in ('top.png', 'a/one.png', 'a/b/two.png', 'c/.hidden/no.png',
                 'a/notes.txt'):
        (tmp_path / name).write_bytes(b'x')
    (tmp_path / 'a' / 'b' / 'up').symlink_to('..')
    (tmp_path / 'a' / 'b' / 'top').symlink_to('../..')
    (tmp_path / 'c' / 'to_a').symlink_to('../a')

    def give_up(*_):
        raise TimeoutError('the recursive glob did not end in 20 s')

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(20)
    try:
        found = collect_images(str(tmp_path / '**' / '*.png'))
        below_a = collect_images(str(tmp_path / 'a' / '**'))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert found == [
        str(tmp_path / name)
        for name in ('a/b/two.png', 'a/one.png', 'top.png')
    ]
    # From a, the link up to the top is a way to top.png like any other.
    assert below_a == [
        str(tmp_path / name) for name in ('a/b/top/top.png', 'a/b/two.png',
                                          'a/notes.txt', 'a/one.png')
    ]
