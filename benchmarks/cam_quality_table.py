"""Which CAM method explains EfficientNet-Lite0 best: a quality table.

Builds two-object pictures from the demo photos (each pair side by side at
one height: cat | coffee, coffee | cameraman, cameraman | cat), explains
in each picture the class the network predicts for each photo alone, and
measures every heatmap with :class:`mmcam.evaluation.CAMQuality`: Average
Drop %, Increase in Confidence %, deletion and insertion AUC, and the
(energy) pointing game against the photo's half of the picture as that
class's ground-truth box. Prints one markdown table: per method the means
over all heatmaps, and the time per picture of computing its heatmaps
(both classes, not the metrics).

RandomCAM (random channel weights) is the floor every method should beat.
ScoreCAM and AblationCAM run one forward pass per channel of the target
layer (1280 for Lite0's last layer): on a CPU that is minutes per
picture, so they are measured on ``--slow-pictures`` pictures only (the
table says on how many), or skipped with ``--skip-slow``.

Needs the converted checkpoint::

    python tools/model_converters/efficientnet_lite0_to_mmpretrain.py \\
        checkpoints/efficientnet-lite0_in1k.pth
    python benchmarks/cam_quality_table.py [--methods GradCAM ...]
"""
import argparse
import os.path as osp
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)  # run from a checkout without installing

CONFIG = osp.join(REPO, 'configs', 'efficientnet_lite',
                  'efficientnet-lite0_in1k_whole-image.py')
CHECKPOINT = osp.join(REPO, 'checkpoints', 'efficientnet-lite0_in1k.pth')
PHOTOS = osp.join(REPO, 'demo', 'photos')
PAIRS = [('cat', 'coffee'), ('coffee', 'cameraman'), ('cameraman', 'cat')]
SLOW_METHODS = ('ScoreCAM', 'AblationCAM')
COLUMNS = [('avg_drop', 'Avg Drop % ↓'), ('increase', 'Increase % ↑'),
           ('deletion_auc', 'Deletion AUC ↓'),
           ('insertion_auc', 'Insertion AUC ↑'),
           ('pointing_game', 'Pointing game ↑'),
           ('energy_pointing_game', 'Energy PG ↑')]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--checkpoint', default=CHECKPOINT)
    parser.add_argument(
        '--methods', nargs='+', help='default: every supported method')
    parser.add_argument('--steps', type=int, default=50)
    parser.add_argument(
        '--short-edge',
        type=int,
        default=None,
        help="resize the pictures' short edge to this (default: the "
        "config's 256); smaller is faster on a CPU")
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument(
        '--slow-pictures',
        type=int,
        default=1,
        help='pictures for ScoreCAM and AblationCAM (default 1)')
    parser.add_argument('--skip-slow', action='store_true')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args()


def side_by_side(left, right, folder):
    """The two photos at the left one's height, as a PNG, and the column
    where the right one starts."""
    import cv2
    import numpy as np
    a = cv2.imread(osp.join(PHOTOS, f'{left}.jpg'))
    b = cv2.imread(osp.join(PHOTOS, f'{right}.jpg'))
    width = round(b.shape[1] * a.shape[0] / b.shape[0])
    b = cv2.resize(b, (width, a.shape[0]), interpolation=cv2.INTER_AREA)
    path = osp.join(folder, f'{left}_and_{right}.png')
    cv2.imwrite(path, np.concatenate([a, b], axis=1))
    return path, a.shape[1], (a.shape[0], a.shape[1] + width)


def main():
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        sys.exit(f'error: no checkpoint {args.checkpoint!r}; convert it '
                 'with tools/model_converters/'
                 'efficientnet_lite0_to_mmpretrain.py')
    import logging

    import numpy as np
    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.logging import MMLogger

    import mmcam  # noqa: F401  (stack fixes)
    from mmcam.apis import CAMInferencer
    from mmcam.cam import CAMEngine, supported_methods
    from mmcam.evaluation import CAMQuality, GroundTruthRegion

    MMLogger.get_current_instance().setLevel(logging.WARNING)
    cfg_options = None
    if args.short_edge:
        # The whole-image config's test pipeline: load, ResizeEdge, pack.
        cfg_options = {
            'test_dataloader.dataset.pipeline.1.scale': args.short_edge
        }
    inferencer = CAMInferencer(
        args.config,
        pretrained=args.checkpoint,
        device=args.device,
        cfg_options=cfg_options,
        show_progress=False)
    model = inferencer.model
    quality = CAMQuality(
        model, True, steps=args.steps, batch_size=args.batch_size)

    pictures = []
    folder = tempfile.mkdtemp()
    for left, right in PAIRS:
        # The class of each photo alone is the class explained on its half.
        alone = inferencer(
            [osp.join(PHOTOS, f'{n}.jpg') for n in (left, right)])
        classes = [r['pred_label'] for r in alone]
        path, split, (height, width) = side_by_side(left, right, folder)
        sample = next(inferencer.preprocess([path]))[0]
        inputs = model.data_preprocessor(
            pseudo_collate([sample.packed]), False)['inputs']
        g = sample.geometry
        boxes = np.array([[0, 0, split, height], [split, 0, width, height]],
                         np.float64)
        boxes = boxes * [g.scale_x, g.scale_y, g.scale_x, g.scale_y] + [
            g.offset_x, g.offset_y, g.offset_x, g.offset_y
        ]
        pictures.append(
            dict(
                name=f'{left} | {right}',
                inputs=inputs,
                classes=classes,
                region=GroundTruthRegion(
                    bboxes=boxes, labels=np.array(classes))))
        names = [inferencer.class_name(c) for c in classes]
        print(f'# {left} | {right}: input {tuple(inputs.shape[-2:])}, '
              f'explaining {names[0]!r} (left) and {names[1]!r} (right)')

    methods = args.methods or supported_methods()
    if args.skip_slow:
        methods = [m for m in methods if m not in SLOW_METHODS]
    print(f'\n# {len(pictures)} pictures x 2 classes, steps={args.steps}, '
          f'{torch.get_num_threads()} torch threads, device {args.device}\n')
    header = ['method', 'pictures', 's / picture'] + [c for _, c in COLUMNS]
    print('| ' + ' | '.join(header) + ' |')
    print('| --- ' * len(header) + '|')
    for method in methods:
        engine = CAMEngine(model, method=method, batch_size=args.batch_size)
        chosen = pictures[:args.slow_pictures] \
            if method in SLOW_METHODS else pictures
        values = {name: [] for name, _ in COLUMNS}
        seconds = []
        np.random.seed(0)  # RandomCAM draws its weights from numpy
        for picture in chosen:
            start = time.perf_counter()
            result = engine(
                picture['inputs'], target_category=picture['classes'])
            seconds.append(time.perf_counter() - start)
            measured = quality(picture['inputs'], result.heatmaps,
                               result.categories, [picture['region']])
            for name, _ in COLUMNS:
                values[name].extend(measured[name].reshape(-1))
        cells = [method, str(len(chosen)), f'{np.mean(seconds):.2f}'] + [
            f'{np.nanmean(values[name]):.3f}' for name, _ in COLUMNS
        ]
        print('| ' + ' | '.join(cells) + ' |', flush=True)


if __name__ == '__main__':
    main()
