"""The command line the tools share: one convention for argument errors,
``--cfg-options`` and the Runner tools' arguments.

Nothing here imports torch, mmengine or the rest of mmcam at import time:
the tools read this file without importing mmcam (which loads torch and
takes seconds), so that ``--help`` answers at once and argument mistakes
are reported before any model is built.
"""
import argparse
import ast
import sys


class OneLineParser(argparse.ArgumentParser):
    """Argument errors as one ``error: ...`` line, without the usage.

    Exit codes: 2 when the command line itself is malformed (argparse's
    convention, so scripts can tell a typo from a failed run), 1 for every
    other error.
    """

    def error(self, message):
        self.exit(2, f'error: {message} (see --help)\n')


def literal_with_dicts(text: str):
    """A Python literal in which ``dict(key=value)`` calls are allowed,
    e.g. ``[dict(type='TensorboardVisBackend')]``.

    mmengine's ``DictAction`` reads such a value as a list of strings, so
    a config's ``vis_backends`` could not be replaced from the command
    line. Only literals and ``dict`` calls with keyword arguments are
    accepted; nothing is evaluated.

    Raises:
        ValueError: anything else.
    """

    def convert(node):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == 'dict' and not node.args and all(
                    k.arg is not None for k in node.keywords):
            return {k.arg: convert(k.value) for k in node.keywords}
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [convert(e) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.Dict):
            return {
                convert(k): convert(v)
                for k, v in zip(node.keys, node.values)
            }
        return ast.literal_eval(node)

    return convert(ast.parse(text.strip(), mode='eval').body)


def read_key_value(item: str, flag: str) -> tuple:
    """One ``KEY=VALUE`` item as mmengine's ``DictAction`` reads it, with a
    value holding ``dict(...)`` read by :func:`literal_with_dicts`.

    Args:
        item (str): The item as given on the command line.
        flag (str): The option it came with, for the message.

    Returns:
        tuple: ``(key, value)``.

    Raises:
        ValueError: naming the item when it is not ``KEY=VALUE`` or its
            value cannot be read.
    """
    from mmengine.config import DictAction

    key, equals, value = item.partition('=')
    if not equals or not key:
        raise ValueError(f'bad {flag} {item!r}: expected KEY=VALUE')
    try:
        return key, (literal_with_dicts(value) if 'dict(' in value else
                     DictAction._parse_iterable(value))
    except (AssertionError, RecursionError, ValueError, SyntaxError):
        raise ValueError(f'bad {flag} {item!r}: cannot read the value')


class CfgOptionsAction(argparse.Action):
    """``--cfg-options KEY=VALUE ...`` read as mmengine's ``DictAction``
    reads them, with values holding ``dict(...)`` read as dicts
    (``visualizer.vis_backends="[dict(type='TensorboardVisBackend')]"``),
    and a malformed item reported as an argument error (exit code 2)."""

    def __call__(self, parser, namespace, values, option_string=None):
        # A second --cfg-options adds to the first, as with DictAction.
        options = dict(getattr(namespace, self.dest, None) or {})
        for item in values:
            try:
                key, value = read_key_value(item, option_string)
            except ValueError as error:
                hint = '' if str(error).endswith('KEY=VALUE') else (
                    '; write one KEY=VALUE per setting, e.g. '
                    'custom_hooks.0.method=LayerCAM, or a list of dicts as '
                    "\"[dict(type='A'), ...]\"")
                parser.error(f'{error}{hint}')
            options[key] = value
        setattr(namespace, self.dest, options)


def add_cfg_options_argument(parser: argparse.ArgumentParser,
                             example: str) -> None:
    """``--cfg-options``, the same in every tool.

    Args:
        parser (ArgumentParser): The tool's parser.
        example (str): A ``KEY=VALUE`` this tool's users would write.
    """
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        metavar='KEY=VALUE',
        action=CfgOptionsAction,
        help=f'override config settings, e.g. {example}; a list value is '
        'written key="[a,b]" or key=a,b, without spaces')


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments ``tools/train.py`` and ``tools/test.py`` share:
    ``--work-dir``, ``--cfg-options``, ``--launcher`` and
    ``--local-rank``."""
    parser.add_argument(
        '--work-dir',
        help='where logs, checkpoints and metrics go; defaults to '
        'work_dirs/<config name>')
    add_cfg_options_argument(parser, 'custom_hooks.0.method=LayerCAM')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def is_cam_error(error: BaseException) -> bool:
    """Whether ``error`` is mmcam's ``CAMError``, without importing mmcam:
    when ``import mmcam`` itself raised it (a torchvision that does not fit
    torch), the class is in ``sys.modules`` but mmcam cannot be imported
    again."""
    errors = sys.modules.get('mmcam.cam.errors')
    return errors is not None and isinstance(error, errors.CAMError)
