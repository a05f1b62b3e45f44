"""check_writable: one check for the files and folders a run will write."""
import os

import pytest

from mmcam.cam import CAMError
from mmcam.utils.local_files import check_writable


def test_files_and_folders_that_can_be_written_pass_and_leave_nothing(
        tmp_path):
    check_writable(str(tmp_path / 'new' / 'results.pkl'), '--out')
    check_writable(str(tmp_path / 'cams'), 'out_dir', folder=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['cams', 'new']
    assert not any((tmp_path / 'cams').iterdir())
    assert not any((tmp_path / 'new').iterdir())


def test_the_wrong_kind_of_path_is_named(tmp_path):
    (tmp_path / 'file').write_text('kept')
    os.mkfifo(tmp_path / 'fifo')
    with pytest.raises(
            CAMError, match="^out_dir '.*file' is a file; give a "
            'folder$'):
        check_writable(str(tmp_path / 'file'), 'out_dir', folder=True)
    with pytest.raises(
            CAMError, match="^--out '.*' is a folder; give a file "
            'name$'):
        check_writable(str(tmp_path), '--out')
    with pytest.raises(
            CAMError, match="^--out '.*fifo' is a FIFO, not a "
            'regular file$'):
        check_writable(str(tmp_path / 'fifo'), '--out')
    with pytest.raises(
            CAMError, match="^out_dir '.*file/sub' cannot be "
            'written: '):
        check_writable(str(tmp_path / 'file' / 'sub'), 'out_dir', folder=True)
    assert (tmp_path / 'file').read_text() == 'kept'
