"""CAMInferencer end to end on tiny random-init classifiers."""
import cv2
import numpy as np
import pytest
import torch

from mmcam import CAMInferencer
from mmcam.cam import CAMError


INNER_NORM = 'backbone.layer4.1.bn2'


@pytest.fixture(scope='module')
def resnet_inferencer(tiny_resnet):
    config, checkpoint = tiny_resnet
    return CAMInferencer(
        str(config),
        pretrained=str(checkpoint),
        device='cpu',
        topk=2,
        target_layers=INNER_NORM)


def test_heatmaps_on_the_image_and_at_the_network_input(
        resnet_inferencer, test_images, tiny_classes):
    result = resnet_inferencer(str(test_images['color']))[0]

    assert result['img_path'] == str(test_images['color'])
    assert result['input_heatmaps'].shape == (2, 64, 64)
    assert result['heatmaps'].shape == (2, 80, 100)  # the JPEG's size
    for maps in (result['heatmaps'], result['input_heatmaps']):
        assert maps.dtype == np.float32
        assert maps.min() >= 0 and maps.max() <= 1
    assert np.allclose(result['input_heatmaps'].max(axis=(1, 2)), 1, atol=1e-5)

    # Short edge 80 -> 72, centre crop 64: the network saw x in
    # [13, 77) / 0.9 and y in [4, 68) / 0.9 of the original image.
    x1, y1, x2, y2 = result['input_region']
    assert np.allclose(result['input_region'],
                       [13 / .9, 4 / .9, 77 / .9, 68 / .9])
    heatmaps = result['heatmaps']
    assert (heatmaps[:, :, :int(x1)] == 0).all()
    assert (heatmaps[:, :, int(np.ceil(x2)):] == 0).all()
    assert (heatmaps[:, :int(y1)] == 0).all()
    assert (heatmaps[:, int(np.ceil(y2)):] == 0).all()
    assert heatmaps[:, int(y1) + 1:int(y2) - 1,
                    int(x1) + 1:int(x2) - 1].max() > 0.9

    # The explained classes are the top two predictions, with names.
    scores = result['pred_scores']
    assert scores.shape == (5, ) and np.isclose(scores.sum(), 1, atol=1e-5)
    assert result['categories'] == list(np.argsort(-scores)[:2])
    assert np.allclose(result['scores'], scores[result['categories']])
    assert result['class_names'] == [
        tiny_classes[c] for c in result['categories']
    ]
    assert result['pred_label'] == result['categories'][0]
    assert result['pred_class'] == tiny_classes[result['pred_label']]
    assert np.isclose(result['pred_score'], scores.max())
    assert result['method'] == 'GradCAM'
    assert result['target_layers'] == [INNER_NORM]
    assert result['note'] is None
    assert 'visualization' not in result  # nothing drawn unless asked


def test_given_categories_per_call(resnet_inferencer, test_images):
    result = resnet_inferencer(
        str(test_images['wide']), target_category=[3, 1, 4])[0]
    assert result['categories'] == [3, 1, 4]
    assert result['class_names'] == ['fish', 'dog', 'frog']
    assert result['heatmaps'].shape == (3, 60, 120)
    with pytest.raises(CAMError, match='target category 7 is out of range'):
        resnet_inferencer(str(test_images['wide']), target_category=[7])


def test_batches_give_the_same_maps_as_single_images(resnet_inferencer,
                                                     test_images):
    folder = str(test_images['color'].parent)
    one_by_one = resnet_inferencer(folder, batch_size=1)
    batched = resnet_inferencer(folder, batch_size=3)
    names = sorted(p.name for p in test_images.values())
    assert [r['img_path'].split('/')[-1] for r in batched] == names
    for single, batch in zip(one_by_one, batched):
        assert single['categories'] == batch['categories']
        assert np.allclose(
            single['input_heatmaps'], batch['input_heatmaps'], atol=1e-4)


def test_glob_and_bgr_arrays(resnet_inferencer, test_images):
    pattern = str(test_images['color'].parent / 'gr*.png')
    from_glob = resnet_inferencer(pattern)
    assert [r['img_path'].split('/')[-1] for r in from_glob] == \
        ['gray.png', 'gray16.png']

    bgr = cv2.imread(str(test_images['color']))
    from_array, gray_array = resnet_inferencer([bgr, bgr[..., 0]])
    from_file = resnet_inferencer(str(test_images['color']))[0]
    assert from_array['img_path'] is None
    assert np.allclose(from_array['heatmaps'], from_file['heatmaps'])
    assert gray_array['heatmaps'].shape == (2, 80, 100)


