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

    debug = _run_api(lite0_checkpoint, MMCAM_DEBUG='1')
    assert debug.returncode == 0, debug.stderr
    assert 'backbone feature_info' in debug.stdout + debug.stderr
    assert 'MultiScaleDeformableAttention' in debug.stderr
