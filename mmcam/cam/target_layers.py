"""Find target layers: by dotted name, or by default for an architecture.

Defaults follow MMPretrain's vis_cam.py where it works and fix it where it
does not. A dry forward pass records every layer's output so the choice
rests on what layers really output, not on their types alone:

- CNNs: the last normalization layer at the backbone's final resolution
  (MobileNetV3: ``backbone.layer16.bn``), if everything the head reads
  goes through it. A gradient check decides, not the layer's name: a norm
  inside a residual branch (ResNet's ``layer4.2.bn3``) or one branch of a
  concatenation (Inception-v3's ``Mixed_7c.branch_pool.bn``) is bypassed,
  and the block or stage that ends last there is used instead
  (``backbone.layer4``). Where no norm gives a channel-first map
  (ConvNeXt normalizes after pooling, and its blocks' norms are
  channel-last), the same (``backbone.stages.3``).
- ViT-like backbones with class/distillation tokens: the norm before the
  last attention block (``backbone.layers.11.ln1``), checked to pass a
  gradient to the patch tokens; after that block the patch tokens no
  longer reach the class token.
- Swin and other token backbones without extra tokens: the last norm
  (``backbone.norm3``).
- A layer whose output is the same at every position (on a seeded random
  image) shows nothing about where, and is skipped: an untrained LeViT's
  uniform attention makes all its later maps so, and an earlier
  resolution is used.

A module may run more than once in one forward pass (DeiT III's blocks call
``ln1`` before the attention and again before the FFN). A target layer is
always its *first* call, everywhere: the default rule reads first calls,
and the engine's hooks record only the first call of each pass (as
grad-cam, which pairs a layer with its first activation). Later calls of
DeiT III's ``ln1`` feed the FFN only, which never mixes patch tokens into
the class token, so their gradients are zero.
"""
import difflib
import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.utils.dl_utils import is_norm

from .blank_maps import FLAT_TOLERANCE
from .errors import CAMError
from .feature_maps import (first_tensor, is_channel_last, is_pooled,
                           replace_first_tensor)


@dataclass
class LayerRecord:
    """What one module did in a dry forward pass.

    Args:
        name (str): Dotted name, as accepted by ``target_layers``.
        module (nn.Module): The module.
        output_shape (tuple): Shape of its (first tensor) output.
        start (int): Order in which the module started running.
        end (int): Order in which it finished.
        call (int): Which call of the module this is in the pass, from 0;
            only a module that runs several times has records above 0.
    """
    name: str
    module: nn.Module
    output_shape: Tuple[int, ...]
    start: int
    end: int
    call: int = 0

    @property
    def type_name(self) -> str:
        return type(self.module).__name__

    def spatial_size(self, num_extra_tokens: int) -> int:
        """Positions in the output map; 0 if it is not a usable map."""
        shape = self.output_shape
        if is_pooled(shape):
            return 0
        if len(shape) == 4:
            if is_channel_last(torch.empty(shape, device='meta'), self.module):
                return 0
            return shape[2] * shape[3] if shape[2] * shape[3] > 1 else 0
        if len(shape) == 3:
            tokens = shape[1] - num_extra_tokens
            return tokens if tokens > 1 else 0
        return 0


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The module called ``name`` (dotted) in ``model``.

    Raises:
        CAMError: if there is none; the message names the closest names.
    """
    modules = dict(model.named_modules())
    name = str(name).strip()
    if name in modules and name != '':
        return modules[name]
    module = _index_style_lookup(model, name)
    if module is not None:
        return module
    candidates = [n for n in modules if n]
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    if not close:
        parent = name.rsplit('.', 1)[0]
        close = [n for n in candidates if n.startswith(parent + '.')][:3]
    hint = (f'; closest: {", ".join(close)}'
            if close else '; --preview-model lists the valid names')
    raise CAMError(f'unknown target layer {name!r}{hint}')


def _index_style_lookup(model: nn.Module, name: str) -> Optional[nn.Module]:
    """Resolve names written with indexing, e.g. ``backbone.layers[-1].ln1``
    as in MMPretrain's docs, or ``backbone.layers.-1.ln1``."""
    parts = re.findall(r'[^.\[\]]+', name)
    module = model
    for part in parts:
        try:
            if re.fullmatch(r'-?\d+', part) and isinstance(
                    module, (nn.Sequential, nn.ModuleList)):
                module = module[int(part)]
            else:
                module = getattr(module, part)
        except (AttributeError, IndexError, TypeError):
            return None
    return module if isinstance(module, nn.Module) and parts else None


