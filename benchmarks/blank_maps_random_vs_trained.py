"""Are the zoo sweep's blank heatmaps a property of random weights?

For each config: how many of ``--seeds`` random initialisations give a
blank (constant) heatmap of scikit-image's cat photo with each method at
the default layer, and whether the first one still does after
``--steps`` SGD steps that train every weight (frozen stages included) on
three photos (cat: tabby 281, coffee: espresso 967, rocket: space shuttle
812), random-resized crops, batch 3. The photo's heatmaps after training
explain the tabby class. Prints one markdown table.

    OMP_NUM_THREADS=1 python benchmarks/blank_maps_random_vs_trained.py \\
        [--configs mmpretrain::levit/levit-128s_8xb256_in1k.py ...]
        [--seeds 8] [--steps 20]
"""
import argparse
import logging
import os
import os.path as osp
import sys
import time
import warnings

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)  # run from a checkout without installing

METHODS = ('GradCAM', 'GradCAM++', 'LayerCAM', 'EigenCAM')
CONFIGS = (
    'mmpretrain::levit/levit-128s_8xb256_in1k.py',
    'mmpretrain::mocov3/benchmarks/'
    'vit-small-p16_8xb128-linear-coslr-90e_in1k.py',
    'mmpretrain::conformer/conformer-tiny-p16_8xb128_in1k.py',
    'mmpretrain::t2t_vit/t2t-vit-t-14_8xb64_in1k.py',
)
PHOTOS = (('chelsea', 281), ('coffee', 967), ('rocket', 812))


def parse_args():
    parser = argparse.ArgumentParser(
        description=' '.join(__doc__.split('\n\n')[0].split()))
    parser.add_argument('--configs', nargs='+', default=list(CONFIGS))
    parser.add_argument('--methods', nargs='+', default=list(METHODS))
    parser.add_argument('--seeds', type=int, default=8)
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--lr', type=float, default=0.01)
    return parser.parse_args()


def network_input(inferencer, image):
    """The preprocessed ``(1, 3, H, W)`` input of a BGR image."""
    packed, _ = inferencer.pipeline(inferencer._results_of(image, None))
    return inferencer.model.data_preprocessor(
        dict(inputs=[packed['inputs']]), False)['inputs']


def blank_methods(model, inputs, methods, category=None):
    """``{method: True if the map is constant}`` at the default layer."""
    from mmcam.cam import CAMEngine
    blank = {}
    for method in methods:
        engine = CAMEngine(
            model,
            method=method,
            target_category=None if category is None else [category])
        blank[method] = bool(engine(inputs).constant.all())
    return blank


def train_steps(model, inferencer, steps: int, lr: float):
    """``steps`` SGD steps on random-resized crops of the three photos;
    returns the loss of the first and the last step."""
    import torch
    import torch.nn.functional as F
    from skimage import data
    images = [getattr(data, name)()[:, :, ::-1].copy() for name, _ in PHOTOS]
    inputs = torch.cat([network_input(inferencer, im) for im in images])
    labels = torch.tensor([label for _, label in PHOTOS])
    from mmcam.cam.engine import ClassifierLogits
    # train() first: backbones with frozen stages freeze them again there.
    model.train()
    # Distillation heads (LeViT, DeiT) cannot train without a teacher;
    # in eval mode they average their two classifiers, which trains both.
    model.head.eval()
    for param in model.parameters():
        param.requires_grad_(True)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    losses = []
    size = inputs.shape[-1]
    for _ in range(steps):
        crops = []
        for image in inputs:
            side = int(size * (0.6 + 0.4 * torch.rand(1, generator=generator)))
            top, left = torch.randint(0, size - side + 1, (2, ),
                                      generator=generator).tolist()
            crop = image[:, top:top + side, left:left + side]
            crops.append(
                F.interpolate(crop[None], size=inputs.shape[-2:],
                              mode='bilinear', align_corners=False))
        logits = ClassifierLogits(model)(torch.cat(crops))
        loss = F.cross_entropy(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    model.eval()
    return losses[0], losses[-1]


def measure(config: str, args) -> dict:
    import torch
    from mmengine.hub import get_config
    from mmpretrain.registry import MODELS
    from skimage import data

    from mmcam.apis import CAMInferencer
    cfg = get_config(config) if '::' in config else config
    inferencer = CAMInferencer(
        cfg, pretrained=None, device='cpu', show_progress=False)
    inputs = network_input(inferencer, data.chelsea()[:, :, ::-1].copy())
    counts = dict.fromkeys(args.methods, 0)
    first = None
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        model = MODELS.build(inferencer.cfg.model).eval()
        if first is None:
            first = model
        for method, blank in blank_methods(model, inputs,
                                           args.methods).items():
            counts[method] += blank
    start = time.perf_counter()
    loss_first, loss_last = train_steps(first, inferencer, args.steps,
                                        args.lr)
    trained = blank_methods(first, inputs, args.methods, PHOTOS[0][1])
    return dict(
        counts=counts,
        trained=trained,
        loss=(loss_first, loss_last),
        train_seconds=time.perf_counter() - start)


def main() -> int:
    args = parse_args()
    import mmcam  # noqa: F401  (stack fixes, registries)
    from mmengine.logging import MMLogger
    warnings.simplefilter('ignore')
    # The engine's blank-map warnings are what this counts, not news.
    MMLogger.get_current_instance().setLevel(logging.ERROR)
    print(f"torch threads: {os.environ.get('OMP_NUM_THREADS', 'unset')}; "
          f'load average {os.getloadavg()[0]:.1f}; {args.seeds} seeds, '
          f'{args.steps} SGD steps (lr {args.lr}, batch 3)')
    rows = []
    for config in args.configs:
        result = measure(config, args)
        rows.append((config, result))
        print(config, result, flush=True)
    print()
    print('| config | ' + ' | '.join(
        f'{m} blank, random (of {args.seeds})' for m in args.methods) +
          f' | after {args.steps} steps: blank methods | loss first -> '
          'last |')
    print('|' + ' --- |' * (len(args.methods) + 3))
    for config, result in rows:
        trained = [m for m, b in result['trained'].items() if b]
        print(f'| {config.split("::")[-1]} | ' + ' | '.join(
            str(result['counts'][m]) for m in args.methods) +
              f" | {', '.join(trained) or 'none'} | "
              f"{result['loss'][0]:.2f} -> {result['loss'][1]:.2f} |")
    print(f'\nload average {os.getloadavg()[0]:.1f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
