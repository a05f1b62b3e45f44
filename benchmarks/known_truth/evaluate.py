"""Measure CAM methods where the truth is known.

Loads the ViT and the CNN that :mod:`train` wrote, explains the
ground-truth class of ``--pictures`` fresh pictures of :mod:`shapes` (the
coloured shape's box is the ground truth) with each method, and prints one
markdown table per model: accuracy, CPU time per picture of the heatmaps
(process time, steadier than wall time on a shared machine), and
:class:`mmcam.evaluation.CAMQuality`'s pointing game, energy pointing game,
deletion and insertion AUC (means over the pictures).

The pointing game's tolerance is 4 px, the usual 15 px at 224 scaled to
these 64 px pictures; the line above each table says what a uniformly
random point would score. RandomCAM (random channel weights) is the floor.

Example::

    OMP_NUM_THREADS=1 python benchmarks/known_truth/evaluate.py \\
        --models work_dirs/known_truth
"""
import argparse
import os.path as osp
import sys
import time

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, REPO)

from shapes import make_pictures  # noqa: E402
from train import MODELS, to_inputs  # noqa: E402

EVAL_SEED = 20_000
TOLERANCE = 4.0
COLUMNS = [('pointing_game', 'Pointing game ↑'),
           ('energy_pointing_game', 'Energy PG ↑'),
           ('deletion_auc', 'Deletion AUC ↓'),
           ('insertion_auc', 'Insertion AUC ↑')]

# (row name, CAMSettings) per model; attention methods only for the ViT,
# where also every rollout option is measured, to choose its defaults.
VIT_METHODS = [
    ('GradCAM (default layer: layers.3.ln1)', dict(method='GradCAM')),
    ('GradCAM at layers.1.ln1',
     dict(method='GradCAM', target_layers=['backbone.layers.1.ln1'])),
    ('GradCAM at the last norm (backbone.ln1)',
     dict(method='GradCAM', target_layers=['backbone.ln1'])),
    ('LayerCAM', dict(method='LayerCAM')),
    ('ScoreCAM', dict(method='ScoreCAM')),
    ('RandomCAM', dict(method='RandomCAM')),
    ('GAE', dict(method='GAE')),
] + [(f'AttentionRollout {fusion}, discard {ratio}',
      dict(method='AttentionRollout', head_fusion=fusion, discard_ratio=ratio))
     for fusion in ('mean', 'max', 'min') for ratio in (0.0, 0.5, 0.9)]
CNN_METHODS = [
    ('GradCAM (default layer: layer4.1.bn2)', dict(method='GradCAM')),
    ('GradCAM at layer3',
     dict(method='GradCAM', target_layers=['backbone.layer3'])),
    ('LayerCAM', dict(method='LayerCAM')),
    ('ScoreCAM', dict(method='ScoreCAM')),
    ('RandomCAM', dict(method='RandomCAM')),
    ('AttentionRollout', dict(method='AttentionRollout')),
    ('GAE', dict(method='GAE')),
]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--models',
        default=osp.join(REPO, 'work_dirs', 'known_truth'),
        help='folder with the vit.pth and cnn.pth of train.py')
    parser.add_argument('--pictures', type=int, default=200)
    parser.add_argument('--steps', type=int, default=25)
    parser.add_argument('--batch', type=int, default=50)
    parser.add_argument(
        '--only', nargs='+', help='rows whose name starts with one of these')
    return parser.parse_args()


def load(name, folder):
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import MODELS as REGISTRY
    model = REGISTRY.build(MODELS[name])
    checkpoint = load_checkpoint(
        model,
        osp.join(folder, f'{name}.pth'),
        map_location='cpu',
        logger='silent')
    return model.eval(), checkpoint.get('meta', {})


def chance_of_a_random_point(boxes, size, tolerance):
    """Mean share of the picture within ``tolerance`` of the box."""
    import numpy as np
    shares = []
    for x1, y1, x2, y2 in boxes:
        w = min(x2 + tolerance, size) - max(x1 - tolerance, 0)
        h = min(y2 + tolerance, size) - max(y1 - tolerance, 0)
        shares.append(w * h / size**2)
    return float(np.mean(shares))


def evaluate(name, rows, args, images, labels, boxes):
    import numpy as np
    import torch

    from mmcam.cam import CAMEngine, CAMError
    from mmcam.evaluation import CAMQuality, GroundTruthRegion

    model, meta = load(name, args.models)
    inputs = to_inputs(images)
    with torch.no_grad():
        predicted = torch.cat([
            model(inputs[i:i + 256], mode='tensor').argmax(1)
            for i in range(0, len(inputs), 256)
        ]).numpy()
    accuracy = float((predicted == labels).mean())
    size = images.shape[1]
    print(f'\n## {name}: accuracy {accuracy:.3f} on these {len(labels)} '
          f'pictures (trained {meta.get("train_seconds", 0):.0f} s); '
          'a random point scores '
          f'{chance_of_a_random_point(boxes, size, TOLERANCE):.2f} in the '
          'pointing game\n')
    header = ['method', 'CPU ms / picture'] + [title for _, title in COLUMNS]
    print('| ' + ' | '.join(header) + ' |')
    print('| --- ' * len(header) + '|', flush=True)
    regions = [
        GroundTruthRegion(bboxes=box[None], labels=np.array([label]))
        for box, label in zip(boxes, labels)
    ]
    for row, settings in rows:
        if args.only and not any(row.startswith(o) for o in args.only):
            continue
        try:
            engine = CAMEngine(model, **settings)
        except CAMError as error:
            print(
                f'| {row} | refused: {str(error).split(";")[0]} |' +
                ' |' * len(COLUMNS),
                flush=True)
            continue
        quality = CAMQuality(
            engine,
            True,
            steps=args.steps,
            batch_size=256,
            tolerance=TOLERANCE)
        np.random.seed(0)  # RandomCAM draws its weights from numpy
        values = {key: [] for key, _ in COLUMNS}
        seconds = 0.0
        for start in range(0, len(labels), args.batch):
            batch = inputs[start:start + args.batch]
            batch_labels = labels[start:start + args.batch]
            began = time.process_time()
            result = engine(
                batch, target_category='gt', gt_labels=batch_labels)
            seconds += time.process_time() - began
            measured = quality(batch, result.heatmaps, result.categories,
                               regions[start:start + args.batch])
            for key, _ in COLUMNS:
                values[key].extend(measured[key].reshape(-1))
        cells = [row, f'{1000 * seconds / len(labels):.1f}'
                 ] + [f'{np.nanmean(values[key]):.3f}' for key, _ in COLUMNS]
        print('| ' + ' | '.join(cells) + ' |', flush=True)


def main():
    args = parse_args()
    import logging

    import torch
    from mmengine.logging import MMLogger
    torch.set_num_threads(1)

    import mmcam  # noqa: F401  (stack fixes, registries)
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    images, labels, boxes = make_pictures(args.pictures, EVAL_SEED)
    print(f'# {args.pictures} pictures (seed {EVAL_SEED}), ground-truth '
          f'class explained, curves of {args.steps} steps, pointing-game '
          f'tolerance {TOLERANCE:g} px, {torch.get_num_threads()} torch '
          'thread')
    for name, rows in (('vit', VIT_METHODS), ('cnn', CNN_METHODS)):
        if osp.isfile(osp.join(args.models, f'{name}.pth')):
            evaluate(name, rows, args, images, labels, boxes)


if __name__ == '__main__':
    main()
