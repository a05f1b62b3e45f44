"""Merging ``--cfg-options`` (``cfg_options=`` in the API) into a config,
with mistakes named by key and value before anything is built.

mmengine merges any value: ``model.head.num_classes=abc`` becomes the
string ``'abc'`` and fails only while the model is built, as
``'<=' not supported between instances of 'str' and 'int'``, naming
neither the option nor its value.
"""
from numbers import Number
from typing import Any, Optional

from ..cam.errors import CAMError
from .messages import one_line

_MISSING = object()


def config_value(cfg, key: str) -> Any:
    """The value at a dotted ``key`` of a ``Config`` or dict (list items
    by index), or ``_MISSING``."""
    node = cfg
    for part in key.split('.'):
        if isinstance(node, (list, tuple)):
            if not part.isdigit() or int(part) >= len(node):
                return _MISSING
            node = node[int(part)]
            continue
        try:
            node = node[part]
        except (KeyError, TypeError, AttributeError, IndexError):
            return _MISSING
    return node


def check_option_types(cfg, options: dict) -> None:
    """Refuse text where the config has a number or a boolean (a string
    for ``num_classes``). Other changes of type stay allowed: a tuple can
    replace a number (``Resize``'s ``scale``), a number ``None``.

    Raises:
        CAMError: naming the key, the value and what the config has.
    """
    for key, value in options.items():
        current = config_value(cfg, key)
        if not isinstance(value, str) or current is _MISSING:
            continue
        if isinstance(current, bool):
            raise CAMError(f'bad cfg-options {key}={value!r}: the config has '
                           f'a boolean there ({current}); give True or False')
        if isinstance(current, Number):
            raise CAMError(f'bad cfg-options {key}={value!r}: the config has '
                           f'a number there ({current}); give a number')


def merge_config_options(cfg, options: Optional[dict]) -> None:
    """Merge ``options`` (``{dotted key: value}``) into ``cfg``.

    Raises:
        CAMError: a value of the wrong type (see :func:`check_option_types`)
            or an option that does not fit the config (an index past the
            end of a list), naming the options.
    """
    if not options:
        return
    check_option_types(cfg, options)
    try:
        cfg.merge_from_dict(dict(options))
    except Exception as error:  # noqa: BLE001  (mmengine raises many kinds)
        raise CAMError(f'bad cfg-options {options!r}: '
                       f'{one_line(error)}') from None