def test_gray_rgba_and_16_bit_files(resnet_inferencer, test_images):
    for key in ('gray', 'rgba', 'gray16'):
        result = resnet_inferencer(str(test_images[key]))[0]
        assert result['heatmaps'].shape == (2, 80, 100), key
        assert np.isfinite(result['heatmaps']).all(), key


def test_pictures_and_raw_heatmaps(resnet_inferencer, test_images, tmp_path):
    results = resnet_inferencer(
        [str(test_images['color']),
         str(test_images['wide'])],
        show_dir=str(tmp_path),
        save_raw=True)
    for result in results:
        stem = result['img_path'].split('/')[-1].split('.')[0]
        expected = [
            str(tmp_path / f'{stem}_gradcam_{c}.{ext}')
            for c in result['categories'] for ext in ('png', 'npy')
        ]
        assert result['out_files'] == expected
        for k, category in enumerate(result['categories']):
            picture = cv2.imread(
                str(tmp_path / f'{stem}_gradcam_'
                    f'{category}.png'))
            raw = np.load(tmp_path / f'{stem}_gradcam_{category}.npy')
            assert picture.shape[:2] == raw.shape == \
                result['heatmaps'].shape[1:]
            assert raw.dtype == np.float32
            assert np.array_equal(raw, result['heatmaps'][k])
            drawn = result['visualization'][k]
            assert np.array_equal(drawn[..., ::-1], picture)

    with pytest.raises(CAMError, match='makes 4 pictures'):
        resnet_inferencer(
            [str(test_images['color']),
             str(test_images['wide'])],
            out_file=str(tmp_path / 'one.png'))


def test_show_without_a_display_fails_before_any_work(resnet_inferencer,
                                                      test_images,
                                                      monkeypatch):
    monkeypatch.delenv('DISPLAY', raising=False)
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    with pytest.raises(
            CAMError,
            match='no display to show the pictures on; use show_dir='):
        resnet_inferencer(str(test_images['color']), show=True)
    # A display, but matplotlib's backend cannot open windows (Agg here).
    monkeypatch.setenv('DISPLAY', ':0')
    with pytest.raises(CAMError, match="backend 'agg' cannot open a window"):
        resnet_inferencer(str(test_images['color']), show=True)


def test_show_in_a_notebook_draws_into_the_cell(resnet_inferencer, test_images,
                                                monkeypatch):
    import matplotlib.pyplot as plt

    from mmcam.visualization import display
    monkeypatch.delenv('DISPLAY', raising=False)
    # Jupyter's inline backend, as matplotlib names it; figures are still
    # drawn by Agg here, and plt.show() returns at once as inline's does.
    monkeypatch.setattr(display, 'matplotlib_backend',
                        lambda: 'module://matplotlib_inline.backend_inline')
    plt.close('all')
    try:
        result = resnet_inferencer(str(test_images['color']), show=True)[0]
        figures = [plt.figure(n) for n in plt.get_fignums()]
        assert len(figures) == 2  # one per explained class (topk=2)
        shown = figures[0].axes[0].images[0].get_array()
        assert np.array_equal(shown, result['visualization'][0])
    finally:
        plt.close('all')


def test_outside_the_crop_the_picture_is_the_image(resnet_inferencer,
                                                   test_images, tmp_path):
    out_file = tmp_path / 'one.png'
    result = resnet_inferencer(
        str(test_images['color']), topk=1, out_file=str(out_file))[0]
    assert result['out_files'] == [str(out_file)]
    picture = cv2.imread(str(out_file))
    original = cv2.imread(str(test_images['color']))
    # Below the caption, left of the region the network saw: untouched.
    x1 = int(result['input_region'][0])
    assert np.array_equal(picture[30:, :x1], original[30:, :x1])
    assert not np.array_equal(picture[30:, x1 + 2:], original[30:, x1 + 2:])


def test_bad_images_raise_or_are_reported(resnet_inferencer, test_images,
                                          tmp_path):
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'not a png at all')
    inputs = [str(test_images['color']), str(broken)]
    with pytest.raises(CAMError, match='broken.png'):
        resnet_inferencer(inputs)
    good, bad = resnet_inferencer(inputs, on_bad_image='report', batch_size=2)
    assert good['heatmaps'].shape == (2, 80, 100)
    assert bad['img_path'] == str(broken)
    assert 'not an image' in bad['error']


