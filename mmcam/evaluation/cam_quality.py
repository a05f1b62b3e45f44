"""CAMQuality: faithfulness and localisation metrics of heatmaps.

The tool, :class:`~mmcam.apis.CAMInferencer` and
:class:`~mmcam.engine.hooks.CAMHook` all measure through this class. Every
perturbed image of a call (all steps, all classes, all images) goes
through the network in batches of ``batch_size`` under ``no_grad``, and
the images every curve shares (the original and the substrates: the
image the deletion curve ends on and the insertion curve starts from) go
through once per image.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import MMLogger

from ..cam import CAMEngine, CAMError
from ..cam.targets import check_categories
from .baselines import inverted_maps, random_cam_maps
from .faithfulness import (SUBSTRATES, TIE_BREAKS, average_drop, curve_auc,
                           increase_in_confidence, pixel_ranks,
                           step_pixel_counts, substrate_images)
from .localisation import (GroundTruthRegion, energy_pointing_game,
                           pointing_game)
from .pixel_space import PixelSpace

FAITHFULNESS_METRICS = ('avg_drop', 'increase', 'deletion_auc',
                        'insertion_auc')
LOCALISATION_METRICS = ('pointing_game', 'energy_pointing_game')
METRIC_NAMES = FAITHFULNESS_METRICS + LOCALISATION_METRICS
# Metrics that read the order of a map's pixels; a constant map has none
# (its values would be those of raster order).
ORDER_METRICS = ('deletion_auc', 'insertion_auc', 'pointing_game')

MetricsArg = Union[bool, str, Sequence[str], None]

# Kinds of perturbed image.
_ORIGINAL, _MULTIPLIED, _DELETED, _INSERTED, _SUBSTRATE = range(5)
# The curves: metric name, option prefix, kind of perturbed image.
_CURVES = (('deletion_auc', 'deletion', _DELETED), ('insertion_auc',
                                                    'insertion', _INSERTED))


def parse_metric_names(metrics: MetricsArg) -> Tuple[List[str], bool]:
    """The metric names asked for, and whether they were named one by one.

    Args:
        metrics (bool | str | Sequence[str] | None): ``True`` (or
            ``'all'``) for every metric that applies, a name or a list of
            names; ``False``/``None``/``[]`` for none.

    Returns:
        tuple[list[str], bool]: The names, in :data:`METRIC_NAMES` order
        for ``True``; and False for ``True`` (localisation metrics are
        then computed only where ground truth exists).

    Raises:
        CAMError: For an unknown name, naming what is available.
    """
    if metrics is None or metrics is False:
        return [], True
    if metrics is True or (isinstance(metrics, str)
                           and metrics.lower() == 'all'):
        return list(METRIC_NAMES), False
    if isinstance(metrics, str):
        metrics = metrics.replace(',', ' ').split()
    if not isinstance(metrics, (list, tuple)):
        raise CAMError(f'metrics must be True or a list of names, got '
                       f'{metrics!r}; available: {", ".join(METRIC_NAMES)}')
    names = []
    for name in metrics:
        key = str(name).strip().lower().replace('-', '_')
        if key not in METRIC_NAMES:
            raise CAMError(f'unknown metric {name!r}; available: '
                           f'{", ".join(METRIC_NAMES)}')
        if key not in names:
            names.append(key)
    return names, True


# Options that decide what a curve is compared against; checked by
# _check_comparison_option.
_COMPARISON_OPTIONS = ('deletion_substrate', 'insertion_substrate',
                       'substrate_warn_above', 'tie_break', 'seed', 'inverted',
                       'random_baseline')


def values_per_image(
        values: Dict[str, np.ndarray]) -> List[Dict[str, np.ndarray]]:
    """A batch's metrics (name -> ``(B, K)``, as :class:`CAMQuality`
    returns them) handed out image by image: one dict of name -> ``(K,)``
    per image, for whoever keeps each image's metrics apart (the
    inferencer's results, a loop's ``CAMMetric``)."""
    count = len(next(iter(values.values()))) if values else 0
    return [{
        name: value[row]
        for name, value in values.items()
    } for row in range(count)]


def _check_comparison_option(key: str, value) -> None:
    """One-line error for a bad comparison option; others pass."""
    if key.endswith('_substrate') and value not in SUBSTRATES:
        raise CAMError(f'metric {key} must be one of '
                       f'{", ".join(map(repr, SUBSTRATES))}, got {value!r}')
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if key == 'substrate_warn_above' and not (is_number and 0 <= value <= 1):
        raise CAMError(f'metric substrate_warn_above must be a share in '
                       f'[0, 1], got {value!r}')
    if key == 'tie_break' and value not in TIE_BREAKS:
        raise CAMError(f'metric tie_break must be one of '
                       f'{", ".join(map(repr, TIE_BREAKS))}, got {value!r}')
    if key in ('seed', 'random_baseline') and (isinstance(
            value, bool) or not isinstance(value, int) or value < 0):
        raise CAMError(f'metric {key} must be a non-negative integer, got '
                       f'{value!r}')
    if key == 'inverted' and not isinstance(value, bool):
        raise CAMError(f'metric inverted must be True or False, got '
                       f'{value!r}')


def _meaningful_maps(
        heatmaps: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(B, K)`` bool: maps every metric can read (finite, non-negative),
    and those of them whose pixels have an order (not constant)."""
    flat = heatmaps.flatten(2)
    usable = torch.isfinite(flat).all(-1) & (flat >= 0).all(-1)
    ordered = usable & (flat.amax(-1) > flat.amin(-1))
    return usable, ordered


