"""Localisation of a heatmap: does it point at the object?

Ground truth comes from a data sample (Runner loops) or from the
inferencer's ``gt_bboxes`` argument, always in network-input pixels.
"""
from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np

from ..cam.errors import CAMError


def boxes_array(boxes, what: str = 'gt_bboxes') -> np.ndarray:
    """Ground-truth boxes as a float64 ``(N, 4)`` array ``x1, y1, x2, y2``;
    one box may be given as ``(4,)``, no box as an empty array.

    Raises:
        CAMError: naming ``what`` when the boxes are not numbers, not
            ``(N, 4)``, or not finite.
    """
    try:
        array = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError):
        raise CAMError(f'{what} is not an array of numbers: give an (N, 4) '
                       'array of x1, y1, x2, y2') from None
    if array.size == 0:
        return array.reshape(0, 4)
    if array.shape == (4, ):
        array = array[None]
    if array.ndim != 2 or array.shape[1] != 4:
        raise CAMError(f'{what} has shape {array.shape}: give an (N, 4) '
                       'array of x1, y1, x2, y2')
    if not np.isfinite(array).all():
        raise CAMError(f'{what} has values that are not finite numbers')
    return array


@dataclass
class GroundTruthRegion:
    """Where the objects of an image are, in network-input pixels.

    Args:
        bboxes (np.ndarray, optional): ``(N, 4)`` boxes ``x1, y1, x2, y2``
            (continuous coordinates: pixel ``i`` covers ``[i, i + 1)``).
        labels (np.ndarray, optional): ``(N,)`` class id of each box. With
            labels, a map of class ``c`` is scored against the boxes of
            ``c`` only; without, against all boxes.
        mask (np.ndarray, optional): ``(H, W)`` bool mask of the objects,
            for any class.
    """
    bboxes: Optional[np.ndarray] = None
    labels: Optional[np.ndarray] = None
    mask: Optional[np.ndarray] = None

    @classmethod
    def of_data_sample(cls, data_sample) -> Optional['GroundTruthRegion']:
        """The region a data sample carries in its fields or metainfo:
        ``gt_bboxes`` ``(N, 4)`` with optional ``gt_bbox_labels`` ``(N,)``,
        and/or ``gt_mask`` ``(H, W)``; None when it has neither."""

        def field(name):
            value = data_sample.get(name, None)
            if value is None:
                return None
            if hasattr(value, 'detach'):
                value = value.detach().cpu().numpy()
            return np.asarray(value)

        bboxes, mask = field('gt_bboxes'), field('gt_mask')
        if (bboxes is None or bboxes.size == 0) and mask is None:
            return None
        return cls(bboxes, field('gt_bbox_labels'), mask)

    def check_shapes(self, where: str) -> None:
        """Refuse ground truth that cannot be read as boxes and a mask.

        Args:
            where (str): Whose ground truth this is, for the message, e.g.
                ``'sample 0 of the test loop'``.

        Raises:
            CAMError: naming the field, its shape and the shape expected:
                ``gt_bboxes`` ``(N, 4)`` (or one box ``(4,)``),
                ``gt_bbox_labels`` one per box, ``gt_mask`` ``(H, W)``.
        """
        from ..cam.errors import CAMError
        problems = []
        boxes = None
        if self.bboxes is not None and self.bboxes.size:
            boxes = np.asarray(self.bboxes)
            if boxes.shape != (4, ) and (boxes.ndim != 2
                                         or boxes.shape[1] != 4):
                problems.append(f'gt_bboxes has shape {boxes.shape}; '
                                'expected (N, 4) boxes x1, y1, x2, y2')
        if not problems and boxes is not None and self.labels is not None:
            count = boxes.size // 4
            if np.asarray(self.labels).size != count:
                problems.append(f'gt_bbox_labels has shape '
                                f'{np.asarray(self.labels).shape}; expected '
                                f'({count},), one class id per box')
        if self.mask is not None and np.asarray(self.mask).ndim != 2:
            problems.append(f'gt_mask has shape {np.asarray(self.mask).shape}'
                            '; expected (H, W)')
        if problems:
            raise CAMError(f'ground truth of {where}: {problems[0]}')

    def mask_for(self, category: int, hw: Tuple[int,
                                                int]) -> Optional[np.ndarray]:
        """``(H, W)`` bool: pixels whose centre lies in the class's boxes or
        in the mask; None when this class has no ground truth here."""
        region = np.zeros(hw, bool)
        found = False
        if self.bboxes is not None and self.bboxes.size:
            boxes = boxes_array(self.bboxes)
            if self.labels is not None:
                boxes = boxes[np.asarray(self.labels).reshape(-1) == category]
            ys = np.arange(hw[0]) + 0.5
            xs = np.arange(hw[1]) + 0.5
            for x1, y1, x2, y2 in boxes:
                region |= (((ys >= y1) & (ys < y2))[:, None]
                           & ((xs >= x1) & (xs < x2))[None, :])
                found = True
        if self.mask is not None:
            mask = np.asarray(self.mask, bool)
            region[:mask.shape[0], :mask.shape[1]] |= mask[:hw[0], :hw[1]]
            found = True
        return region if found else None


def pointing_game(heatmap: np.ndarray,
                  region: np.ndarray,
                  tolerance: float = 15) -> float:
    """Pointing game (Zhang et al., "Top-down neural attention by
    excitation backprop", IJCV 2018): a hit (1.0) when the heatmap's
    maximum lies within ``tolerance`` pixels of the ground-truth region,
    else a miss (0.0). The accuracy over maps is the mean. Of several equal
    maxima the first in raster order counts.

    Args:
        heatmap (np.ndarray): ``(H, W)``.
        region (np.ndarray): ``(H, W)`` bool ground truth.
        tolerance (float): Pixels. Defaults to 15, the paper's.

    Returns:
        float: 1.0 or 0.0; NaN for an empty region.
    """
    if not region.any():
        return float('nan')
    y, x = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
    # Distance of every pixel to the nearest region pixel.
    distance = cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2,
                                     cv2.DIST_MASK_PRECISE)
    return float(distance[y, x] <= tolerance)


def energy_pointing_game(heatmap: np.ndarray, region: np.ndarray) -> float:
    """Energy-based pointing game (Wang et al., "Score-CAM", CVPR
    Workshops 2020): the share of the heatmap's total energy that falls
    inside the ground-truth region, in [0, 1]; higher is better.

    Args:
        heatmap (np.ndarray): ``(H, W)``, non-negative.
        region (np.ndarray): ``(H, W)`` bool ground truth.

    Returns:
        float: The share; NaN for an all-zero heatmap or empty region.
    """
    total = float(np.asarray(heatmap, np.float64).sum())
    if total <= 0 or not region.any():
        return float('nan')
    return float(np.asarray(heatmap, np.float64)[region].sum() / total)
