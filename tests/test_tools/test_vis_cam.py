"""tools/vis_cam.py: a few real runs in subprocesses, and every bad input
through ``main()`` in this process (each subprocess costs seconds of
start-up)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL = REPO_ROOT / 'tools' / 'vis_cam.py'


def run_python(*args, env=None, timeout=300, max_memory=None):
    """``python ARGS`` in the repository, as a user runs it; ``max_memory``
    caps its address space (bytes), so that a run that would read without
    end fails instead of filling the machine."""

    def cap_memory():
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (max_memory, max_memory))

    environment = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    environment.update(env or {})
    return subprocess.run([sys.executable, *map(str, args)],
                          cwd=REPO_ROOT,
                          env=environment,
                          capture_output=True,
                          text=True,
                          timeout=timeout,
                          preexec_fn=cap_memory if max_memory else None)


def run_tool(*args, env=None, **limits):
    return run_python(TOOL, *args, env=env, **limits)


@pytest.fixture(scope='module')
def vis_cam(load_tool):
    return load_tool(TOOL)


@pytest.fixture(scope='module')
def folder_with_a_broken_image(test_images, tmp_path_factory):
    folder = tmp_path_factory.mktemp('mixed')
    for path in test_images.values():
        shutil.copy(path, folder / path.name)
    (folder / 'broken.jpg').write_bytes(b'\xff\xd8\xff\xe0 not a jpeg')
    return folder


def test_folder_run_reports_the_broken_image_and_does_the_rest(
        tiny_resnet, test_images, folder_with_a_broken_image, tmp_path,
        tiny_classes):
    config, checkpoint = tiny_resnet
    out = tmp_path / 'cams'
    done = run_tool(folder_with_a_broken_image, config, checkpoint, '--topk',
                    2, '--save-path', out, '--save-raw', '--batch-size', 2)

    assert done.returncode == 1
    assert 'Traceback' not in done.stderr
    errors = done.stderr.strip().splitlines()
    assert all(line.startswith('error: ') for line in errors), errors
    assert "broken.jpg': not an image" in errors[0]
    assert errors[-1] == 'error: 1 of 6 image(s) failed'

    assert 'GradCAM at backbone.layer4' in done.stdout
    assert 'wrote 10 picture(s)' in done.stdout
    for path in test_images.values():
        line = next(x for x in done.stdout.splitlines()
                    if x.startswith(path.name + ':'))
        assert any(f'{name} (' in line for name in tiny_classes)
        pictures = sorted(out.glob(f'{path.stem}_gradcam_*.png'))
        assert len(pictures) == 2, path.name
        original_hw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape[:2]
        peaks = []
        for picture in pictures:
            category = int(picture.stem.rsplit('_', 1)[1])
            assert f'({category})' in line
            raw = np.load(picture.with_suffix('.npy'))
            assert cv2.imread(str(picture)).shape[:2] == original_hw
            assert raw.shape == original_hw
            assert raw.dtype == np.float32
            assert raw.min() >= 0 and raw.max() <= 1
            peaks.append(raw.max())
        # A random model's second class may rightly get an empty map, but
        # not every class.
        assert max(peaks) > 0.9
    # Resize 72 + centre crop 64 on the 80x100 image: the network never
    # saw columns left of 14.4 or right of 85.6 (nor rows 0..4, 76..80).
    raw = np.load(next(out.glob('color_gradcam_*.npy')))
    assert (raw[:, :14] == 0).all() and (raw[:, 86:] == 0).all()
    assert (raw[:4] == 0).all() and (raw[76:] == 0).all()
    assert not (out / 'broken_gradcam_0.png').exists()


def test_one_picture_goes_to_exactly_the_given_file(vis_cam, tiny_resnet,
                                                    test_images, tmp_path,
                                                    capsys):
    config, checkpoint = tiny_resnet
    out_file = tmp_path / 'nested' / 'cam.jpg'
    pattern = test_images['color'].parent / 'col*.jpg'
    assert vis_cam.main([
        str(pattern),
        str(config),
        str(checkpoint), '--target-category', '3', '--method', 'gradcam++',
        '--save-path',
        str(out_file)
    ]) == 0
    out, err = capsys.readouterr()
    assert err == ''
    assert 'GradCAMPlusPlus at' in out
    assert sorted(p.name for p in out_file.parent.iterdir()) == ['cam.jpg']
    assert cv2.imread(str(out_file)).shape == (80, 100, 3)


def test_help_does_not_import_torch():
    code = ('import sys; sys.path.insert(0, "tools"); import vis_cam\n'
            'try:\n    vis_cam.parse_args(["--help"])\n'
            'except SystemExit:\n    pass\n'
            'print("torch" in sys.modules)')
    done = subprocess.run([sys.executable, '-c', code],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True,
                          timeout=60)
    assert '--save-raw' in done.stdout
    assert done.stdout.strip().endswith('False')


def test_preview_lists_names_shapes_and_the_default(vis_cam, tiny_resnet,
                                                    test_images, capsys):
    config, checkpoint = tiny_resnet
    assert vis_cam.main([
        str(test_images['color']),
        str(config),
        str(checkpoint), '--preview-model'
    ]) == 0
    out = capsys.readouterr().out
    assert 'network input 1x3x64x64' in out
    lines = out.splitlines()
    default = next(x for x in lines if x.startswith('backbone.layer4 '))
    assert 'ResLayer' in default and '1x64x2x2' in default
    assert default.endswith('<- target layer')
    assert any(
        x.startswith('backbone.conv1 ') and '1x8x32x32' in x for x in lines)
    assert 'default target layer(s): backbone.layer4;' in out


def test_vit_run_writes_pictures_at_the_image_size(vis_cam, tiny_vit,
                                                   test_images, tmp_path,
                                                   capsys):
    config, checkpoint = tiny_vit
    assert vis_cam.main([
        str(test_images['wide']),
        str(config),
        str(checkpoint), '--topk', '2', '--save-path',
        str(tmp_path), '--save-raw', '--method', 'EigenGradCAM',
        '--eigen-smooth', '--aug-smooth', '--vit-like', '--num-extra-tokens',
        '1'
    ]) == 0
    assert 'EigenGradCAM at backbone.layers.1.ln1' in capsys.readouterr().out
    pictures = sorted(tmp_path.glob('wide_eigengradcam_*.png'))
    assert len(pictures) == 2
    for picture in pictures:
        assert cv2.imread(str(picture)).shape[:2] == (60, 120)
        assert np.load(picture.with_suffix('.npy')).shape == (60, 120)


@pytest.fixture(scope='module')
def bad_files(tmp_path_factory, tiny_vit, tiny_model_writer):
    folder = tmp_path_factory.mktemp('bad')
    broken = folder / 'broken.png'
    broken.write_bytes(b'garbage')
    not_a_checkpoint = folder / 'notes.pth'
    not_a_checkpoint.write_text('hello')
    _, seven_classes = tiny_model_writer(folder / 'seven', num_classes=7)
    return dict(
        broken=broken,
        not_a_checkpoint=not_a_checkpoint,
        vit_checkpoint=tiny_vit[1],
        seven_classes=seven_classes)


BAD_INPUTS = {
    'missing image': (dict(img='{tmp}/nope.jpg'), "image '.*nope.jpg' does "
                      'not exist'),
    'corrupt image': (dict(img='{broken}'), "broken.png': not an image"),
    'missing checkpoint': (dict(checkpoint='{tmp}/none.pth'),
                           "checkpoint '.*none.pth' does not exist"),
    'not a checkpoint': (dict(checkpoint='{not_a_checkpoint}'),
                         "'.*notes.pth' is not a PyTorch checkpoint"),
    'checkpoint of another model':
    (dict(checkpoint='{vit_checkpoint}'),
     r"'.*vit.pth' does not fit the config: \d+ missing key\(s\) "
     r'\(backbone.conv1.weight'),
    'checkpoint with other shapes':
    (dict(checkpoint='{seven_classes}'),
     r'2 shape mismatch\(es\) \(head.fc.weight: checkpoint \(7, 64\)'),
    'url without network': (dict(checkpoint='https://example.invalid/x.pth'),
                            "could not download checkpoint 'https://example"
                            r'.invalid/x.pth'),
    # The folder run above shows that a real process prints the same
    # lines, without library warnings.
    'unknown layer': (dict(flags=['--target-layers', 'backbone.layer4.1.bn9']),
                      "unknown target layer 'backbone.layer4.1.bn9'"),
    'unknown method': (dict(flags=['--method', 'GradCan']),
                       "unknown CAM method 'GradCan'"),
    'category out of range': (dict(flags=['--target-category', '9']),
                              'target category 9 is out of range: the head '
                              r'has 5 classes \(0..4\)'),
    'topk too large': (dict(flags=['--topk', '6']),
                       'topk 6 exceeds the 5 classes'),
    'cfg-options without =': (dict(flags=['--cfg-options', 'model.head']),
                              "bad --cfg-options 'model.head': expected "
                              'KEY=VALUE'),
    'cfg-options that break the model':
    (dict(flags=['--cfg-options', 'model.backbone.depth=19']),
     'could not build the model.*19'),
    'several pictures to one file':
    (dict(flags=['--topk', '2', '--save-path', '{tmp}/cam.png']),
     'makes at least 2 pictures, so --save-path must be a folder'),
    'save-raw without save-path': (dict(flags=['--save-raw']),
                                   '--save-raw needs --save-path'),
    'no display': (dict(flags=[], display=False),
                   'no display to show the pictures on; pass --save-path'),
    'missing image, no display': (dict(img='{tmp}/nope.jpg', display=False),
                                  "image '.*nope.jpg' does not exist"),
    'not an int': (dict(flags=['--topk', 'two']),
                   "argument --topk: invalid int value: 'two'"),
    'preview of an unreadable image':
    (dict(img='{broken}',
          flags=['--preview-model']), "broken.png': not an image"),
    'negative pixel limit': (dict(flags=['--max-pixels', '-1']),
                             'max_pixels must be a non-negative integer'),
}


@pytest.mark.parametrize('case', list(BAD_INPUTS))
def test_bad_input_is_one_line_naming_the_value(case, vis_cam, tiny_resnet,
                                                test_images, bad_files,
                                                tmp_path, capsys, monkeypatch):
    spec, pattern = BAD_INPUTS[case]
    config, checkpoint = tiny_resnet
    values = dict(tmp=tmp_path, **{k: str(v) for k, v in bad_files.items()})
    img = spec.get('img', str(test_images['color'])).format(**values)
    ckpt = spec.get('checkpoint', str(checkpoint)).format(**values)
    flags = [f.format(**values) for f in spec.get('flags', [])]
    if '--save-path' not in flags and spec.get('display', True) \
            and case != 'save-raw without save-path':
        flags += ['--save-path', str(tmp_path / 'out')]
    if spec.get('display', True):
        monkeypatch.setenv('DISPLAY', ':0')
    else:
        monkeypatch.delenv('DISPLAY', raising=False)
        monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)

    try:
        code = vis_cam.main([img, str(config), ckpt, *flags])
    except SystemExit as exit_:  # argparse
        code = exit_.code
    err = capsys.readouterr().err
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith('error: ')
    assert 'Traceback' not in err
    import re
    assert re.search(pattern, lines[0]), lines[0]


def test_every_flag_reaches_the_inferencer(vis_cam, monkeypatch, capsys):
    import mmcam.apis
    from mmcam.cam import CAMError
    received = {}

    def recording_inferencer(config, **kwargs):
        received.update(kwargs, config=config)
        raise CAMError('stop here')

    monkeypatch.setattr(mmcam.apis, 'CAMInferencer', recording_inferencer)
    code = vis_cam.main([
        str(TOOL), 'cfg.py', 'ckpt.pth', '--target-layers', 'a.b', 'c',
        '--method', 'LayerCAM', '--target-category', '1', '2',
        '--eigen-smooth', '--aug-smooth', '--device', 'cuda:1', '--vit-like',
        '--num-extra-tokens', '2', '--cfg-options', 'model.head.num_classes=3',
        'x=[1,2]', '--seed', '3', '--metrics', 'deletion_auc',
        '--metric-steps', '7', '--metric-options', 'tie_break=random',
        '--save-path', 'out'
    ])
    assert code == 1 and 'error: stop here' in capsys.readouterr().err
    assert received == dict(
        config='cfg.py',
        pretrained='ckpt.pth',
        device='cuda:1',
        cfg_options={
            'model.head.num_classes': 3,
            'x': [1, 2]
        },
        method='LayerCAM',
        target_layers=['a.b', 'c'],
        target_category=[1, 2],
        topk=None,
        eigen_smooth=True,
        aug_smooth=True,
        vit_like=True,
        num_extra_tokens=2,
        seed=3,
        max_pixels=vis_cam.DEFAULT_MAX_PIXELS,
        metrics=['deletion_auc'],
        metric_cfg=dict(steps=7, tie_break='random'))


def _png_bomb(path, side):
    """A real, decodable gray PNG of ``side`` x ``side`` zeros: a few
    hundred KB on disk, ``side`` squared bytes once decoded."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack(
            '>I',
            zlib.crc32(kind + data) & 0xffffffff)

    compressor = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte 0, then the pixels
    data = b''.join(compressor.compress(row) for _ in range(side))
    data += compressor.flush()
    header = struct.pack('>IIBBBBB', side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) +
                     chunk(b'IDAT', data) + chunk(b'IEND', b''))


