"""Drawing heatmaps and handing them to mmengine's vis backends."""
from .cam_visualizer import CAMVisualizer, save_picture, save_raw_heatmap
from .overlay import add_caption, colormap_code, overlay_heatmap

__all__ = [
    'CAMVisualizer', 'add_caption', 'colormap_code', 'overlay_heatmap',
    'save_picture', 'save_raw_heatmap'
]
