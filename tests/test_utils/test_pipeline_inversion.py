"""The test pipeline's geometry, replayed backwards onto the image."""
import numpy as np
import pytest
from mmengine.registry import DefaultScope
from mmpretrain.registry import TRANSFORMS

from mmcam.utils import InputGeometry, InvertiblePipeline


def smooth_image(height, width):
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([
        127 + 120 * np.sin(xx / 9.0), 127 + 120 * np.cos(yy / 7.0),
        (xx + yy) * 255 / (height + width)
    ], -1)
    return image.astype(np.uint8)


def build(pipeline):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return InvertiblePipeline(pipeline, TRANSFORMS.build)


PIPELINES = {
    'resize_edge_center_crop': [
        dict(type='LoadImageFromFile'),
        dict(type='ResizeEdge', scale=72, edge='short'),
        dict(type='CenterCrop', crop_size=64),
        dict(type='PackInputs')
    ],
    'resize_non_square':
    [dict(type='Resize', scale=(48, 32)),
     dict(type='PackInputs')],
    'crop_larger_than_image_padded': [
        dict(type='ResizeEdge', scale=40, edge='long'),
        dict(type='CenterCrop', crop_size=48, auto_pad=True),
        dict(type='PackInputs')
    ],
    'efficientnet_center_crop': [
        dict(type='EfficientNetCenterCrop', crop_size=60, crop_padding=12),
        dict(type='PackInputs')
    ],
}


@pytest.mark.parametrize('name', list(PIPELINES))
@pytest.mark.parametrize('hw', [(80, 100), (90, 70)])
def test_network_input_maps_back_onto_the_image(name, hw):
    """Map the network input itself back: inside the region the network
    saw it must reproduce the original image (up to resampling blur)."""
    pipeline = build(PIPELINES[name])
    assert pipeline.invertible
    image = smooth_image(*hw)
    packed, geometry = pipeline(
        dict(img=image.copy(), img_shape=hw, ori_shape=hw))
    network_input = packed['inputs'].numpy().astype(np.float32) / 255
    assert geometry.input_hw == tuple(network_input.shape[1:])
    mapped = geometry.to_image(network_input)  # (3, H, W)
    mask = geometry.region_mask()
    # Away from the region's border, where bilinear sampling is exact.
    inner = mask.copy()
    inner[:2] = inner[-2:] = False
    inner[:, :2] = inner[:, -2:] = False
    inner &= np.roll(mask, 2, 0) & np.roll(mask, -2, 0) & np.roll(
        mask, 2, 1) & np.roll(mask, -2, 1)
    assert inner.sum() > 0.3 * mask.sum()
    original = image.transpose(2, 0, 1).astype(np.float32) / 255
    error = np.abs(mapped - original)[:, inner]
    assert error.mean() < 0.03, error.mean()
    assert (mapped[:, ~mask] == 0).all()


def test_resize_edge_center_crop_region():
    pipeline = build(PIPELINES['resize_edge_center_crop'])
    image = smooth_image(80, 100)
    _, geometry = pipeline(
        dict(img=image, img_shape=(80, 100), ori_shape=(80, 100)))
    # Short edge 80 -> 72 (x0.9): 72x90, then a centred 64x64 crop at
    # x=13, y=4 of the resized image.
    x1, y1, x2, y2 = geometry.input_region
    assert np.allclose([x1, y1, x2, y2], [13 / .9, 4 / .9, 77 / .9, 68 / .9])


def test_other_geometric_transforms_are_reported():
    pipeline = build([
        dict(type='ResizeEdge', scale=72),
        dict(type='RandomFlip', prob=0.),
        dict(type='PackInputs')
    ])
    assert not pipeline.invertible
    assert 'RandomFlip' in pipeline.note
    packed, geometry = pipeline(dict(img=smooth_image(80, 100)))
    assert geometry is None
    assert packed['inputs'].shape[-2:] == (72, 90)


def test_identity_geometry_keeps_heatmaps():
    geometry = InputGeometry.identity((5, 7))
    heatmaps = np.random.default_rng(0).random((2, 5, 7)).astype(np.float32)
    assert np.allclose(geometry.to_image(heatmaps), heatmaps, atol=1e-6)