@pytest.fixture(scope='module')
def hostile_folder(test_images, tmp_path_factory):
    """Two good images around a decompression bomb, a 40000x1 strip (its
    short edge resized to 72 would make 2,880,000x72 pixels), a broken
    and a looping link, and a link back to the folder itself."""
    folder = tmp_path_factory.mktemp('hostile')
    shutil.copy(test_images['color'], folder / 'a_first.jpg')
    _png_bomb(folder / 'b_bomb.png', 12000)
    assert cv2.imwrite(
        str(folder / 'c_strip.png'), np.full((1, 40000, 3), 200, np.uint8))
    (folder / 'd_broken.jpg').symlink_to('nowhere.jpg')
    (folder / 'e_loop.jpg').symlink_to('e_loop.jpg')
    shutil.copy(test_images['color'], folder / 'f_last.jpg')
    (folder / 'sub').symlink_to('.')
    return folder


def test_one_bad_image_never_stops_the_folder(vis_cam, tiny_resnet,
                                              hostile_folder, tmp_path,
                                              capsys):
    config, checkpoint = tiny_resnet
    out = tmp_path / 'cams'
    code = vis_cam.main([
        str(hostile_folder),
        str(config),
        str(checkpoint), '--save-path',
        str(out), '--batch-size', '3'
    ])
    stdout, err = capsys.readouterr()
    assert code == 1
    errors = err.strip().splitlines()
    assert len(errors) == 5, err
    assert "b_bomb.png' is 12000x12000 = 144,000,000 pixels, over the " \
        'limit of 89,478,485' in errors[0]
    assert "image after ResizeEdge '" in errors[1]
    assert "c_strip.png' is 2880000x72 = 207,360,000 pixels" in errors[1]
    assert "d_broken.jpg' is a broken symbolic link" in errors[2]
    assert "e_loop.jpg'" in errors[3] and 'symbolic links' in errors[3]
    assert errors[-1] == 'error: 4 of 6 image(s) failed'
    assert sorted(p.name.split('_gradcam')[0]
                  for p in out.iterdir()) == ['a_first', 'f_last']
    assert 'wrote 2 picture(s)' in stdout


