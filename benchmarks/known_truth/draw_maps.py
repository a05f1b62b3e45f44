"""Draw the known-truth benchmark's maps: one row per method, one column
per picture, the ground-truth box in white.

Example::

    OMP_NUM_THREADS=1 python benchmarks/known_truth/draw_maps.py \\
        --models work_dirs/known_truth --out resources/known_truth_maps.jpg
"""
import argparse
import os.path as osp
import sys

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, REPO)

from evaluate import EVAL_SEED, load  # noqa: E402
from shapes import make_pictures  # noqa: E402
from train import to_inputs  # noqa: E402

ROWS = [('GradCAM', dict(method='GradCAM')),
        ('LayerCAM', dict(method='LayerCAM')),
        ('AttentionRollout', dict(method='AttentionRollout')),
        ('GAE', dict(method='GAE'))]
SCALE = 2  # pixels per picture pixel
LABEL_WIDTH = 130


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--models', default=osp.join(REPO, 'work_dirs', 'known_truth'))
    parser.add_argument(
        '--out', default=osp.join(REPO, 'resources', 'known_truth_maps.jpg'))
    parser.add_argument('--pictures', type=int, default=6)
    args = parser.parse_args()
    import cv2
    import numpy as np
    import torch
    torch.set_num_threads(1)

    import mmcam  # noqa: F401  (stack fixes, registries)
    from mmcam.cam import CAMEngine
    from mmcam.visualization import overlay_heatmap

    model, _ = load('vit', args.models)
    images, labels, boxes = make_pictures(args.pictures, EVAL_SEED)
    inputs = to_inputs(images)
    size = images.shape[1] * SCALE

    def cell(image, heatmap=None, box=None):
        image = cv2.resize(
            image, (size, size), interpolation=cv2.INTER_NEAREST)
        if heatmap is not None:
            heatmap = cv2.resize(heatmap, (size, size))
            image = overlay_heatmap(image, heatmap)
        if box is not None:
            x1, y1, x2, y2 = (box * SCALE).astype(int)
            cv2.rectangle(image, (x1, y1), (x2 - 1, y2 - 1), (255, 255, 255),
                          1)
        return image

    def label(text):
        panel = np.full((size, LABEL_WIDTH, 3), 255, np.uint8)
        cv2.putText(panel, text, (6, size // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (0, 0, 0), 1, cv2.LINE_AA)
        return panel

    rows = [
        np.concatenate(
            [label('picture (ViT)')] +
            [cell(image, box=box) for image, box in zip(images, boxes)], 1)
    ]
    for name, settings in ROWS:
        result = CAMEngine(model, **settings)(
            inputs, target_category='gt', gt_labels=labels)
        rows.append(
            np.concatenate([label(name)] + [
                cell(image, heatmap, box) for image, heatmap, box in zip(
                    images, result.heatmaps[:, 0], boxes)
            ], 1))
    picture = np.concatenate(rows, 0)
    # JPEG: the noisy backgrounds make a PNG of this several times larger.
    cv2.imwrite(args.out, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
