"""Which CAM method explains EfficientNet-Lite0 best, and on which
substrate the deletion and insertion curves can tell: a quality table.

Two sets of images:

- the demo photos (cat, coffee, cameraman) through the usual config
  (short edge 256, centre crop 224), each explained for its predicted
  class;
- three two-object pictures built from them (each pair side by side at one
  height: cat + coffee, coffee + cameraman, cameraman + cat) through the
  whole-image config, explaining in each the class the network predicts
  for each photo alone, with that photo's half as the class's box.

First, per map, the class probability on the image and on each substrate
(the image deletion ends on and insertion starts from): black, the image's
mean colour, RISE's blur (kernel 11, sigma 5) and a strong blur (kernel
41, sigma 20). Where a substrate keeps much of the probability, its curve
is nearly flat for every map.

Then, per set, the deletion and insertion AUC of every method: RISE's
(deletion to black, insertion from the 11/5 blur), deletion to the strong
blur and insertion from black; and Average
Drop, Increase in Confidence and (two-object pictures) the pointing
games. Two rows are baselines: RandomCAM over ``--random-draws`` seeded
draws (seeds 0, 1, ...; mean +- sample standard deviation of the draws'
means over the maps), and GradCAM's inverted map (``1 - map``); they
come right after GradCAM. Under each table, ``separation`` is GradCAM's
margin over RandomCAM's mean in units of the draws' spread (positive:
GradCAM better).

ScoreCAM and AblationCAM (one forward pass per channel, 1280 here) are
left out unless named in ``--methods``.

Needs the converted checkpoint::

    python tools/model_converters/efficientnet_lite0_to_mmpretrain.py \\
        checkpoints/efficientnet-lite0_in1k.pth
    OMP_NUM_THREADS=1 python benchmarks/cam_quality_table.py
"""
import argparse
import os.path as osp
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)  # run from a checkout without installing

CONFIG_DIR = osp.join(REPO, 'configs', 'efficientnet_lite')
CONFIG = osp.join(CONFIG_DIR, 'efficientnet-lite0_in1k.py')
WHOLE_IMAGE_CONFIG = osp.join(CONFIG_DIR,
                              'efficientnet-lite0_in1k_whole-image.py')
CHECKPOINT = osp.join(REPO, 'checkpoints', 'efficientnet-lite0_in1k.pth')
PHOTOS = osp.join(REPO, 'demo', 'photos')
SINGLES = ('cat', 'coffee', 'cameraman')
PAIRS = [('cat', 'coffee'), ('coffee', 'cameraman'), ('cameraman', 'cat')]
SLOW_METHODS = ('ScoreCAM', 'AblationCAM')
STRONG_BLUR = dict(blur_kernel=41, blur_sigma=20.0)
# Substrates whose class probability is shown: name -> (substrate, blur).
SUBSTRATE_COLUMNS = [
    ('black', ('black', {})),
    ('mean colour', ('mean', {})),
    ('blur 11/5 (RISE)', ('blur', dict(blur_kernel=11, blur_sigma=5.0))),
    ('blur 41/20', ('blur', STRONG_BLUR)),
]
# Curves: name -> the metrics and the CAMQuality options.
CURVES = [
    ('RISE', ['deletion_auc', 'insertion_auc'],
     dict(deletion_substrate='black', insertion_substrate='blur')),
    ('blur 41/20', ['deletion_auc'],
     dict(deletion_substrate='blur', **STRONG_BLUR)),
    ('black', ['insertion_auc'], dict(insertion_substrate='black')),
]
# Column -> (curve pair, metric); and the direction of each.
CURVE_COLUMNS = [
    ('Del black ↓', 'RISE', 'deletion_auc'),
    ('Ins blur 11/5 ↑', 'RISE', 'insertion_auc'),
    ('Del blur 41/20 ↓', 'blur 41/20', 'deletion_auc'),
    ('Ins black ↑', 'black', 'insertion_auc'),
]
OTHER_COLUMNS = [('Avg Drop % ↓', 'avg_drop'), ('Increase % ↑', 'increase'),
                 ('Pointing game ↑', 'pointing_game'),
                 ('Energy PG ↑', 'energy_pointing_game')]
