"""The checks CAMHook makes before any sample is explained.

A mistake in a hook's settings should be one line while the runner is
built or as the run starts, not a warning on every sample or a failure
after an epoch of training. :func:`check_hook_options` reads the options
alone (interval, phases, out_dir, draw_cfg); :func:`check_run_start` reads
them against the run: a dry forward pass of the engine on the shape of the
first loop's first sample (class ids or ``topk`` outside the head, target
layers without a spatial output), the ground-truth regions the
localisation metrics will read, and whether ``out_dir`` can be written.
"""
import os.path as osp
from typing import Iterator, List, Optional, Sequence, Tuple, Union

from mmengine.runner import BaseLoop

from mmcam.cam import CAMEngine, CAMError
from mmcam.engine.loop_metrics import LoopMetrics
from mmcam.utils.local_files import check_writable
from mmcam.visualization.cam_visualizer import check_panel_sizes

#: The loops CAMHook can draw in.
PHASES = ('val', 'test')


def check_hook_options(interval: int, phases: Union[str, Sequence[str]],
                       out_dir: Optional[str], save_raw: bool, resume: bool,
                       draw_cfg: Optional[dict]) -> List[str]:
    """Check CAMHook's options that need no model or data.

    Args:
        interval (int): Explain every ``interval``-th sample.
        phases (str | Sequence[str]): Loops to draw in.
        out_dir (str, optional): The output folder, relative to the work
            dir.
        save_raw (bool): Whether raw maps are written (needs ``out_dir``).
        resume (bool): Whether outputs on disk are kept (needs
            ``out_dir``).
        draw_cfg (dict, optional): Drawing options; their panel sizes are
            checked.

    Returns:
        list[str]: ``phases`` as a list.

    Raises:
        CAMError: Naming the first bad option and what to do.
    """
    if not isinstance(interval, int) or interval < 1:
        raise CAMError(f'CAMHook interval must be a positive integer, got '
                       f'{interval!r}')
    phases = [phases] if isinstance(phases, str) else list(phases)
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        raise CAMError(f'CAMHook phases {unknown} unknown; choose from '
                       f'{list(PHASES)}')
    if out_dir is not None and (not isinstance(out_dir, str)
                                or not out_dir.strip()):
        # '' would join to the work dir itself and write pictures among
        # its logs and checkpoints.
        raise CAMError(
            f'CAMHook out_dir must name a folder (relative to the work '
            f"dir), got {out_dir!r}; use '.' for the work dir itself, or "
            'leave it unset to give pictures to the visualizer')
    for name, value in (('save_raw', save_raw), ('resume', resume)):
        if value and out_dir is None:
            raise CAMError(f'CAMHook {name}=True needs out_dir, the '
                           'folder to write to')
    try:
        # Sizes fail here, before any training: a huge min_size would
        # only show when the first validation draws for minutes.
        check_panel_sizes((draw_cfg or {}).get('max_columns', 4),
                          (draw_cfg or {}).get('min_size', 0))
    except ValueError as error:
        raise CAMError(f'CAMHook draw_cfg {draw_cfg!r}: {error}') from None
    return phases


def built_loops(runner, phases: Sequence[str]) -> Iterator[BaseLoop]:
    """The loops of ``phases`` the runner has built for this run."""
    for phase in phases:
        # Private: the public properties would build loops not run.
        loop = getattr(runner, f'_{phase}_loop', None)
        if isinstance(loop, BaseLoop):
            yield loop


def first_input_shape(loops: Sequence[BaseLoop]) -> Tuple[int, ...]:
    """``(1, C, H, W)`` of the network input of the first loop's first
    sample; the engine's default shape when it cannot be read."""
    from mmcam.cam.engine import DEFAULT_INPUT_SHAPE
    for loop in loops:
        try:
            inputs = loop.dataloader.dataset[0]['inputs']
            return (1, *inputs.shape[-3:])
        except Exception:  # noqa: BLE001  (the loop itself will tell)
            break
    return DEFAULT_INPUT_SHAPE


def check_run_start(runner,
                    engine: CAMEngine,
                    phases: Sequence[str],
                    out_dir: Optional[str] = None,
                    metrics: Optional[LoopMetrics] = None) -> None:
    """Check the hook's settings against the run, before its first loop.

    Args:
        runner (Runner): The run, with its loops built.
        engine (CAMEngine): The hook's engine; its settings are tried on
            the shape of the first loop's first sample.
        phases (Sequence[str]): The loops the hook draws in.
        out_dir (str, optional): The output folder, relative to the
            runner's work dir. Defaults to None.
        metrics (LoopMetrics, optional): The hook's metrics, whose
            ground-truth regions are checked. Defaults to None.

    Raises:
        CAMError: Naming the first setting the run cannot use.
    """
    loops = list(built_loops(runner, phases))
    engine.check_settings(first_input_shape(loops))
    if metrics is not None:
        metrics.check_ground_truth([
            (type(loop).__name__, loop.dataloader.dataset) for loop in loops
        ])
    if out_dir is not None:
        check_writable(
            osp.join(runner.work_dir, out_dir), 'CAMHook out_dir', folder=True)