def test_devices_fifos_and_sockets_in_a_folder_are_reported_and_skipped(
        tiny_resnet, test_images, tmp_path):
    """Links to /dev/zero and /dev/urandom never end, a FIFO blocks its
    reader: one line each, and the good image is still drawn."""
    import socket
    folder = tmp_path / 'special'
    folder.mkdir()
    shutil.copy(test_images['color'], folder / 'good.jpg')
    (folder / 'urandom.png').symlink_to('/dev/urandom')
    (folder / 'zero.png').symlink_to('/dev/zero')
    os.mkfifo(folder / 'fifo.png')
    (folder / 'link_to_fifo.png').symlink_to(folder / 'fifo.png')
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / 'socket.png'))
    config, checkpoint = tiny_resnet
    out = tmp_path / 'cams'
    try:
        # A regression hangs on the FIFO or fills memory from /dev/zero:
        # the timeout and the 8 GiB address space make it fail instead.
        done = run_tool(folder, config, checkpoint, '--save-path', out,
                        timeout=120, max_memory=8 << 30)
    finally:
        server.close()
    assert done.returncode == 1, done.stderr
    errors = done.stderr.strip().splitlines()
    assert errors == [
        f"error: image '{folder / 'fifo.png'}' is a FIFO, not a regular "
        'file',
        f"error: image '{folder / 'link_to_fifo.png'}' is a FIFO (a "
        f"symbolic link to '{folder / 'fifo.png'}'), not a regular "
        'file',
        f"error: image '{folder / 'socket.png'}' is a socket, not a regular "
        'file',
        f"error: image '{folder / 'urandom.png'}' is a character device (a "
        "symbolic link to '/dev/urandom'), not a regular file",
        f"error: image '{folder / 'zero.png'}' is a character device (a "
        "symbolic link to '/dev/zero'), not a regular file",
        'error: 5 of 6 image(s) failed',
    ]
    assert [p.name.split('_')[0] for p in out.iterdir()] == ['good']


