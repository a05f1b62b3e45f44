"""EveryNthSample driven directly, without a Runner."""
from mmengine.dataset import DefaultSampler
from torch.utils.data import DataLoader

from mmcam.engine.loop_samples import EveryNthSample


def test_chooses_by_dataset_index_in_the_samplers_order():
    dataset = list(range(10))
    loader = DataLoader(
        dataset,
        batch_size=4,
        sampler=DefaultSampler(dataset, shuffle=True, seed=1))
    order = [int(i) for batch in loader for i in batch]
    samples = EveryNthSample(3)
    samples.restart(loader)
    assert samples.count(len(dataset)) == 4  # 0, 3, 6, 9
    chosen = []
    for first in range(0, 10, 4):
        rows = samples.take(min(4, 10 - first), len(dataset))
        chosen += [(first + row, index) for row, index in rows]
    assert sorted(index for _, index in chosen) == [0, 3, 6, 9]
    assert all(order[position] == index for position, index in chosen)


def test_skipped_batches_count_and_a_restart_begins_again():
    samples = EveryNthSample(2)
    samples.skip(3)
    assert samples.take(3, 6) == [(1, 4)]  # positions 3, 4, 5
    samples.restart()
    assert samples.take(3, 6) == [(0, 0), (2, 2)]
