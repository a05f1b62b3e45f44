"""Installing: the README's steps are what ``.ci/run`` runs, and a
torchvision that does not fit torch is one line, not a traceback."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]

# torchvision's import as it fails when its C++ operators were built for
# another torch (a +cpu torch beside PyPI's CUDA torchvision).
BROKEN_TORCHVISION = '''
import importlib.abc, importlib.util, sys

class BrokenTorchvision(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name == 'torchvision':
            return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        import torch  # torchvision imports torch, then registers its ops
        raise RuntimeError('operator torchvision::nms does not exist')

sys.meta_path.insert(0, BrokenTorchvision())
'''


def _run_with_broken_torchvision(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', BROKEN_TORCHVISION + code],
                          cwd=REPO_ROOT,
                          env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
                          capture_output=True,
                          text=True,
                          timeout=300)


def _torchvision_version() -> str:
    from importlib.metadata import version
    return version('torchvision')


def test_import_mmcam_names_both_versions_and_the_fix():
    done = _run_with_broken_torchvision('''
try:
    import mmcam
except Exception as error:
    print(type(error).__name__, error)
''')
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert '\n' not in line
    assert line.startswith(f'CAMError torchvision {_torchvision_version()} '
                           f'does not fit torch {torch.__version__}')
    assert 'operator torchvision::nms does not exist' in line
    assert 'pip install torch==2.14.1 torchvision==0.29.1' in line


@pytest.mark.parametrize('tool', ['vis_cam', 'train', 'test'])
def test_the_tools_say_it_in_one_line(tool, tiny_resnet, tmp_path):
    config, checkpoint = tiny_resnet
    arguments = {
        'vis_cam': [
            str(REPO_ROOT / 'demo/photos/cat.jpg'),
            str(config),
            str(checkpoint), '--save-path',
            str(tmp_path)
        ],
        'train': [str(config)],
        'test': [str(config), str(checkpoint)],
    }[tool]
    argv = [f'tools/{tool}.py', *arguments]
    done = _run_with_broken_torchvision(f'''
import runpy
sys.argv = {argv!r}
runpy.run_path({argv[0]!r}, run_name='__main__')
''')
    assert done.returncode == 1
    assert done.stdout == ''
    assert done.stderr.count('\n') == 1, done.stderr
    assert done.stderr.startswith(
        f'error: torchvision {_torchvision_version()} does not fit torch '
        f'{torch.__version__}')


def _command_lines(text: str):
    """Shell commands of ``text``, one per line, comments left out."""
    return [
        line.strip() for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith('#')
    ]


def test_the_readme_install_steps_are_what_ci_runs():
    readme = (REPO_ROOT / 'README.md').read_text()
    section = readme.split('\n## Install\n', 1)[1]
    steps = _command_lines(
        re.search(r'```bash\n(.*?)```', section, re.S).group(1))
    ci = _command_lines((REPO_ROOT / '.ci' / 'run').read_text())
    # .ci/run makes its virtual environment in a temporary folder; every
    # step after that is the README's, in the README's order.
    assert steps[0].startswith('python -m venv ')
    after_venv = ci[[i for i, line in enumerate(ci)
                     if line.startswith('. ')][0] + 1:]
    assert after_venv == steps[1:]
    pinned = [line for line in steps if 'torchvision' in line]
    assert pinned == [
        'python -m pip install torch==2.14.1 '
        'torchvision==0.29.1'
    ]
