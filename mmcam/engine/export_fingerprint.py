"""What a dataset export's maps depend on, written to ``export.json`` and
compared when an export resumes.

A resumed export must not mix maps of two settings. Beside the CAM
settings, a map depends on the weights, the data preprocessor (mean, std,
channel order) and the test pipeline. Each is fingerprinted by what it
*is*, never by how it was named: the weights by their values (the same
checkpoint given by a relative or an absolute path is the same; other
weights saved under the same path are not).
"""
import hashlib
import re
from typing import Iterator, Optional

import torch
import torch.nn as nn

from mmcam.cam import CAMEngine

# Object addresses in reprs change from run to run.
_ADDRESS = re.compile(r' at 0x[0-9a-fA-F]+')
# Model config keys that only say where initial weights come from; the
# weights themselves are fingerprinted.
_WEIGHT_SOURCES = ('init_cfg', 'pretrained')


def export_fingerprint(engine: CAMEngine, model_cfg, dataset) -> dict:
    """The settings and fingerprints (hex digests) the maps of an export
    depend on.

    Args:
        engine (CAMEngine): The engine making the maps; its model holds
            the weights the run uses (loaded before the loop starts).
        model_cfg (dict, optional): The runner config's ``model``.
        dataset: The loop's dataset, whose pipeline(s) are read.

    Returns:
        dict: JSON-ready; keys ending in ``_sha1`` are fingerprints.
    """
    settings = engine.settings
    return dict(
        method=engine.method.name,
        target_layers=engine.target_layer_names,
        target_category=settings.target_category,
        topk=settings.topk,
        eigen_smooth=settings.eigen_smooth,
        aug_smooth=settings.aug_smooth,
        num_extra_tokens=engine.num_extra_tokens,
        model_config_sha1=_sha1(repr(_without_weight_sources(model_cfg))),
        weights_sha1=weights_sha1(engine.model),
        data_preprocessor_sha1=data_preprocessor_sha1(engine.model),
        test_pipeline_sha1=_sha1('\n'.join(
            _ADDRESS.sub('', repr(p)) for p in _pipelines(dataset))),
        # Only where they apply, so exports of other methods written before
        # these options existed still resume.
        **_method_options(engine))


def _method_options(engine: CAMEngine) -> dict:
    """The settings only some methods read: RandomCAM's seed and
    AttentionRollout's (and GAE's) attention options."""
    settings = engine.settings
    if engine.method.name == 'RandomCAM':
        return dict(seed=settings.seed)
    if engine.method.family == 'attention':
        return dict(
            head_fusion=settings.head_fusion,
            discard_ratio=settings.discard_ratio)
    return {}


def weights_sha1(model: nn.Module) -> str:
    """SHA-1 of every tensor of the model's ``state_dict`` (names, dtypes,
    shapes and values), once per loop: ResNet-50's 102 MB take 0.18 s
    on one CPU thread (benchmarks/benchmark_resume_checks.py)."""
    digest = hashlib.sha1()
    for name, tensor in sorted(model.state_dict().items()):
        if not isinstance(tensor, torch.Tensor):
            digest.update(f'{name}={tensor!r};'.encode())
            continue
        digest.update(f'{name}:{tensor.dtype}:{tuple(tensor.shape)};'.encode())
        _update_with_values(digest, tensor)
    return digest.hexdigest()


def data_preprocessor_sha1(model: nn.Module) -> str:
    """SHA-1 of the data preprocessor: its type, its buffers (``mean`` and
    ``std`` are not in the ``state_dict``) and its plain settings
    (``to_rgb``, ``pad_size_divisor``...)."""
    preprocessor = getattr(model, 'data_preprocessor', None)
    if preprocessor is None:
        return _sha1('none')
    digest = hashlib.sha1(type(preprocessor).__name__.encode())
    for name, buffer in sorted(preprocessor.named_buffers()):
        digest.update(f'{name}:{tuple(buffer.shape)};'.encode())
        _update_with_values(digest, buffer)
    plain = {
        key: value
        for key, value in vars(preprocessor).items()
        if key != 'training' and isinstance(value, (bool, int, float, str,
                                                    tuple, list, type(None)))
    }
    digest.update(_ADDRESS.sub('', repr(sorted(plain.items()))).encode())
    return digest.hexdigest()


def _update_with_values(digest, tensor: torch.Tensor) -> None:
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    try:
        digest.update(flat.view(torch.uint8).numpy())
    except (RuntimeError, TypeError):  # quantized and other odd dtypes
        digest.update(repr(flat.tolist()).encode())


def _pipelines(dataset) -> Iterator:
    """The pipeline of a dataset, or of each part of a wrapped one
    (``ConcatDataset``, ``RepeatDataset``, ``ClassBalancedDataset``)."""
    pipeline = getattr(dataset, 'pipeline', None)
    if pipeline is not None:
        yield pipeline
    for part in getattr(dataset, 'datasets', None) or []:
        yield from _pipelines(part)
    inner = getattr(dataset, 'dataset', None)
    if inner is not None and inner is not dataset:
        yield from _pipelines(inner)


def _without_weight_sources(cfg) -> Optional[object]:
    if isinstance(cfg, dict):
        return {
            key: _without_weight_sources(value)
            for key, value in sorted(cfg.items(), key=lambda kv: str(kv[0]))
            if key not in _WEIGHT_SOURCES
        }
    if isinstance(cfg, (list, tuple)):
        return [_without_weight_sources(value) for value in cfg]
    return cfg


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()
