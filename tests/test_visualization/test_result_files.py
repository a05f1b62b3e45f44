"""ResultFiles on its own: names, places and files of the API's pictures."""
import numpy as np

from mmcam.visualization.result_files import ResultFiles


def test_a_stem_taken_again_gets_a_number():
    files = ResultFiles()
    assert files.picture_stem('cat', 'GradCAM++', 281) == 'cat_gradcam++_281'
    assert files.picture_stem('cat', 'GradCAM++', 281) == \
        'cat_gradcam++_281_2'
    assert files.picture_stem('cat', 'GradCAM++', 281) == \
        'cat_gradcam++_281_3'
    assert files.picture_stem('cat', 'GradCAM++', 282) == 'cat_gradcam++_282'
    assert ResultFiles().picture_stem('cat', 'GradCAM++', 281) == \
        'cat_gradcam++_281'


def test_out_file_is_taken_as_given_and_show_dir_gets_a_png(tmp_path):
    files = ResultFiles()
    assert files.picture_file(None, tmp_path / 'a.jpg', 'cat', 'EigenCAM',
                              1) == str(tmp_path / 'a.jpg')
    assert files.picture_file(tmp_path, None, 'cat', 'EigenCAM',
                              1) == str(tmp_path / 'cat_eigencam_1.png')
    assert files.picture_file(None, None, 'cat', 'EigenCAM', 1) is None


def test_raw_heatmap_is_float32_beside_its_picture(tmp_path):
    picture = np.zeros((6, 8, 3), np.uint8)
    heatmap = np.linspace(0, 1, 48, dtype=np.float64).reshape(6, 8)
    target = str(tmp_path / 'sub' / 'cat_gradcam_1.png')
    written = ResultFiles.write(picture, target, heatmap)
    assert written == [target, str(tmp_path / 'sub' / 'cat_gradcam_1.npy')]
    raw = np.load(written[1])
    assert raw.dtype == np.float32 and raw.shape == (6, 8)
    np.testing.assert_allclose(raw, heatmap, rtol=1e-6)
    assert ResultFiles.write(picture, str(
        tmp_path / 'b.png')) == [str(tmp_path / 'b.png')]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['b.png', 'sub']