def test_unknown_arguments_are_named(tiny_resnet, resnet_inferencer,
                                     test_images):
    config, checkpoint = tiny_resnet
    with pytest.raises(CAMError, match='unknown CAM setting.*colour'):
        CAMInferencer(str(config), pretrained=str(checkpoint), colour=1)
    with pytest.raises(CAMError, match='unknown argument.*wait'):
        resnet_inferencer(str(test_images['color']), wait=1)


def test_record_layers_lists_shapes_and_the_default(tiny_resnet,
                                                    test_images):
    config, checkpoint = tiny_resnet
    inferencer = CAMInferencer(str(config), pretrained=str(checkpoint))
    records, targets = inferencer.record_layers(str(test_images['color']))
    shapes = {r.name: r.output_shape for r in records}
    assert targets == ['backbone.layer4']
    assert shapes['backbone.layer4'] == (1, 64, 2, 2)
    assert shapes['backbone.conv1'] == (1, 8, 32, 32)
    assert len(shapes) == len(records)  # each module once


def test_vit_on_a_non_square_input(tiny_vit, test_images):
    config, checkpoint = tiny_vit
    inferencer = CAMInferencer(
        str(config), pretrained=str(checkpoint), method='GradCAM++')
    result = inferencer(str(test_images['wide']))[0]
    assert result['input_heatmaps'].shape == (1, 32, 48)
    assert result['heatmaps'].shape == (1, 60, 120)
    assert result['input_region'] == (0.0, 0.0, 120.0, 60.0)
    assert result['target_layers'] == ['backbone.layers.1.ln1']
    assert result['method'] == 'GradCAMPlusPlus'


def test_pipeline_that_cannot_be_inverted(tmp_path, test_images,
                                          tiny_model_writer):
    write_tiny_model = tiny_model_writer
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='ResizeEdge', scale=64, edge='short'),
        dict(type='RandomFlip', prob=0.),
        dict(type='PackInputs'),
    ]
    config, checkpoint = write_tiny_model(tmp_path, pipeline=pipeline)
    inferencer = CAMInferencer(str(config), pretrained=str(checkpoint))
    result = inferencer(
        str(test_images['color']),
        out_file=str(tmp_path / 'cam.png'),
        save_raw=True)[0]
    assert result['heatmaps'] is None and result['input_region'] is None
    assert 'RandomFlip' in result['note']
    assert result['input_heatmaps'].shape == (1, 64, 80)
    # Drawn on the network input instead, raw map of the same size.
    assert cv2.imread(str(tmp_path / 'cam.png')).shape[:2] == (64, 80)
    assert np.load(tmp_path / 'cam.npy').shape == (64, 80)


def test_class_names_fall_back_to_the_config_imagenet_and_ids(
        tmp_path, tiny_model_writer):
    write_tiny_model = tiny_model_writer
    config, checkpoint = write_tiny_model(tmp_path / 'a', classes=None)
    with open(config, 'a') as f:
        f.write("dataset_meta = dict(classes=['a', 'b', 'c', 'd', 'e'])\n")
    inferencer = CAMInferencer(str(config), pretrained=str(checkpoint))
    assert inferencer.classes == ['a', 'b', 'c', 'd', 'e']
    assert inferencer.classes_source == 'config dataset_meta'

    config, checkpoint = write_tiny_model(
        tmp_path / 'b', num_classes=1000, classes=None)
    inferencer = CAMInferencer(str(config), pretrained=str(checkpoint))
    assert inferencer.classes_source == 'ImageNet'
    assert inferencer.class_name(281) == 'tabby, tabby cat'

    config, checkpoint = write_tiny_model(
        tmp_path / 'c', num_classes=3, classes=None)
    inferencer = CAMInferencer(str(config), pretrained=str(checkpoint))
    assert inferencer.classes == ['class 0', 'class 1', 'class 2']