LOWER_IS_BETTER = ('deletion_auc', 'avg_drop')


def parse_args():
    parser = argparse.ArgumentParser(
        description=' '.join(__doc__.split('\n\n')[0].split()))
    parser.add_argument('--checkpoint', default=CHECKPOINT)
    parser.add_argument(
        '--methods',
        nargs='+',
        help='default: every supported method but RandomCAM (a baseline '
        'row), ScoreCAM and AblationCAM')
    parser.add_argument('--random-draws', type=int, default=5)
    parser.add_argument('--steps', type=int, default=50)
    parser.add_argument(
        '--short-edge',
        type=int,
        default=None,
        help="resize the two-object pictures' short edge to this (default: "
        "the config's 256); smaller is faster on a CPU")
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument(
        '--tie-break',
        choices=('raster', 'random'),
        default='raster',
        help="order of equal map values in the curves (default: raster)")
    parser.add_argument(
        '--sets',
        nargs='+',
        choices=('photos', 'pairs'),
        default=('photos', 'pairs'),
        help='the demo photos, the two-object pictures, or both (default)')
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


def network_input(inferencer, path):
    from mmengine.dataset import pseudo_collate
    sample = next(inferencer.preprocess([path]))[0]
    inputs = inferencer.model.data_preprocessor(
        pseudo_collate([sample.packed]), False)['inputs']
    return sample, inputs


def single_photos(inferencer):
    pictures = []
    for name in SINGLES:
        path = osp.join(PHOTOS, f'{name}.jpg')
        _, inputs = network_input(inferencer, path)
        label = inferencer(path)[0]['pred_label']
        pictures.append(
            dict(name=name, inputs=inputs, classes=[label], region=None))
    return pictures


def two_object_pictures(inferencer, single_inferencer, folder):
    import numpy as np

    from mmcam.evaluation import GroundTruthRegion
    pictures = []
    for left, right in PAIRS:
        # The class of each photo alone is the class explained on its half.
        alone = single_inferencer(
            [osp.join(PHOTOS, f'{n}.jpg') for n in (left, right)])
        classes = [r['pred_label'] for r in alone]
        path, split, (height, width) = side_by_side(left, right, folder)
        sample, inputs = network_input(inferencer, path)
        g = sample.geometry
        boxes = np.array([[0, 0, split, height], [split, 0, width, height]],
                         np.float64)
        boxes = boxes * [g.scale_x, g.scale_y, g.scale_x, g.scale_y] + [
            g.offset_x, g.offset_y, g.offset_x, g.offset_y
        ]
        pictures.append(
            dict(
                name=f'{left} + {right}',
                inputs=inputs,
                classes=classes,
                region=GroundTruthRegion(
                    bboxes=boxes, labels=np.array(classes))))
    return pictures


def print_substrate_probabilities(engine, pictures, class_name):
    """Per map: the class probability on the image and on each
    substrate."""
    import torch

    from mmcam.evaluation import PixelSpace, substrate_images
    space = PixelSpace.of_model(engine.model)
    header = ['picture', 'class', 'image'
              ] + [name for name, _ in SUBSTRATE_COLUMNS]
    print('| ' + ' | '.join(header) + ' |')
    print('| --- | --- ' + '| ---: ' * (len(header) - 2) + '|')
    for picture in pictures:
        pixels = space.to_pixels(picture['inputs'])
        images = [pixels] + [
            substrate_images(pixels, substrate, **blur)
            for _, (substrate, blur) in SUBSTRATE_COLUMNS
        ]
        with torch.no_grad():
            probs = engine.probabilities(
                engine.logits(space.to_inputs(torch.cat(images))))
        for c in picture['classes']:
            cells = [picture['name'], class_name(c)
                     ] + [f'{p:.3f}' for p in probs[:, c].tolist()]
            print('| ' + ' | '.join(cells) + ' |')


