"""Where the network input lies in the original image, and how to map a
heatmap back onto that image."""
from dataclasses import dataclass
from typing import Tuple

import cv2
import numpy as np


@dataclass
class InputGeometry:
    """An axis-aligned map from original-image to network-input pixels.

    Coordinates are continuous with pixel ``i`` covering ``[i, i + 1)``;
    an image point ``x`` lands at ``scale_x * x + offset_x`` in the input.
    Resizes multiply the scale, crops shift the offset.

    Args:
        image_hw (tuple[int, int]): Height and width of the original image.
        input_hw (tuple[int, int]): Height and width of the network input.
        scale_x, scale_y (float): Input pixels per image pixel.
        offset_x, offset_y (float): Input coordinate of the image origin.
    """
    image_hw: Tuple[int, int]
    input_hw: Tuple[int, int]
    scale_x: float = 1.0
    scale_y: float = 1.0
    offset_x: float = 0.0
    offset_y: float = 0.0

    @classmethod
    def identity(cls, image_hw: Tuple[int, int]) -> 'InputGeometry':
        return cls(tuple(image_hw), tuple(image_hw))

    def resized(self, new_hw: Tuple[int, int]) -> 'InputGeometry':
        """After resizing the current input to ``new_hw``."""
        fy = new_hw[0] / self.input_hw[0]
        fx = new_hw[1] / self.input_hw[1]
        return InputGeometry(self.image_hw, tuple(new_hw), self.scale_x * fx,
                             self.scale_y * fy, self.offset_x * fx,
                             self.offset_y * fy)

    def cropped(self, x1: float, y1: float,
                new_hw: Tuple[int, int]) -> 'InputGeometry':
        """After cropping ``new_hw`` pixels starting at ``(x1, y1)``; a crop
        reaching past the input (padding) is allowed."""
        return InputGeometry(self.image_hw, tuple(new_hw), self.scale_x,
                             self.scale_y, self.offset_x - x1,
                             self.offset_y - y1)

    def boxes_to_input(self, boxes: np.ndarray) -> np.ndarray:
        """``(N, 4)`` boxes ``x1, y1, x2, y2`` in image pixels, in
        network-input pixels."""
        scale = np.array(
            [self.scale_x, self.scale_y, self.scale_x, self.scale_y])
        offset = np.array(
            [self.offset_x, self.offset_y, self.offset_x, self.offset_y])
        return np.asarray(boxes, np.float64).reshape(-1, 4) * scale + offset

    @property
    def input_region(self) -> Tuple[float, float, float, float]:
        """``(x1, y1, x2, y2)``: the part of the original image the network
        saw, in image pixels (continuous, clipped to the image)."""
        height, width = self.image_hw
        in_h, in_w = self.input_hw
        x1 = max(0.0, -self.offset_x / self.scale_x)
        y1 = max(0.0, -self.offset_y / self.scale_y)
        x2 = min(float(width), (in_w - self.offset_x) / self.scale_x)
        y2 = min(float(height), (in_h - self.offset_y) / self.scale_y)
        return (x1, y1, x2, y2)

    def region_mask(self) -> np.ndarray:
        """``(H, W)`` bool: image pixels whose centre the network saw."""
        height, width = self.image_hw
        x1, y1, x2, y2 = self.input_region
        xs = np.arange(width) + 0.5
        ys = np.arange(height) + 0.5
        return ((ys >= y1) & (ys < y2))[:, None] & ((xs >= x1) &
                                                    (xs < x2))[None, :]

    def to_image(self, heatmaps: np.ndarray) -> np.ndarray:
        """Map ``(K, h, w)`` input-resolution heatmaps onto the original
        image: ``(K, H, W)`` float32, bilinear inside the region the
        network saw and 0 outside it."""
        height, width = self.image_hw
        # Image pixel centre i + 0.5 -> input coordinate; minus 0.5 gives
        # the input pixel index cv2 samples at.
        matrix = np.array(
            [[self.scale_x, 0, self.scale_x * 0.5 + self.offset_x - 0.5],
             [0, self.scale_y, self.scale_y * 0.5 + self.offset_y - 0.5]],
            dtype=np.float64)
        mask = self.region_mask()
        mapped = np.zeros((len(heatmaps), height, width), np.float32)
        for k, heatmap in enumerate(heatmaps):
            warped = cv2.warpAffine(
                np.ascontiguousarray(heatmap, dtype=np.float32),
                matrix, (width, height),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REPLICATE)
            mapped[k] = np.where(mask, np.clip(warped, 0, 1), 0)
        return mapped
