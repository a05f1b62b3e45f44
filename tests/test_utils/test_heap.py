"""return_freed_memory gives free heap memory back on glibc."""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from mmcam.utils.heap import return_freed_memory  # noqa: E402


def _resident_mib() -> float:
    with open('/proc/self/statm') as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf('SC_PAGE_SIZE') / 2**20


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='glibc only')
def test_freed_small_blocks_leave_the_process():
    # 64 MiB in blocks below glibc's mmap threshold stay in the heap
    # after they are freed, until the heap is trimmed. The last block is
    # kept so the heap's top cannot shrink on its own.
    blocks = [bytearray(64 * 1024) for _ in range(1024)]
    keep = bytearray(64 * 1024)
    before_free = _resident_mib()
    del blocks
    freed = _resident_mib()
    assert return_freed_memory()
    trimmed = _resident_mib()
    assert keep is not None
    assert before_free - freed < 16  # glibc kept the freed memory
    assert freed - trimmed > 48  # the trim gave it back
