#!/usr/bin/env python
"""Make the README's pictures with the project itself.

Runs :class:`mmcam.apis.CAMInferencer` with the converted EfficientNet-Lite0
on the demo photos and draws with :class:`mmcam.visualization.CAMVisualizer`:

- ``methods_grid.png``: CAM methods (columns) on the demo photos
  (rows), each explaining the predicted class, on the center crop the
  network sees.
- ``two_classes.png``: one photo holding a cat and an espresso
  (``demo/cat_and_coffee.jpg``, rebuilt from the two demo photos), seen
  whole, with one heatmap per class.

They are written to ``outputs/readme_pictures/``; ``--out-dir resources``
replaces the README's own (only when asked: a run on other versions
would silently change what the README shows). Example (after the quick
start's conversion)::

    python tools/misc/make_readme_pictures.py \\
        checkpoints/efficientnet-lite0_in1k.pth

ScoreCAM runs 1280 masked forward passes per photo: 5 to 20 minutes on a
busy 2-core CPU, seconds on a GPU (``--device cuda``).
``--pictures two_classes`` remakes only the quick one.
"""
import argparse
import os
import os.path as osp
import sys
import warnings
from typing import Sequence

import cv2
import numpy as np

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'efficientnet_lite')
CONFIG = osp.join(CONFIG_DIR, 'efficientnet-lite0_in1k.py')
WHOLE_IMAGE_CONFIG = osp.join(CONFIG_DIR,
                              'efficientnet-lite0_in1k_whole-image.py')
PHOTOS = osp.join(REPO_ROOT, 'demo', 'photos')
GRID_PHOTOS = ('cat.jpg', 'coffee.jpg', 'cameraman.jpg')
GRID_METHODS = ('GradCAM', 'GradCAM++', 'LayerCAM', 'EigenCAM', 'ScoreCAM')
TWO_CLASS_PHOTO = osp.join(REPO_ROOT, 'demo', 'cat_and_coffee.jpg')
TWO_CLASSES = (282, 967)  # tiger cat, espresso
# Panel sizes that keep each PNG well under 300 KB.
GRID_PANEL = 176
TWO_CLASS_WIDTH = 600


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'checkpoint',
        help='EfficientNet-Lite0 checkpoint from '
        'tools/model_converters/efficientnet_lite0_to_mmpretrain.py')
    parser.add_argument(
        '--out-dir',
        default=osp.join(REPO_ROOT, 'outputs', 'readme_pictures'),
        help='where the PNGs go (default: outputs/readme_pictures/; '
        "--out-dir resources replaces the README's pictures)")
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument(
        '--pictures',
        nargs='+',
        choices=sorted(PICTURES),
        default=sorted(PICTURES),
        help='which pictures to make (default: all)')
    return parser.parse_args(argv)


