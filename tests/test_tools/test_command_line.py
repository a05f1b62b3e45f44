"""The tools' shared command line: one convention for argument errors,
mistakes named before torch is imported or the model is built, and a
quick ``--help``."""
import subprocess
import sys
from pathlib import Path

import pytest

from mmcam.engine.runner_config import load_runner_config, merge_cfg_options

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS = REPO_ROOT / 'tools'
TINY_CONFIG = REPO_ROOT / 'configs/tiny/resnet-tiny_shapes_cam.py'


def _exit_code(main, argv):
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


@pytest.mark.parametrize('tool', ['vis_cam', 'train', 'test'])
def test_cfg_options_without_a_value_is_the_same_mistake_everywhere(
        tool, load_tool, capsys):
    main = load_tool(TOOLS / f'{tool}.py').main
    positional = {
        'vis_cam': ['a.jpg', 'c.py', 'x.pth'],
        'train': ['c.py'],
        'test': ['c.py', 'x.pth']
    }[tool]
    code = _exit_code(main, [*positional, '--cfg-options', 'foo'])
    assert code == 2  # a malformed command line, argparse's convention
    assert capsys.readouterr().err == (
        "error: bad --cfg-options 'foo': expected KEY=VALUE (see --help)\n")


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_help_answers_without_importing_torch(tool):
    code = f'''
import runpy, sys
sys.argv = ['{tool}.py', '--help']
try:
    runpy.run_path({str(TOOLS / f"{tool}.py")!r}, run_name='__main__')
except SystemExit:
    pass
print('torch imported:', 'torch' in sys.modules)
'''
    done = subprocess.run([sys.executable, '-c', code],
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert '--cfg-options' in done.stdout
    assert done.stdout.rstrip().endswith('torch imported: False')


def test_text_where_the_config_has_a_number_names_key_and_value(
        load_tool, tiny_resnet, test_images, tmp_path, capsys):
    vis_cam = load_tool(TOOLS / 'vis_cam.py')
    config, checkpoint = tiny_resnet
    code = vis_cam.main([
        str(test_images['color']),
        str(config),
        str(checkpoint), '--save-path',
        str(tmp_path), '--cfg-options', 'model.head.num_classes=abc'
    ])
    assert code == 1
    assert capsys.readouterr().err == (
        "error: bad cfg-options model.head.num_classes='abc': the config "
        'has a number there (5); give a number\n')

    cfg = load_runner_config(str(TINY_CONFIG))
    with pytest.raises(
            ValueError,
            match="model.head.num_classes='abc': the "
            r'config has a number there \(2\)'):
        merge_cfg_options(cfg, {'model.head.num_classes': 'abc'})
    with pytest.raises(
            ValueError,
            match="randomness.deterministic='yes': "
            'the config has a boolean there'):
        merge_cfg_options(cfg, {'randomness.deterministic': 'yes'})
    # Other changes of type stay allowed, and new keys too.
    merge_cfg_options(cfg, {
        'train_cfg.max_epochs': None,
        'model.head.num_classes': 3,
        'new_key': 'x'
    })
    assert cfg.model.head.num_classes == 3


@pytest.mark.parametrize('case', ['folder of two photos', 'topk 2'])
def test_one_picture_file_for_several_pictures_is_refused_before_torch(
        case, test_images, tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    for name in ('a.jpg', 'b.jpg'):
        (folder / name).write_bytes(test_images['color'].read_bytes())
    picture = str(tmp_path / 'x.png')
    argv = [str(folder), 'c.py', 'x.pth', '--save-path', picture]
    if case == 'topk 2':
        argv = [str(folder / 'a.jpg'), *argv[1:], '--topk', '2']
    code = f'''
import runpy, sys
code = runpy.run_path({str(TOOLS / "vis_cam.py")!r})['main']({argv!r})
print(code, 'torch' in sys.modules)
'''
    done = subprocess.run([sys.executable, '-c', code],
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert done.stdout == '1 False\n', done.stderr
    assert done.stderr == (
        'error: this run makes at least 2 pictures, so --save-path must be '
        f'a folder, not {picture!r}\n')


def test_images_only_mmcam_counts_are_refused_before_the_model(
        load_tool, tiny_resnet, test_images, tmp_path, capsys, monkeypatch):
    import cv2

    import mmcam.apis

    def no_model(*args, **kwargs):
        raise AssertionError('the model was built')

    monkeypatch.setattr(mmcam.apis, 'CAMInferencer', no_model)
    vis_cam = load_tool(TOOLS / 'vis_cam.py')
    config, checkpoint = tiny_resnet
    # A .ppm is an image to mmcam, not a picture suffix the early check
    # counts: the count comes from mmcam, before the model is built.
    folder = tmp_path / 'images'
    folder.mkdir()
    image = cv2.imread(str(test_images['color']))
    cv2.imwrite(str(folder / 'a.jpg'), image)
    cv2.imwrite(str(folder / 'b.ppm'), image)
    picture = str(tmp_path / 'x.png')
    code = vis_cam.main(
        [str(folder),
         str(config),
         str(checkpoint), '--save-path', picture])
    assert code == 1
    assert capsys.readouterr().err == (
        'error: this run makes 2 pictures, so --save-path must be a folder, '
        f'not {picture!r}\n')
