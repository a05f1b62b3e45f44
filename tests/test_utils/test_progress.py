"""Progress bars draw on terminals only, and log lines go above them."""
import io
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from mmcam.utils import progress  # noqa: E402


class _Terminal(io.StringIO):

    def isatty(self):
        return True


def test_log_lines_go_above_the_bar_and_handlers_come_back(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, 'stderr', terminal)
    logger = logging.getLogger('mmcam_test_progress')
    logger.setLevel(logging.DEBUG)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.INFO)
    log_file = logging.StreamHandler(io.StringIO())  # not the terminal
    logger.handlers = [console, log_file]

    bar = progress.terminal_progress(4, 'CAM export', 'sample')
    bar.update(2)
    restore = progress.log_above_progress(logger)
    logger.info('Epoch(test) [1/2]')
    logger.debug('below the console level')
    bar.update(2)
    bar.close()
    restore()

    assert logger.handlers == [console, log_file]
    lines = [line.split('\r')[-1] for line in terminal.getvalue().split('\n')]
    # The log line stands on a line of its own, the bar redrawn after it.
    assert 'Epoch(test) [1/2]' in lines
    assert 'below the console level' not in terminal.getvalue()
    assert log_file.stream.getvalue() == (
        'Epoch(test) [1/2]\nbelow the console level\n')
    assert '4/4' in lines[-2]


def test_no_bar_off_a_terminal(monkeypatch):
    log = io.StringIO()
    monkeypatch.setattr(sys, 'stderr', log)
    bar = progress.terminal_progress(4, 'CAM', 'image')
    bar.update(4)
    bar.close()
    assert log.getvalue() == ''
