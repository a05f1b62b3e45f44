"""How many threads the tools give torch on a CPU other work also uses.

torch starts one intra-op thread per core. Its threads meet at a barrier
after every operation, so when another process holds a core, every
operation waits for the thread whose core is busy. On the 2-core machine
``benchmarks/benchmark_threads.py`` was run on, with other work raising
the load average to 4.4-5.8, a training step of the tiny ResNet took
0.68 s on 2 threads against 0.055 s on 1, and the quick start 15.3 s
against 13.5 s; idle (load average 0.8-1.1) the two counts were within
10 % of each other (docs/threads.md). So the tools give torch only the
cores other work leaves free.
"""
import os
from typing import Optional


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, where the system
    has one, e.g. inside a container limited to some cores)."""
    if hasattr(os, 'sched_getaffinity'):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def free_core_threads(cores: int, load: float, torch_default: int) -> int:
    """Threads for the cores the load average says are free: ``cores``
    less the 1-minute load, rounded, at least 1 and at most torch's own
    default.

    Args:
        cores (int): Cores the process may run on.
        load (float): The 1-minute load average (other work, before this
            process starts computing).
        torch_default (int): ``torch.get_num_threads()`` before any
            change.
    """
    return max(1, min(torch_default, int(cores - load + 0.5)))


def use_free_cores() -> Optional[int]:
    """In a tool, run torch on the cores other work leaves free, unless
    the user chose: ``OMP_NUM_THREADS`` (which torch reads itself, and
    ``torchrun`` sets to 1) is left to torch.

    Returns:
        int | None: The thread count set, or None when left to torch.
    """
    if os.environ.get('OMP_NUM_THREADS') or not hasattr(os, 'getloadavg'):
        return None
    import torch
    threads = free_core_threads(available_cores(),
                                os.getloadavg()[0], torch.get_num_threads())
    torch.set_num_threads(threads)
    return threads
