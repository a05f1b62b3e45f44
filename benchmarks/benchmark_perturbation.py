"""ScoreCAM and AblationCAM per image: mmcam against pytorch-grad-cam and
torchcam, on the real EfficientNet-Lite0 and the demo photos.

Every library explains the same normalized images (the config's test
pipeline, resized to ``--size``) at the same layer
(``backbone.timm_model.bn2``, 1280 channels) with the same perturbation
batch size:

- mmcam: :class:`mmcam.cam.CAMEngine`;
- grad-cam: ``pytorch_grad_cam.ScoreCAM`` / ``AblationCAM`` called as
  MMPretrain's ``vis_cam.py`` calls them, one call per explained class;
- torchcam (ScoreCAM only; it has no AblationCAM), if installed
  (``pip install torchcam``): ``torchcam.methods.ScoreCAM``, one call per
  class on the recorded forward pass. Its Score-CAM differs in detail
  (baseline-subtracted scores, normalization before upsampling), so only
  its time is compared, not its maps.

The variants run interleaved, round by round, in one process, so a change
in the load of a shared machine affects all alike; the load average is
printed. For each variant the table gives seconds per image, the forward
passes of the network (calls) and the images that went through all of it
(AblationCAM in mmcam runs the layers before the target on one image per
pass), and for mmcam the largest difference from grad-cam's maps.

Usage::

    python benchmarks/benchmark_perturbation.py --quick   # 1-2 minutes
    python benchmarks/benchmark_perturbation.py           # 224 px, long
"""
import argparse
import os
import os.path as osp
import platform
import statistics
import sys
import tempfile
import time

# grad-cam draws a progress bar for every image and class.
os.environ.setdefault('TQDM_DISABLE', '1')

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)  # run from a checkout without installing
CONFIG = osp.join(REPO, 'configs', 'efficientnet_lite',
                  'efficientnet-lite0_in1k.py')
CHECKPOINT = osp.join(REPO, 'checkpoints', 'efficientnet-lite0_in1k.pth')
CONVERTER = osp.join(REPO, 'tools', 'model_converters',
                     'efficientnet_lite0_to_mmpretrain.py')
PHOTOS = ('cat.jpg', 'coffee.jpg', 'cameraman.jpg')
LAYER = 'backbone.timm_model.bn2'


def parse_args():
    parser = argparse.ArgumentParser(
        description=' '.join(__doc__.split('\n\n')[0].split()))
    parser.add_argument(
        '--quick',
        action='store_true',
        help='64 px, one photo, one class: about 1-2 minutes on 2 cores')
    parser.add_argument(
        '--size', type=int, help='input side in px (default 224; quick 64)')
    parser.add_argument(
        '--images',
        type=int,
        nargs='+',
        help='images per call, up to 3 (default: 1 3; quick: 1)')
    parser.add_argument(
        '--topk',
        type=int,
        nargs='+',
        help='classes explained per image (default: 1 3; quick: 1)')
    parser.add_argument(
        '--methods', nargs='+', default=['ScoreCAM', 'AblationCAM'])
    parser.add_argument(
        '--libraries',
        nargs='+',
        default=list(RUNNERS),
        choices=list(RUNNERS),
        help='default: all (torchcam where installed)')
    parser.add_argument(
        '--photos',
        nargs='+',
        default=list(PHOTOS),
        help=f'names in demo/photos, in order (default: {" ".join(PHOTOS)})')
    parser.add_argument(
        '--rounds', type=int, default=1, help='interleaved rounds')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=32,
        help='perturbation batch of every library (default 32)')
    parser.add_argument(
        '--threads', type=int, help='torch threads (default: all cores)')
    parser.add_argument(
        '--checkpoint',
        default=CHECKPOINT,
        help='converted EfficientNet-Lite0 (made when missing)')
    args = parser.parse_args()
    args.size = args.size or (64 if args.quick else 224)
    args.images = args.images or ([1] if args.quick else [1, 3])
    args.topk = args.topk or ([1] if args.quick else [1, 3])
    if max(args.images) > len(args.photos):
        parser.error(f'--images: at most {len(args.photos)} photos')
    return args


