"""Drawing heatmaps and handing them to mmengine's vis backends."""
from .cam_visualizer import CAMVisualizer, save_picture, save_raw_heatmap
from .display import check_can_show, show_picture
from .overlay import (add_caption, colormap_code, overlay_heatmap,
                      score_caption)

__all__ = [
    'CAMVisualizer', 'add_caption', 'check_can_show', 'colormap_code',
    'overlay_heatmap', 'save_picture', 'save_raw_heatmap', 'score_caption',
    'show_picture'
]