def measure(maps_of, pictures, qualities, other):
    """Per column, the value of every map of ``pictures`` (an array);
    ``maps_of(picture)`` gives the maps."""
    import numpy as np
    values = {}
    for picture in pictures:
        maps = maps_of(picture)
        categories = np.array([picture['classes']])
        regions = [picture['region']]
        for column, curve, name in CURVE_COLUMNS:
            measured = qualities[curve](picture['inputs'], maps, categories)
            values.setdefault(column, []).extend(measured[name].reshape(-1))
        measured = other['confidence'](picture['inputs'], maps, categories)
        if picture['region'] is not None:
            measured.update(other['localisation'](picture['inputs'], maps,
                                                  categories, regions))
        for column, name in OTHER_COLUMNS:
            if name in measured:
                values.setdefault(column,
                                  []).extend(measured[name].reshape(-1))
    return {column: np.array(v, np.float64) for column, v in values.items()}


def print_per_map(pictures, per_map, draws, class_name):
    """Each map's curves: GradCAM, its inverse, and RandomCAM's mean and
    spread over the draws of that map."""
    import numpy as np
    columns = [c for c, _, _ in CURVE_COLUMNS]
    print('\nPer map, GradCAM / GradCAM inverted / RandomCAM mean ± spread '
          'of the draws:\n')
    print('| ' + ' | '.join(['picture', 'class'] + columns) + ' |')
    print('| --- | --- ' + '| ---: ' * len(columns) + '|')
    row = 0
    for picture in pictures:
        for c in picture['classes']:
            cells = [picture['name'], class_name(c)]
            for column in columns:
                values = [d[column][row] for d in draws]
                cells.append(f'{per_map["GradCAM"][column][row]:.3f} / '
                             f'{per_map["GradCAM inverted"][column][row]:.3f}'
                             f' / {np.mean(values):.3f} ± '
                             f'{np.std(values, ddof=1):.3f}')
            print('| ' + ' | '.join(cells) + ' |')
            row += 1


