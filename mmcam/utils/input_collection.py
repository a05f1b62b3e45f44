"""Turn what a user passes as images into a list of paths and arrays."""
import fnmatch
import glob
import os
import os.path as osp
from pathlib import Path
from typing import List, Sequence, Set, Union

import numpy as np

from ..cam.errors import CAMError

ImageInput = Union[str, Path, np.ndarray]

# Files a folder may hold that are meant as images. Anything else in the
# folder (notes, annotations) is left out instead of reported as broken.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp',
                    '.ppm', '.pgm', '.pbm', '.pnm', '.jp2', '.exr', '.hdr',
                    '.pic', '.sr', '.ras')

_GLOB_CHARACTERS = set('*?[')


def is_image_file(path: str) -> bool:
    """Whether ``path`` has an image file extension (case-insensitive)."""
    return osp.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def _is_candidate(path: str) -> bool:
    """Anything but a folder named like an image: a file, and also a link
    that cannot be followed (broken or looping), a FIFO, a device or a
    socket, kept so that reading it reports what it is instead of the
    image silently going missing."""
    return is_image_file(path) and not osp.isdir(path)


def _images_in_folder(folder: str) -> List[str]:
    names = sorted(
        name for name in os.listdir(folder)
        if _is_candidate(osp.join(folder, name)))
    if not names:
        raise CAMError(f'folder {folder!r} holds no images (looked for '
                       f'{", ".join(IMAGE_EXTENSIONS[:5])}, ...)')
    return [osp.join(folder, name) for name in names]


def _entries(folder: str, hidden: bool) -> List[str]:
    """Names in ``folder`` (``''`` for the working directory); dot-names
    only when ``hidden``, as glob does."""
    try:
        names = os.listdir(folder or os.curdir)
    except OSError:  # unreadable, or not a folder
        return []
    return sorted(n for n in names if hidden or not n.startswith('.'))


def _walk_pattern(folder: str, parts: List[str], visited: Set[tuple],
                  found: List[str]) -> None:
    """Append to ``found`` what the pattern components ``parts`` match
    under ``folder``. ``**`` matches zero or more folders; each real folder
    is entered once per remaining pattern, however many links lead to it."""
    key = (osp.realpath(folder or os.curdir), tuple(parts))
    if key in visited:
        return
    visited.add(key)
    part, rest = parts[0], parts[1:]
    if part == '**':
        if not rest:  # 'data/**' matches everything below data
            rest = ['*']
        _walk_pattern(folder, rest, visited, found)
        for name in _entries(folder, hidden=False):
            child = osp.join(folder, name)
            if osp.isdir(child):
                _walk_pattern(child, parts, visited, found)
        return
    for name in _entries(folder, hidden=part.startswith('.')):
        if not fnmatch.fnmatchcase(name, part):
            continue
        child = osp.join(folder, name)
        if not rest:
            found.append(child)
        elif osp.isdir(child):
            _walk_pattern(child, rest, visited, found)


def _glob(pattern: str) -> List[str]:
    """Paths matching ``pattern`` as ``glob.glob(pattern, recursive=True)``
    gives them, in a time bounded by the tree.

    glob follows symbolic links to folders without remembering where it
    has been: two links back up a tree make a recursive glob run for ever.
    Here folders are walked with a set of the real paths visited.
    """
    if '**' not in pattern:
        return glob.glob(pattern)  # a fixed depth: no loop can trap it
    parts = pattern.split(os.sep)
    first = next(i for i, part in enumerate(parts)
                 if _GLOB_CHARACTERS & set(part))
    base = os.sep.join(parts[:first])
    if parts[:first] == ['']:  # the pattern starts at the root
        base = os.sep
    found: List[str] = []
    _walk_pattern(base, [part for part in parts[first:] if part], set(), found)
    return found


def _unique_files(paths: List[str]) -> List[str]:
    """``paths`` without repeats of one file: a recursive glob through a
    symbolic link to a parent folder reaches the same image many times."""
    seen, unique = set(), []
    for path in paths:
        key = osp.realpath(path)
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def _expand(item) -> List[Union[str, np.ndarray]]:
    if isinstance(item, np.ndarray):
        return [item]
    if not isinstance(item, (str, Path)):
        raise CAMError(f'an image must be a path or a numpy array, got '
                       f'{type(item).__name__}')
    path = str(item)
    if '://' in path:  # URLs and other file backends: read as given
        return [path]
    if osp.isdir(path):
        return _images_in_folder(path)
    if not osp.exists(path) and _GLOB_CHARACTERS & set(path):
        matches = _unique_files(
            sorted(p for p in _glob(path) if not osp.isdir(p)))
        if not matches:
            raise CAMError(f'no files match {path!r}')
        return matches
    # An existing file, or a missing one that loading will report.
    return [path]


def collect_images(
    inputs: Union[ImageInput, Sequence[ImageInput]]
) -> List[Union[str, np.ndarray]]:
    """Expand folders and glob patterns into the images they name.

    Args:
        inputs: A path, folder, glob pattern (``'photos/*.jpg'``,
            ``'data/**/*.png'``) or image array, or a list of them.
            Folders give their image files (by extension, not recursive),
            sorted by name. A file reached twice by a glob (through a
            symbolic link) is given once; links that cannot be followed
            are kept, so reading them reports them.

    Returns:
        list: Paths (str) and arrays, in the order given.

    Raises:
        CAMError: for an empty folder, a pattern matching nothing, or an
            input that is neither a path nor an array.
    """
    if isinstance(inputs, (list, tuple)):
        items = list(inputs)
    else:
        items = [inputs]
    images: List[Union[str, np.ndarray]] = []
    for item in items:
        images.extend(_expand(item))
    if not images:
        raise CAMError('no images given')
    return images
