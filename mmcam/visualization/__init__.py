"""Drawing heatmaps and handing them to mmengine's vis backends."""
from .cam_visualizer import CAMVisualizer, save_picture
from .display import check_can_show, show_picture
from .overlay import add_caption, colormap_code, overlay_heatmap

__all__ = [
    'CAMVisualizer', 'add_caption', 'check_can_show', 'colormap_code',
    'overlay_heatmap', 'save_picture', 'show_picture'
]
