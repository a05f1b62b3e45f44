"""The engine's reduced-SVD projection is grad-cam's, only cheaper."""
import numpy as np
import pytorch_grad_cam.eigen_cam as eigen_cam
from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection

from mmcam.cam.projection import (first_component_projection,
                                  reduced_svd_in_grad_cam)


def test_reduced_svd_projection_equals_grad_cams():
    rng = np.random.default_rng(0)
    for channels, h, w in [(64, 7, 7), (2048, 7, 7), (16, 14, 20)]:
        batch = rng.standard_normal((3, channels, h, w)).astype(np.float32)
        batch *= rng.random((1, channels, 1, 1)).astype(np.float32)
        batch[0, 0, 0, 0] = np.nan
        np.testing.assert_allclose(
            first_component_projection(batch),
            get_2d_projection(batch),
            atol=1e-4)
    with reduced_svd_in_grad_cam():
        assert eigen_cam.get_2d_projection is first_component_projection
    assert eigen_cam.get_2d_projection is get_2d_projection
