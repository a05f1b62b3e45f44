"""The Python API prints nothing of its own stack's chatter: no
``backbone feature_info`` INFO lines from the timm backbone, no mmcv-lite
warning; ``MMCAM_DEBUG=1`` shows them. In fresh processes, since mmcv
warns once, when it is first imported."""
import os
import subprocess
import sys

from lite0_paths import CONFIG, PHOTOS, REPO_ROOT

SCRIPT = '''
import sys
from mmcam.apis import CAMInferencer
inferencer = CAMInferencer(sys.argv[1], pretrained=sys.argv[2], device='cpu')
print('prediction', inferencer(sys.argv[3])[0]['pred_label'])
'''


def _run_api(checkpoint, **env):
    return subprocess.run([
        sys.executable, '-c', SCRIPT,
        str(CONFIG),
        str(checkpoint),
        str(PHOTOS / 'coffee.jpg')
    ],
                          cwd=REPO_ROOT,
                          env=dict(
                              os.environ, PYTHONPATH=str(REPO_ROOT), **env),
                          capture_output=True,
                          text=True,
                          timeout=300)


def test_api_output_is_the_users_only(lite0_checkpoint):
    quiet = _run_api(lite0_checkpoint, MMCAM_DEBUG='')
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == 'prediction 967\n'
    assert 'feature_info' not in quiet.stderr + quiet.stdout
    assert 'MultiScaleDeformableAttention' not in quiet.stderr


def test_debug_or_info_logging_shows_the_chatter(monkeypatch):
    """What ``MMCAM_DEBUG=1`` or the user's INFO logging changes, in this
    process (a second real-model process would cost seconds)."""
    import logging
    import warnings

    from mmengine.logging import MMLogger

    from mmcam import library_noise
    logger = MMLogger.get_current_instance()
    monkeypatch.setattr(logger, 'level', logging.INFO)

    monkeypatch.setenv('MMCAM_DEBUG', '')
    with library_noise.quiet_model_building():
        assert logger.level == logging.WARNING
    assert logger.level == logging.INFO
    monkeypatch.setattr(logging.getLogger(), 'level', logging.INFO)
    with library_noise.quiet_model_building():
        assert logger.level == logging.INFO  # the user asked for INFO
    monkeypatch.setattr(logging.getLogger(), 'level', logging.WARNING)

    monkeypatch.setenv('MMCAM_DEBUG', '1')
    with library_noise.quiet_model_building():
        assert logger.level == logging.INFO
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        library_noise.silence_library_warnings()  # does nothing now
        warnings.warn('Fail to import ``MultiScaleDeformableAttention`` '
                      'from ``mmcv.ops.multi_scale_deform_attn``')
    assert len(caught) == 1

    monkeypatch.setenv('MMCAM_DEBUG', '')
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        library_noise.silence_library_warnings()
        warnings.warn('Fail to import ``MultiScaleDeformableAttention`` '
                      'from ``mmcv.ops.multi_scale_deform_attn``')
        warnings.warn("'pin_memory' argument is set as true but no "
                      'accelerator is found, then device pinned memory '
                      "won't be used.")
        warnings.warn('any other warning')
    assert [str(w.message) for w in caught] == ['any other warning']
