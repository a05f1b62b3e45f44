"""ImageMetrics: quality metrics of the heatmaps CAMInferencer makes.

:class:`~mmcam.apis.CAMInferencer` explains a batch of images; this class
measures their heatmaps with :class:`~mmcam.evaluation.CAMQuality`, each
image on its own part of the padded batch, its ``gt_bboxes`` placed on
its network input. Its counterpart in Runner loops is
:class:`~mmcam.engine.loop_metrics.LoopMetrics`; both hand the values on
image by image through :func:`~mmcam.evaluation.values_per_image`.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from ..cam import CAMEngine, CAMError
from ..evaluation import CAMQuality, GroundTruthRegion, values_per_image
from ..evaluation.cam_quality import MetricsArg
from ..evaluation.localisation import boxes_array
from ..utils import one_line
from .image_sample import ImageSample


class ImageMetrics:
    """Measures the inferencer's heatmaps, for the configured metrics or
    those of one call.

    Args:
        engine (CAMEngine): The engine that makes the heatmaps; its model
            is measured.
        metrics (bool | Sequence[str]): The inferencer's metrics: True for
            every metric that applies, names such as ``['avg_drop',
            'deletion_auc']``, or False for none.
        metric_cfg (dict, optional): Options of
            :class:`~mmcam.evaluation.CAMQuality`, for every call.
            Defaults to its defaults.
    """

    def __init__(self,
                 engine: CAMEngine,
                 metrics: MetricsArg,
                 metric_cfg: Optional[dict] = None) -> None:
        self.engine = engine
        self.metrics = metrics
        self.metric_cfg = dict(metric_cfg or {})
        self._configured: Optional[CAMQuality] = None

    @staticmethod
    def check_arguments(metrics: MetricsArg,
                        metric_cfg: Optional[dict]) -> None:
        """Unknown metric names and options raise
        :class:`~mmcam.cam.CAMError` before any model exists."""
        CAMQuality.check_arguments(metrics, dict(metric_cfg or {}))

    def configured(self) -> Optional[CAMQuality]:
        """The measurer of the configured metrics; None for none. It is
        made once and kept, so its warnings come once per run."""
        if self._configured is None and self.metrics:
            self._configured = CAMQuality(self.engine, self.metrics,
                                          **self.metric_cfg)
        return self._configured

    def for_call(self, metrics: MetricsArg) -> Optional[CAMQuality]:
        """A measurer of one call's ``metrics``; None for none."""
        if not metrics:
            return None
        return CAMQuality(self.engine, metrics, **self.metric_cfg)

    @staticmethod
    def check_call(quality: Optional[CAMQuality], num_images: int,
                   gt_bboxes: Optional[Sequence]) -> None:
        """Localisation metrics without boxes, and boxes that do not fit
        the images, fail before any work.

        Args:
            quality (CAMQuality, optional): The call's measurer.
            num_images (int): How many images the call has.
            gt_bboxes (Sequence[np.ndarray], optional): One ``(N, 4)``
                array (or None) per image.
        """
        if gt_bboxes is not None and len(gt_bboxes) != num_images:
            raise CAMError(f'gt_bboxes has {len(gt_bboxes)} entries for '
                           f'{num_images} image(s); give one (N, 4) array '
                           'per image')
        for i, boxes in enumerate(() if gt_bboxes is None else gt_bboxes):
            if boxes is not None:
                boxes_array(boxes, f'gt_bboxes[{i}]')
        if quality is not None and gt_bboxes is None:
            quality.names_for(None)  # raises for localisation metrics

    def measure(self, quality: CAMQuality, samples: List[ImageSample],
                inputs: torch.Tensor, heatmaps: np.ndarray,
                categories: np.ndarray,
                gt_bboxes: Optional[Sequence]) -> List[Dict[str, np.ndarray]]:
        """Each sample's metrics, measured on its own part of the padded
        batch; samples of one input size share the forward passes.

        Args:
            quality (CAMQuality): The call's measurer.
            samples (list[ImageSample]): The batch's explained images.
            inputs (Tensor): ``(B, C, H, W)``, the data preprocessor's
                output for them.
            heatmaps (np.ndarray): ``(B, K, H, W)`` at the padded input.
            categories (np.ndarray): ``(B, K)``, the explained classes.
            gt_bboxes (Sequence[np.ndarray], optional): The call's boxes,
                one entry per image of the call (not of the batch).

        Returns:
            list[dict[str, np.ndarray]]: Per sample, metric name ->
            float32 ``(K,)``.

        Raises:
            CAMError: Naming the images when measuring fails.
        """
        try:
            return self._measure(quality, samples, inputs, heatmaps,
                                 categories, gt_bboxes)
        except CAMError:
            raise
        except Exception as error:  # noqa: BLE001
            # The heatmaps are there; say what failed.
            names = ', '.join(repr(s.name) for s in samples)
            raise CAMError(
                f'could not measure the heatmaps of image {names}: '
                f'{type(error).__name__}: {one_line(error)}') from None

    def _measure(self, quality, samples, inputs, heatmaps, categories,
                 gt_bboxes) -> List[Dict[str, np.ndarray]]:
        by_size: Dict[tuple, List[int]] = {}
        for i, sample in enumerate(samples):
            by_size.setdefault(sample.input_size, []).append(i)
        measured: List[Optional[dict]] = [None] * len(samples)
        for (height, width), rows in by_size.items():
            regions = None
            if gt_bboxes is not None:
                regions = [input_region(samples[i], gt_bboxes) for i in rows]
            values = values_per_image(
                quality(inputs[rows, :, :height, :width],
                        heatmaps[rows, :, :height, :width], categories[rows],
                        regions))
            for i, sample_values in zip(rows, values):
                measured[i] = sample_values
        return measured


def input_region(sample: ImageSample,
                 gt_bboxes: Sequence) -> Optional[GroundTruthRegion]:
    """A sample's ground-truth boxes, in network-input pixels; None when
    it has none.

    Raises:
        CAMError: When the sample has boxes but its test pipeline cannot
            be inverted.
    """
    boxes = gt_bboxes[sample.index]
    if boxes is None:
        return None
    boxes = boxes_array(boxes, f'gt_bboxes[{sample.index}]')
    if not len(boxes):
        return None
    if sample.geometry is None:
        raise CAMError(
            f'cannot place gt_bboxes on the network input of image '
            f'{sample.stem!r}: the test pipeline cannot be inverted')
    return GroundTruthRegion(bboxes=sample.geometry.boxes_to_input(boxes))