def main():
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        sys.exit(f'error: no checkpoint {args.checkpoint!r}; convert it '
                 'with tools/model_converters/'
                 'efficientnet_lite0_to_mmpretrain.py')
    import logging
    import os

    import numpy as np
    import torch
    from mmengine.logging import MMLogger

    import mmcam  # noqa: F401  (stack fixes)
    from mmcam.apis import CAMInferencer
    from mmcam.cam import CAMEngine, supported_methods
    from mmcam.evaluation import CAMQuality
    from mmcam.evaluation.baselines import inverted_maps

    # The substrate warnings are what the first table shows.
    MMLogger.get_current_instance().setLevel(logging.ERROR)
    started = time.perf_counter()
    load_before = os.getloadavg()
    cfg_options = None
    if args.short_edge:
        # The whole-image config's test pipeline: load, ResizeEdge, pack.
        cfg_options = {
            'test_dataloader.dataset.pipeline.1.scale': args.short_edge
        }
    common = dict(
        pretrained=args.checkpoint, device=args.device, show_progress=False)
    single_inferencer = CAMInferencer(CONFIG, **common)
    pair_inferencer = CAMInferencer(
        WHOLE_IMAGE_CONFIG, cfg_options=cfg_options, **common)
    model = pair_inferencer.model
    sets = []
    if 'photos' in args.sets:
        sets.append(('demo photos (224x224 centre crop)',
                     single_photos(single_inferencer)))
    if 'pairs' in args.sets:
        sets.append(('two-object pictures (whole image)',
                     two_object_pictures(pair_inferencer, single_inferencer,
                                         tempfile.mkdtemp())))
    class_name = pair_inferencer.class_name

    methods = args.methods or [
        m for m in supported_methods()
        if m not in SLOW_METHODS and m != 'RandomCAM'
    ]
    base = dict(
        steps=args.steps, batch_size=args.batch_size, tie_break=args.tie_break)
    qualities = {
        curve: CAMQuality(model, names, **base, **options)
        for curve, names, options in CURVES
    }
    other = dict(
        confidence=CAMQuality(model, ['avg_drop', 'increase'], **base),
        localisation=CAMQuality(model,
                                ['pointing_game', 'energy_pointing_game'],
                                **base))
    print(f'# EfficientNet-Lite0, steps={args.steps}, ties {args.tie_break}, '
          f'{args.random_draws} '
          f'RandomCAM draws, {torch.get_num_threads()} torch thread(s), '
          f'device {args.device}; load average before: ' +
          ' '.join(f'{v:.2f}' for v in load_before))
    for title, pictures in sets:
        sizes = sorted({tuple(p['inputs'].shape[-2:]) for p in pictures})
        print(f'\n## {title}, inputs {sizes}\n')
        print('Class probability on the image and on each substrate:\n')
        print_substrate_probabilities(CAMEngine(model), pictures, class_name)
        header = ['method'] + [c for c, _, _ in CURVE_COLUMNS] + [
            c for c, name in OTHER_COLUMNS
            if pictures[0]['region'] is not None or 'pointing' not in name
        ]
        print(f'\nMeans over {sum(len(p["classes"]) for p in pictures)} '
              'maps:\n')
        print('| ' + ' | '.join(header) + ' |')
        print('| --- ' + '| ---: ' * (len(header) - 1) + '|')
        rows, per_map = {}, {}

        def print_row(name, cells):
            print('| ' + ' | '.join([name] + cells) + ' |', flush=True)

        def measure_method(method):
            engine = CAMEngine(
                model, method=method.split()[0], batch_size=args.batch_size)

            def maps_of(picture):
                maps = engine(
                    picture['inputs'],
                    target_category=picture['classes']).heatmaps
                if method.endswith('inverted'):
                    maps = inverted_maps(torch.from_numpy(maps)).numpy()
                return maps

            per_map[method] = measure(maps_of, pictures, qualities, other)
            rows[method] = {
                c: np.nanmean(v)
                for c, v in per_map[method].items()
            }
            print_row(method, [f'{rows[method][c]:.3f}' for c in header[1:]])

        # The baselines first, then the other methods.
        first = [m for m in ('GradCAM', ) if m in methods]
        for method in first + ['GradCAM inverted']:
            measure_method(method)
        draws = []
        for seed in range(args.random_draws):
            engine = CAMEngine(model, method='RandomCAM', seed=seed)
            draws.append(
                measure(
                    lambda p, e=engine: e(
                        p['inputs'], target_category=p['classes']).heatmaps,
                    pictures,
                    qualities,
                    other))
        # The spread of the draws' means over the maps.
        means = {c: [np.nanmean(d[c]) for d in draws] for c in header[1:]}
        mean = {c: np.mean(means[c]) for c in header[1:]}
        spread = {
            c: np.std(means[c], ddof=1) if len(draws) > 1 else 0.0
            for c in header[1:]
        }
        print_row(f'RandomCAM ({len(draws)} draws)',
                  [f'{mean[c]:.3f} ± {spread[c]:.3f}' for c in header[1:]])
        for method in methods:
            if method not in first:
                measure_method(method)
        if 'GradCAM' in rows:
            cells = []
            for column in header[1:]:
                sign = -1 if any(name in column
                                 for name in ('Del', 'Drop')) else 1
                margin = sign * (rows['GradCAM'][column] - mean[column])
                cells.append(f'{margin / spread[column]:+.1f}'
                             if spread[column] > 0 else '-')
            print('\nGradCAM\'s margin over the RandomCAM mean, in draw '
                  'spreads (positive: GradCAM better):\n')
            print('| ' + ' | '.join([''] + header[1:]) + ' |')
            print('| --- ' + '| ---: ' * (len(header) - 1) + '|')
            print_row('separation', cells)
            print_per_map(pictures, per_map, draws, class_name)
    print(f'\n# {time.perf_counter() - started:.0f} s; load average after: ' +
          ' '.join(f'{v:.2f}' for v in os.getloadavg()))


if __name__ == '__main__':
    main()