# ----------------------------------------------------------------------
# Model and photos
# ----------------------------------------------------------------------
def load_model(checkpoint: str):
    import importlib.util

    from mmengine.config import Config
    from mmpretrain.apis import get_model

    import mmcam  # noqa: F401  (stack fixes)
    if not osp.exists(checkpoint):
        spec = importlib.util.spec_from_file_location('converter', CONVERTER)
        converter = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(converter)
        checkpoint = osp.join(tempfile.mkdtemp(), 'lite0.pth')
        converter.convert(checkpoint)
    return get_model(Config.fromfile(CONFIG), checkpoint).eval()


def load_photos(model, size: int, photos):
    """``(N, 3, size, size)``: the demo photos through the test pipeline
    and data preprocessor, resized from 224 when ``size`` differs."""
    import torch.nn.functional as F
    from mmengine.config import Config
    from mmengine.dataset import Compose, default_collate
    from mmengine.registry import DefaultScope
    cfg = Config.fromfile(CONFIG)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
    packed = [
        pipeline(dict(img_path=osp.join(REPO, 'demo', 'photos', name)))
        for name in photos
    ]
    inputs = model.data_preprocessor(default_collate(packed), False)['inputs']
    if inputs.shape[-1] != size:
        inputs = F.interpolate(
            inputs, size=(size, size), mode='bilinear', antialias=True)
    return inputs.contiguous()


# ----------------------------------------------------------------------
# The three libraries
# ----------------------------------------------------------------------
def mmcam_runner(model, method, batch_size):
    from mmcam.cam import CAMEngine
    engine = CAMEngine(
        model, method=method, target_layers=LAYER, batch_size=batch_size)

    def run(inputs, categories):
        return engine(
            inputs, target_category=None, topk=categories.shape[1]).heatmaps

    return run


def grad_cam_runner(model, method, batch_size):
    import numpy as np
    import pytorch_grad_cam as gc
    from pytorch_grad_cam.ablation_layer import AblationLayer
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from mmcam.cam import ClassifierLogits, get_layer
    layer = get_layer(model, LAYER)

    def run(inputs, categories):
        kwargs = dict(
            batch_size=batch_size,
            ablation_layer=AblationLayer()) if method == 'AblationCAM' \
            else {}
        cam = getattr(gc, method)(ClassifierLogits(model), [layer], **kwargs)
        cam.batch_size = batch_size  # read by ScoreCAM
        try:
            maps = []
            for k in range(categories.shape[1]):
                targets = [
                    ClassifierOutputTarget(int(c)) for c in categories[:, k]
                ]
                maps.append(cam(inputs.clone(), targets))
        finally:
            cam.activations_and_grads.release()
            model.zero_grad(set_to_none=True)
        return np.stack(maps, axis=1)

    return run


def torchcam_runner(model, method, batch_size):
    if method != 'ScoreCAM':
        return None
    try:
        from torchcam.methods import ScoreCAM
    except ImportError:
        return None
    import torch

    from mmcam.cam import ClassifierLogits
    wrapped = ClassifierLogits(model)

    def run(inputs, categories):
        extractor = ScoreCAM(
            wrapped,
            target_layer='model.' + LAYER,
            batch_size=batch_size,
            input_shape=tuple(inputs.shape[1:]))
        try:
            with torch.no_grad():
                scores = wrapped(inputs)
            return [
                extractor(class_idx=categories[:, k].tolist(),
                          scores=scores)[0] for k in range(categories.shape[1])
            ]
        finally:
            extractor.remove_hooks()

    return run


RUNNERS = {
    'mmcam': mmcam_runner,
    'grad-cam': grad_cam_runner,
    'torchcam': torchcam_runner
}


class PassCounter:
    """Counts calls of the network and the images each carried through
    all of it (at the backbone's input)."""

    def __init__(self, model):
        self.passes = self.images = 0
        self.handle = model.backbone.register_forward_pre_hook(self.count)

    def count(self, module, args):
        self.passes += 1
        self.images += args[0].shape[0]

    def reset(self):
        self.passes = self.images = 0