def make_two_object_photo(path: str = TWO_CLASS_PHOTO) -> str:
    """The cat and the coffee photo side by side at the same height."""
    cat = cv2.imread(osp.join(PHOTOS, 'cat.jpg'))
    coffee = cv2.imread(osp.join(PHOTOS, 'coffee.jpg'))
    height = cat.shape[0]
    width = round(coffee.shape[1] * height / coffee.shape[0])
    coffee = cv2.resize(coffee, (width, height), interpolation=cv2.INTER_AREA)
    cv2.imwrite(path, np.concatenate([cat, coffee], axis=1),
                [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


def seen_crop(image: np.ndarray, heatmaps: np.ndarray, region, size: int):
    """The part of the photo the network saw, and its heatmaps, at
    ``size`` x ``size``."""
    x1, y1, x2, y2 = (int(round(v)) for v in region)
    crop = cv2.resize(
        image[y1:y2, x1:x2], (size, size), interpolation=cv2.INTER_AREA)
    maps = np.stack([
        cv2.resize(
            h[y1:y2, x1:x2], (size, size), interpolation=cv2.INTER_LINEAR)
        for h in heatmaps
    ])
    return crop, maps


def methods_grid(checkpoint: str, device: str) -> np.ndarray:
    """Rows: photos; columns: the photo then one overlay per method."""
    from mmcam.apis import CAMInferencer
    from mmcam.visualization import CAMVisualizer
    from mmcam.visualization.overlay import vstack_panels

    paths = [osp.join(PHOTOS, name) for name in GRID_PHOTOS]
    per_method = {}
    for method in GRID_METHODS:
        inferencer = CAMInferencer(
            CONFIG,
            pretrained=checkpoint,
            device=device,
            show_progress=False,
            method=method)
        per_method[method] = inferencer(paths)
        print(f'{method}: done', flush=True)

    visualizer = CAMVisualizer(
        name='readme_methods_grid',
        show_original=True,
        max_columns=len(GRID_METHODS))
    rows = []
    for index, path in enumerate(paths):
        image = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
        first = per_method[GRID_METHODS[0]][index]
        heatmaps = np.stack(
            [per_method[m][index]['heatmaps'][0] for m in GRID_METHODS])
        crop, maps = seen_crop(image, heatmaps, first['input_region'],
                               GRID_PANEL)
        label = f'{short_name(first["pred_class"])} ' \
            f'{first["pred_score"]:.2f}'
        rows.append(
            visualizer.draw_cam(
                crop, maps, list(GRID_METHODS), original_label=label))
    return vstack_panels(rows)


def two_classes(checkpoint: str, device: str) -> np.ndarray:
    """The two-object photo, then the heatmap of each class below it."""
    from mmcam.apis import CAMInferencer
    from mmcam.visualization import CAMVisualizer
    from mmcam.visualization.overlay import add_caption, vstack_panels

    photo = make_two_object_photo()
    inferencer = CAMInferencer(
        WHOLE_IMAGE_CONFIG,
        pretrained=checkpoint,
        device=device,
        show_progress=False,
        method='GradCAM',
        target_category=list(TWO_CLASSES))
    result = inferencer(photo)[0]
    image = cv2.cvtColor(cv2.imread(photo), cv2.COLOR_BGR2RGB)
    height = round(image.shape[0] * TWO_CLASS_WIDTH / image.shape[1])
    image = cv2.resize(
        image, (TWO_CLASS_WIDTH, height), interpolation=cv2.INTER_AREA)
    # No scores in the captions: on a photo holding two objects the
    # softmax spreads over both, so each class gets only a few percent.
    labels = [
        f'GradCAM for "{short_name(name)}" (class {category})'
        for name, category in zip(result['class_names'], result['categories'])
    ]
    visualizer = CAMVisualizer(
        name='readme_two_classes', show_original=False, max_columns=1)
    overlays = visualizer.draw_cam(image, result['heatmaps'], labels)
    return vstack_panels(
        [add_caption(image, 'one photo, two objects, seen whole'), overlays])


# Picture name (its file is <name>.png) -> what draws it.
PICTURES = {'methods_grid': methods_grid, 'two_classes': two_classes}


def short_name(class_name: str) -> str:
    """The first of ImageNet's synonyms: 'tabby, tabby cat' -> 'tabby'."""
    return class_name.split(',')[0]


def save_small_png(picture: np.ndarray, path: str) -> int:
    """Write an RGB picture as a 256-colour PNG (photos with heatmaps keep
    their look and shrink about threefold); returns the size in bytes."""
    from PIL import Image
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    Image.fromarray(picture).quantize(
        colors=256, method=Image.Quantize.MEDIANCUT,
        dither=Image.Dither.NONE).save(
            path, optimize=True)
    return osp.getsize(path)


def main(argv: Sequence[str] = None) -> int:
    args = parse_args(argv)
    if REPO_ROOT not in sys.path:
        sys.path.insert(0, REPO_ROOT)
    warnings.filterwarnings('ignore')
    from mmengine.logging import MMLogger

    import mmcam  # noqa: F401  (stack fixes, registries)

    # timm backbones log their feature info at INFO on every build; a
    # quieter current logger keeps the script's output to what it made.
    MMLogger.get_instance('make_readme_pictures', log_level='WARNING')
    from mmcam.cam import CAMError
    if not osp.isfile(args.checkpoint):
        print(
            f'error: checkpoint {args.checkpoint!r} does not exist; make '
            'it with tools/model_converters/'
            'efficientnet_lite0_to_mmpretrain.py',
            file=sys.stderr)
        return 1
    try:
        for name in args.pictures:
            draw = PICTURES[name]
            path = osp.join(args.out_dir, name + '.png')
            size = save_small_png(draw(args.checkpoint, args.device), path)
            print(f'wrote {path} ({size // 1024} KB)', flush=True)
    except CAMError as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
