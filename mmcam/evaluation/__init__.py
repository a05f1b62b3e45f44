"""Explanation quality: faithfulness and localisation metrics of
heatmaps, for the API, the tool and Runner loops."""
from .cam_metric import CAMMetric
from .cam_quality import (FAITHFULNESS_METRICS, LOCALISATION_METRICS,
                          METRIC_NAMES, CAMQuality, parse_metric_names,
                          values_per_image)
from .faithfulness import (SUBSTRATES, TIE_BREAKS, average_drop, curve_auc,
                           gaussian_blur, increase_in_confidence, pixel_ranks,
                           step_pixel_counts, substrate_images)
from .localisation import (GroundTruthRegion, energy_pointing_game,
                           pointing_game)
from .pixel_space import PixelSpace

__all__ = [
    'CAMMetric', 'CAMQuality', 'FAITHFULNESS_METRICS', 'GroundTruthRegion',
    'LOCALISATION_METRICS', 'METRIC_NAMES', 'PixelSpace', 'SUBSTRATES',
    'TIE_BREAKS', 'average_drop', 'curve_auc', 'energy_pointing_game',
    'gaussian_blur', 'increase_in_confidence', 'parse_metric_names',
    'pixel_ranks', 'pointing_game', 'step_pixel_counts', 'substrate_images',
    'values_per_image'
]