def test_checkpoint_problems_are_one_line_errors(tiny_resnet, tiny_vit,
                                                 tiny_model_writer, tmp_path):
    config, _ = tiny_resnet
    _, vit_checkpoint = tiny_vit

    def error_of(pretrained, **kwargs):
        with pytest.raises(CAMError) as info:
            CAMInferencer(str(config), pretrained=str(pretrained), **kwargs)
        message = str(info.value)
        assert '\n' not in message
        return message

    assert 'does not exist' in error_of(tmp_path / 'missing.pth')
    not_a_checkpoint = tmp_path / 'notes.pth'
    not_a_checkpoint.write_text('hello')
    assert 'is not a PyTorch checkpoint' in error_of(not_a_checkpoint)

    message = error_of(vit_checkpoint)
    assert 'does not fit the config' in message
    assert 'missing key(s) (backbone.conv1.weight' in message
    assert 'unexpected key(s)' in message

    _, seven_classes = tiny_model_writer(tmp_path, num_classes=7)
    message = error_of(seven_classes)
    assert 'shape mismatch(es) (head.fc.weight: checkpoint (7, 64), ' \
        'model (5, 64)' in message

    # No network here: the download fails with a hint.
    message = error_of('https://download.openmmlab.com/nowhere/tiny.pth')
    assert "could not download checkpoint 'https://download" in message


def test_runner_style_checkpoint_loads_with_weights_only(
        tmp_path, tiny_resnet, tiny_classes):
    from mmengine.logging import HistoryBuffer
    from mmengine.runner import save_checkpoint
    config, checkpoint = tiny_resnet
    state = torch.load(str(checkpoint), weights_only=True)
    state['message_hub'] = dict(
        log_scalars={'train/loss': HistoryBuffer([1.0, 0.5], [1, 1])},
        runtime_info=dict(epoch=np.int64(3), iter=np.float64(7.0)))
    runner_like = tmp_path / 'epoch_3.pth'
    save_checkpoint(state, str(runner_like))
    inferencer = CAMInferencer(str(config), pretrained=str(runner_like))
    assert inferencer.classes == list(tiny_classes)


def test_model_names_and_configs(tiny_resnet):
    from mmengine.config import Config
    config, checkpoint = tiny_resnet
    # A Config object with overrides, as --cfg-options gives them.
    inferencer = CAMInferencer(
        Config.fromfile(str(config)),
        pretrained=False,
        cfg_options={'model.head.num_classes': 3})
    assert inferencer.model.head.fc.out_features == 3
    # mmpretrain model names resolve through its model index; their
    # released weights cannot be downloaded here.
    with pytest.raises(
            CAMError,
            match="could not download checkpoint "
            "'https://download.openmmlab.com/.*resnet18"):
        CAMInferencer('resnet18_8xb32_in1k')
    # Configs inside mmpretrain's package, by their 'mmpretrain::' path.
    in_package = CAMInferencer(
        'mmpretrain::resnet/resnet18_8xb32_in1k.py', pretrained=False)
    assert in_package.classes_source == 'dataset type ImageNet'
    with pytest.raises(CAMError, match="'resnet-nope' is neither"):
        CAMInferencer('resnet-nope')
    with pytest.raises(CAMError, match="config '.*nope.py' does not exist"):
        CAMInferencer('nope.py')
    with pytest.raises(CAMError, match="could not build the model.*19"):
        CAMInferencer(
            str(config),
            pretrained=False,
            cfg_options={'model.backbone.depth': 19})
    with pytest.raises(CAMError, match="device 'cuda:7' is not available"):
        CAMInferencer(str(config), pretrained=False, device='cuda:7')


def test_a_failing_image_in_a_batch_spares_the_others(resnet_inferencer,
                                                      test_images, tmp_path,
                                                      monkeypatch):
    """The network (here: out of memory on the constant black image) and
    the drawing (here: a full disk for one file) fail for one image; with
    ``on_bad_image='report'`` the others are explained and written."""
    engine = resnet_inferencer.engine

    class FailsOnConstantImages:

        def __init__(self, real):
            self.real = real

        def __getattr__(self, name):
            return getattr(self.real, name)

        def __call__(self, inputs, **kwargs):
            if (inputs.flatten(2).std(dim=2) == 0).all(dim=1).any():
                raise MemoryError('out of memory')
            return self.real(inputs, **kwargs)

    from mmcam.visualization import result_files
    real_save = result_files.save_picture

    def save_unless_gray(picture, path):
        if 'gray' in str(path):
            raise OSError(28, 'No space left on device')
        real_save(picture, path)

    monkeypatch.setattr(resnet_inferencer, 'engine',
                        FailsOnConstantImages(engine))
    monkeypatch.setattr(result_files, 'save_picture', save_unless_gray)
    black = np.zeros((64, 64, 3), np.uint8)
    images = [
        str(test_images['color']), black,
        str(test_images['gray']),
        str(test_images['rgba'])
    ]
    results = resnet_inferencer(
        images,
        batch_size=4,
        on_bad_image='report',
        show_dir=str(tmp_path),
        target_category=1)
    assert [r['img_path']
            for r in results] == [images[0], None, images[2], images[3]]
    assert 'error' not in results[0] and 'error' not in results[3]
    assert results[1]['error'] == (
        "no heatmap for image 'array 1': MemoryError: out of memory")
    assert results[2]['error'].startswith(
        f'could not draw or write image {images[2]!r}: OSError:')
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'color_gradcam_1.png', 'rgba_gradcam_1.png'
    ]
    with pytest.raises(MemoryError):
        resnet_inferencer(images[:2], batch_size=2)


