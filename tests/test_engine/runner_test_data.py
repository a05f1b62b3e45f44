"""Paths and facts about the Runner tests' dataset, importable by name.

Kept out of conftest.py: several test folders have a conftest.py, and which
one ``from conftest import`` finds depends on collection order.
"""
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

TINY_CONFIG = str(REPO / 'configs' / 'tiny' / 'resnet-tiny_shapes_cam.py')

# Four discs, four squares and one black square: an odd number, so the
# sampler pads on two processes. The black image sorts last
# (square/9.png): sample 8 of 9.
NUM_SAMPLES = 9
BLACK_SAMPLE = 8


def every(interval):
    """The dataset indices CAMHook explains at ``interval``."""
    return list(range(0, NUM_SAMPLES, interval))
