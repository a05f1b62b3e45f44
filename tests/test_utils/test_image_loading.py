"""Reading gray, RGBA, 16-bit, float and corrupt images."""
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmcam.cam import CAMError
from mmcam.utils import read_image, to_bgr_uint8
from mmcam.utils.image_loading import header_size


def test_files_of_every_kind_become_bgr_uint8(test_images):
    for key, path in test_images.items():
        image = read_image(str(path))
        assert image.dtype == np.uint8, key
        assert image.ndim == 3 and image.shape[2] == 3, key


def test_gray_is_repeated_into_three_channels(test_images):
    image = read_image(str(test_images['gray']))
    original = cv2.imread(str(test_images['gray']), cv2.IMREAD_UNCHANGED)
    assert (image == original[..., None]).all()


def test_alpha_is_composited_over_white():
    bgra = np.zeros((4, 4, 4), np.uint8)
    bgra[..., 0] = 200  # blue where opaque
    bgra[:, :2, 3] = 255  # left half opaque, right half transparent
    image = to_bgr_uint8(bgra)
    assert (image[:, :2] == [200, 0, 0]).all()
    assert (image[:, 2:] == 255).all()


def test_16_bit_is_scaled_by_its_own_range(test_images):
    # 12-bit data in a 16-bit file: decoding as 8 bits would make it dark.
    image = read_image(str(test_images['gray16']))
    raw = cv2.imread(str(test_images['gray16']), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw.max() < 4096
    assert image.min() == 0 and image.max() == 255
    expected = np.rint(raw.astype(np.float64) / raw.max() * 255)
    assert np.abs(image[..., 0] - expected).max() <= 1


def test_float_arrays_in_unit_range_are_scaled_by_255():
    image = to_bgr_uint8(np.full((3, 3, 3), 0.5, np.float32))
    assert (image == 128).all()


@pytest.mark.parametrize('shape', [(3, 3, 5), (3, ), (0, 4, 3)])
def test_arrays_that_are_not_images_are_refused(shape):
    with pytest.raises(CAMError, match='shape|empty'):
        to_bgr_uint8(np.zeros(shape, np.uint8))


def test_missing_and_corrupt_files_name_the_file(tmp_path):
    with pytest.raises(CAMError, match="image '.*nope.jpg' does not exist"):
        read_image(str(tmp_path / 'nope.jpg'))
    corrupt = tmp_path / 'broken.jpg'
    corrupt.write_bytes(b'\xff\xd8\xff\xe0 this is not really a jpeg')
    with pytest.raises(CAMError, match="'.*broken.jpg': not an image"):
        read_image(str(corrupt))


def test_png_bomb_writer_writes_decodable_pngs(png_bomb_writer, tmp_path):
    path = tmp_path / 'small.png'
    png_bomb_writer(path, 30, 20, bit_depth=16, color_type=6)
    decoded = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert decoded.shape == (20, 30, 4) and decoded.dtype == np.uint16
    assert not decoded.any()


def test_sizes_past_pillows_own_bomb_limit_are_read_from_the_header(
        png_bomb_writer, tmp_path):
    # Pillow's Image.open refuses over 2 x 89,478,485 pixels; mmcam's
    # limit must still see the size, or OpenCV decodes the whole bomb.
    path = tmp_path / 'bomb.png'
    png_bomb_writer(path, 20000, 15000, bit_depth=16, color_type=6)
    assert header_size(path.read_bytes()) == (15000, 20000)


# Runs in its own process, so that its peak memory is its own and the
# address space can be capped: a regression fails in seconds with an
# allocation error (or the timeout) instead of reading or decoding
# gigabytes.
_READ_IN_A_CAPPED_PROCESS = '''
import resource, sys, time
from mmcam.cam import CAMError
from mmcam.utils import read_image
with open('/proc/self/statm') as f:
    mapped = int(f.read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (mapped + (1 << 30), -1))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    read_image(sys.argv[1])
    print('read')
except CAMError as error:
    print(error)
print(time.perf_counter() - start)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
'''


def read_in_a_capped_process(path):
    """``read_image(path)`` in a fresh process with 1 GiB more address
    space than its imports take: the message (or ``'read'``), the seconds
    and the MB of peak memory the read added."""
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, '-c', _READ_IN_A_CAPPED_PROCESS,
         str(path)],
        cwd=repo,
        env=dict(os.environ, PYTHONPATH=str(repo)),
        capture_output=True,
        text=True,
        timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    message, seconds, megabytes = done.stdout.strip().splitlines()[-3:]
    return message, float(seconds), float(megabytes)


def test_a_20000_square_16_bit_rgba_bomb_is_refused_fast_and_small(
        png_bomb_writer, tmp_path):
    path = tmp_path / 'bomb.png'
    png_bomb_writer(path, 20000, 20000, bit_depth=16, color_type=6)
    message, seconds, megabytes = read_in_a_capped_process(path)
    assert 'is 20000x20000 = 400,000,000 pixels, over the limit' in message
    assert seconds < 1
    assert megabytes < 200


def test_devices_and_fifos_named_like_images_are_refused(tmp_path):
    (tmp_path / 'zero.png').symlink_to('/dev/zero')
    os.mkfifo(tmp_path / 'fifo.png')
    message, *_ = read_in_a_capped_process(tmp_path / 'zero.png')
    assert message == (f"image '{tmp_path / 'zero.png'}' is a character "
                       "device (a symbolic link to '/dev/zero'), not a "
                       'regular file')
    message, *_ = read_in_a_capped_process(tmp_path / 'fifo.png')
    assert message == (f"image '{tmp_path / 'fifo.png'}' is a FIFO, not a "
                       'regular file')


def test_files_longer_than_the_pixel_limit_allows_are_not_read(tmp_path):
    path = tmp_path / 'long.png'
    path.write_bytes(bytes(30 << 20))  # more than 1000 px can take
    with pytest.raises(
            CAMError,
            match=r"image '.*long.png' is 31,457,280 "
            'bytes, over the limit of 16,793,216 bytes .*raise '
            '--max-pixels'):
        read_image(str(path), max_pixels=1000)


def test_corrupt_images_leave_only_the_error_on_stderr(tmp_path, capfd):
    """libpng and OpenCV print their own lines on the process's stderr
    ('libpng error: IDAT: ...', '[ WARN:0@...] ... buffer is incomplete')
    beside the one-line error."""
    assert cv2.imwrite(
        str(tmp_path / 'good.png'),
        np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    content = (tmp_path / 'good.png').read_bytes()
    (tmp_path / 'truncated.png').write_bytes(content[:len(content) // 2])
    damaged = bytearray(content)
    damaged[damaged.find(b'IDAT') + 10] ^= 0xff
    (tmp_path / 'damaged.png').write_bytes(bytes(damaged))
    capfd.readouterr()
    for name in ('truncated.png', 'damaged.png'):
        with pytest.raises(CAMError, match='not an image, or a corrupt'):
            read_image(str(tmp_path / name))
    assert capfd.readouterr().err == ''