def test_recursive_glob_through_a_link_loop_explains_each_image_once(
        vis_cam, tiny_resnet, hostile_folder, tmp_path, capsys):
    config, checkpoint = tiny_resnet
    code = vis_cam.main([
        f'{hostile_folder}/**/*.jpg',
        str(config),
        str(checkpoint), '--save-path',
        str(tmp_path / 'cams')
    ])
    stdout, err = capsys.readouterr()
    assert code == 1
    assert [
        line.split(':')[0] for line in stdout.splitlines()
        if line.endswith(tuple('0123456789')) and '.jpg:' in line
    ] == ['a_first.jpg', 'f_last.jpg']
    assert err.strip().splitlines()[-1] == 'error: 2 of 4 image(s) failed'


def test_the_pixel_limit_can_be_raised(vis_cam, tiny_resnet, test_images,
                                       tmp_path, capsys):
    config, checkpoint = tiny_resnet
    args = [str(test_images['color']), str(config), str(checkpoint)]
    assert vis_cam.main([
        *args, '--save-path',
        str(tmp_path / 'a.png'), '--max-pixels', '5000'
    ]) == 1
    assert 'is 100x80 = 8,000 pixels, over the limit of 5,000' in \
        capsys.readouterr().err
    assert vis_cam.main(
        [*args, '--save-path',
         str(tmp_path / 'UP.JPG'), '--max-pixels', '0']) == 0
    assert f"wrote 1 picture(s) to {tmp_path / 'UP.JPG'}" in \
        capsys.readouterr().out


