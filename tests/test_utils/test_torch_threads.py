"""Torch threads: one in the tests, the free cores in the tools."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmcam.utils.torch_threads import (available_cores, free_core_threads,
                                       use_free_cores)

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_the_suite_runs_torch_on_one_thread_here_and_in_subprocesses():
    assert torch.get_num_threads() == int(os.environ['OMP_NUM_THREADS'])
    child = subprocess.run(
        [sys.executable, '-c', 'import torch; print(torch.get_num_threads())'],
        capture_output=True,
        text=True,
        timeout=120)
    assert child.stdout.strip() == os.environ['OMP_NUM_THREADS']


@pytest.mark.parametrize(
    'cores, load, torch_default, expected',
    [
        (2, 0.3, 2, 2),  # idle: torch's default
        (2, 1.1, 2, 1),  # one core busy elsewhere
        (2, 5.0, 2, 1),  # overloaded: never fewer than one
        (16, 3.4, 16, 13),
        (16, 0.0, 8, 8),  # never more than torch's default
    ])
def test_free_core_threads(cores, load, torch_default, expected):
    assert free_core_threads(cores, load, torch_default) == expected


def test_a_chosen_omp_num_threads_is_left_to_torch(monkeypatch,
                                                   restore_threads):
    monkeypatch.setenv('OMP_NUM_THREADS', '2')
    monkeypatch.setattr(os, 'getloadavg', lambda: (50.0, 50.0, 50.0))
    torch.set_num_threads(2)
    assert use_free_cores() is None
    assert torch.get_num_threads() == 2


def test_a_busy_machine_gets_one_thread(monkeypatch, restore_threads):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    busy = float(available_cores())
    monkeypatch.setattr(os, 'getloadavg', lambda: (busy, busy, busy))
    torch.set_num_threads(2)
    assert use_free_cores() == 1
    assert torch.get_num_threads() == 1


def test_vis_cam_uses_the_free_cores(monkeypatch, restore_threads, load_tool,
                                     tiny_resnet, tmp_path):
    vis_cam = load_tool(REPO_ROOT / 'tools' / 'vis_cam.py')
    config, checkpoint = tiny_resnet
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    busy = float(available_cores())
    monkeypatch.setattr(os, 'getloadavg', lambda: (busy, busy, busy))
    torch.set_num_threads(2)
    # The image is missing: the run stops after choosing its threads.
    code = vis_cam.main([
        str(tmp_path / 'missing.jpg'),
        str(config),
        str(checkpoint), '--save-path',
        str(tmp_path / 'out')
    ])
    assert code == 1
    assert torch.get_num_threads() == 1
