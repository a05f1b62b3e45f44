"""Snippets of the README and the docs pages that must run as written."""
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _python_block_after(marker: str, page: str) -> str:
    text = (REPO_ROOT / page).read_text()
    after = text[text.index(marker):]
    start = after.index('```python\n') + len('```python\n')
    return after[start:after.index('```', start)]


def test_the_cam_quality_snippet_runs_and_prints_what_it_says():
    code = _python_block_after('On a batch of network inputs and heatmaps',
                               'docs/metrics.md')
    expected = [
        line[2:] for line in code.splitlines() if line.startswith('# {')
    ]
    done = subprocess.run([sys.executable, '-c', code],
                          cwd=REPO_ROOT,
                          env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1:] == expected


def test_benchmark_help_texts_are_whole_sentences():
    for script in sorted((REPO_ROOT / 'benchmarks').glob('*.py')):
        if script.name == 'run_reference_vis_cam.py':
            continue  # MMPretrain's tool's own --help, left as shipped
        done = subprocess.run(
            [sys.executable, str(script), '--help'],
            env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
            capture_output=True,
            text=True,
            timeout=120)
        assert done.returncode == 0, (script.name, done.stderr)
        description = done.stdout.split('\n\n')[1]
        assert description.rstrip().endswith(('.', '?')), (script.name, description)


def test_benchmark_cam_quick_help_names_what_it_runs():
    done = subprocess.run([
        sys.executable,
        str(REPO_ROOT / 'benchmarks/benchmark_cam.py'), '--help'
    ],
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert '(--quick: GradCAM)' in ' '.join(done.stdout.split())


def test_readme_pictures_are_not_overwritten_unless_asked(load_tool):
    tool = load_tool(REPO_ROOT / 'tools/misc/make_readme_pictures.py')
    default = Path(tool.parse_args(['x.pth']).out_dir)
    assert default == REPO_ROOT / 'outputs' / 'readme_pictures'
    assert tool.parse_args(['x.pth', '--out-dir', 'resources']).out_dir == \
        'resources'
