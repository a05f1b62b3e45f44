"""Method families as ``--list-methods`` shows them and the engine runs
them."""
from mmcam.cam import get_method
from mmcam.cam.method_names import method_listing


def _families():
    return {
        line.split()[0]: line.split()[1]
        for line in method_listing().splitlines()
    }


def test_methods_that_need_gradients_beyond_the_layer_are_not_perturbation():
    families = _families()
    assert families['FullGrad'] == families['ShapleyCAM'] == 'full-backward'
    assert families['ScoreCAM'] == families['AblationCAM'] == 'perturbation'
    assert families['GradCAM'] == 'gradient'
    assert families['EigenCAM'] == 'activation'
    assert get_method('fullgrad').family == 'full-backward'
