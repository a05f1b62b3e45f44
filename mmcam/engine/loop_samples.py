"""What CAMHook needs to know about the samples of a Runner loop: which
dataset index each one is, which pipeline made it, where its network
input lies in the original image, and what the network saw."""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.dist import get_dist_info

from mmcam.utils import InputGeometry, InvertiblePipeline


def sampler_indices(dataloader) -> Optional[List[int]]:
    """The dataset indices this process gets, in loop order, when the
    dataloader's sampler can tell them: mmengine's ``DefaultSampler``
    (shuffled or not) and torch's sequential sampler give the same order
    each time they are iterated within an epoch. None otherwise."""
    from mmengine.dataset import DefaultSampler
    from torch.utils.data import BatchSampler, SequentialSampler
    sampler = getattr(dataloader, 'sampler', None)
    batch_sampler = getattr(dataloader, 'batch_sampler', None)
    if batch_sampler is not None and type(batch_sampler) is not BatchSampler:
        return None  # batches in an order of their own
    if isinstance(sampler, (DefaultSampler, SequentialSampler)):
        return [int(i) for i in sampler]
    return None


class EveryNthSample:
    """Chooses, batch by batch, the samples of a loop whose dataset index
    is a multiple of ``interval``, as this process meets them.

    Samples are told by their index into the loop's dataset, read from
    its sampler where it can tell them (see :func:`sampler_indices`), so
    runs on any number of processes choose the same samples. Repeats that
    ``DefaultSampler`` adds to even out the processes are never chosen.

    Args:
        interval (int): Choose the samples whose dataset index is a
            multiple of it.
    """

    def __init__(self, interval: int) -> None:
        self.interval = interval
        self._position = 0  # samples this process has met in the loop
        # This process's dataset indices in loop order, or None when the
        # sampler cannot tell them (then the loop is taken as sequential).
        self._indices: Optional[List[int]] = None

    def restart(self, dataloader=None) -> None:
        """Start a loop; read the order of ``dataloader``'s sampler when
        given."""
        self._position = 0
        if dataloader is not None:
            self._indices = sampler_indices(dataloader)

    def skip(self, count: int) -> None:
        """Pass ``count`` samples without choosing any."""
        self._position += count

    def take(self, count: int, dataset_size: int) -> List[Tuple[int, int]]:
        """``(row, dataset index)`` of the samples to explain among the
        next ``count`` (a batch) of a dataset of ``dataset_size``."""
        chosen = self._choose(self._position, count, dataset_size)
        self._position += count
        return chosen

    def count(self, dataset_size: int) -> int:
        """How many samples this process chooses over the whole loop."""
        world_size = get_dist_info()[1]
        seen = len(self._indices) if self._indices is not None else \
            -(-dataset_size // world_size)
        return len(self._choose(0, seen, dataset_size))

    def _choose(self, first_position: int, count: int,
                dataset_size: int) -> List[Tuple[int, int]]:
        rank, world_size = get_dist_info()
        chosen = []
        for offset in range(count):
            n = first_position + offset
            # DefaultSampler deals indices round-robin: this process's n-th
            # sample is the (rank + n * world_size)-th overall. Positions
            # past the dataset's end are repeats that even out processes.
            position = rank + n * world_size
            if position >= dataset_size:
                continue
            index = self._indices[n] if self._indices is not None and \
                n < len(self._indices) else position
            if index % self.interval == 0:
                chosen.append((offset, index))
        return chosen


def pipeline_of(dataset, index: int):
    """The pipeline that made sample ``index`` of ``dataset``, looking
    through ``ConcatDataset``, ``RepeatDataset`` and
    ``ClassBalancedDataset`` to the part the sample comes from."""
    for _ in range(16):  # wrappers of wrappers, never endless
        to_inner = getattr(dataset, '_get_ori_dataset_idx', None)
        if to_inner is None:
            return getattr(dataset, 'pipeline', None)
        inner = to_inner(index)
        if isinstance(inner, tuple):  # ConcatDataset: (part, index)
            dataset, index = dataset.datasets[inner[0]], inner[1]
        else:
            dataset, index = dataset.dataset, inner
    return None


class SampleGeometries:
    """Where a sample's network input lies in its original image.

    The sample's test pipeline is replayed on a blank image of the
    original size: resizes and crops depend on sizes only. Each pipeline's
    :class:`~mmcam.utils.InvertiblePipeline` is built once and kept.
    """

    def __init__(self) -> None:
        self._invertible = {}  # id(pipeline) -> InvertiblePipeline

    def __call__(self, dataset, index: int, ori_shape: Optional[Sequence[int]],
                 input_hw: Tuple[int, int]) -> Optional[InputGeometry]:
        """The geometry of sample ``index`` of ``dataset``, whose
        original image is ``ori_shape`` and network input ``input_hw``;
        None when it cannot be told (a pipeline that is not invertible, or
        whose replay does not give ``input_hw``)."""
        pipeline = pipeline_of(dataset, index)
        transforms = getattr(pipeline, 'transforms', None)
        if transforms is None or ori_shape is None:
            return None
        key = id(pipeline)
        if key not in self._invertible:
            self._invertible[key] = InvertiblePipeline(
                transforms, build=lambda transform: transform)
        invertible = self._invertible[key]
        if not invertible.invertible:
            return None
        blank = np.zeros((*ori_shape[:2], 3), np.uint8)
        _, geometry = invertible(
            dict(img=blank, img_shape=blank.shape[:2], ori_shape=ori_shape))
        if geometry is None or tuple(geometry.input_hw) != tuple(input_hw):
            return None
        return geometry


def network_input_image(model, image: torch.Tensor) -> np.ndarray:
    """The image as ``model`` sees it before normalization, RGB uint8,
    from one row of a batch's ``inputs``."""
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


def ground_truth(data_samples) -> Optional[List[int]]:
    """The first ground-truth label of each sample; None when a sample
    has none."""
    labels = []
    for data_sample in data_samples:
        label = data_sample.get('gt_label', None)
        if label is None or len(label) == 0:
            return None
        labels.append(int(label[0]))
    return labels


def network_inputs(model, data_batch: dict,
                   rows: Sequence[int]) -> Tuple[torch.Tensor, list]:
    """The normalized network input of some rows of a loop's batch (run
    through ``model``'s data preprocessor), and their data samples."""
    inputs = data_batch['inputs']
    if isinstance(inputs, torch.Tensor):
        inputs = inputs[list(rows)]
    else:
        inputs = [inputs[i] for i in rows]
    data_samples = [data_batch['data_samples'][i] for i in rows]
    with torch.no_grad():
        data = model.data_preprocessor(
            dict(inputs=inputs, data_samples=data_samples), False)
    return data['inputs'], data_samples
