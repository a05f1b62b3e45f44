"""CAMHook: class activation maps of validation and test samples."""
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import BaseLoop, EpochBasedTrainLoop

from mmcam.cam import CAMEngine, CAMError, CAMSettings
from mmcam.evaluation import (LOCALISATION_METRICS, CAMMetric, CAMQuality,
                              GroundTruthRegion)
from mmcam.utils import class_name, one_line
from mmcam.visualization import CAMVisualizer, save_picture

_PHASES = ('val', 'test')


@HOOKS.register_module()
class CAMHook(Hook):
    """Draws class activation maps of every ``interval``-th sample of the
    validation and test sets.

    The hook only orchestrates: it picks samples by dataset index, runs the
    model's data preprocessor on them, asks :class:`~mmcam.cam.CAMEngine`
    for heatmaps and hands the pictures drawn by
    :class:`~mmcam.visualization.CAMVisualizer` to the runner's
    visualizer (or writes them to ``out_dir``).

    Registered in mmengine's root ``HOOKS`` registry, so it builds under any
    ``default_scope``:

    .. code-block:: python

        custom_imports = dict(imports=['mmcam'], allow_failed_imports=False)
        custom_hooks = [dict(type='CAMHook', method='GradCAM', interval=100)]

    - Samples are chosen and named by their index into the loop's dataset
      (read from its ``DefaultSampler``, shuffled or not), so runs on any
      number of processes explain the same samples, and the samples of a
      ``ConcatDataset`` or ``RepeatDataset`` (whose ``sample_idx`` restarts
      in each part) all keep their own pictures. Repeats that
      ``DefaultSampler`` adds to even out the processes are skipped: every
      sample is drawn exactly once.
    - With ``out_dir``, every process writes its own pictures to
      ``out_dir/<phase>/<dataset index>_<method>_<category>.png``, where
      ``<phase>`` is ``test``, ``val_epoch_<n>`` or ``val_iter_<n>``.
      Otherwise the pictures are gathered on the first process at the end
      of the epoch and passed to the runner visualizer's ``add_image``, so
      they reach its vis backends (local files, TensorBoard, W&B) with the
      epoch (or iteration) as step.
    - A bad setting raises :class:`~mmcam.cam.CAMError` when the hook is
      built or the run starts: an unknown method or target layer, a target
      layer without a spatial output (the neck), a class id or ``topk``
      outside the head's classes, a bad ``draw_cfg``. A heatmap that fails
      during the run (out of memory, an odd sample) or comes out NaN is
      logged as a warning naming the sample; the run goes on.

    Args:
        method (str): CAM method, e.g. ``'GradCAM'``, ``'LayerCAM'``.
            Defaults to ``'GradCAM'``.
        target_layers (str | list[str], optional): Dotted layer names.
            Defaults to the architecture's default layer.
        target_category (None | str | int | list[int]): ``None`` for the
            predicted class, ``'gt'`` for the sample's ground-truth label,
            or class ids (one heatmap each). Defaults to None.
        topk (int, optional): Heatmaps of the ``topk`` predicted classes.
            Defaults to None.
        eigen_smooth (bool): See :class:`~mmcam.cam.CAMSettings`.
            Defaults to False.
        aug_smooth (bool): See :class:`~mmcam.cam.CAMSettings`.
            Defaults to False.
        vit_like (bool): See :class:`~mmcam.cam.CAMSettings`.
            Defaults to False.
        num_extra_tokens (int, optional): See
            :class:`~mmcam.cam.CAMSettings`. Defaults to the backbone's.
        batch_size (int): Batch size of the extra forward passes of
            ScoreCAM and AblationCAM. Defaults to 32.
        interval (int): Explain the samples whose dataset index is a
            multiple of ``interval``. Defaults to 1000.
        out_dir (str, optional): Write pictures here instead of the vis
            backends; a relative path is taken from the runner's
            ``work_dir``. Defaults to None.
        enable (bool): Whether to draw anything. Defaults to True.
        phases (Sequence[str]): Loops to draw in, from ``'val'`` and
            ``'test'``. Defaults to both.
        draw_cfg (dict, optional): Drawing options of
            :class:`~mmcam.visualization.CAMVisualizer` (``colormap``,
            ``alpha``, ``show_original``, ``max_columns``, ``min_size``).
            Defaults to the runner's visualizer if it is a
            ``CAMVisualizer``, else ``CAMVisualizer``'s defaults with
            ``min_size=224``: network inputs of small-image datasets such
            as CIFAR are enlarged so their captions stay legible.
        metrics (bool | Sequence[str]): Also measure the explained
            heatmaps with :class:`~mmcam.evaluation.CAMQuality`: True for
            every metric that applies, or names such as
            ``['avg_drop', 'insertion_auc']``. The means reach the loop's
            metrics as ``cam/<name>`` through a
            :class:`~mmcam.evaluation.CAMMetric` in the loop's evaluator
            (added when the config lists none). Localisation metrics read
            ``gt_bboxes``/``gt_mask`` of the data samples. Defaults to
            False.
        metric_cfg (dict, optional): Options of
            :class:`~mmcam.evaluation.CAMQuality` (``steps``,
            ``batch_size``, ``blur_kernel``, ``blur_sigma``,
            ``tolerance``). Defaults to its defaults.
    """

    def __init__(self,
                 method: str = 'GradCAM',
                 target_layers: Union[None, str, Sequence[str]] = None,
                 target_category: Union[None, str, int, Sequence[int]] = None,
                 topk: Optional[int] = None,
                 eigen_smooth: bool = False,
                 aug_smooth: bool = False,
                 vit_like: bool = False,
                 num_extra_tokens: Optional[int] = None,
                 batch_size: int = 32,
                 interval: int = 1000,
                 out_dir: Optional[str] = None,
                 enable: bool = True,
                 phases: Sequence[str] = _PHASES,
                 draw_cfg: Optional[dict] = None,
                 metrics: Union[bool, Sequence[str]] = False,
                 metric_cfg: Optional[dict] = None) -> None:
        # Settings are validated here, so a bad method fails while the
        # runner is being built, before any data is loaded.
        self.settings = CAMSettings.from_kwargs(
            method=method,
            target_layers=target_layers,
            target_category=target_category,
            topk=topk,
            eigen_smooth=eigen_smooth,
            aug_smooth=aug_smooth,
            vit_like=vit_like,
            num_extra_tokens=num_extra_tokens,
            batch_size=batch_size)
        if not isinstance(interval, int) or interval < 1:
            raise CAMError(f'CAMHook interval must be a positive integer, got '
                           f'{interval!r}')
        phases = [phases] if isinstance(phases, str) else list(phases)
        unknown = [p for p in phases if p not in _PHASES]
        if unknown:
            raise CAMError(f'CAMHook phases {unknown} unknown; choose from '
                           f'{list(_PHASES)}')
        self.interval = interval
        self.out_dir = out_dir
        self.enable = bool(enable)
        self.phases = phases
        self.draw_cfg = dict(draw_cfg) if draw_cfg else None
        self.metrics = metrics
        self.metric_cfg = dict(metric_cfg or {})
        # Unknown metric names and options fail here, as bad settings do.
        CAMQuality.check_arguments(metrics, self.metric_cfg)
        self.quality: Optional[CAMQuality] = None
        self._metric: Optional[CAMMetric] = None

        self.engine: Optional[CAMEngine] = None
        self.drawer: Optional[CAMVisualizer] = None
        self._position = 0  # samples this process has seen in the loop
        # This process's dataset indices in loop order, or None when the
        # sampler cannot tell them (then the loop is taken as sequential).
        self._indices: Optional[List[int]] = None
        self._pending: List[Tuple[int, str, np.ndarray, int]] = []

    # ------------------------------------------------------------------
    # Set-up: report configuration mistakes when the run starts.
    # ------------------------------------------------------------------
    def before_run(self, runner) -> None:
        """Build the engine and check the settings with a dry forward pass
        on the shape of the loop's first sample."""
        if self.enable:
            self._build(runner)
            self.engine.check_settings(self._input_shape(runner))
            self._check_ground_truth(runner)

    def _input_shape(self, runner) -> Tuple[int, ...]:
        """``(1, C, H, W)`` of a network input of the first loop this hook
        draws in (already built when the run starts)."""
        from mmcam.cam.engine import DEFAULT_INPUT_SHAPE
        for phase in self.phases:
            loop = getattr(runner, f'_{phase}_loop', None)
            if not isinstance(loop, BaseLoop):
                continue
            try:
                inputs = loop.dataloader.dataset[0]['inputs']
                return (1, *inputs.shape[-3:])
            except Exception:  # noqa: BLE001  (the loop itself will tell)
                break
        return DEFAULT_INPUT_SHAPE

    def _build(self, runner) -> None:
        if self.engine is None:
            # An unknown target layer raises CAMError here, as the run
            # starts; the tools print it as one line.
            self.engine = CAMEngine(runner.model, self.settings)
        if self.quality is None and self.metrics:
            self.quality = CAMQuality(self.engine, self.metrics,
                                      **self.metric_cfg)
        if self.drawer is None:
            if self.draw_cfg is None and isinstance(runner.visualizer,
                                                    CAMVisualizer):
                self.drawer = runner.visualizer
            else:
                # Created directly rather than through the registry, so it
                # does not replace the runner's visualizer as mmengine's
                # "current" instance. It only draws; pictures still go to
                # the runner visualizer's backends.
                try:
                    self.drawer = CAMVisualizer(
                        name=f'cam_hook_drawer_{id(self)}',
                        **{
                            'min_size': 224,
                            **(self.draw_cfg or {})
                        })
                except (TypeError, ValueError) as error:
                    raise CAMError(f'CAMHook draw_cfg {self.draw_cfg!r}: '
                                   f'{one_line(error)}') from None

    def before_val_epoch(self, runner) -> None:
        self._start_epoch(runner, 'val')

    def before_test_epoch(self, runner) -> None:
        self._start_epoch(runner, 'test')

    def _start_epoch(self, runner, phase: str) -> None:
        self._position = 0
        self._pending = []
        if self._active(phase):
            self._build(runner)
            loop = runner.val_loop if phase == 'val' else runner.test_loop
            self._indices = _sampler_indices(loop.dataloader)
            if self.quality is not None:
                self._metric = CAMMetric.attach_to(loop.evaluator)

    def _active(self, phase: str) -> bool:
        return self.enable and phase in self.phases

    # ------------------------------------------------------------------
    # Per batch: pick samples, compute, draw.
    # ------------------------------------------------------------------
    def after_val_iter(self,
                       runner,
                       batch_idx: int,
                       data_batch: Optional[dict] = None,
                       outputs: Optional[Sequence] = None) -> None:
        """Draw the chosen samples of a validation batch."""
        self._explain_batch(runner, 'val', data_batch,
                            runner.val_loop.dataloader.dataset)

    def after_test_iter(self,
                        runner,
                        batch_idx: int,
                        data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        """Draw the chosen samples of a test batch."""
        self._explain_batch(runner, 'test', data_batch,
                            runner.test_loop.dataloader.dataset)

    def _explain_batch(self, runner, phase: str, data_batch: Optional[dict],
                       dataset) -> None:
        if not data_batch or 'data_samples' not in data_batch:
            return
        first_position = self._position
        self._position += len(data_batch['data_samples'])
        if not self._active(phase):
            return
        chosen = self._choose_samples(data_batch['data_samples'],
                                      first_position, len(dataset))
        if not chosen:
            return
        step, phase_name = self._step_and_phase_name(runner, phase)
        try:
            heatmaps = self._compute(runner, data_batch, chosen)
        except Exception as error:  # noqa: BLE001  (never stop the run)
            if len(chosen) == 1:
                self._warn(runner, phase, data_batch, chosen[0], error)
                return
            # Find which samples fail, and keep the others.
            heatmaps = []
            for sample in chosen:
                try:
                    heatmaps += self._compute(runner, data_batch, [sample])
                except Exception as error:  # noqa: BLE001
                    self._warn(runner, phase, data_batch, sample, error)
                    heatmaps.append(None)
        for sample, result in zip(chosen, heatmaps):
            if result is None:
                continue
            try:
                self._draw(runner, phase, phase_name, step, data_batch, sample,
                           result, dataset)
            except Exception as error:  # noqa: BLE001
                self._warn(runner, phase, data_batch, sample, error)
        if self.quality is not None and self._metric is not None:
            self._measure(runner, phase, data_batch, chosen, heatmaps)

    def _choose_samples(self, data_samples, first_position: int,
                        dataset_size: int) -> List[Tuple[int, int]]:
        """``(index in batch, dataset index)`` of the samples to explain."""
        rank, world_size = get_dist_info()
        chosen = []
        for i in range(len(data_samples)):
            # DefaultSampler deals indices round-robin: this process's n-th
            # sample is the (rank + n * world_size)-th overall. Positions
            # past the dataset's end are repeats that even out processes.
            n = first_position + i
            position = rank + n * world_size
            if position >= dataset_size:
                continue
            index = self._indices[n] if self._indices is not None and \
                n < len(self._indices) else position
            if index % self.interval == 0:
                chosen.append((i, index))
        return chosen

    @staticmethod
    def _step_and_phase_name(runner, phase: str) -> Tuple[int, str]:
        if phase == 'test':
            return 0, 'test'
        # Read the private attribute: the public ``train_loop`` property
        # builds a train loop (and its dataloader) when validating alone.
        train_loop = getattr(runner, '_train_loop', None)
        if isinstance(train_loop, EpochBasedTrainLoop):
            return runner.epoch, f'val_epoch_{runner.epoch}'
        if isinstance(train_loop, BaseLoop):
            return runner.iter, f'val_iter_{runner.iter}'
        return 0, 'val'

    def _compute(self, runner, data_batch: dict,
                 chosen: List[Tuple[int, int]]) -> list:
        """One :class:`~mmcam.cam.CAMResult` row per chosen sample."""
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        rows = [i for i, _ in chosen]
        inputs = data_batch['inputs']
        if isinstance(inputs, torch.Tensor):
            inputs = inputs[rows]
        else:
            inputs = [inputs[i] for i in rows]
        data_samples = [data_batch['data_samples'][i] for i in rows]
        with torch.no_grad():
            data = model.data_preprocessor(
                dict(inputs=inputs, data_samples=data_samples), False)
        gt_labels = None
        if self.settings.target_category == 'gt':
            gt_labels = _ground_truth(data_samples)
        try:
            result = self.engine(data['inputs'], gt_labels=gt_labels)
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            raise
        return [(result.heatmaps[k], result.categories[k], result.scores[k])
                for k in range(len(rows))]

    # ------------------------------------------------------------------
    # Metrics of the explained samples, handed to the loop's CAMMetric.
    # ------------------------------------------------------------------
    def _check_ground_truth(self, runner) -> None:
        """Localisation metrics named in ``metrics`` need ground-truth
        regions: look at the first sample of each loop before the run."""
        if self.quality is None or not self.quality.named_explicitly:
            return
        named = [n for n in self.quality.names if n in LOCALISATION_METRICS]
        if not named:
            return
        for phase in self.phases:
            # Private: the public properties would build loops not run.
            loop = getattr(runner, f'_{phase}_loop', None)
            if not isinstance(loop, BaseLoop) or not len(
                    loop.dataloader.dataset):
                continue
            sample = loop.dataloader.dataset[0].get('data_samples')
            if sample is None or GroundTruthRegion.of_data_sample(
                    sample) is None:
                self.quality.names_for(None)  # raises, naming the metric

    def _network_inputs(self, runner, data_batch: dict,
                        rows: List[int]) -> Tuple[torch.Tensor, list]:
        """The normalized network input of some rows of a batch, and
        their data samples."""
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        inputs = data_batch['inputs']
        if isinstance(inputs, torch.Tensor):
            inputs = inputs[rows]
        else:
            inputs = [inputs[i] for i in rows]
        data_samples = [data_batch['data_samples'][i] for i in rows]
        with torch.no_grad():
            data = model.data_preprocessor(
                dict(inputs=inputs, data_samples=data_samples), False)
        return data['inputs'], data_samples

    def _measure(self, runner, phase: str, data_batch: dict,
                 chosen: List[Tuple[int, int]], results: list) -> None:
        explained = [(sample, result)
                     for sample, result in zip(chosen, results)
                     if result is not None]
        if not explained:
            return

        def measure(group):
            inputs, data_samples = self._network_inputs(
                runner, data_batch, [row for (row, _), _ in group])
            values = self.quality(
                inputs, np.stack([result[0] for _, result in group]),
                np.stack([result[1] for _, result in group]), [
                    GroundTruthRegion.of_data_sample(data_sample)
                    for data_sample in data_samples
                ])
            for j, ((_, sample_idx), _) in enumerate(group):
                self._metric.add(sample_idx, {
                    n: v[j]
                    for n, v in values.items()
                })

        try:
            measure(explained)
        except Exception:  # noqa: BLE001  (never stop the run)
            # Find which samples fail, and keep the others.
            for item in explained:
                try:
                    measure([item])
                except Exception as error:  # noqa: BLE001
                    row, sample_idx = item[0]
                    path = data_batch['data_samples'][row].metainfo.get(
                        'img_path')
                    where = f' ({path})' if path else ''
                    message = str(error).strip().splitlines()
                    runner.logger.warning(
                        f'CAMHook: no metrics for {phase} sample '
                        f'{sample_idx}{where}: {type(error).__name__}: '
                        f'{message[0] if message else ""}')

    def _draw(self, runner, phase: str, phase_name: str, step: int,
              data_batch: dict, sample: tuple, result, dataset) -> None:
        row, dataset_index = sample
        heatmaps, categories, scores = result
        image = self._network_input_image(runner, data_batch['inputs'][row])
        # The preprocessor pads at the bottom and right; drop the padding.
        heatmaps = heatmaps[:, :image.shape[0], :image.shape[1]]
        classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
        labels = [
            f'{class_name(classes, c)} {s:.2f}'
            for c, s in zip(categories, scores)
        ]
        data_sample = data_batch['data_samples'][row]
        gt = _ground_truth([data_sample])
        original_label = (f'gt: {class_name(classes, gt[0])}'
                          if gt is not None else 'input')
        if not np.isfinite(heatmaps).all():
            # The method divided by zero (a constant or empty activation);
            # the picture shows the image with no overlay.
            path = data_sample.metainfo.get('img_path')
            runner.logger.warning(
                f'CAMHook: the {self.engine.method.name} heatmap of {phase} '
                f'sample {dataset_index}{f" ({path})" if path else ""} is '
                'not a number (NaN) in places; drawn without overlay there')
        picture = self.drawer.draw_cam(
            image, heatmaps, labels, original_label=original_label)

        file_stem = f'{dataset_index}_{self.engine.method.name}_' \
                    f'{self._category_tag()}'
        if self.out_dir is not None:
            out_dir = osp.join(runner.work_dir, self.out_dir)
            save_picture(picture,
                         osp.join(out_dir, phase_name, f'{file_stem}.png'))
        else:
            self._pending.append(
                (dataset_index, f'cam_{phase}_{file_stem}', picture, step))

    @staticmethod
    def _network_input_image(runner, image: torch.Tensor) -> np.ndarray:
        """The image as the network sees it before normalization, RGB."""
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        preprocessor = model.data_preprocessor
        image = image.detach().cpu()
        if image.dtype != torch.uint8:
            image = image.float().clamp(0, 255).round().to(torch.uint8)
        image = image.permute(1, 2, 0).numpy()
        # mmpretrain's ClsDataPreprocessor says ``to_rgb``; mmengine's
        # ImgDataPreprocessor keeps the same choice as _channel_conversion.
        swaps = getattr(preprocessor, 'to_rgb',
                        getattr(preprocessor, '_channel_conversion', False))
        if swaps and image.shape[-1] == 3:
            image = image[..., ::-1]
        if image.shape[-1] == 1:
            image = np.repeat(image, 3, axis=-1)
        return np.ascontiguousarray(image)

    def _category_tag(self) -> str:
        settings = self.settings
        if settings.topk is not None:
            return f'top{settings.topk}'
        if settings.target_category is None:
            return 'pred'
        if settings.target_category == 'gt':
            return 'gt'
        return 'class' + '-'.join(map(str, settings.target_category))

    @staticmethod
    def _warn(runner, phase: str, data_batch: dict, sample: Tuple[int, int],
              error: Exception) -> None:
        row, dataset_index = sample
        path = data_batch['data_samples'][row].metainfo.get('img_path')
        where = f' ({path})' if path else ''
        message = str(error).strip().splitlines()
        runner.logger.warning(
            f'CAMHook: no heatmap for {phase} sample {dataset_index}{where}: '
            f'{type(error).__name__}: {message[0] if message else ""}')

    # ------------------------------------------------------------------
    # End of epoch: hand the pictures to the vis backends.
    # ------------------------------------------------------------------
    def after_val_epoch(self, runner, metrics=None) -> None:
        self._publish(runner, 'val')

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._publish(runner, 'test')

    def _publish(self, runner, phase: str) -> None:
        if not self._active(phase) or self.out_dir is not None:
            return
        pending, self._pending = self._pending, []
        rank, world_size = get_dist_info()
        if world_size > 1:
            # Visualizer.add_image only works on the first process; every
            # process must take part in the gather, even with no pictures.
            pending = [
                item for part in all_gather_object(pending) for item in part
            ]
        if rank != 0:
            return
        for _, name, picture, step in sorted(pending, key=lambda p: p[0]):
            try:
                runner.visualizer.add_image(name, picture, step=step)
            except Exception as error:  # noqa: BLE001
                runner.logger.warning(
                    f'CAMHook: could not store picture {name}: '
                    f'{type(error).__name__}: {error}')


def _ground_truth(data_samples) -> Optional[List[int]]:
    labels = []
    for data_sample in data_samples:
        label = data_sample.get('gt_label', None)
        if label is None or len(label) == 0:
            return None
        labels.append(int(label[0]))
    return labels


def _sampler_indices(dataloader) -> Optional[List[int]]:
    """The dataset indices this process gets, in loop order, when the
    dataloader's sampler can tell them: mmengine's ``DefaultSampler``
    (shuffled or not) and torch's sequential sampler give the same order
    each time they are iterated within an epoch."""
    from mmengine.dataset import DefaultSampler
    from torch.utils.data import BatchSampler, SequentialSampler
    sampler = getattr(dataloader, 'sampler', None)
    batch_sampler = getattr(dataloader, 'batch_sampler', None)
    if batch_sampler is not None and type(batch_sampler) is not BatchSampler:
        return None  # batches in an order of their own
    if isinstance(sampler, (DefaultSampler, SequentialSampler)):
        return [int(i) for i in sampler]
    return None
