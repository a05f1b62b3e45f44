"""CAMMetric: heatmap quality in a Runner loop's evaluation."""
from typing import Dict, Optional, Sequence

import numpy as np
from mmengine.dist import get_world_size
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmengine.registry import METRICS


@METRICS.register_module()
class CAMMetric(BaseMetric):
    """Means of :class:`~mmcam.evaluation.CAMQuality` metrics over the
    heatmaps :class:`~mmcam.engine.hooks.CAMHook` computes in a val or test
    loop, logged as ``cam/<name>`` (``cam/avg_drop``,
    ``cam/insertion_auc``...) beside the other metrics: in the log line,
    ``scalars.json`` and every vis backend.

    The loop runs the evaluator before its ``after_*_iter`` hooks, so the
    hook hands each explained sample's values to :meth:`add` and
    :meth:`evaluate` takes them in when the loop ends. Each process sends
    its samples, keyed by dataset index, through mmengine's
    ``collect_results``, so every sample counts once, however many
    processes ran. Each value is the mean over all explained maps (NaN
    values, such as localisation metrics of classes without ground truth,
    left out).

    Registered in mmengine's root ``METRICS`` registry. ``CAMHook`` with
    ``metrics`` adds one to the loop's evaluator when the config has none;
    to choose its options, list it yourself:

    .. code-block:: python

        val_evaluator = [dict(type='Accuracy', topk=(1, )),
                         dict(type='CAMMetric')]

    Args:
        collect_device (str): ``'cpu'`` or ``'gpu'``, how processes
            exchange results. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the logged names. Defaults to
            ``'cam'``.
        collect_dir (str, optional): Folder for ``'cpu'`` collection.
    """
    default_prefix: Optional[str] = 'cam'

    def __init__(self,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        self._per_sample: Dict[int, Dict[str, np.ndarray]] = {}

    @classmethod
    def attach_to(cls, evaluator) -> 'CAMMetric':
        """The evaluator's ``CAMMetric``, added to it when it has none."""
        for metric in evaluator.metrics:
            if isinstance(metric, cls):
                return metric
        metric = cls()
        metric.dataset_meta = evaluator.dataset_meta
        evaluator.metrics.append(metric)
        return metric

    def add(self, sample_idx: int, values: Dict[str, np.ndarray]) -> None:
        """Record one sample's metrics: name -> ``(K,)``, one per map."""
        self._per_sample[int(sample_idx)] = {
            name: np.asarray(value, np.float32).reshape(-1)
            for name, value in values.items()
        }

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Nothing to do: values arrive from the hook through
        :meth:`add`."""

    def evaluate(self, size: int) -> dict:
        # One result per process, so a process that explained nothing
        # still takes part in the collection, without an empty warning.
        self.results = [self._per_sample]
        self._per_sample = {}
        return super().evaluate(max(size, get_world_size()))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Means over the maps of all samples, each sample once."""
        merged: Dict[int, Dict[str, np.ndarray]] = {}
        for part in results:
            merged.update(part)
        values: Dict[str, list] = {}
        for sample_idx in sorted(merged):
            for name, value in merged[sample_idx].items():
                values.setdefault(name, []).append(value)
        means, unmeasured = {}, []
        for name, parts in values.items():
            value = np.concatenate(parts)
            value = value[~np.isnan(value)]
            if value.size:
                means[name] = float(value.mean())
            else:
                unmeasured.append(f'{self.prefix}/{name}')
        if unmeasured:
            # Logged as missing, never as a number (0.0 would look
            # measured); say why it vanished from the metrics.
            MMLogger.get_current_instance().warning(
                f'CAMMetric: {", ".join(unmeasured)} not logged: every '
                'value is NaN (no ground-truth region usable for the '
                'explained class, or no meaningful heatmap; see CAMQuality)')
        return means
