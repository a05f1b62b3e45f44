"""Where the real-model tests find the config, the converter and photos."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / 'configs' / 'efficientnet_lite'
CONFIG = CONFIG_DIR / 'efficientnet-lite0_in1k.py'
WHOLE_IMAGE_CONFIG = CONFIG_DIR / 'efficientnet-lite0_in1k_whole-image.py'
CONVERTER = REPO_ROOT / 'tools' / 'model_converters' / \
    'efficientnet_lite0_to_mmpretrain.py'
VIS_CAM = REPO_ROOT / 'tools' / 'vis_cam.py'
PHOTOS = REPO_ROOT / 'demo' / 'photos'
