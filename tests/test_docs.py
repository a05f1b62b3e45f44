"""The README and the pages under docs/ hold together: every relative link
reaches its file (and heading), every Python example at least compiles, and
the index lists every page."""
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PAGES = [REPO_ROOT / 'README.md', *sorted((REPO_ROOT / 'docs').glob('*.md'))]

FENCE = re.compile(r'^(```|~~~)')
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')


def _prose_lines(text: str):
    """Lines of ``text`` outside fenced code blocks, inline code removed."""
    in_code = False
    for line in text.splitlines():
        if FENCE.match(line.lstrip()):
            in_code = not in_code
            continue
        if not in_code:
            yield re.sub(r'`[^`]*`', '', line)


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text lower-cased, punctuation
    (anything but letters, digits, ``_``, ``-`` and spaces) removed, spaces
    made hyphens."""
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)  # link text
    return re.sub(r'[^\w\- ]', '', text.strip().lower()).replace(' ', '-')


def anchors(page: Path) -> set:
    """Every heading anchor of ``page``, repeats numbered as GitHub does."""
    seen, found = {}, set()
    in_code = False
    for line in page.read_text(encoding='utf-8').splitlines():
        if FENCE.match(line.lstrip()):
            in_code = not in_code
            continue
        heading = re.match(r'#{1,6} (.+)', line)
        if in_code or not heading:
            continue
        slug = github_slug(heading.group(1))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f'{slug}-{count}')
    return found


def relative_links(page: Path):
    for line in _prose_lines(page.read_text(encoding='utf-8')):
        for target in LINK.findall(line):
            if not re.match(r'[a-z][a-z0-9+.-]*:', target):  # http:, mailto:
                yield target


def python_blocks(page: Path):
    """(first line number, code) of every ```python block of ``page``."""
    blocks, code, start = [], None, 0
    for number, line in enumerate(
            page.read_text(encoding='utf-8').splitlines(), 1):
        if code is None and line.strip() == '```python':
            code, start = [], number + 1
        elif code is not None and line.strip() == '```':
            blocks.append((start, '\n'.join(code) + '\n'))
            code = None
        elif code is not None:
            code.append(line)
    return blocks


def test_github_slug_follows_githubs_rule():
    assert github_slug('tools/vis_cam.py') == 'toolsvis_campy'
    assert github_slug("mmpretrain's model zoo through mmcam") == \
        'mmpretrains-model-zoo-through-mmcam'
    assert github_slug('Explanation quality: metrics') == \
        'explanation-quality-metrics'
    assert github_slug('Exceptions, measured') == 'exceptions-measured'


@pytest.mark.parametrize('page', PAGES, ids=lambda p: p.name)
def test_every_relative_link_reaches_its_file_and_heading(page):
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition('#')
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f'{target}: no file {linked}')
        elif anchor and linked.suffix == '.md' and \
                anchor not in anchors(linked):
            broken.append(f'{target}: no heading #{anchor} in {linked.name}')
    assert not broken, broken


@pytest.mark.parametrize('page', PAGES, ids=lambda p: p.name)
def test_every_python_example_compiles(page):
    for start, code in python_blocks(page):
        compile(code, f'{page.name}:{start}', 'exec')


def test_the_docs_index_lists_every_page():
    index = REPO_ROOT / 'docs' / 'README.md'
    listed = {(index.parent / target.partition('#')[0]).resolve()
              for target in relative_links(index)}
    pages = {page.resolve() for page in PAGES[1:] if page != index}
    assert not pages - listed, sorted(p.name for p in pages - listed)