def test_help_states_the_default_pixel_limit(vis_cam):
    from mmcam.utils.image_loading import DEFAULT_MAX_PIXELS
    assert vis_cam.DEFAULT_MAX_PIXELS == DEFAULT_MAX_PIXELS


def test_argument_errors_exit_2_other_errors_exit_1(vis_cam, tiny_resnet,
                                                    tmp_path, capsys):
    config, checkpoint = tiny_resnet
    with pytest.raises(SystemExit) as stop:
        vis_cam.main(['img.jpg', str(config), str(checkpoint), '--topk', 'x'])
    assert stop.value.code == 2
    assert vis_cam.main([
        str(tmp_path / 'nope.jpg'),
        str(config),
        str(checkpoint), '--save-path',
        str(tmp_path)
    ]) == 1
    capsys.readouterr()


def test_help_lists_every_method_and_ends_with_examples(vis_cam, capsys):
    with pytest.raises(SystemExit) as exit_:
        vis_cam.parse_args(['--help'])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    flat = ' '.join(text.split())
    for name in ('KPCA_CAM', 'FEM', 'ShapleyCAM', 'RandomCAM',
                 'GradCAMElementWise', 'ScoreCAM', 'FullGrad'):
        assert name in flat
    assert 'mmpretrain::' in flat and 'model name' in flat
    assert 'Defaults to cpu' in flat
    assert text.rstrip().splitlines()[-1].strip() == \
        'python tools/vis_cam.py --list-methods'


def test_list_methods_needs_no_other_argument(vis_cam, capsys):
    from mmcam.cam import supported_methods
    with pytest.raises(SystemExit) as exit_:
        vis_cam.parse_args(['--list-methods'])
    assert exit_.value.code == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == supported_methods()


