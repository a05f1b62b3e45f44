"""LoopExport: the raw-map export of one Runner loop.

:class:`~mmcam.engine.hooks.CAMHook` decides which samples are explained
and when; this class decides what of them is written and how: it checks
the maps folder, opens the :class:`~mmcam.visualization.raw_maps.RawMapWriter`
with the settings the maps depend on (compared when resuming), reports
what a resumed export found done and repaired, carries each heatmap back
to the original image where the pipeline can be inverted, and shows the
export's progress bar. It needs no Runner: give it a folder, the settings
and a logger, and feed it samples.
"""
import os.path as osp
from typing import Callable, Optional, Sequence

import numpy as np
from mmengine.dist import all_gather_object, get_dist_info

from mmcam.engine.export_fingerprint import export_fingerprint
from mmcam.engine.loop_samples import SampleGeometries
from mmcam.utils import class_name
from mmcam.utils.local_files import check_writable
from mmcam.utils.progress import log_above_progress, terminal_progress
from mmcam.visualization.raw_maps import MAPS_FOLDER, RawMapWriter


class LoopExport:
    """Writes the raw heatmaps of one loop's explained samples.

    Args:
        folder (str): The loop's phase folder (``out_dir/test``,
            ``out_dir/val_epoch_3``...); maps go to its ``maps`` folder.
        settings (dict): What the maps depend on (see
            :func:`~mmcam.engine.export_fingerprint.export_fingerprint`),
            stored in ``export.json`` and compared when resuming.
        resume (bool): Keep the maps already in ``folder`` and skip their
            samples. Defaults to False.
        logger (logging.Logger, optional): Receives the resume report.
            Defaults to None (no report).
        geometries (SampleGeometries, optional): Where each sample's
            network input lies in its original image; pass one to share its
            cache across loops. Defaults to a new one.

    Raises:
        CAMError: When the maps folder cannot be written (a file in its
            place, no permission), or the folder holds an export made with
            other settings and ``resume`` is True.
    """

    def __init__(self,
                 folder: str,
                 settings: dict,
                 resume: bool = False,
                 logger=None,
                 geometries: Optional[SampleGeometries] = None) -> None:
        rank, world_size = get_dist_info()
        # A file where the maps folder goes is one line before the loop,
        # as an out_dir that is a file is.
        check_writable(
            osp.join(folder, MAPS_FOLDER),
            "CAMHook's raw-map folder",
            folder=True,
            fix='move it away or choose another out_dir')
        self.writer = RawMapWriter(folder, rank, settings, resume)
        self.geometries = geometries or SampleGeometries()
        #: Samples whose maps were written since :meth:`take_exported`.
        self.exported = 0
        self._progress = None  # the export's bar on the first process
        # Puts the logger's handlers back once the bar is closed.
        self._restore_logging: Optional[Callable[[], None]] = None
        if resume and logger is not None:
            self._report_resume(logger, world_size)

    @classmethod
    def for_runner(cls,
                   runner,
                   engine,
                   dataset,
                   folder: str,
                   resume: bool = False,
                   geometries: Optional[SampleGeometries] = None):
        """The export of a Runner loop over ``dataset``, fingerprinted with
        ``engine``'s settings and the runner's model config.

        Args:
            runner (Runner): Gives the model config and the logger.
            engine (CAMEngine): The engine making the maps.
            dataset (Dataset): The loop's dataset.
            folder (str): The loop's phase folder.
            resume (bool): See :class:`LoopExport`. Defaults to False.
            geometries (SampleGeometries, optional): See
                :class:`LoopExport`. Defaults to a new one.
        """
        cfg = getattr(runner, 'cfg', None)
        settings = export_fingerprint(
            engine,
            cfg.get('model') if cfg is not None else None, dataset)
        return cls(folder, settings, resume, runner.logger, geometries)

    @property
    def folder(self) -> str:
        """The phase folder."""
        return self.writer.folder

    def _report_resume(self, logger, world_size: int) -> None:
        """One line: how many samples were done, and what resuming found
        broken (every process's count)."""
        counts = [self.writer.done_count, self.writer.repairs]
        if world_size > 1:
            gathered = all_gather_object(counts)
            counts = [
                sum(done for done, _ in gathered), {
                    key: sum(repairs[key] for _, repairs in gathered)
                    for key in self.writer.repairs
                }
            ]
        done, repairs = counts
        line = (f'CAMHook: resuming the export in {self.writer.folder}: '
                f'{done} sample(s) done')
        if not any(repairs.values()):
            logger.info(line)
            return
        logger.warning(
            f'{line}; repaired {repairs["index_lines"]} broken index '
            f'line(s) (dropped), {repairs["unreadable_maps"]} unreadable '
            f'or changed map(s) and {repairs["unindexed_maps"]} map(s) '
            'without an index line (both made again)')

    def show_progress(self, total: int, phase_name: str, logger) -> None:
        """Show a bar of ``total`` samples on the first process's
        terminal, with ``logger``'s lines printed above it."""
        self._progress = terminal_progress(
            total,
            f'CAM export ({phase_name})',
            'sample',
            enabled=get_dist_info()[0] == 0)
        if not self._progress.disable:
            self._restore_logging = log_above_progress(logger)

    def advance(self, count: int) -> None:
        """Move the bar on by ``count`` samples."""
        if self._progress is not None:
            self._progress.update(count)

    def end_progress(self) -> None:
        """Close the bar (before the loop's last log line, which would
        break it) and give the logger its handlers back."""
        if self._progress is not None:
            self._progress.close()
            self._progress = None
        if self._restore_logging is not None:
            self._restore_logging()
            self._restore_logging = None

    def done(self, dataset_index: int, img_path: Optional[str]) -> bool:
        """Whether a resumed export finds the sample's maps on disk."""
        return self.writer.done(dataset_index, img_path)

    def write(self, dataset, dataset_index: int, data_sample,
              input_hw: Sequence[int], heatmaps: np.ndarray,
              categories: Sequence[int], scores: Sequence[float]) -> None:
        """Write one sample's heatmaps and index line.

        Args:
            dataset (Dataset): The loop's dataset (its pipeline and class
                names).
            dataset_index (int): The sample's index into ``dataset``.
            data_sample (DataSample): Its ``img_path`` and ``ori_shape``.
            input_hw (Sequence[int]): Height and width of the sample's
                network input before padding.
            heatmaps (np.ndarray): ``(K, H, W)`` in [0, 1] at the (padded)
                network input.
            categories (Sequence[int]): The class of each heatmap.
            scores (Sequence[float]): The score of each class.
        """
        input_hw = tuple(input_hw)
        # The preprocessor pads at the bottom and right; drop the padding.
        heatmaps = heatmaps[:, :input_hw[0], :input_hw[1]]
        geometry = self.geometries(dataset, dataset_index,
                                   data_sample.metainfo.get('ori_shape'),
                                   input_hw)
        space = 'input'
        if geometry is not None:
            heatmaps, space = geometry.to_image(heatmaps), 'image'
        classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
        self.writer.write(dataset_index, data_sample.metainfo.get('img_path'),
                          heatmaps, categories, scores,
                          [class_name(classes, c) for c in categories], space)
        self.exported += 1

    def write_failure(self, dataset_index: int, img_path: Optional[str],
                      message: str) -> None:
        """Index a sample whose maps could not be made (retried when
        resuming)."""
        self.writer.write_failure(dataset_index, img_path, message)

    def take_exported(self) -> int:
        """Samples exported since the last call."""
        exported, self.exported = self.exported, 0
        return exported

    def close(self) -> None:
        """Close the bar and the index file."""
        self.end_progress()
        self.writer.close()