def module_name(model: nn.Module, module: nn.Module) -> str:
    """The dotted name of ``module`` inside ``model``."""
    for name, candidate in model.named_modules():
        if candidate is module:
            return name
    return type(module).__name__


def resolve_target_layers(model: nn.Module,
                          names: Sequence[str]) -> List[Tuple[str, nn.Module]]:
    """``(name, module)`` for each dotted name, in the order given."""
    return [(str(name), get_layer(model, name)) for name in names]


@torch.no_grad()
def record_layer_outputs(forward: Callable[[torch.Tensor],
                                           object], model: nn.Module,
                         inputs: torch.Tensor) -> List[LayerRecord]:
    """Run ``forward(inputs)`` once and record every call of every module,
    in the order calls finish."""
    records: List[LayerRecord] = []
    starts: Dict[str, List[int]] = {}
    calls: Dict[str, int] = {}
    counter = [0]
    handles = []

    def on_start(name):

        def hook(module, args):
            starts.setdefault(name, []).append(counter[0])
            counter[0] += 1

        return hook

    def on_end(name):

        def hook(module, args, output):
            try:
                shape = tuple(first_tensor(output).shape)
            except CAMError:
                shape = ()
            # Calls of one module nest (recursion) or follow each other;
            # the innermost open call is the one ending.
            start = starts[name].pop() if starts.get(name) else 0
            call = calls.get(name, 0)
            calls[name] = call + 1
            records.append(
                LayerRecord(name, module, shape, start, counter[0], call))
            counter[0] += 1

        return hook

    for name, module in model.named_modules():
        if name:
            handles.append(module.register_forward_pre_hook(on_start(name)))
            handles.append(module.register_forward_hook(on_end(name)))
    try:
        forward(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return records


def run_with_layer_hooks(forward: Callable[[torch.Tensor],
                                           torch.Tensor], inputs: torch.Tensor,
                         layers: Sequence[Tuple[str, nn.Module]],
                         hook_for: Callable[[int], Callable],
                         saved: List[Optional[torch.Tensor]],
                         call_counts: Optional[List[int]] = None
                         ) -> torch.Tensor:
    """``forward(inputs)`` with ``hook_for(i)`` as forward hook of the i-th
    target layer's first call, removed afterwards.

    The hooks fill ``saved``; a slot still ``None`` afterwards means its
    layer never ran, which is reported by name. A layer that runs again in
    the same pass is left alone the second time (see the module
    docstring).

    Args:
        call_counts (list[int], optional): Filled with how many times each
            target layer ran.
    """
    counts = [0] * len(layers)

    def first_call_only(index):
        hook = hook_for(index)

        def hook_first_call(module, args, output):
            counts[index] += 1
            return hook(module, args, output) if counts[index] == 1 else None

        return hook_first_call

    handles = [
        module.register_forward_hook(first_call_only(i))
        for i, (_, module) in enumerate(layers)
    ]
    try:
        logits = forward(inputs)
    finally:
        for handle in handles:
            handle.remove()
    if call_counts is not None:
        call_counts[:] = counts
    for (name, _), tensor in zip(layers, saved):
        if tensor is None:
            raise CAMError(f'target layer {name!r} did not run in the '
                           "model's forward pass; choose another layer")
    return logits


@dataclass
class LayerCandidate:
    """A layer the default rule would take, and how to check it.

    Args:
        record (LayerRecord): The layer's (first call) record.
        check (str): ``'cut'``: the class score must depend on the image
            only through this layer (nothing reaches the head around it,
            as a residual shortcut around a block's inner norm or another
            branch of a concatenation does); ``'patch_gradient'``: the
            score's gradient at the layer's patch tokens must not be zero
            (the ViT rule, for the class token).
    """
    record: LayerRecord
    check: str


def default_layer_candidates(records: List[LayerRecord],
                             num_extra_tokens: int,
                             vit_like: bool = False,
                             cls_token_output: bool = False
                             ) -> List[LayerCandidate]:
    """The layers the default rule would take, best first, each with the
    check that confirms it on the model's real path to the head.

    - ViT-like backbones with class/distillation tokens: the norm before
      the last attention block (checked by the patch tokens' gradient).
    - Otherwise, at the backbone's final resolution: its last norm, then
      the layers that end last (a block, a stage), each checked to be a
      cut between the image and the head.

    Args:
        records (list[LayerRecord]): From :func:`record_layer_outputs`.
        num_extra_tokens (int): Class/distillation tokens of the backbone.
        vit_like (bool): Force the ViT rule (norm before last attention).
        cls_token_output (bool): The backbone outputs its class token.

    Raises:
        CAMError: no layer has a spatial output.
    """
    in_backbone = [r for r in records if r.name.startswith('backbone.')]
    records = in_backbone or records
    # A target layer is its first call (module docstring).
    usable = [
        r for r in records
        if r.call == 0 and r.spatial_size(num_extra_tokens) > 0
    ]
    if not usable:
        raise CAMError('found no layer with a spatial output to use as '
                       'target layer; pass target layers explicitly')

    candidates = []
    if vit_like or num_extra_tokens > 0 or cls_token_output:
        attentions = [
            r for r in records
            if 'attention' in r.type_name.lower() or r.name.split('.')[-1] in (
                'attn', 'attention')
        ]
        if attentions:
            last_attention = max(attentions, key=lambda r: r.start)
            before = [
                r for r in usable if is_norm(r.module)
                and r.end < last_attention.start and len(r.output_shape) == 3
            ]
            if before:
                candidates.append(
                    LayerCandidate(
                        max(before, key=lambda r: r.end), 'patch_gradient'))

    # The final resolution first, then earlier ones, for a model whose
    # final maps are the same at every position (see
    # choose_default_target_layer); at each, its last norm first, then the
    # layers that end last.
    by_size = {}
    for record in sorted(usable, key=lambda r: r.end, reverse=True):
        by_size.setdefault(record.spatial_size(num_extra_tokens),
                           []).append(record)
    for at_size in by_size.values():
        norms = [r for r in at_size if is_norm(r.module)]
        for record in norms[:1] + [r for r in at_size if r not in norms[:1]]:
            candidates.append(LayerCandidate(record, 'cut'))
    return candidates


def default_target_layers(records: List[LayerRecord],
                          num_extra_tokens: int,
                          vit_like: bool = False,
                          cls_token_output: bool = False) -> List[str]:
    """The default rule's first choice, unchecked (see
    :func:`choose_default_target_layer` for the checked one)."""
    return [
        default_layer_candidates(records, num_extra_tokens, vit_like,
                                 cls_token_output)[0].record.name
    ]


# Candidates checked before the rule's first choice is kept unchecked: a
# check costs a forward and a backward pass.
MAX_CHECKED_CANDIDATES = 8


def choose_default_target_layer(candidates: List[LayerCandidate],
                                forward: Callable[[torch.Tensor],
                                                  torch.Tensor],
                                inputs: torch.Tensor,
                                num_extra_tokens: int) -> str:
    """The first candidate whose output varies over positions and that
    passes its check on ``inputs``; else the first candidate.

    A layer whose output is the same at every position can show nothing
    about where: LeViT's at initialisation (its attention is uniform and
    its residual branches start at zero), where an earlier resolution is
    used instead. A trained model's final maps vary, and keep their place.

    Args:
        candidates (list[LayerCandidate]): From
            :func:`default_layer_candidates`.
        forward (callable): Images to logits, with gradients enabled and
            parameters frozen.
        inputs (Tensor): A batch to check on (a seeded random image).
        num_extra_tokens (int): Class/distillation tokens.
    """
    varying = [
        c for c, varies in zip(
            candidates,
            _outputs_vary(forward, [c.record.module for c in candidates],
                          inputs, num_extra_tokens)) if varies
    ]
    for candidate in varying[:MAX_CHECKED_CANDIDATES]:
        module = candidate.record.module
        if candidate.check == 'patch_gradient':
            passed = _patch_tokens_reach_score(forward, module, inputs,
                                               num_extra_tokens)
        else:
            passed = not _score_goes_around(forward, module, inputs)
        if passed:
            return candidate.record.name
    return candidates[0].record.name


@torch.no_grad()
def _outputs_vary(forward, modules: List[nn.Module], inputs: torch.Tensor,
                  num_extra_tokens: int) -> List[bool]:
    """For each module, whether its (first call) output on ``inputs``
    varies over positions, from one forward pass."""
    varies = [False] * len(modules)

    def record(index):

        def hook(module, args, output):
            tensor = first_tensor(output).float()
            if tensor.ndim == 3:  # tokens (B, L, C)
                positions = tensor[:, num_extra_tokens:].transpose(1, 2)
            else:  # (B, C, H, W)
                positions = tensor.flatten(2)
            spread = positions.amax(-1) - positions.amin(-1)
            varies[index] = bool(
                spread.max() > FLAT_TOLERANCE * tensor.abs().max())

        return _first_call_hook(hook)

    handles = [
        module.register_forward_hook(record(i))
        for i, module in enumerate(modules)
    ]
    try:
        forward(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return varies


def _first_call_hook(hook: Callable) -> Callable:
    calls = [0]

    def hook_first_call(module, args, output):
        calls[0] += 1
        return hook(module, args, output) if calls[0] == 1 else None

    return hook_first_call


def _score_goes_around(forward, module: nn.Module,
                       inputs: torch.Tensor) -> bool:
    """Whether the top class score still depends on the image when the
    module's output is cut off the autograd graph: then part of what the
    head reads goes around the module."""
    inputs = inputs.detach().clone().requires_grad_(True)
    handle = module.register_forward_hook(
        _first_call_hook(lambda m, args, output: replace_first_tensor(
            output,
            first_tensor(output).detach())))
    try:
        logits = forward(inputs)
    finally:
        handle.remove()
    if not logits.requires_grad:
        return False
    grad, = torch.autograd.grad(
        logits.max(dim=-1).values.sum(), inputs, allow_unused=True)
    return grad is not None and bool(grad.abs().max() > 0)


def _patch_tokens_reach_score(forward, module: nn.Module,
                              inputs: torch.Tensor,
                              num_extra_tokens: int) -> bool:
    """Whether the top class score's gradient at the module's patch tokens
    is non-zero."""
    saved = []

    def keep(m, args, output):
        tensor = first_tensor(output)
        saved.append(tensor)
        return None

    handle = module.register_forward_hook(_first_call_hook(keep))
    try:
        logits = forward(inputs.detach().clone().requires_grad_(True))
    finally:
        handle.remove()
    if not saved or not logits.requires_grad or not saved[0].requires_grad:
        return False
    grad, = torch.autograd.grad(
        logits.max(dim=-1).values.sum(), saved[0], allow_unused=True)
    if grad is None or grad.ndim != 3:
        return grad is not None and bool(grad.abs().max() > 0)
    return bool(grad[:, num_extra_tokens:].abs().max() > 0)


def find_record(records: List[LayerRecord],
                name: str) -> Optional[LayerRecord]:
    """The record of the first call of the layer called ``name``, if it
    ran."""
    for record in records:
        if record.name == name and record.call == 0:
            return record
    return None
