"""LoopPictures: where the pictures of one Runner loop go, and the line
that says so.

:class:`~mmcam.engine.hooks.CAMHook` decides when pictures are handed on;
this class names them, writes them to ``out_dir/<phase>/`` or keeps them
for the runner visualizer's vis backends (gathered on the first process,
which alone may call ``add_image``), and keeps the loop's tally of
pictures, raw maps and samples a resumed run skipped, for the one line
that ends the loop.
"""
import os.path as osp
from typing import List, Optional, Tuple

import numpy as np
from mmengine.dist import all_gather_object, get_dist_info

from mmcam.cam import CAMError, CAMSettings
from mmcam.utils import one_line
from mmcam.visualization import CAMVisualizer, save_picture


def hook_drawer(visualizer, draw_cfg: Optional[dict],
                name: str) -> CAMVisualizer:
    """A :class:`~mmcam.visualization.CAMVisualizer` of CAMHook's own,
    with the look of the runner's ``visualizer`` when it is a
    ``CAMVisualizer``, ``min_size`` raised to 224 where it is left at 0,
    then ``draw_cfg``.

    It is created directly rather than through the registry, so it does
    not replace the runner's visualizer as mmengine's "current" instance.
    It only draws; pictures still go to the runner visualizer's backends.

    Args:
        visualizer (Visualizer): The runner's visualizer.
        draw_cfg (dict, optional): The hook's drawing options.
        name (str): The instance name, unique per hook.

    Raises:
        CAMError: When ``draw_cfg`` holds an unknown or bad option.
    """
    options = {}
    if isinstance(visualizer, CAMVisualizer):
        options = visualizer.drawing_options
    if not options.get('min_size'):
        # Network inputs of small-image datasets (CIFAR's 32x32) drawn at
        # their own size have illegible captions, whichever visualizer
        # receives them.
        options['min_size'] = 224
    options.update(draw_cfg or {})
    try:
        return CAMVisualizer(name=name, **options)
    except (TypeError, ValueError) as error:
        raise CAMError(f'CAMHook draw_cfg {draw_cfg!r}: '
                       f'{one_line(error)}') from None


def picture_stem(dataset_index: int, method: str,
                 settings: CAMSettings) -> str:
    """``<dataset index>_<method>_<category>``: the file name of a
    sample's picture without extension, e.g. ``12_GradCAM_top3``."""
    if settings.topk is not None:
        category = f'top{settings.topk}'
    elif settings.target_category is None:
        category = 'pred'
    elif settings.target_category == 'gt':
        category = 'gt'
    else:
        category = 'class' + '-'.join(map(str, settings.target_category))
    return f'{dataset_index}_{method}_{category}'


