"""Turn what a user passes as images into a list of paths and arrays."""
import glob
import os
import os.path as osp
from pathlib import Path
from typing import List, Sequence, Union

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
            sorted(
                p for p in glob.glob(path, recursive=True)
                if not osp.isdir(p)))
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
