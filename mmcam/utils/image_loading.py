"""Read any image a user may point the tools at as 3-channel uint8 BGR.

mmpretrain's ``LoadImageFromFile`` decodes as 8-bit colour, which darkens
12-bit data stored in 16-bit files and drops transparency onto whatever
colour the transparent pixels happen to hold. Images here keep their depth
and alpha until :func:`to_bgr_uint8` converts them deliberately.
"""
import io
import warnings
from typing import Optional, Tuple, Union

import cv2
import numpy as np

from ..cam.errors import CAMError
from ..library_noise import quiet_native_stderr
from .local_files import read_regular_file

# Pillow's default decompression-bomb limit: about 89.5 million pixels
# (a 250 KB PNG can claim 16000x16000 and take gigabytes once decoded).
DEFAULT_MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3

# Formats that may carry an alpha channel are decoded unchanged; the others
# are decoded with EXIF orientation applied, as LoadImageFromFile does.
_ALPHA_CAPABLE_MAGIC = (
    b'\x89PNG',  # PNG
    b'RIFF',  # WebP
    b'II*\x00',  # TIFF, little-endian
    b'MM\x00*',  # TIFF, big-endian
)


def _composite_on_white(color: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Blend ``color`` over a white background; transparent pixels often
    hold arbitrary colours (black or garbage) that should not be seen."""
    weight = alpha.astype(np.float32)[..., None] / 255.0
    blended = color.astype(np.float32) * weight + 255.0 * (1 - weight)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def _scale_to_uint8(image: np.ndarray) -> np.ndarray:
    """Map any numeric dtype to uint8."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == bool:
        return image.astype(np.uint8) * 255
    values = image.astype(np.float32)
    if np.issubdtype(image.dtype, np.floating):
        finite = values[np.isfinite(values)]
        # Floats in [0, 1] are the usual convention; anything else is
        # treated like integer data below.
        if finite.size == 0 or (finite.min() >= 0 and finite.max() <= 1):
            return np.clip(np.rint(np.nan_to_num(values) * 255), 0,
                           255).astype(np.uint8)
        values = np.nan_to_num(values)
    # 16-bit and other wide images: stretch the image's own value range,
    # so 12-bit data stored in 16 bits is not nearly black.
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.full(values.shape, 0 if high <= 0 else 255, np.uint8)
    return np.clip(np.rint((values - low) * (255.0 / (high - low))), 0,
                   255).astype(np.uint8)


def to_bgr_uint8(image: np.ndarray) -> np.ndarray:
    """Convert an image array to ``(H, W, 3)`` uint8 BGR.

    Args:
        image (np.ndarray): ``(H, W)`` gray, ``(H, W, 1)``, ``(H, W, 2)``
            gray + alpha, ``(H, W, 3)`` BGR or ``(H, W, 4)`` BGRA, of any
            numeric dtype. Channel order is OpenCV's (BGR), as
            ``mmcv.imread`` returns it.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 BGR. Gray is repeated into three
        channels; alpha is composited over white; 16-bit and other wide
        integer images are scaled by their own min..max range; floats in
        [0, 1] are multiplied by 255.

    Raises:
        CAMError: for arrays that are not images.
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3
                                    and image.shape[2] not in (2, 3, 4)):
        raise CAMError(f'an image array must be (H, W), (H, W, 3) or '
                       f'(H, W, 4), got shape {tuple(image.shape)}')
    if min(image.shape[:2]) < 1:
        raise CAMError(f'image of shape {tuple(image.shape)} is empty')
    if not (np.issubdtype(image.dtype, np.number) or image.dtype == bool):
        raise CAMError(f'image arrays must be numeric, got {image.dtype}')
    image = _scale_to_uint8(image)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    channels = image.shape[2]
    if channels == 2:
        gray = _composite_on_white(image[..., 0], image[..., 1])
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    if channels == 4:
        return _composite_on_white(image[..., :3], image[..., 3])
    return np.ascontiguousarray(image)


def check_pixels(height: int,
                 width: int,
                 name: str,
                 max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
                 what: str = 'image') -> None:
    """Refuse an image (or a resized version of it) larger than
    ``max_pixels``, before it is allocated.

    Args:
        height (int), width (int): The size in pixels.
        name (str): The image, for the message.
        max_pixels (int, optional): The limit; None or 0 for none.
        what (str): What has this size, e.g. ``'image'`` or ``'image
            after ResizeEdge'``.

    Raises:
        CAMError: naming the image, its size and how to raise the limit.
    """
    if max_pixels and height * width > max_pixels:
        raise CAMError(
            f'{what} {name!r} is {width}x{height} = {height * width:,} '
            f'pixels, over the limit of {max_pixels:,} (a decompression '
            'bomb or an extreme aspect ratio?); raise the limit with '
            '--max-pixels / max_pixels if the image is genuine')


def _size_past_pillows_limit(content: bytes) -> Optional[Tuple[int, int]]:
    """``(width, height)`` of an image Pillow refuses to open as a
    decompression bomb (over twice ``Image.MAX_IMAGE_PIXELS``).

    ``Image.open`` checks the size after a format plugin has read the
    header; the plugins themselves read the header only, so asking them
    directly gives the size of exactly the largest bombs, which mmcam's own
    limit (``max_pixels``, which may be higher than Pillow's) must judge.
    """
    from PIL import Image
    Image.init()
    prefix = content[:16]
    for format_id in Image.ID:
        factory, accept = Image.OPEN[format_id]
        accepted = accept(prefix) if accept else True
        if not accepted or isinstance(accepted, str):  # str: a warning
            continue
        try:
            with factory(io.BytesIO(content), '') as image:
                return image.size
        except Exception:  # noqa: BLE001  (not this format: try the next)
            continue
    return None


def max_file_bytes(max_pixels: Optional[int]) -> Optional[int]:
    """The most bytes an image file within ``max_pixels`` can hold: every
    pixel stored uncompressed with 4 channels of 32 bits (float TIFF, the
    widest pixels OpenCV reads), plus 16 MiB of headers and metadata; None
    without a limit. Files over it are refused before they are read."""
    if not max_pixels:
        return None
    return max_pixels * 16 + (16 << 20)


def header_size(content: bytes) -> Optional[Tuple[int, int]]:
    """``(height, width)`` an image file declares, read from its header
    without decoding the pixels, whatever the size (Pillow's own
    decompression-bomb limit does not apply); None for formats Pillow cannot
    parse."""
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with warnings.catch_warnings():
            # Between Pillow's limit and twice it, Image.open warns;
            # max_pixels decides instead.
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        size = _size_past_pillows_limit(content)
        if size is None:
            return None
        width, height = size
    except Exception:  # noqa: BLE001  (any unknown format: decode decides)
        return None
    return height, width


def decode_image(content: bytes,
                 name: str = 'image',
                 max_pixels: Optional[int] = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode image file bytes to ``(H, W, 3)`` uint8 BGR.

    Args:
        content (bytes): The file's bytes.
        name (str): The file, for messages.
        max_pixels (int, optional): Refuse images declaring more pixels
            than this before decoding them. Defaults to
            :data:`DEFAULT_MAX_PIXELS`; None or 0 for no limit.

    Raises:
        CAMError: if the bytes are not an image OpenCV can decode, or the
            image is over ``max_pixels``.
    """
    size = header_size(content)
    if size is not None:
        check_pixels(*size, name, max_pixels)
    buffer = np.frombuffer(content, np.uint8)
    if content[:4] in _ALPHA_CAPABLE_MAGIC:
        flags = cv2.IMREAD_UNCHANGED
    else:
        flags = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
    with quiet_native_stderr():  # libpng's own lines on corrupt files
        image = cv2.imdecode(buffer, flags) if buffer.size else None
    if image is None:
        raise CAMError(f'could not read image {name!r}: not an image, or a '
                       'corrupt or unsupported file')
    check_pixels(*image.shape[:2], name, max_pixels)
    return to_bgr_uint8(image)


def read_image(image: Union[str, np.ndarray],
               max_pixels: Optional[int] = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read a path (any mmengine file backend) or convert an array.

    Args:
        image (str | np.ndarray): A file path or URL, or an image array in
            OpenCV's BGR(A) channel order (see :func:`to_bgr_uint8`).
        max_pixels (int, optional): See :func:`decode_image`.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 BGR.

    Raises:
        CAMError: naming the file when it is missing, not a regular file
            (a FIFO, a device, a socket, or a link to one), over the bytes
            an image within ``max_pixels`` can take, or not an image.
    """
    if isinstance(image, np.ndarray):
        if image.ndim >= 2:
            check_pixels(*image.shape[:2], 'array', max_pixels)
        return to_bgr_uint8(image)
    path = str(image)
    if '://' not in path:
        content = read_regular_file(
            path, 'image', max_file_bytes(max_pixels),
            ' (the most an image within the pixel limit can take); raise '
            '--max-pixels / max_pixels if the image is genuine')
        return decode_image(content, path, max_pixels)
    from mmengine import fileio
    try:
        content = fileio.get(path)
    except Exception as error:  # network and other backend failures
        reason = str(error).strip().splitlines()[0] if str(error) else type(
            error).__name__
        raise CAMError(f'could not read image {path!r}: {reason}') from None
    return decode_image(content, path, max_pixels)
