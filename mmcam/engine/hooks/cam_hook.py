"""CAMHook: class activation maps of validation and test samples."""
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dataset import DefaultSampler
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import BaseLoop, EpochBasedTrainLoop

from mmcam.cam import CAMEngine, CAMSettings
from mmcam.engine.cam_export import LoopExport
from mmcam.engine.loop_metrics import LoopMetrics
from mmcam.engine.loop_pictures import (LoopPictures, hook_drawer,
                                        picture_stem)
from mmcam.engine.loop_samples import (EveryNthSample, SampleGeometries,
                                       ground_truth, network_input_image,
                                       network_inputs)
from mmcam.engine.run_start_checks import (PHASES, check_hook_options,
                                           check_run_start)
from mmcam.utils import class_name, one_line
from mmcam.utils.heap import return_freed_memory
from mmcam.visualization import CAMVisualizer, score_caption
from mmcam.visualization.raw_maps import MAPS_FOLDER

# Iterations between hand-overs of pictures to the vis backends.
_PUBLISH_INTERVAL = 4


@HOOKS.register_module()
class CAMHook(Hook):
    """Draws class activation maps of every ``interval``-th sample of the
    validation and test sets.

    The hook only orchestrates: it decides when and which samples are
    explained (:class:`~mmcam.engine.loop_samples.EveryNthSample`), asks
    :class:`~mmcam.cam.CAMEngine` for their heatmaps and
    :class:`~mmcam.visualization.CAMVisualizer` for their pictures, and
    hands the rest to collaborators that need no Runner of their own:

    - :mod:`~mmcam.engine.run_start_checks`: bad options and settings, as
      the hook is built and as the run starts;
    - :class:`~mmcam.engine.cam_export.LoopExport`: raw maps, their index
      and resuming;
    - :class:`~mmcam.engine.loop_metrics.LoopMetrics`: quality metrics,
      handed to the loop's :class:`~mmcam.evaluation.CAMMetric`;
    - :class:`~mmcam.engine.loop_pictures.LoopPictures`: pictures written
      to ``out_dir`` or handed to the runner visualizer's backends, and
      the loop's last line saying what went where.

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
        seed (int): Seed of RandomCAM's channel weights, see
            :class:`~mmcam.cam.CAMSettings`. Defaults to 0.
        head_fusion (str): AttentionRollout's head fusion, see
            :class:`~mmcam.cam.CAMSettings`. Defaults to ``'mean'``.
        discard_ratio (float): AttentionRollout's share of discarded
            attentions, see :class:`~mmcam.cam.CAMSettings`. Defaults to
            0.9.
        interval (int): Explain the samples whose dataset index is a
            multiple of ``interval``. Defaults to 1000.
        out_dir (str, optional): Write pictures (and raw maps) here instead
            of the vis backends; a relative path is taken from the runner's
            ``work_dir`` (``'.'`` for the work dir itself; ``''`` is
            refused). Defaults to None.
        save_raw (bool): Also write each explained sample's heatmaps as
            ``out_dir/<phase>/maps/<dataset index>_<image stem>.npy``:
            float16 ``(K, H, W)`` in [0, 1], on the original image where
            the test pipeline can be inverted (resizes, centre crops), else
            at the network input; with one JSON line per sample in
            ``index_rank<r>.jsonl`` (see
            :mod:`mmcam.visualization.raw_maps`). Needs ``out_dir``.
            Defaults to False.
        draw (bool): Draw pictures. ``draw=False, save_raw=True`` exports
            raw maps only. Defaults to True.
        resume (bool): Skip samples whose outputs already exist in
            ``out_dir`` (raw maps when ``save_raw``, else pictures), so a
            preempted job continues where it stopped; refuses outputs made
            with other settings. Raw maps count only when they read back
            and are indexed: torn index lines are dropped, broken or
            unindexed maps made again, and one line says how many. Needs
            ``out_dir``. Defaults to False.
        enable (bool): Whether to draw anything. Defaults to True.
        phases (Sequence[str]): Loops to draw in, from ``'val'`` and
            ``'test'``. Defaults to both.
        draw_cfg (dict, optional): Drawing options of
            :class:`~mmcam.visualization.CAMVisualizer` (``colormap``,
            ``alpha``, ``show_original``, ``max_columns``, ``min_size``).
            Defaults to the options of the runner's visualizer if it is a
            ``CAMVisualizer``, else ``CAMVisualizer``'s defaults; either
            way ``min_size`` is 224 unless set to more (or given here):
            network inputs of small-image datasets such as CIFAR are
            enlarged so their captions stay legible. ``max_columns``
            below 1 or ``min_size`` outside 0..2048 fail when the hook is
            built.
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
            ``batch_size``, ``deletion_substrate``, ``insertion_substrate``,
            ``blur_kernel``, ``blur_sigma``, ``substrate_warn_above``,
            ``tie_break``, ``seed``, ``tolerance``). Defaults to its
            defaults.
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
                 seed: int = 0,
                 head_fusion: str = 'mean',
                 discard_ratio: float = 0.9,
                 interval: int = 1000,
                 out_dir: Optional[str] = None,
                 save_raw: bool = False,
                 draw: bool = True,
                 resume: bool = False,
                 enable: bool = True,
                 phases: Sequence[str] = PHASES,
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
            batch_size=batch_size,
            seed=seed,
            head_fusion=head_fusion,
            discard_ratio=discard_ratio)
        phases = check_hook_options(interval, phases, out_dir, save_raw,
                                    resume, draw_cfg)
        self.interval = interval
        self.out_dir = out_dir
        self.save_raw = bool(save_raw)
        self.draw = bool(draw)
        self.resume = bool(resume)
        self.enable = bool(enable)
        self.phases = phases
        self.draw_cfg = dict(draw_cfg) if draw_cfg else None
        self.metrics = metrics
        self.metric_cfg = dict(metric_cfg or {})
        # Unknown metric names and options fail here, as bad settings do.
        LoopMetrics.check_arguments(metrics, self.metric_cfg)
        self._metrics: Optional[LoopMetrics] = None

        self.engine: Optional[CAMEngine] = None
        self.drawer: Optional[CAMVisualizer] = None
        self._samples = EveryNthSample(interval)
        self._pictures = LoopPictures()
        # Whether every process runs the same number of iterations, so they
        # can gather pictures together in the middle of a loop.
        self._gather_midway = True
        self._export: Optional[LoopExport] = None  # with save_raw
        self._geometries = SampleGeometries()

    # ------------------------------------------------------------------
    # Set-up: report configuration mistakes when the run starts.
    # ------------------------------------------------------------------
    def before_run(self, runner) -> None:
        """Build the engine and check the settings with a dry forward pass
        on the shape of the loop's first sample."""
        if self.enable:
            self._build(runner)
            check_run_start(runner, self.engine, self.phases, self.out_dir,
                            self._metrics)

    def _out_root(self, runner) -> Optional[str]:
        """``out_dir`` under the work dir; None without one."""
        if self.out_dir is None:
            return None
        return osp.join(runner.work_dir, self.out_dir)

    def _build(self, runner) -> None:
        if self.engine is None:
            # An unknown target layer raises CAMError here, as the run
            # starts; the tools print it as one line.
            self.engine = CAMEngine(runner.model, self.settings)
        if self._metrics is None and self.metrics:
            self._metrics = LoopMetrics(self.engine, self.metrics,
                                        self.metric_cfg)
        if self.drawer is None:
            self.drawer = hook_drawer(runner.visualizer, self.draw_cfg,
                                      f'cam_hook_drawer_{id(self)}')

    def before_val_epoch(self, runner) -> None:
        self._start_epoch(runner, 'val')

    def before_test_epoch(self, runner) -> None:
        self._start_epoch(runner, 'test')

    def _start_epoch(self, runner, phase: str) -> None:
        self._pictures = LoopPictures(self._out_root(runner))
        if not self._active(phase):
            self._samples.restart()
        else:
            self._build(runner)
            loop = runner.val_loop if phase == 'val' else runner.test_loop
            self._samples.restart(loop.dataloader)
            if self._metrics is not None:
                self._metrics.attach_to(loop.evaluator)
            sampler = getattr(loop.dataloader, 'sampler', None)
            world_size = get_dist_info()[1]
            self._gather_midway = world_size == 1 or (isinstance(
                sampler, DefaultSampler) and sampler.round_up)
            if self.save_raw:
                _, phase_name = self._step_and_phase_name(runner, phase)
                self._export = LoopExport.for_runner(
                    runner, self.engine, loop.dataloader.dataset,
                    osp.join(self._out_root(runner), phase_name), self.resume,
                    self._geometries)
                # The first process's share of the dataset, which the
                # others match to within a sample.
                self._export.show_progress(
                    self._samples.count(len(loop.dataloader.dataset)),
                    phase_name, runner.logger)

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
        self._publish_every(runner, 'val', batch_idx)

    def after_test_iter(self,
                        runner,
                        batch_idx: int,
                        data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        """Draw the chosen samples of a test batch."""
        self._explain_batch(runner, 'test', data_batch,
                            runner.test_loop.dataloader.dataset)
        self._publish_every(runner, 'test', batch_idx)

    def _explain_batch(self, runner, phase: str, data_batch: Optional[dict],
                       dataset) -> None:
        if not data_batch or 'data_samples' not in data_batch:
            return
        if not self._active(phase):
            self._samples.skip(len(data_batch['data_samples']))
            return
        chosen = self._samples.take(
            len(data_batch['data_samples']), len(dataset))
        try:
            self._explain_chosen(runner, phase, data_batch, dataset, chosen)
        finally:
            if self._export is not None:
                self._export.advance(len(chosen))
        if chosen:
            # Over a whole dataset, memory freed by each batch would
            # otherwise stay with the process (see return_freed_memory).
            return_freed_memory()

    def _explain_chosen(self, runner, phase: str, data_batch: dict, dataset,
                        chosen: List[Tuple[int, int]]) -> None:
        step, phase_name = self._step_and_phase_name(runner, phase)
        if self.resume:
            missing = [
                sample for sample in chosen
                if not self._done(runner, phase_name, data_batch, sample)
            ]
            self._pictures.skipped += len(chosen) - len(missing)
            chosen = missing
        if not chosen:
            return
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
            if self._export is not None:
                try:
                    self._save_raw(data_batch, sample, result, dataset)
                except Exception as error:  # noqa: BLE001
                    self._warn(runner, phase, data_batch, sample, error,
                               'raw maps')
            if self.draw:
                try:
                    self._draw(runner, phase, phase_name, step, data_batch,
                               sample, result, dataset)
                except Exception as error:  # noqa: BLE001
                    self._warn(runner, phase, data_batch, sample, error,
                               'picture')
        if self._metrics is not None:

            def no_metrics(sample, error):
                self._warn(runner, phase, data_batch, sample, error, 'metrics')

            self._metrics.measure(data_batch, chosen, heatmaps, no_metrics)

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
        rows = [i for i, _ in chosen]
        inputs, data_samples = network_inputs(self.engine.model, data_batch,
                                              rows)
        gt_labels = None
        if self.settings.target_category == 'gt':
            gt_labels = ground_truth(data_samples)
        names = []
        for row, dataset_index in chosen:
            path = data_batch['data_samples'][row].metainfo.get('img_path')
            names.append(f'sample {dataset_index}' +
                         (f' ({path})' if path else ''))
        try:
            result = self.engine(
                inputs, gt_labels=gt_labels, sample_names=names)
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            raise
        return [(result.heatmaps[k], result.categories[k], result.scores[k])
                for k in range(len(rows))]

    def _draw(self, runner, phase: str, phase_name: str, step: int,
              data_batch: dict, sample: tuple, result, dataset) -> None:
        row, dataset_index = sample
        heatmaps, categories, scores = result
        image = network_input_image(self.engine.model,
                                    data_batch['inputs'][row])
        # The preprocessor pads at the bottom and right; drop the padding.
        heatmaps = heatmaps[:, :image.shape[0], :image.shape[1]]
        classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
        labels = [
            score_caption(class_name(classes, c), s)
            for c, s in zip(categories, scores)
        ]
        data_sample = data_batch['data_samples'][row]
        gt = ground_truth([data_sample])
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

        self._pictures.add(picture, phase, phase_name,
                           self._file_stem(dataset_index), dataset_index, step)

    def _done(self, runner, phase_name: str, data_batch: dict,
              sample: Tuple[int, int]) -> bool:
        """Whether a resumed run finds the sample's outputs on disk."""
        row, dataset_index = sample
        if self._export is not None:
            path = data_batch['data_samples'][row].metainfo.get('img_path')
            return self._export.done(dataset_index, path)
        return self._pictures.exists(phase_name,
                                     self._file_stem(dataset_index))

    def _save_raw(self, data_batch: dict, sample: tuple, result,
                  dataset) -> None:
        row, dataset_index = sample
        heatmaps, categories, scores = result
        self._export.write(dataset, dataset_index,
                           data_batch['data_samples'][row],
                           data_batch['inputs'][row].shape[-2:], heatmaps,
                           categories, scores)

    def _file_stem(self, dataset_index: int) -> str:
        return picture_stem(dataset_index, self.engine.method.name,
                            self.settings)

    def _warn(self,
              runner,
              phase: str,
              data_batch: dict,
              sample: Tuple[int, int],
              error: Exception,
              missing: str = 'heatmap') -> None:
        """Log what a sample did not get (``'heatmap'``, ``'raw maps'``,
        ``'picture'`` or ``'metrics'``) and why; missing maps are also
        recorded in the export index (and retried on resume)."""
        row, dataset_index = sample
        path = data_batch['data_samples'][row].metainfo.get('img_path')
        where = f' ({path})' if path else ''
        message = f'{type(error).__name__}: {one_line(error)}'
        failed = dict(
            picture='drawing failed',
            heatmap='no heatmap',
            metrics='no metrics').get(missing, f'no {missing}')
        runner.logger.warning(f'CAMHook: {failed} for {phase} sample '
                              f'{dataset_index}{where}: {message}')
        if missing in ('heatmap', 'raw maps') and self._export is not None:
            self._export.write_failure(dataset_index, path, message)

    # ------------------------------------------------------------------
    # End of epoch: hand the pictures to the vis backends.
    # ------------------------------------------------------------------
    def after_val_epoch(self, runner, metrics=None) -> None:
        self._end_loop(runner, 'val')

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._end_loop(runner, 'test')

    def _end_loop(self, runner, phase: str) -> None:
        if self._export is not None:
            self._export.end_progress()
        self._publish(runner, phase, final=True)
        if self._export is not None:
            self._export.close()
            self._export = None

    def _publish_every(self, runner, phase: str, batch_idx: int) -> None:
        """Hand pictures on in chunks, so they never pile up over a loop;
        every process reaches the same iterations, where they gather."""
        if (batch_idx + 1) % _PUBLISH_INTERVAL == 0 and self._gather_midway:
            self._publish(runner, phase)

    def _publish(self, runner, phase: str, final: bool = False) -> None:
        """Hand the pictures drawn so far to the vis backends (first
        process); at the end of the loop, log what went where."""
        if not self._active(phase):
            return
        exported = self._export.take_exported() if self._export else 0
        self._pictures.publish(runner.visualizer, runner.logger, exported)
        if final:
            self._pictures.log_end(
                runner.logger, runner.visualizer, phase,
                self._step_and_phase_name(runner, phase)[1], self.interval,
                None if self._export is None else osp.join(
                    self._export.folder, MAPS_FOLDER))
