"""The quick start's run of tools/vis_cam.py on the real model: the demo
photos folder in, one overlay per photo out, predictions printed."""
import os
import subprocess
import sys

import cv2
from lite0_paths import CONFIG, PHOTOS, REPO_ROOT, VIS_CAM


def test_quick_start_run_writes_an_overlay_per_photo(lite0_checkpoint,
                                                     tmp_path):
    out = tmp_path / 'quickstart'
    done = subprocess.run([
        sys.executable,
        str(VIS_CAM),
        str(PHOTOS),
        str(CONFIG),
        str(lite0_checkpoint), '--save-path',
        str(out)
    ],
                          cwd=REPO_ROOT,
                          env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
                          capture_output=True,
                          text=True,
                          timeout=600)

    assert done.returncode == 0, done.stderr
    assert 'GradCAM at backbone.timm_model.bn2' in done.stdout
    assert 'coffee.jpg: espresso (967)' in done.stdout
    assert 'cameraman.jpg: tripod (872)' in done.stdout
    assert f'wrote 3 picture(s) to {out}' in done.stdout
    written = sorted(p.name for p in out.iterdir())
    # Tiger cat (0.39) leads Egyptian cat (0.34); any domestic cat will do.
    cat_pictures = [f'cat_gradcam_{c}.png' for c in range(281, 286)]
    assert len(written) == 3 and written[1] in cat_pictures, written
    assert written[0] == 'cameraman_gradcam_872.png'
    assert written[2] == 'coffee_gradcam_967.png'
    for name, photo in zip(written,
                           ['cameraman.jpg', 'cat.jpg', 'coffee.jpg']):
        picture = cv2.imread(str(out / name))
        # Drawn on the original photo, at its size.
        assert picture.shape == cv2.imread(str(PHOTOS / photo)).shape