class CAMQuality:
    """Measures how faithful heatmaps are to a classifier and, where the
    images carry ground-truth regions, how well they localise.

    Per heatmap of class ``c`` on image ``x`` (pixels, before the data
    preprocessor's normalization), with ``p(.)`` the probability of ``c``:

    - ``avg_drop``: Average Drop % (Chattopadhyay et al., Grad-CAM++, WACV
      2018), ``max(0, Y - O) / Y * 100`` with ``Y = p(x)`` and
      ``O = p(x * heatmap)``. Lower is better.
    - ``increase``: Increase in Confidence % (same paper): 100 if
      ``O > Y`` else 0, so the mean is the share of maps in percent.
      Higher is better.
    - ``deletion_auc``: deletion (Petsiuk et al., RISE, BMVC 2018): the
      pixels are replaced by those of the substrate image
      (``deletion_substrate``, black as in RISE) in heatmap order, highest
      first, in ``steps`` equal steps; the area under ``p`` over the
      fraction of pixels removed, in [0, 1]. Lower is better.
    - ``insertion_auc``: insertion (same paper): starting from the
      substrate image (``insertion_substrate``, RISE's blur), the original
      pixels are put back in heatmap order; the area under ``p`` over the
      fraction inserted. Higher is better.
    - ``pointing_game``: (Zhang et al., IJCV 2018) 1 when the heatmap's
      maximum lies within ``tolerance`` pixels of the class's ground-truth
      region, else 0; the mean is the accuracy. Higher is better.
    - ``energy_pointing_game``: (Wang et al., Score-CAM, CVPRW 2020) the
      share of the heatmap's sum inside the region. Higher is better.

    Pixel ``i`` of step ``s`` is changed when its rank in heatmap order is
    below ``floor(s * H * W / steps)``. Equal values (a map's zeros after
    the ReLU) are ordered by ``tie_break``: raster order, or a random
    order drawn from ``seed`` (see :func:`~mmcam.evaluation.pixel_ranks`).

    Substrates: ``'black'`` (0 in pixels), ``'mean'`` (every pixel the
    image's own mean colour) or ``'blur'`` (Gaussian, ``blur_kernel``,
    ``blur_sigma``, reflected borders). With each curve comes
    ``deletion_substrate_prob`` / ``insertion_substrate_prob``, ``p`` on
    its substrate image: where it is high, the curve's far end is no lower
    than its near end and the area cannot tell a good map from a bad one.
    The first call where it keeps more than ``substrate_warn_above`` of the
    class's probability on the image logs a warning (once per curve and
    instance). A
    localisation value is NaN where the class has no ground truth
    (:class:`~mmcam.evaluation.GroundTruthRegion` says how regions are
    given). A map that means nothing gets NaN and a logged warning rather
    than a plausible number: every metric of a map with NaN, infinite or
    negative values, and the order metrics (``deletion_auc``,
    ``insertion_auc``, ``pointing_game``) of a constant map.

    Args:
        model (nn.Module | CAMEngine): The classifier (an mmpretrain
            ``ImageClassifier``, maybe wrapped, or any module mapping
            normalized images to logits), or the engine that explains it.
        metrics (bool | str | Sequence[str]): Names from
            :data:`METRIC_NAMES`, or True for all that apply. Defaults to
            True.
        steps (int): Steps of the deletion and insertion curves; each
            costs ``steps + 1`` forward passes per heatmap, the first and
            last shared. Defaults to 50 (2% of the pixels per step).
        batch_size (int): Perturbed images per forward pass. Defaults to
            64.
        deletion_substrate (str): What deleted pixels become: ``'black'``,
            ``'mean'`` or ``'blur'``. Defaults to ``'black'`` (RISE's).
        insertion_substrate (str): The image insertion starts from, as
            above. Defaults to ``'blur'`` (RISE's).
        blur_kernel (int): Kernel width of the ``'blur'`` substrate.
            Defaults to 11 (RISE's).
        blur_sigma (float): Its sigma in pixels. Defaults to 5 (RISE's).
        tie_break (str): ``'raster'`` or ``'random'``, the order of pixels
            of equal value. Defaults to ``'raster'``.
        seed (int): Seed of the ``'random'`` tie-break, and the first
            RandomCAM seed of ``random_baseline``. Defaults to 0.
        inverted (bool): Also measure the inverted maps. Defaults to
            False.
        random_baseline (int): RandomCAM draws to measure beside the maps;
            0 for none. Defaults to 0.
        substrate_warn_above (float): Warn when the class probability on a
            substrate image is above this share of its probability on the
            image. Defaults to 0.2.
        tolerance (float): Pointing game tolerance in network-input
            pixels. Defaults to 15.
        pixel_space (PixelSpace, optional): Defaults to the model's data
            preprocessor's normalization.

    Example:
        >>> quality = CAMQuality(model, metrics=['avg_drop', 'deletion_auc'])
        >>> result = engine(inputs)
        >>> values = quality(inputs, result.heatmaps, result.categories)
        >>> values['deletion_auc'].shape  # (B, K)
    """

    def __init__(self,
                 model: Union[nn.Module, CAMEngine],
                 metrics: MetricsArg = True,
                 steps: int = 50,
                 batch_size: int = 64,
                 deletion_substrate: str = 'black',
                 insertion_substrate: str = 'blur',
                 blur_kernel: int = 11,
                 blur_sigma: float = 5.0,
                 substrate_warn_above: float = 0.2,
                 tie_break: str = 'raster',
                 seed: int = 0,
                 inverted: bool = False,
                 random_baseline: int = 0,
                 tolerance: float = 15.0,
                 pixel_space: Optional[PixelSpace] = None) -> None:
        self.names, self.named_explicitly = self.check_arguments(
            metrics,
            dict(
                steps=steps,
                batch_size=batch_size,
                deletion_substrate=deletion_substrate,
                insertion_substrate=insertion_substrate,
                blur_kernel=blur_kernel,
                blur_sigma=blur_sigma,
                substrate_warn_above=substrate_warn_above,
                tie_break=tie_break,
                seed=seed,
                inverted=inverted,
                random_baseline=random_baseline,
                tolerance=tolerance))
        self.engine = model if isinstance(model,
                                          CAMEngine) else CAMEngine(model)
        self.steps = steps
        self.batch_size = batch_size
        self.blur_kernel = blur_kernel
        self.blur_sigma = float(blur_sigma)
        self.substrates = dict(
            deletion=deletion_substrate, insertion=insertion_substrate)
        self.substrate_warn_above = float(substrate_warn_above)
        self._warned: set = set()
        self.tie_break = tie_break
        self.seed = seed
        self.inverted = inverted
        self.random_baseline = random_baseline
        self.tolerance = float(tolerance)
        self.pixel_space = pixel_space or PixelSpace.of_model(
            self.engine.model)
        # Images sent through the network so far, for benchmarks.
        self.images_forwarded = 0

    @staticmethod
    def check_arguments(metrics: MetricsArg,
                        options: dict) -> Tuple[List[str], bool]:
        """Validate metric names and options before any model exists; a
        bad one raises :class:`~mmcam.cam.CAMError` naming it.

        Returns:
            tuple[list[str], bool]: As :func:`parse_metric_names`.
        """
        names = parse_metric_names(metrics)
        known = ('steps', 'batch_size', 'blur_kernel', 'blur_sigma',
                 'tolerance') + _COMPARISON_OPTIONS
        for key, value in options.items():
            if key not in known:
                raise CAMError(f'unknown metric option {key!r}; available: '
                               f'{", ".join(known)}')
            _check_comparison_option(key, value)
            if key in ('steps', 'batch_size',
                       'blur_kernel') and (not isinstance(value, int)
                                           or isinstance(value, bool)
                                           or value < 1):
                raise CAMError(f'metric {key} must be a positive integer, '
                               f'got {value!r}')
            if key in ('blur_sigma', 'tolerance') and (
                    isinstance(value, bool)
                    or not isinstance(value,
                                      (int, float)) or not math.isfinite(value)
                    or value < 0 or key == 'blur_sigma' and value == 0):
                # A zero sigma divides by zero: every insertion is NaN.
                what = 'positive' if key == 'blur_sigma' else 'non-negative'
                raise CAMError(f'metric {key} must be a finite {what} '
                               f'number, got {value!r}')
        if options.get('blur_kernel', 1) % 2 == 0:
            raise CAMError(f'metric blur_kernel must be odd, got '
                           f'{options["blur_kernel"]}')
        return names

    def names_for(
        self,
        regions: Optional[Sequence[Optional[GroundTruthRegion]]] = None
    ) -> List[str]:
        """The metrics a call with these regions computes.

        Raises:
            CAMError: When a localisation metric was named but no image
                has a ground-truth region.
        """
        has_regions = regions is not None and any(r is not None
                                                  for r in regions)
        if has_regions:
            return list(self.names)
        missing = [n for n in self.names if n in LOCALISATION_METRICS]
        if missing and self.named_explicitly:
            raise CAMError(
                f'metric {missing[0]!r} needs ground-truth regions '
                '(gt_bboxes or gt_mask), and none were given; available '
                f'without them: {", ".join(FAITHFULNESS_METRICS)}')
        return [n for n in self.names if n not in LOCALISATION_METRICS]

    def __call__(
        self,
        inputs: torch.Tensor,
        heatmaps: Union[np.ndarray, torch.Tensor],
        categories: Union[np.ndarray, torch.Tensor],
        regions: Optional[Sequence[Optional[GroundTruthRegion]]] = None
    ) -> Dict[str, np.ndarray]:
        """Metrics of a batch's heatmaps.

        Args:
            inputs (Tensor): ``(B, C, H, W)`` normalized, as the data
                preprocessor outputs it.
            heatmaps (np.ndarray | Tensor): ``(B, K, H, W)`` in [0, 1].
            categories (np.ndarray | Tensor): ``(B, K)`` class of each map.
            regions (Sequence[GroundTruthRegion | None], optional): One
                per image, in network-input pixels.

        Returns:
            dict[str, np.ndarray]: Metric name -> float32 ``(B, K)``; after
            each curve's area, its ``<curve>_substrate_prob``; then the
            baselines asked for (``inverted_<name>``, ``random_<name>``,
            ``random_<name>_std``).
        """
        names = self.names_for(regions)
        heatmaps = torch.as_tensor(np.asarray(heatmaps), dtype=torch.float32)
        categories = torch.as_tensor(np.asarray(categories)).long()
        if heatmaps.ndim != 4 or heatmaps.shape[-2:] != inputs.shape[-2:] \
                or heatmaps.shape[:2] != categories.shape:
            raise CAMError(
                f'heatmaps {tuple(heatmaps.shape)} do not fit inputs '
                f'{tuple(inputs.shape)} and categories '
                f'{tuple(categories.shape)}')
        values = self._metrics_of(inputs, heatmaps, categories, regions, names)
        faithfulness = [n for n in names if n in FAITHFULNESS_METRICS]
        if self.inverted and faithfulness:
            inverted = self._metrics_of(
                inputs,
                inverted_maps(heatmaps),
                categories,
                regions,
                faithfulness,
                warn=False)
            values.update({f'inverted_{n}': inverted[n] for n in faithfulness})
        if self.random_baseline:
            values.update(
                self._random_baseline(inputs, categories, regions, names))
        # Each curve's substrate probability follows its area, then come
        # the baselines.
        order = [(name, self._substrate_key(name)) for name in names]
        order += [(f'inverted_{name}', ) for name in names]
        order += [(f'random_{name}', f'random_{name}_std') for name in names]
        return {
            key: values[key]
            for keys in order
            for key in keys if key in values
        }

    def _metrics_of(self,
                    inputs,
                    heatmaps,
                    categories,
                    regions,
                    names,
                    warn: bool = True) -> Dict[str, np.ndarray]:
        """``names`` of these maps, and the curves' substrate
        probabilities; NaN (and a warning if ``warn``) for maps that mean
        nothing."""
        usable, ordered = _meaningful_maps(heatmaps)
        # Meaningless maps are measured as zeros (so batches keep their
        # shape) and get NaN below.
        heatmaps = torch.where(usable[..., None, None], heatmaps, 0)
        values: Dict[str, np.ndarray] = {}
        faithfulness = [n for n in names if n in FAITHFULNESS_METRICS]
        if faithfulness:
            values.update(
                self._faithfulness(inputs, heatmaps, categories, faithfulness))
        for name in names:
            if name in LOCALISATION_METRICS:
                values[name] = self._localisation(name, heatmaps.numpy(),
                                                  categories.numpy(), regions)
        dropped = torch.zeros_like(usable)
        for name in names:
            keep = ordered if name in ORDER_METRICS else usable
            if self.tie_break == 'random' and name in FAITHFULNESS_METRICS:
                # A seeded random order of equal values is an order: a
                # constant map's curve is then a random baseline's.
                keep = usable
            values[name][~keep.numpy()] = np.nan
            dropped |= ~keep
        if warn and dropped.any():
            MMLogger.get_current_instance().warning(
                f'CAMQuality: {int(dropped.sum())} of {dropped.numel()} '
                'heatmap(s) mean nothing to some metrics (NaN, infinite or '
                'negative values, or constant: no pixel order); their '
                'values are NaN')
        return values

    def _random_baseline(self, inputs, categories, regions,
                         names) -> Dict[str, np.ndarray]:
        """Mean and spread of ``names`` over the RandomCAM draws."""
        draws = []
        for draw in range(self.random_baseline):
            maps = random_cam_maps(self.engine, inputs, categories.numpy(),
                                   self.seed + draw)
            measured = self._metrics_of(
                inputs,
                torch.from_numpy(maps),
                categories,
                regions,
                names,
                warn=False)
            draws.append({name: measured[name] for name in names})
        values = {}
        for name in names:
            stacked = np.stack([d[name] for d in draws]).astype(np.float64)
            values[f'random_{name}'] = stacked.mean(0).astype(np.float32)
            values[f'random_{name}_std'] = stacked.std(
                0, ddof=1 if len(draws) > 1 else 0).astype(np.float32)
        return values

    @staticmethod
    def _substrate_key(name: str) -> str:
        return name.replace('_auc', '_substrate_prob')

    # ------------------------------------------------------------------
    # Faithfulness: every perturbed image, batched.
    # ------------------------------------------------------------------
    def _faithfulness(self, inputs, heatmaps, categories,
                      names) -> Dict[str, np.ndarray]:
        device = self.engine.device
        pixels = self.pixel_space.to_pixels(inputs.to(device))
        heatmaps = heatmaps.to(device)
        num_b, num_k = categories.shape
        num_pixels = pixels.shape[-2] * pixels.shape[-1]
        counts = step_pixel_counts(num_pixels, self.steps)
        confidence = 'avg_drop' in names or 'increase' in names
        curves = [(name, curve, kind) for name, curve, kind in _CURVES
                  if name in names]

        def key(b, kind, k=0, count=0):
            """One key per distinct image: curves share their ends, and
            curves on one substrate share it."""
            if kind == _DELETED and count == 0 or \
                    kind == _INSERTED and count == num_pixels:
                return (b, _ORIGINAL, 0, 0)
            if kind == _DELETED and count == num_pixels:
                return (b, _SUBSTRATE, self.substrates['deletion'], 0)
            if kind == _INSERTED and count == 0:
                return (b, _SUBSTRATE, self.substrates['insertion'], 0)
            return (b, kind, k, int(count))

        rows: Dict[tuple, int] = {}
        for b in range(num_b):
            rows.setdefault(key(b, _ORIGINAL), len(rows))
            for k in range(num_k):
                if confidence:
                    rows.setdefault(key(b, _MULTIPLIED, k), len(rows))
                for count in counts:
                    for _, _, kind in curves:
                        rows.setdefault(key(b, kind, k, count), len(rows))

        ranks = pixel_ranks(heatmaps, self.tie_break,
                            self.seed) if curves else None
        substrates = {
            self.substrates[curve]:
            substrate_images(pixels, self.substrates[curve], self.blur_kernel,
                             self.blur_sigma)
            for _, curve, _ in curves
        }

        def perturbed(b, kind, k, count):
            if kind == _ORIGINAL:
                return pixels[b]
            if kind == _MULTIPLIED:
                return pixels[b] * heatmaps[b, k]
            if kind == _SUBSTRATE:
                return substrates[k][b]
            changed = ranks[b, k] < count
            if kind == _DELETED:
                return torch.where(changed,
                                   substrates[self.substrates['deletion']][b],
                                   pixels[b])
            return torch.where(changed, pixels[b],
                               substrates[self.substrates['insertion']][b])

        keys = list(rows)
        probs = np.empty((len(keys), num_k), np.float64)
        with torch.no_grad():
            for start in range(0, len(keys), self.batch_size):
                chunk = keys[start:start + self.batch_size]
                images = torch.stack([perturbed(*k) for k in chunk])
                logits = self.engine.logits(self.pixel_space.to_inputs(images))
                chunk_probs = self.engine.probabilities(logits).cpu()
                if start == 0:
                    check_categories(chunk_probs.shape[-1],
                                     categories.flatten().tolist())
                wanted = categories[[b for b, *_ in chunk]]
                probs[start:start + len(chunk)] = chunk_probs.gather(
                    1, wanted).double().numpy()
                self.images_forwarded += len(chunk)

        def prob(b, k, *args):
            return probs[rows[key(b, *args)], k]

        values = {}
        original = np.array([[prob(b, k, _ORIGINAL) for k in range(num_k)]
                             for b in range(num_b)])
        if confidence:
            masked = np.array(
                [[prob(b, k, _MULTIPLIED, k) for k in range(num_k)]
                 for b in range(num_b)])
            values['avg_drop'] = average_drop(original, masked)
            values['increase'] = increase_in_confidence(original, masked)
        for name, curve, kind in curves:
            points = np.array([[[prob(b, k, kind, k, c) for c in counts]
                                for k in range(num_k)] for b in range(num_b)])
            values[name] = curve_auc(points)
            # Insertion starts on its substrate, deletion ends on it.
            on_substrate = points[..., 0 if curve == 'insertion' else -1]
            values[f'{curve}_substrate_prob'] = on_substrate.astype(np.float32)
            self._warn_on_substrate(curve, on_substrate, original, categories)
        return values

    def _warn_on_substrate(self, curve: str, substrate_probs: np.ndarray,
                           original: np.ndarray,
                           categories: torch.Tensor) -> None:
        """A warning when the class keeps much of its probability on a
        curve's substrate image: the curve is then nearly flat whatever
        the map, and cannot rank maps."""
        with np.errstate(divide='ignore', invalid='ignore'):
            share = substrate_probs / original
        high = share > self.substrate_warn_above
        if not high.any() or curve in self._warned:
            return
        # Once per curve: a Runner loop measures every few iterations.
        self._warned.add(curve)
        worst = np.unravel_index(np.nanargmax(share), share.shape)
        substrate = self.substrates[curve]
        if substrate == 'blur':
            substrate = f'blur (kernel {self.blur_kernel}, sigma ' \
                f'{self.blur_sigma:g})'
        MMLogger.get_current_instance().warning(
            f'{curve} substrate {substrate}: the class keeps more than '
            f'{self.substrate_warn_above:.0%} of its probability on '
            f'{int(high.sum())} of {high.size} map(s) (up to '
            f'{substrate_probs[worst]:.3f} of {original[worst]:.3f}, class '
            f'{int(categories[worst])}; see {curve}_substrate_prob), so '
            f'{curve}_auc can hardly tell good maps from bad ones there; '
            f"another {curve}_substrate ('black', 'mean', or 'blur' with a "
            'larger blur_sigma) may')

    # ------------------------------------------------------------------
    # Localisation
    # ------------------------------------------------------------------
    def _localisation(self, name, heatmaps, categories, regions) -> np.ndarray:
        num_b, num_k = categories.shape
        hw = heatmaps.shape[-2:]
        values = np.full((num_b, num_k), np.nan, np.float32)
        for b in range(num_b):
            region = regions[b] if regions is not None else None
            if region is None:
                continue
            for k in range(num_k):
                mask = region.mask_for(int(categories[b, k]), hw)
                if mask is None:
                    continue
                if name == 'pointing_game':
                    values[b, k] = pointing_game(heatmaps[b, k], mask,
                                                 self.tolerance)
                else:
                    values[b, k] = energy_pointing_game(heatmaps[b, k], mask)
        return values
