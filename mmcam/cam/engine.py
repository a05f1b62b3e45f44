"""The CAM engine: the one place heatmaps are computed.

``tools/vis_cam.py``, :class:`~mmcam.apis.CAMInferencer` and
:class:`~mmcam.engine.hooks.CAMHook` all call :class:`CAMEngine`.

Why not just call pytorch-grad-cam? Three reasons, all kept out of the
numbers (gradient methods give grad-cam's heatmaps on the same input,
layer and class):

- Correctness: grad-cam keeps a *reference* to the target layer's output on
  the CPU (a copy on the GPU). A ResNet block's last norm is followed by
  ``out += identity`` and an in-place ReLU, so CPU heatmaps were computed
  from the block's final output instead. The engine hands the network a
  copy and keeps the original, on every device.
- Speed: a heatmap needs only d(score)/d(target activation). The engine
  freezes parameters and makes the first target activation a leaf, so the
  backward pass neither computes parameter gradients nor goes below the
  target layer; several categories share one forward pass.
- Runner loops: validation and test loops run under ``torch.no_grad()``
  and maybe autocast, with models that may be wrapped, frozen or in train
  mode. The engine enables gradients, computes in fp32, and restores every
  module's mode and every parameter's ``requires_grad`` afterwards.
"""
import contextlib
import functools
from dataclasses import dataclass, replace
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.model import BaseModel, is_model_wrapper
from torch.nn.attention import SDPBackend, sdpa_kernel

from .attention import attention_blocks, readout_rows
from .attention_cam import AttentionCAM
from .blank_maps import (blank_map_warning, constant_maps,
                         flat_feature_maps)
from .errors import CAMError, NotANumberError
from .feature_maps import (default_num_extra_tokens, first_tensor,
                           replace_first_tensor, to_feature_map)
from .methods import CAMMethod, get_method
from .perturbation import PerturbationCAM
from .projection import reduced_svd_in_grad_cam
from .settings import CAMSettings
from .target_layers import (LayerRecord, choose_default_target_layer,
                            default_layer_candidates, record_layer_outputs,
                            resolve_target_layers, run_with_layer_hooks)
from .targets import resolve_categories

_UNSET = object()
# The dry run that picks default layers uses this input when none is given.
DEFAULT_INPUT_SHAPE = (1, 3, 224, 224)


@dataclass
class CAMResult:
    """Heatmaps of a batch and the predictions they explain.

    Args:
        heatmaps (np.ndarray): ``(B, K, H, W)`` float32 in [0, 1], at the
            network input's resolution; one map per explained category.
        categories (np.ndarray): ``(B, K)`` class id of each map.
        scores (np.ndarray): ``(B, K)`` predicted probability of each
            explained class.
        pred_scores (np.ndarray): ``(B, num_classes)`` probabilities.
        target_layers (list[str]): The layers the maps were computed at.
        method (str): The CAM method.
        constant (np.ndarray, optional): ``(B, K)`` bool, which maps are
            constant (each one was also logged as a warning).
    """
    heatmaps: np.ndarray
    categories: np.ndarray
    scores: np.ndarray
    pred_scores: np.ndarray
    target_layers: List[str]
    method: str
    constant: Optional[np.ndarray] = None


def _refuse_not_a_number(heatmaps: np.ndarray, probs: torch.Tensor) -> None:
    """Raise for rows whose probabilities or heatmaps are NaN or infinite.

    Every method rescales its maps into [0, 1] with an epsilon, so a NaN
    only comes from NaN weights, activations or inputs; such a map would
    pass for one in [0, 1] (it is drawn as 0) and its metrics for numbers.

    Raises:
        NotANumberError: naming what is broken, with the broken rows.
    """
    bad_output = ~torch.isfinite(probs).all(dim=-1).numpy()
    bad_map = ~np.isfinite(heatmaps.reshape(len(heatmaps), -1)).all(axis=1)
    rows = np.flatnonzero(bad_output | bad_map).tolist()
    if not rows:
        return
    if bad_output.any():
        raise NotANumberError(
            "the model's output is not a number (NaN or inf), so there is "
            'no heatmap; check the checkpoint (NaN weights) and the input',
            rows)
    raise NotANumberError(
        'the heatmap is not a number (NaN or inf): the target layers\' '
        'activations or gradients are; check the checkpoint and the input',
        rows)