@pytest.mark.parametrize('kwargs, message', [
    (dict(topk=True), 'topk must be a positive integer, got True'),
    (dict(target_category=[281.9]), 'target category 281.9 is not a class id'),
    (dict(target_category=True), 'target category True is not a class id'),
])
def test_call_settings_are_validated(resnet_inferencer, test_images, kwargs,
                                     message):
    with pytest.raises(CAMError, match=message):
        resnet_inferencer(str(test_images['color']), **kwargs)


def test_classes_must_name_every_class(tiny_resnet):
    config, checkpoint = tiny_resnet
    with pytest.raises(
            CAMError, match='classes has 2 name.s. but the head has 5'):
        CAMInferencer(
            str(config), pretrained=str(checkpoint), classes=['a', 'b'])


@pytest.mark.parametrize('kwargs, message', [
    (dict(target_category=5), 'target category 5 is out of range: the head '
     r'has 5 classes \(0..4\)'),
    (dict(target_category=[1, 9]), 'target category 9 is out of range'),
    (dict(topk=6), 'topk 6 exceeds the 5 classes of the head'),
])
def test_categories_outside_the_head_fail_once_up_front(
        tiny_resnet, resnet_inferencer, test_images, monkeypatch, kwargs,
        message):
    """At construction, and for a call's overrides before any image is
    read (not once per image of a folder)."""
    from mmcam.apis import cam_inferencer
    config, checkpoint = tiny_resnet
    with pytest.raises(CAMError, match=message):
        CAMInferencer(str(config), pretrained=str(checkpoint), **kwargs)
    reads = []
    monkeypatch.setattr(cam_inferencer, 'read_image',
                        lambda *args: reads.append(args))
    with pytest.raises(CAMError, match=message):
        resnet_inferencer(str(test_images['color'].parent), **kwargs)
    assert reads == []


def test_built_inside_inference_mode(tiny_resnet, test_images):
    """The inferencer builds its model outside inference mode, so it
    works inside and outside; a model built inside is one CAMError when
    the engine is built, not a RuntimeError on every call."""
    from mmcam.cam import CAMEngine
    config, checkpoint = tiny_resnet
    with torch.inference_mode():
        inferencer = CAMInferencer(
            str(config),
            pretrained=str(checkpoint),
            device='cpu',
            target_layers=INNER_NORM)
        inside = inferencer(str(test_images['color']))[0]['heatmaps']
    outside = inferencer(str(test_images['color']))[0]['heatmaps']
    np.testing.assert_array_equal(inside, outside)
    assert outside.max() > 0.9

    with torch.inference_mode():
        model = torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(), torch.nn.Linear(4, 2))
    with pytest.raises(CAMError, match='inside torch.inference_mode'):
        CAMEngine(model)


def test_constant_heatmap_is_a_warning_naming_the_image(
        tiny_vit, test_images, monkeypatch):
    from mmengine.logging import MMLogger
    lines = []
    monkeypatch.setattr(MMLogger.get_current_instance(), 'warning',
                        lines.append)
    config, checkpoint = tiny_vit
    # The last block's ln2 does not reach the class token the head reads.
    inferencer = CAMInferencer(
        str(config),
        pretrained=str(checkpoint),
        target_layers='backbone.layers.1.ln2')
    image = str(test_images['wide'])
    inferencer([image, cv2.imread(image)], batch_size=2)
    assert len(lines) == 2
    assert lines[0].startswith(f'GradCAM heatmap of image {image!r} for ')
    assert lines[1].startswith('GradCAM heatmap of array 1 for ')
    assert all('backbone.layers.1.ln2 is constant' in line for line in lines)
