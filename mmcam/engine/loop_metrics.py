"""LoopMetrics: quality metrics of the heatmaps a Runner loop explains.

:class:`~mmcam.engine.hooks.CAMHook` decides which samples are explained;
this class measures their heatmaps with
:class:`~mmcam.evaluation.CAMQuality` (reading each sample's ground-truth
region for the localisation metrics) and hands the values to the loop's
:class:`~mmcam.evaluation.CAMMetric`, so their means reach the loop's
metrics as ``cam/<name>``.
"""
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

from mmcam.cam import CAMEngine
from mmcam.engine.loop_samples import network_inputs
from mmcam.evaluation import (LOCALISATION_METRICS, CAMMetric, CAMQuality,
                              GroundTruthRegion, values_per_image)

#: ``(row in the batch, dataset index)`` of an explained sample.
Sample = Tuple[int, int]


class LoopMetrics:
    """Measures explained heatmaps and feeds the loop's ``CAMMetric``.

    Args:
        engine (CAMEngine): The engine that made the heatmaps; its model
            is measured.
        metrics (bool | Sequence[str]): True for every metric that
            applies, or names such as ``['avg_drop', 'insertion_auc']``.
        metric_cfg (dict, optional): Options of
            :class:`~mmcam.evaluation.CAMQuality`. Defaults to its
            defaults.
    """

    def __init__(self,
                 engine: CAMEngine,
                 metrics: Union[bool, Sequence[str]],
                 metric_cfg: Optional[dict] = None) -> None:
        self.quality = CAMQuality(engine, metrics, **(metric_cfg or {}))
        self._model = engine.model
        #: The loop's metric, once :meth:`attach_to` found or added it.
        self.metric: Optional[CAMMetric] = None

    @staticmethod
    def check_arguments(metrics: Union[bool, Sequence[str]],
                        metric_cfg: Optional[dict]) -> None:
        """Unknown metric names and options raise
        :class:`~mmcam.cam.CAMError` before any model exists."""
        CAMQuality.check_arguments(metrics, dict(metric_cfg or {}))

    def attach_to(self, evaluator) -> None:
        """Hand values to ``evaluator``'s ``CAMMetric`` (added when it has
        none) from now on."""
        self.metric = CAMMetric.attach_to(evaluator)

    def check_ground_truth(self, datasets: Sequence[Tuple[str,
                                                          object]]) -> None:
        """Localisation metrics need ground-truth regions of a shape they
        can read: look at the first sample of each dataset before the run,
        so a wrong shape is one line now, not a warning on every sample.

        Args:
            datasets (Sequence[tuple[str, Dataset]]): A name for messages
                (e.g. the loop's class name) and the dataset.

        Raises:
            CAMError: When a first sample's region has a shape the metrics
                cannot read, or has none and a localisation metric was
                named explicitly.
        """
        named = [n for n in self.quality.names if n in LOCALISATION_METRICS]
        if not named:
            return
        for name, dataset in datasets:
            if not len(dataset):
                continue
            sample = dataset[0].get('data_samples')
            region = None if sample is None else \
                GroundTruthRegion.of_data_sample(sample)
            if region is not None:
                region.check_shapes(f'sample 0 of the {name}')
            elif self.quality.named_explicitly:
                self.quality.names_for(None)  # raises, naming the metric

    def measure(self, data_batch: dict, chosen: List[Sample], results: list,
                on_failure: Callable[[Sample, Exception], None]) -> None:
        """Measure the heatmaps of the explained rows of a batch and hand
        each sample's values to the loop's metric (when attached).

        Args:
            data_batch (dict): The loop's batch, before preprocessing.
            chosen (list[tuple[int, int]]): ``(row, dataset index)`` of
                each sample explained in the batch.
            results (list): One ``(heatmaps, categories, scores)`` per
                chosen sample, None where its heatmap failed.
            on_failure (Callable): Called with the sample and the error
                when a sample cannot be measured; the others still are.
        """
        if self.metric is None:
            return
        explained = [(sample, result)
                     for sample, result in zip(chosen, results)
                     if result is not None]
        if not explained:
            return
        try:
            self._measure(data_batch, explained)
        except Exception:  # noqa: BLE001  (never stop the run)
            # Find which samples fail, and keep the others.
            for item in explained:
                try:
                    self._measure(data_batch, [item])
                except Exception as error:  # noqa: BLE001
                    on_failure(item[0], error)

    def _measure(self, data_batch: dict, group: list) -> None:
        inputs, data_samples = network_inputs(self._model, data_batch,
                                              [row for (row, _), _ in group])
        heatmaps = np.stack([result[0] for _, result in group])
        categories = np.stack([result[1] for _, result in group])
        regions = [
            GroundTruthRegion.of_data_sample(data_sample)
            for data_sample in data_samples
        ]
        values = values_per_image(
            self.quality(inputs, heatmaps, categories, regions))
        for ((_, sample_idx), _), sample_values in zip(group, values):
            self.metric.add(sample_idx, sample_values)