class LoopPictures:
    """Writes or hands on the pictures of one loop, and tallies them.

    Args:
        out_dir (str, optional): The folder of the phase folders
            (``<out_dir>/test``, ``<out_dir>/val_epoch_3``...). None hands
            the pictures to the runner visualizer's vis backends. Defaults
            to None.
    """

    def __init__(self, out_dir: Optional[str] = None) -> None:
        self.out_dir = out_dir
        #: ``(dataset index, name, picture, step)`` waiting for the vis
        #: backends.
        self.pending: List[Tuple[int, str, np.ndarray, int]] = []
        #: Folder of each picture written since the last :meth:`publish`.
        self.written: List[str] = []
        #: Samples a resumed run found done since the last :meth:`publish`.
        self.skipped = 0
        # Over the whole loop, on the first process: what went where.
        self._totals = dict(pictures=0, maps=0, skipped=0)
        self._places: set = set()

    def picture_file(self, phase_name: str, stem: str) -> str:
        """Where the picture ``stem`` of the phase is written."""
        return osp.join(self.out_dir, phase_name, f'{stem}.png')

    def exists(self, phase_name: str, stem: str) -> bool:
        """Whether a resumed run finds the picture on disk."""
        return osp.isfile(self.picture_file(phase_name, stem))

    def add(self, picture: np.ndarray, phase: str, phase_name: str, stem: str,
            dataset_index: int, step: int) -> None:
        """Write a sample's picture to ``out_dir``, or keep it for the vis
        backends as ``cam_<phase>_<stem>`` at ``step``."""
        if self.out_dir is not None:
            save_picture(picture, self.picture_file(phase_name, stem))
            self.written.append(osp.join(self.out_dir, phase_name))
        else:
            self.pending.append(
                (dataset_index, f'cam_{phase}_{stem}', picture, step))

    def publish(self, visualizer, logger, exported: int = 0) -> None:
        """Hand the pictures kept so far to ``visualizer`` (first process)
        and count them, with the ``exported`` raw maps of this process.
        Every process must call it, even with no pictures."""
        pending, self.pending = self.pending, []
        written, self.written = self.written, []
        skipped, self.skipped = self.skipped, 0
        rank, world_size = get_dist_info()
        if world_size > 1:
            # Visualizer.add_image only works on the first process.
            gathered = all_gather_object((pending, written, exported, skipped))
            pending = [item for part, *_ in gathered for item in part]
            written = [item for _, part, *_ in gathered for item in part]
            exported = sum(count for _, _, count, _ in gathered)
            skipped = sum(count for *_, count in gathered)
        if rank != 0:
            return
        self._totals['maps'] += exported
        self._totals['skipped'] += skipped
        self._totals['pictures'] += len(written)
        self._places.update(written)
        for _, name, picture, step in sorted(pending, key=lambda p: p[0]):
            try:
                visualizer.add_image(name, picture, step=step)
                self._totals['pictures'] += 1
            except Exception as error:  # noqa: BLE001
                logger.warning(f'CAMHook: could not store picture {name}: '
                               f'{type(error).__name__}: {error}')

    def log_end(self,
                logger,
                visualizer,
                phase: str,
                phase_name: str,
                interval: int,
                maps_folder: Optional[str] = None) -> None:
        """One line on the first process, after the last :meth:`publish`:
        how many pictures (and maps) of the loop went where.

        Args:
            logger (logging.Logger): Receives the line.
            visualizer (Visualizer): The runner's; its vis backends are
                named when pictures went to them.
            phase (str): ``'val'`` or ``'test'``.
            phase_name (str): The phase folder's name.
            interval (int): The hook's interval, named when nothing was
                drawn.
            maps_folder (str, optional): Where raw maps went. Defaults to
                None.
        """
        if get_dist_info()[0] != 0:
            return
        pictures, maps = self._totals['pictures'], self._totals['maps']
        skipped = self._totals['skipped']
        if maps_folder is not None:
            self._places.add(maps_folder)
        if pictures == 0 and maps == 0 and skipped:
            # resume needs out_dir: this is where the outputs are.
            logger.info(
                f'CAMHook: all {skipped} sample(s) of {phase} were already '
                f'exported to {osp.join(self.out_dir, phase_name)} '
                '(resume=True): nothing to do')
            return
        if pictures == 0 and maps == 0:
            logger.info(
                f'CAMHook: no picture in {phase}: no sample index was a '
                f'multiple of interval={interval}, or every heatmap '
                'or drawing failed (see the warnings)')
            return
        places = sorted(self._places) if self.out_dir is not None else \
            vis_backend_names(visualizer)
        where = ', '.join(places) or ("nowhere: the runner's visualizer "
                                      'has no vis_backends')
        what = f'{pictures} picture(s)' + (f' and the raw maps of {maps} '
                                           'sample(s)' if maps else '')
        if skipped:
            what += f' ({skipped} sample(s) already exported were skipped)'
        logger.info(f'CAMHook: {what} of {phase} went to {where}')


def vis_backend_names(visualizer) -> List[str]:
    """``LocalVisBackend (<folder>)``, ... for the backends pictures reach."""
    names = []
    for backend in getattr(visualizer, '_vis_backends', {}).values():
        folder = getattr(backend, '_img_save_dir', None) or getattr(
            backend, '_save_dir', None)
        names.append(f'{type(backend).__name__} ({folder})'
                     if folder else type(backend).__name__)
    return names
