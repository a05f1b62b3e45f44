"""Faithfulness of a heatmap: how the class probability changes when the
image is changed where the heatmap points.

The per-map formulas; :class:`~mmcam.evaluation.CAMQuality` builds the
perturbed images and runs the network on them.
"""
import numpy as np
import torch
import torch.nn.functional as F

# What deleted pixels become and what insertion starts from.
SUBSTRATES = ('black', 'mean', 'blur')


def average_drop(original: np.ndarray, masked: np.ndarray) -> np.ndarray:
    """Average Drop % of each map (Chattopadhyay et al., "Grad-CAM++",
    WACV 2018): ``max(0, Y - O) / Y * 100``, where ``Y`` is the class
    probability on the image and ``O`` on the image multiplied by its
    heatmap in pixel space. The paper's number is the mean over maps;
    lower is better.

    Args:
        original (np.ndarray): ``Y``, any shape.
        masked (np.ndarray): ``O``, the same shape.

    Returns:
        np.ndarray: float32, the shape of the inputs.
    """
    original = np.asarray(original, np.float64)
    masked = np.asarray(masked, np.float64)
    with np.errstate(divide='ignore', invalid='ignore'):
        drop = np.maximum(0.0, original - masked) / original * 100
    return drop.astype(np.float32)


def increase_in_confidence(original: np.ndarray,
                           masked: np.ndarray) -> np.ndarray:
    """Increase in Confidence % of each map (Chattopadhyay et al. 2018):
    100 where ``O > Y``, else 0, so the mean over maps is the paper's share
    of maps that raise the probability, in percent; higher is better.

    Args:
        original (np.ndarray): ``Y``, any shape.
        masked (np.ndarray): ``O``, the same shape.

    Returns:
        np.ndarray: float32, 100 or 0, the shape of the inputs.
    """
    return np.where(np.asarray(masked) > np.asarray(original), 100.0,
                    0.0).astype(np.float32)


def curve_auc(curve: np.ndarray) -> np.ndarray:
    """Area under curves sampled at ``steps + 1`` equally spaced points of
    [0, 1] (trapezoidal rule), along the last axis; as RISE's ``auc``.

    Args:
        curve (np.ndarray): ``(..., steps + 1)``.

    Returns:
        np.ndarray: float32 ``(...)``.
    """
    curve = np.asarray(curve, np.float64)
    steps = curve.shape[-1] - 1
    area = (curve.sum(-1) - (curve[..., 0] + curve[..., -1]) / 2) / steps
    return area.astype(np.float32)


def step_pixel_counts(num_pixels: int, steps: int) -> np.ndarray:
    """Pixels changed after each of ``steps`` equal steps:
    ``floor(i * num_pixels / steps)`` for ``i = 0 .. steps``, so the first
    count is 0 and the last is every pixel.

    Args:
        num_pixels (int): Pixels of the image.
        steps (int): Steps of the deletion or insertion curve.

    Returns:
        np.ndarray: int64 ``(steps + 1,)``.
    """
    return np.arange(steps + 1, dtype=np.int64) * num_pixels // steps


# How pixels of equal heatmap value are ordered.
TIE_BREAKS = ('raster', 'random')


def pixel_ranks(heatmaps: torch.Tensor,
                tie_break: str = 'raster',
                seed: int = 0) -> torch.Tensor:
    """Each pixel's place in heatmap order: 0 for the highest value.

    Args:
        heatmaps (Tensor): ``(..., H, W)``.
        tie_break (str): Order of equal values: ``'raster'`` (row by row)
            or ``'random'``: by a random permutation of the pixel
            positions drawn from ``seed``, the same for every map of one
            size, so a map's ranks do not depend on its batch. Defaults to
            ``'raster'``.
        seed (int): Seed of the ``'random'`` permutation. Defaults to 0.

    Returns:
        Tensor: int64 ``(..., H, W)``.
    """
    flat = heatmaps.flatten(-2).float()
    if tie_break == 'random':
        shuffle = torch.randperm(
            flat.shape[-1],
            generator=torch.Generator().manual_seed(seed)).to(flat.device)
        # Stable sort of the shuffled values: equal values keep the
        # shuffled order.
        order = shuffle[torch.argsort(
            -flat[..., shuffle], dim=-1, stable=True)]
    elif tie_break == 'raster':
        order = torch.argsort(-flat, dim=-1, stable=True)
    else:
        raise ValueError(f'unknown tie_break {tie_break!r}; available: '
                         f'{", ".join(TIE_BREAKS)}')
    ranks = torch.empty_like(order)
    positions = torch.arange(
        flat.shape[-1], device=flat.device).expand_as(order)
    ranks.scatter_(-1, order, positions)
    return ranks.reshape(heatmaps.shape)


def gaussian_blur(pixels: torch.Tensor,
                  kernel_size: int = 11,
                  sigma: float = 5.0) -> torch.Tensor:
    """A Gaussian blur of ``(B, C, H, W)`` images with reflected borders,
    the insertion metric's starting image (RISE blurs with a kernel of 11
    and sigma 5).

    Args:
        pixels (Tensor): ``(B, C, H, W)``.
        kernel_size (int): Odd kernel width. Defaults to 11.
        sigma (float): Standard deviation in pixels. Defaults to 5.

    Returns:
        Tensor: The blurred images, same shape.
    """
    radius = kernel_size // 2
    offsets = torch.arange(
        -radius, radius + 1, dtype=torch.float32, device=pixels.device)
    kernel = torch.exp(-offsets**2 / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = pixels.shape[1]
    # Reflection needs a border smaller than the image.
    mode = 'reflect' if min(pixels.shape[-2:]) > radius else 'replicate'
    blurred = F.pad(pixels.float(), (radius, radius, radius, radius), mode)
    blurred = F.conv2d(
        blurred,
        kernel.reshape(1, 1, 1, -1).repeat(channels, 1, 1, 1),
        groups=channels)
    return F.conv2d(
        blurred,
        kernel.reshape(1, 1, -1, 1).repeat(channels, 1, 1, 1),
        groups=channels)


def substrate_images(pixels: torch.Tensor,
                     substrate: str,
                     blur_kernel: int = 11,
                     blur_sigma: float = 5.0) -> torch.Tensor:
    """The image a deletion curve ends on and an insertion curve starts
    from, for each of ``(B, C, H, W)`` images (in pixels).

    Args:
        pixels (Tensor): ``(B, C, H, W)``.
        substrate (str): ``'black'`` (0), ``'mean'`` (each image's own mean
            colour, per channel) or ``'blur'`` (:func:`gaussian_blur`).
        blur_kernel (int): Kernel width of ``'blur'``. Defaults to 11.
        blur_sigma (float): Sigma of ``'blur'``. Defaults to 5.

    Returns:
        Tensor: float32, the shape of ``pixels``.
    """
    pixels = pixels.float()
    if substrate == 'black':
        return torch.zeros_like(pixels)
    if substrate == 'mean':
        return pixels.mean((-2, -1), keepdim=True).expand_as(pixels)
    if substrate == 'blur':
        return gaussian_blur(pixels, blur_kernel, blur_sigma)
    raise ValueError(f'unknown substrate {substrate!r}; available: '
                     f'{", ".join(SUBSTRATES)}')
