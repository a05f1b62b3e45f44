"""CAMVisualizer draws overlays, captions and rows, and builds from any
scope."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from mmcam.visualization import CAMVisualizer, overlay_heatmap  # noqa: E402


def _image(height=48, width=64):
    image = np.zeros((height, width, 3), np.uint8)
    image[:, :, 1] = 120
    return image


def test_overlay_keeps_the_image_where_there_is_no_heatmap():
    image = _image()
    heatmap = np.full((12, 16), np.nan, np.float32)
    heatmap[:, 8:] = 1.0  # the right half only
    drawn = overlay_heatmap(image, heatmap, alpha=0.5)
    assert drawn.shape == image.shape
    assert (drawn[:, :20] == image[:, :20]).all()
    assert (drawn[:, 40:] != image[:, 40:]).any()


def test_panels_and_rows():
    visualizer = CAMVisualizer(name='test_rows', max_columns=2)
    image = _image()
    maps = np.random.default_rng(0).random((3, 48, 64)).astype(np.float32)
    drawn = visualizer.draw_cam(image, maps)
    # Two rows: original + 2 overlays, original + 1 overlay (4 px gaps).
    assert drawn.shape == (2 * 48 + 4, 3 * 64 + 2 * 4, 3)


def test_small_images_are_enlarged_by_a_whole_factor():
    visualizer = CAMVisualizer(name='test_min_size', min_size=100)
    image = _image(32, 40)
    drawn = visualizer.draw_cam(image, np.ones((32, 40), np.float32))
    # ceil(100 / 32) = 4: two 128x160 panels side by side.
    assert drawn.shape == (128, 2 * 160 + 4, 3)
    assert CAMVisualizer(name='test_default').draw_cam(
        image, np.ones((32, 40), np.float32)).shape == (32, 84, 3)


def test_builds_under_mmpretrain_scope():
    from mmpretrain.registry import VISUALIZERS

    import mmcam  # noqa: F401  (registers CAMVisualizer)
    visualizer = VISUALIZERS.build(
        dict(type='CAMVisualizer', name='test_scope', colormap='turbo'))
    assert isinstance(visualizer, CAMVisualizer)
    assert visualizer.colormap == 'turbo'


def test_mmengine_drawing_methods_work_on_the_deferred_figure():
    """CAMVisualizer builds mmengine's matplotlib figure only when one of
    mmengine's own drawing methods needs it; those still draw."""
    from mmengine.visualization import Visualizer
    visualizer = CAMVisualizer(name='test_deferred_figure')
    assert visualizer.dpi == Visualizer(name='test_plain_figure').dpi
    assert type(visualizer.fig_save).__name__ == '_FigurePart'  # not built
    visualizer.set_image(_image())
    visualizer.draw_bboxes(np.array([[8, 8, 40, 40]]), edge_colors='r')
    drawn = visualizer.get_image()
    assert drawn.shape == (48, 64, 3)
    assert (drawn[8, 8:40, 0] > 200).any()  # the red box's top edge
    assert type(visualizer.fig_save).__name__ == 'Figure'


def test_a_panels_caption_is_the_class_and_its_score():
    """The tool, the API and the hook caption panels alike."""
    from mmcam.visualization import score_caption
    assert score_caption('tabby cat', 0.8666) == 'tabby cat 0.87'