class ClassifierLogits(nn.Module):
    """A classifier seen as ``tensor -> logits``, the interface grad-cam
    expects: the logits the model's own prediction is made from.

    For an mmpretrain classifier these are the scores its head's
    ``predict`` turns into predictions, which is not always the head's
    tensor output: ``ConformerHead`` returns (conv logits, transformer
    logits) and predicts from their sum. Other mmengine models are called
    with ``mode='tensor'``, plain modules directly.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        head = getattr(self.model, 'head', None)
        if (isinstance(self.model, BaseModel)
                and hasattr(self.model, 'extract_feat')
                and hasattr(head, 'predict')
                and hasattr(head, '_get_predictions')):
            return predicted_logits(head, self.model.extract_feat(inputs))
        if isinstance(self.model, BaseModel):
            return first_tensor(self.model(inputs, mode='tensor'))
        return first_tensor(self.model(inputs))

    def zero_grad(self, set_to_none: bool = True) -> None:
        # grad-cam calls model.zero_grad(). Parameters are frozen while a
        # CAM runs, and any gradients they hold belong to the training
        # loop, so leave them alone.
        return None


def predicted_logits(head: nn.Module, feats) -> torch.Tensor:
    """The scores ``head.predict(feats)`` makes its predictions from.

    mmpretrain's classification heads compute them in ``predict`` and
    hand them to ``_get_predictions`` (softmax, labels, data samples);
    catching them there scores exactly what the model predicts, whatever
    the head combines (a sum of two branches, a mean of class and
    distillation scores). A head whose ``predict`` does not call it is
    scored on its tensor output.
    """
    caught: List[torch.Tensor] = []

    def catch(cls_score, data_samples=None, *args, **kwargs):
        caught.append(cls_score)
        return []

    head._get_predictions = catch
    try:
        head.predict(feats)
    finally:
        del head._get_predictions
    if caught and isinstance(caught[0], torch.Tensor):
        return caught[0]
    return first_tensor(head(feats))


@functools.lru_cache(maxsize=None)
def _copying_recorder_class() -> type:
    """grad-cam's activation recorder, but the network continues on a copy
    of the target layer's output, so in-place operations after the layer
    cannot change the recorded activation (on any device).

    Built on first use: importing grad-cam loads scikit-learn, scipy and
    matplotlib, which runs that compute no heatmap never need.
    """
    from pytorch_grad_cam.activations_and_gradients import \
        ActivationsAndGradients

    class CopyingActivationsAndGradients(ActivationsAndGradients):
        """Records each target layer's first call of a forward pass only,
        as the engine's own hooks do (``target_layers`` module docstring).
        """

        def __init__(self, *args, **kwargs):
            self._calls = {}
            super().__init__(*args, **kwargs)

        def _first_call(self, module, hook_name: str) -> bool:
            key = (id(module), hook_name)
            self._calls[key] = self._calls.get(key, 0) + 1
            return self._calls[key] == 1

        def save_activation(self, module, input, output):
            if not self._first_call(module, 'activation'):
                return None
            super().save_activation(module, input, output)
            return replace_first_tensor(output, first_tensor(output).clone())

        def save_gradient(self, module, input, output):
            if self._first_call(module, 'gradient'):
                super().save_gradient(module, input, output)

        def __call__(self, x):
            self._calls = {}
            return super().__call__(x)

        def clear(self):
            # grad-cam detaches the recorded tensors in place, which fails
            # for views (ShapleyCAM keeps token gradients with their
            # graph); dropping the references frees them as well.
            self.activations = []
            self.gradients = []

    return CopyingActivationsAndGradients


@contextlib.contextmanager
def cam_mode(model: nn.Module, device: torch.device) -> Iterator[None]:
    """Eval mode, frozen parameters, gradients on (inference mode off),
    autocast off; restores every module's mode and every parameter's
    ``requires_grad`` on exit."""
    modes = [(m, m.training) for m in model.modules()]
    grads = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for param, _ in grads:
        param.requires_grad_(False)
    try:
        # Gradient CAMs need autograd, also when the caller is inside
        # torch.inference_mode() or torch.no_grad().
        with torch.inference_mode(False), torch.enable_grad(), \
                torch.autocast(device_type=device.type, enabled=False):
            yield
    finally:
        for module, training in modes:
            module.training = training
        for param, requires_grad in grads:
            param.requires_grad_(requires_grad)


class CAMEngine:
    """Computes class activation maps for a classifier.

    Args:
        model (nn.Module): An mmpretrain classifier (``ImageClassifier``),
            possibly wrapped (DDP), or any ``nn.Module`` mapping images to
            logits.
        settings (CAMSettings, optional): How to compute. Built from
            ``kwargs`` when not given.
        **kwargs: :class:`CAMSettings` fields, overriding ``settings``.

    Example:
        >>> engine = CAMEngine(model, method='GradCAM++', topk=2)
        >>> result = engine(inputs)  # normalized (B, 3, H, W)
        >>> result.heatmaps.shape
        (B, 2, H, W)
    """

    def __init__(self,
                 model: nn.Module,
                 settings: Optional[CAMSettings] = None,
                 **kwargs) -> None:
        if settings is None:
            settings = CAMSettings.from_kwargs(**kwargs)
        elif kwargs:
            CAMSettings.from_kwargs(**kwargs)  # names unknown keys
            settings = replace(settings, **kwargs)
        self.model = model.module if is_model_wrapper(model) else model
        if any(t.is_inference() for t in self.model.state_dict().values()
               if isinstance(t, torch.Tensor)):
            raise CAMError(
                'the model was built or loaded inside torch.inference_mode(),'
                ' so its weights cannot take part in the backward pass a CAM '
                'needs; build it outside (torch.no_grad() is fine)')
        self.settings = settings
        self.method: CAMMethod = get_method(settings.method)
        backbone = getattr(self.model, 'backbone', None)
        self.num_extra_tokens = (
            settings.num_extra_tokens if settings.num_extra_tokens is not None
            else default_num_extra_tokens(backbone))
        self._logits = ClassifierLogits(self.model)
        self._layers: Optional[List[Tuple[str, nn.Module]]] = None
        if settings.target_layers:
            # Resolve now: a wrong name is reported before any work starts.
            self._layers = resolve_target_layers(self.model,
                                                 settings.target_layers)
        if self.method.family == 'attention':
            # Their "layers" are every attention block; a model without
            # global attention is reported before any work starts.
            self._layers = attention_blocks(self.model, self.method.name)
        self._method_object = None
        # The last ScoreCAM/AblationCAM run (its counts of perturbed
        # images), and whether a long run was announced already.
        self.last_perturbation: Optional[PerturbationCAM] = None
        self._announced = False
        self._told_repeated: set = set()
        # (B, K) bool of the last gradient pass: the class score's gradient
        # is zero at every target layer (None: not known).
        self._zero_gradients: Optional[np.ndarray] = None
        # (B,) bool: every target layer's output is the same at every
        # position (None: not known).
        self._flat_activations: Optional[np.ndarray] = None

    # ------------------------------------------------------------------
    # Layers
    # ------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        param = next(self.model.parameters(), None)
        return param.device if param is not None else torch.device('cpu')

    @property
    def dtype(self) -> torch.dtype:
        """The dtype the model computes in; inputs are cast to it, so a
        float64 (or half) model gets matching inputs."""
        for param in self.model.parameters():
            if param.is_floating_point():
                return param.dtype
        return torch.float32

    def _prepare(self, inputs: torch.Tensor) -> torch.Tensor:
        """``inputs`` on the model's device and dtype, usable by autograd.

        A batch made under ``torch.inference_mode()`` cannot take part in
        a backward pass; a copy made outside inference mode can (the
        engine leaves inference mode itself, see :func:`cam_mode`).
        """
        inputs = inputs.to(self.device, self.dtype)
        if inputs.is_inference():
            with torch.inference_mode(False):
                inputs = inputs.clone()
        return inputs

    def record_layers(
            self,
            input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE
    ) -> List[LayerRecord]:
        """Every layer's output shape for one input of ``input_shape``."""
        dummy = torch.zeros((1, *input_shape[-3:]),
                            device=self.device,
                            dtype=self.dtype)
        with cam_mode(self.model, self.device):
            return record_layer_outputs(self._logits, self.model, dummy)

    def target_layers(
        self,
        input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE
    ) -> List[Tuple[str, nn.Module]]:
        """``(name, module)`` of the target layers; defaults are chosen by a
        dry run at ``input_shape`` the first time."""
        if self._layers is None:
            backbone = getattr(self.model, 'backbone', None)
            candidates = default_layer_candidates(
                self.record_layers(input_shape),
                self.num_extra_tokens,
                vit_like=self.settings.vit_like,
                cls_token_output=getattr(backbone, 'out_type',
                                         None) == 'cls_token')
            # Checked by gradients on a seeded random image: zeros can
            # hide a path (a ReLU that is 0 everywhere).
            generator = torch.Generator().manual_seed(0)
            probe = torch.randn((1, *input_shape[-3:]),
                                generator=generator).to(
                                    self.device, self.dtype)
            with cam_mode(self.model, self.device):
                name = choose_default_target_layer(candidates, self._logits,
                                                   probe,
                                                   self.num_extra_tokens)
            self._layers = resolve_target_layers(self.model, [name])
        return self._layers

    def check_settings(self,
                       input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE
                       ) -> None:
        """Fail now on settings that could never give a heatmap, with one
        dry forward pass at ``input_shape`` (no gradients, no CAM).

        Raises:
            CAMError: a target layer without a spatial output (a neck's
                pooled vector), a class id outside the head's classes, or
                a ``topk`` above their number.
        """
        records = {
            r.name: r
            for r in self.record_layers(input_shape) if r.call == 0
        }
        for name, _ in self.target_layers(input_shape):
            record = records.get(name)
            if record is not None and record.spatial_size(
                    self.num_extra_tokens) == 0:
                raise CAMError(
                    f'target layer {name!r} outputs shape '
                    f'{record.output_shape}, which is not a spatial feature '
                    'map; pick a layer with (B, C, H, W) or (B, L, C) '
                    'output (--preview-model lists them)')
        if self.settings.target_category != 'gt':
            dummy = torch.zeros((1, *input_shape[-3:]),
                                device=self.device,
                                dtype=self.dtype)
            resolve_categories(
                self.logits(dummy), self.settings.target_category,
                self.settings.topk)

    @property
    def target_layer_names(self) -> List[str]:
        return [name for name, _ in self.target_layers()]

    # ------------------------------------------------------------------
    # Predictions
    # ------------------------------------------------------------------
    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits of a normalized batch, without gradients."""
        inputs = self._prepare(inputs)
        with cam_mode(self.model, self.device), torch.no_grad():
            return self._logits(inputs)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        head = getattr(self.model, 'head', None)
        if head is not None and 'MultiLabel' in type(head).__name__:
            return logits.float().sigmoid()
        return logits.float().softmax(dim=-1)

    # ------------------------------------------------------------------
    # Heatmaps
    # ------------------------------------------------------------------
    def __call__(self,
                 inputs: torch.Tensor,
                 target_category=_UNSET,
                 topk=_UNSET,
                 gt_labels: Optional[Sequence[int]] = None,
                 sample_names: Optional[Sequence[str]] = None) -> CAMResult:
        """Heatmaps for a normalized batch ``(B, 3, H, W)``.

        Every constant heatmap is logged as a one-line warning that names
        its sample, the method, the class and the layer, and what to try.

        Args:
            inputs (Tensor): The batch, as the data preprocessor outputs it.
            target_category: Overrides ``settings.target_category``.
            topk: Overrides ``settings.topk``.
            gt_labels (Sequence[int], optional): Labels for ``'gt'``.
            sample_names (Sequence[str], optional): How warnings name each
                sample (a path, a dataset index); defaults to its position
                in the batch.

        Raises:
            NotANumberError: When a row's output or heatmap is NaN or
                infinite (the error lists the rows).
        """
        if target_category is _UNSET:
            target_category = self.settings.target_category
        else:
            target_category = CAMSettings(
                target_category=target_category).target_category
        if topk is _UNSET:
            topk = self.settings.topk

        inputs = self._prepare(inputs)
        layers = self.target_layers(inputs.shape)

        def choose(logits):
            return resolve_categories(logits, target_category, topk, gt_labels)

        self._zero_gradients = None
        self._flat_activations = None
        with cam_mode(self.model, self.device):
            if self.settings.aug_smooth:
                logits, categories, heatmaps = self._augmented(
                    inputs, layers, choose)
            else:
                logits, categories, heatmaps = self._compute(
                    inputs, layers, choose)

        probs = self.probabilities(logits.detach()).cpu()
        _refuse_not_a_number(heatmaps, probs)
        heatmaps = heatmaps.astype(np.float32)
        names = [name for name, _ in layers]
        constant = constant_maps(heatmaps)
        self._warn_constant_maps(constant, categories.numpy(), names,
                                 sample_names)
        return CAMResult(
            heatmaps=heatmaps,
            categories=categories.numpy(),
            scores=probs.gather(1, categories).numpy(),
            pred_scores=probs.numpy(),
            target_layers=names,
            method=self.method.name,
            constant=constant)

    def _warn_constant_maps(self, constant: np.ndarray,
                            categories: np.ndarray, layer_names: List[str],
                            sample_names: Optional[Sequence[str]]) -> None:
        """One warning line per constant heatmap."""
        logger = MMLogger.get_current_instance()
        zero_gradients = self._zero_gradients
        flat = self._flat_activations
        for b, k in zip(*np.nonzero(constant)):
            named = sample_names is not None and b < len(sample_names)
            sample = (str(sample_names[b])
                      if named else f'sample {b} of the batch')
            logger.warning(
                blank_map_warning(
                    self.method.name, self.method.family, sample,
                    int(categories[b, k]), layer_names,
                    None if zero_gradients is None else bool(
                        zero_gradients[b, k]),
                    None if flat is None else bool(flat[b])))

    def _compute(self, inputs, layers, choose):
        if self.method.family == 'attention':
            return AttentionCAM(
                self._logits,
                self.method.name,
                layers,
                self.num_extra_tokens,
                readout=readout_rows(
                    getattr(self.model, 'backbone', None),
                    self.num_extra_tokens),
                head_fusion=self.settings.head_fusion,
                discard_ratio=self.settings.discard_ratio)(inputs, choose)
        if self.method.name in PerturbationCAM.methods:
            # One batched masked/ablated pass serves every class.
            self.last_perturbation = PerturbationCAM(
                self._logits,
                self.method.name,
                batch_size=self.settings.batch_size,
                num_extra_tokens=self.num_extra_tokens,
                eigen_smooth=self.settings.eigen_smooth,
                announce=self._announce_once)
            return self.last_perturbation(inputs, layers, choose)
        if self.method.family == 'full-backward':
            with torch.no_grad():
                logits = self._logits(inputs)
            categories = choose(logits)
            return logits, categories, self._grad_cam_forward(
                inputs, layers, categories)
        return self._hooked_forward(inputs, layers, choose)

    def _tell_repeated_layers(self, layers, call_counts) -> None:
        """Say once per engine which target layers run more than once per
        forward pass, and that their first call is the one explained."""
        repeated = [(name, count)
                    for (name, _), count in zip(layers, call_counts)
                    if count > 1 and name not in self._told_repeated]
        for name, count in repeated:
            self._told_repeated.add(name)
            MMLogger.get_current_instance().info(
                f'target layer {name} runs {count} times per forward pass; '
                'the heatmaps explain its first call')

    def _announce_once(self, line: str) -> None:
        """Say once per engine that ScoreCAM/AblationCAM will be slow, so
        a folder of images does not repeat it for every batch."""
        if not self._announced:
            self._announced = True
            MMLogger.get_current_instance().warning(line)

    def _augmented(self, inputs, layers, choose):
        """Test-time augmentation as grad-cam's ``aug_smooth``, but every
        augmented view explains the classes chosen on the original view."""
        with torch.no_grad():
            logits = self._logits(inputs)
        categories = choose(logits)
        maps = []
        zero_gradients = []
        for transform in self._grad_cam_object(layers).tta_transforms:
            augmented = transform.augment_image(inputs)
            _, _, heatmaps = self._compute(augmented, layers,
                                           lambda _: categories)
            zero_gradients.append(self._zero_gradients)
            b, k, h, w = heatmaps.shape
            restored = transform.deaugment_mask(
                torch.from_numpy(heatmaps.reshape(b * k, 1, h, w)))
            maps.append(restored.numpy().reshape(b, k, h, w))
        # Zero everywhere only if zero in every view.
        self._zero_gradients = None if any(
            z is None for z in zero_gradients) else np.all(
                zero_gradients, axis=0)
        return logits, categories, np.mean(np.float32(maps), axis=0)

    def _hooked_forward(self, inputs, layers, choose):
        """One forward pass with hooks on the target layers, then one
        backward per explained class that stops at the target layers."""
        uses_gradients = self.method.family == 'gradient'
        saved: List[Optional[torch.Tensor]] = [None] * len(layers)

        def hook_for(index):

            def hook(module, args, output):
                tensor = first_tensor(output)
                if not uses_gradients:
                    saved[index] = tensor.detach().clone()
                    return None
                if tensor.requires_grad:
                    # A later target layer: keep it in the graph.
                    saved[index] = tensor
                else:
                    # The first target layer: a leaf, so backward ends here.
                    saved[index] = tensor.detach().requires_grad_(True)
                # The network continues on a copy, so in-place operations
                # downstream cannot alter the saved activation.
                return replace_first_tensor(output, saved[index].clone())

            return hook

        call_counts: List[int] = []
        with torch.set_grad_enabled(uses_gradients):
            logits = run_with_layer_hooks(self._logits, inputs, layers,
                                          hook_for, saved, call_counts)
        self._tell_repeated_layers(layers, call_counts)
        categories = choose(logits.detach())

        hw = inputs.shape[-2:]
        activations = [
            self._as_numpy(to_feature_map(t, m, hw, self.num_extra_tokens, n))
            for (n, m), t in zip(layers, saved)
        ]
        self._flat_activations = np.all(
            [flat_feature_maps(a) for a in activations], axis=0)
        num_k = categories.shape[1]
        heatmaps = np.zeros((inputs.shape[0], num_k, *hw), np.float32)
        zero_gradients = np.zeros((inputs.shape[0], num_k), bool)
        if not uses_gradients:
            # Activation-only methods do not depend on the class.
            heatmap = self._aggregate(inputs, layers, categories[:, 0],
                                      activations, None)
            heatmaps[:] = heatmap[:, None]
            return logits, categories, heatmaps

        scores = logits.gather(1, categories.to(logits.device))
        if not scores.requires_grad:
            raise CAMError('the model output does not depend on target '
                           f'layers {[n for n, _ in layers]}')
        for k in range(num_k):
            grads = torch.autograd.grad(
                scores[:, k].sum(),
                saved,
                retain_graph=k < num_k - 1,
                allow_unused=True)
            grads_np = [
                self._as_numpy(
                    to_feature_map(
                        torch.zeros_like(t) if g is None else g, m, hw,
                        self.num_extra_tokens, n))
                for (n, m), t, g in zip(layers, saved, grads)
            ]
            heatmaps[:, k] = self._aggregate(inputs, layers, categories[:, k],
                                             activations, grads_np)
            zero_gradients[:, k] = np.all(
                [np.abs(g).reshape(len(g), -1).max(axis=1) == 0
                 for g in grads_np], axis=0)
        self._zero_gradients = zero_gradients
        return logits, categories, heatmaps

    @staticmethod
    def _as_numpy(tensor: torch.Tensor) -> np.ndarray:
        return tensor.detach().float().cpu().numpy()

    def _aggregate(self, inputs, layers, categories, activations, grads):
        """grad-cam's per-layer CAM, ReLU, rescale and layer averaging, on
        activations and gradients the engine recorded."""
        from pytorch_grad_cam.utils.image import scale_cam_image
        from pytorch_grad_cam.utils.model_targets import \
            ClassifierOutputTarget
        method = self._grad_cam_object(layers)
        targets = [ClassifierOutputTarget(int(c)) for c in categories]
        size = (inputs.shape[-1], inputs.shape[-2])
        per_layer = []
        with reduced_svd_in_grad_cam():
            for i, (_, module) in enumerate(layers):
                cam = method.get_cam_image(inputs, module, targets,
                                           activations[i],
                                           None if grads is None else grads[i],
                                           self.settings.eigen_smooth)
                cam = np.maximum(cam, 0)
                per_layer.append(scale_cam_image(cam, size)[:, None, :])
        return method.aggregate_multi_layers(per_layer)

    def _grad_cam_object(self, layers):
        """grad-cam's method object, used for its per-layer formulas; its
        own hooks are removed at once."""
        if self._method_object is None:
            self._method_object = self._build_grad_cam(layers)
            self._method_object.activations_and_grads.release()
        return self._method_object

    def _build_grad_cam(self, layers):
        modules = [m for _, m in layers] if self.method.uses_target_layers \
            else []
        # BaseCAM.__init__ switches the model to eval mode; callers are
        # inside cam_mode, which restores the modes afterwards.
        method = self.method.cam_class(
            self._logits,
            modules,
            reshape_transform=self._reshape_transform(layers))
        if self.method.name == 'RandomCAM':
            method.seed = self.settings.seed
        return method

    def _reshape_transform(self, layers) -> Callable:
        input_hw = [None]

        def reshape(tensor):
            return to_feature_map(tensor, nn.Identity(), input_hw[0],
                                  self.num_extra_tokens)

        reshape.input_hw = input_hw
        return reshape

    def _order_full_grad_layers(self, method, input_shape) -> None:
        """Put FullGrad's biased layers in the order they run.

        grad-cam lists them in registration order but pairs each bias with
        the gradients in the order the layers ran; where the two differ
        (ConvNeXt registers its downsampling layers before its stages) the
        shapes do not match. Sorted by a dry run, each bias meets its own
        layer's gradient.
        """
        finished = {
            id(record.module): record.end
            for record in self.record_layers(input_shape)
        }
        pairs = sorted(
            zip(method.target_layers, method.bias_data),
            key=lambda pair: finished.get(id(pair[0]), float('inf')))
        method.target_layers = [layer for layer, _ in pairs]
        method.bias_data = [bias for _, bias in pairs]

    def _grad_cam_forward(self, inputs, layers, categories):
        """FullGrad and ShapleyCAM need gradients beyond the target layers
        (FullGrad: every bias and the input; ShapleyCAM: second order), so
        they run grad-cam's own ``forward``, with the in-place fix and
        frozen parameters."""
        from pytorch_grad_cam.utils.model_targets import \
            ClassifierOutputTarget
        method = self._build_grad_cam(layers)
        method.activations_and_grads.release()
        if not self.method.uses_target_layers:
            self._order_full_grad_layers(method, inputs.shape)
        modules = [m for _, m in layers] if self.method.uses_target_layers \
            else method.target_layers
        method.activations_and_grads = _copying_recorder_class()(
            method.model, modules, method.reshape_transform, method.detach)
        method.reshape_transform.input_hw[0] = inputs.shape[-2:]
        # ShapleyCAM differentiates twice; the fused attention kernels
        # (flash attention on the CPU) have no second derivative.
        attention = sdpa_kernel([SDPBackend.MATH]) \
            if self.method.name == 'ShapleyCAM' else contextlib.nullcontext()
        try:
            with attention:
                maps = []
                for k in range(categories.shape[1]):
                    targets = [
                        ClassifierOutputTarget(int(c))
                        for c in categories[:, k]
                    ]
                    maps.append(
                        method(
                            inputs.clone(),
                            targets,
                            eigen_smooth=self.settings.eigen_smooth))
        finally:
            method.activations_and_grads.release()
        return np.stack(maps, axis=1)
