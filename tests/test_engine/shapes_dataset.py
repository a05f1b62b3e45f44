"""A tiny image-folder dataset of discs and squares, for Runner tests and
the examples of docs/runner.md and docs/export.md.

``python tests/test_engine/shapes_dataset.py data/shapes`` writes
``data/shapes/{disc,square}/*.png`` (32x32, 4 discs and 3 squares: an odd
size, so multi-process runs must skip the sampler's padding), readable by
mmpretrain's ``CustomDataset``.
"""
import argparse
import os
import os.path as osp

import cv2
import numpy as np

CLASSES = ('disc', 'square')


def make_shapes_dataset(root: str,
                        per_class=(4, 3),
                        size: int = 32,
                        seed: int = 0) -> int:
    """Write the images; returns how many were written."""
    rng = np.random.default_rng(seed)
    count = 0
    for name, number in zip(CLASSES, per_class):
        os.makedirs(osp.join(root, name), exist_ok=True)
        for index in range(number):
            image = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
            color = tuple(int(c) for c in rng.integers(120, 256, 3))
            center = rng.integers(size // 3, size - size // 3, 2)
            radius = int(rng.integers(size // 6, size // 4))
            x, y = int(center[0]), int(center[1])
            if name == 'disc':
                cv2.circle(image, (x, y), radius, color, -1)
            else:
                cv2.rectangle(image, (x - radius, y - radius),
                              (x + radius, y + radius), color, -1)
            cv2.imwrite(osp.join(root, name, f'{index}.png'), image)
            count += 1
    return count


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='folder to write the dataset to')
    args = parser.parse_args()
    print(f'{make_shapes_dataset(args.root)} images in {args.root}')
