"""The Runner the tools build: mmengine's set-up tables go to the log
file, not the console, unless log_level='DEBUG'."""
import glob
import os
import subprocess
import sys

import pytest
from runner_test_data import REPO

from mmcam.engine.concise_runner import ConciseRunner
from mmcam.engine.runner_config import build_runner

SETUP_TABLES = ('System environment:', 'Config:\n',
                'Hooks will be executed in the following order:')


def _log_file(cfg) -> str:
    files = glob.glob(f'{cfg.work_dir}/*/*.log')
    assert len(files) == 1
    return open(files[0]).read()


@pytest.mark.parametrize('log_level', ['INFO', 'DEBUG'])
def test_setup_tables_go_to_the_log_file(tiny_cfg, capsys, log_level):
    tiny_cfg.log_level = log_level
    runner = build_runner(tiny_cfg)
    assert isinstance(runner, ConciseRunner)
    printed = capsys.readouterr().out
    for table in SETUP_TABLES:
        assert table in _log_file(tiny_cfg)
        # mmengine's own switch shows them on the console again.
        assert (table in printed) == (log_level == 'DEBUG'), table
    runner.logger.info('a line the user reads')
    assert 'a line the user reads' in capsys.readouterr().out


def test_a_config_naming_its_runner_keeps_it(tiny_cfg):
    tiny_cfg.runner_type = 'Runner'
    assert type(build_runner(tiny_cfg)).__name__ == 'Runner'


def test_mmengine_ddp_deprecation_is_hidden():
    # In a fresh interpreter: pytest manages warning filters per test.
    code = ('import warnings, mmcam\n'
            "warnings.warn('`broadcast_buffers` is deprecated. Use "
            "`forward_sync_buffers` instead.', FutureWarning)\n"
            "warnings.warn('another warning', FutureWarning)\n")
    done = subprocess.run([sys.executable, '-c', code],
                          cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=str(REPO)),
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert 'broadcast_buffers' not in done.stderr
    assert 'another warning' in done.stderr