def test_help_and_list_methods_answer_without_importing_torch():
    """The tool's own process: --help and --list-methods answer from the
    command line's module alone (they take 0.2 s, not the seconds torch
    takes to import)."""
    script = (
        'import runpy, sys\n'
        'for option in ("--help", "--list-methods"):\n'
        '    sys.argv = ["vis_cam.py", option]\n'
        '    try:\n'
        f'        runpy.run_path({str(TOOL)!r}, run_name="__main__")\n'
        '    except SystemExit as exit_:\n'
        '        assert exit_.code == 0, exit_.code\n'
        'print("torch imported:", "torch" in sys.modules, file=sys.stderr)\n')
    done = run_python('-c', script)
    assert done.returncode == 0, done.stderr
    assert 'GradCAMPlusPlus' in done.stdout
    assert done.stderr.strip().splitlines()[-1] == 'torch imported: False'


class _Terminal:
    """A stderr that says it is a terminal, keeping what is written."""

    def __init__(self):
        self.text = ''

    def write(self, text):
        self.text += text

    def flush(self):
        pass

    def isatty(self):
        return True


@pytest.mark.parametrize('terminal', [True, False])
def test_folder_progress_bar_only_on_a_terminal(vis_cam, tiny_resnet,
                                                test_images, tmp_path, capsys,
                                                monkeypatch, terminal):
    config, checkpoint = tiny_resnet
    folder = test_images['color'].parent
    if terminal:
        stderr = _Terminal()
        monkeypatch.setattr(sys, 'stderr', stderr)
    code = vis_cam.main([
        str(folder),
        str(config),
        str(checkpoint), '--save-path',
        str(tmp_path / 'cams')
    ])
    assert code == 0
    captured = capsys.readouterr()
    err = stderr.text if terminal else captured.err
    count = len(test_images)
    assert (f'{count}/{count}' in err) == terminal
    # The per-image lines stay whole, one per image, on stdout.
    lines = captured.out.splitlines()
    assert lines[0].startswith('GradCAM at ')
    assert sorted(line.split(':')[0] for line in lines[1:-1]) == sorted(
        p.name for p in test_images.values())


def test_a_nan_model_fails_each_image_and_writes_nothing(
        vis_cam, tiny_model_writer, test_images, tmp_path, capsys):
    """NaN weights: no all-NaN .npy passes for a heatmap in [0, 1]; each
    image is one error line and the run exits 1."""
    import torch
    config, checkpoint = tiny_model_writer(tmp_path / 'nan_model')
    saved = torch.load(checkpoint, weights_only=True)
    saved['state_dict']['head.fc.weight'].fill_(float('nan'))
    torch.save(saved, checkpoint)
    folder = tmp_path / 'two'
    folder.mkdir()
    for key in ('color', 'wide'):
        shutil.copy(test_images[key], folder)
    out = tmp_path / 'cams'
    assert vis_cam.main([
        str(folder),
        str(config),
        str(checkpoint), '--save-path',
        str(out), '--save-raw'
    ]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and err[-1] == 'error: 2 of 2 image(s) failed'
    for line in err[:2]:
        assert line.startswith('error: no heatmap for image ')
        assert "the model's output is not a number" in line
    assert not out.exists() or not list(out.iterdir())


@pytest.mark.parametrize('flag', [['--target-category', '9'], ['--topk', '6']])
def test_categories_outside_the_head_are_one_line_for_a_folder(
        vis_cam, tiny_resnet, test_images, tmp_path, capsys, flag):
    config, checkpoint = tiny_resnet
    folder = test_images['color'].parent
    assert vis_cam.main([
        str(folder),
        str(config),
        str(checkpoint), *flag, '--save-path',
        str(tmp_path / 'cams')
    ]) == 1
    out, err = capsys.readouterr()
    assert err.count('\n') == 1 and err.startswith('error: ')
    assert 'the head' in err and out == ''


def test_an_empty_checkpoint_warns_of_random_weights(vis_cam, tiny_resnet,
                                                     test_images, tmp_path,
                                                     capsys):
    """The API warns; the tool, which hides library warnings, used to hide
    this one too and ran on random weights without a word."""
    config, _ = tiny_resnet
    assert vis_cam.main([
        str(test_images['color']),
        str(config), '', '--save-path',
        str(tmp_path / 'cam.png')
    ]) == 0
    assert capsys.readouterr().err.splitlines() == [
        'warning: no checkpoint given: the model keeps random weights and '
        'its heatmaps mean nothing'
    ]