# ----------------------------------------------------------------------
# Measurement
# ----------------------------------------------------------------------
def load_line() -> str:
    return ', '.join(f'{value:.1f}' for value in os.getloadavg())


def main():
    args = parse_args()
    import numpy as np
    import torch
    model = load_model(args.checkpoint)
    photos = load_photos(model, args.size, args.photos)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f'Machine: {platform.processor() or platform.machine()}, '
          f'{os.cpu_count()} cores; torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads; load average at start: '
          f'{load_line()}')
    print(f'Command: python benchmarks/benchmark_perturbation.py '
          f'{" ".join(sys.argv[1:])}'.rstrip())

    with torch.no_grad():
        ranked = model(photos, mode='tensor').argsort(dim=1, descending=True)
    settings = [(method, b, k) for method in args.methods for b in args.images
                for k in args.topk]
    runners = {}
    for method in args.methods:
        for name in args.libraries:
            runner = RUNNERS[name](model, method, args.batch_size)
            if runner is not None:
                runners[method, name] = runner
    counter = PassCounter(model)
    times, passes, maps = {}, {}, {}
    for round_index in range(args.rounds):
        for method, b, k in settings:
            names = [n for (m, n) in runners if m == method]
            # Rotate the order each round and setting, so no library always
            # runs first (or right after another's memory churn).
            shift = (round_index + len(times)) % len(names)
            for name in names[shift:] + names[:shift]:
                inputs = photos[:b]
                categories = ranked[:b, :k]
                counter.reset()
                start = time.perf_counter()
                result = runners[method, name](inputs, categories)
                elapsed = time.perf_counter() - start
                key = (method, b, k, name)
                times.setdefault(key, []).append(elapsed / b)
                passes[key] = (counter.passes, counter.images)
                if name in ('mmcam', 'grad-cam'):
                    maps[key] = np.asarray(result)
                print(
                    f'  round {round_index + 1}: {method} {b} image(s) '
                    f'top-{k} {name}: {elapsed / b:.2f} s/image '
                    f'(load {load_line()})',
                    flush=True)

    print(f'\nLoad average at end: {load_line()}\n')
    print('| method | images x px, classes | mmcam s/img | grad-cam s/img '
          '| torchcam s/img | mmcam speed-up vs faster peer '
          '| passes (full-network images) mmcam / grad-cam / torchcam '
          '| max abs map diff mmcam vs grad-cam |')
    print('|---|---|---|---|---|---|---|---|')
    for method, b, k in settings:
        row = {}
        for name in RUNNERS:
            key = (method, b, k, name)
            row[name] = statistics.median(times[key]) if key in times \
                else None
        peers = [row[n] for n in ('grad-cam', 'torchcam') if row[n]]
        speedup = f'{min(peers) / row["mmcam"]:.1f}x' \
            if peers and row['mmcam'] else '-'
        counts = ' / '.join(
            f'{passes[key][0]} ({passes[key][1]})' if key in passes else '-'
            for key in [(method, b, k, n) for n in RUNNERS])
        compared = [maps.get((method, b, k, n)) for n in ('mmcam', 'grad-cam')]
        diff = '-' if any(m is None for m in compared) else \
            f'{np.abs(compared[0] - compared[1]).max():.1e}'
        cells = [
            f'{row[n]:.2f}' if row[n] is not None else '-' for n in RUNNERS
        ]
        print(f'| {method} | {b}x{args.size}, top-{k} | {" | ".join(cells)}'
              f' | {speedup} | {counts} | {diff} |')
    print(f'\n- {args.rounds} interleaved round(s), median per variant; '
          f'perturbation batch {args.batch_size} for every library; layer '
          f'{LAYER} (1280 channels); photos: {", ".join(args.photos)}.')
    print('- A pass is one call of the network; in brackets the images '
          'that went through all of it.')


if __name__ == '__main__':
    main()
