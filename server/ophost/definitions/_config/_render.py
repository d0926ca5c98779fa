"""Short, safe text for error messages: values, field names and config paths.

Config values come from users and may be anything: huge, deeply nested, or objects
whose ``__repr__``, ``__eq__`` or ``__hash__`` raise. Nothing here calls those
methods on user objects; containers are read through the base-class slots
(``dict.items``, ``list.copy``) so subclasses cannot interfere, and every rendering
is cut short in depth and length.
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Iterable
from typing import TypeGuard, TypeVar, cast

__all__ = [
    "child_path",
    "describe",
    "has_class",
    "item_path",
    "items_of",
    "name_list",
    "quote",
    "render",
    "same_value",
    "type_name",
]

_MAX_TEXT = 40
_MAX_ITEMS = 5
_MAX_LEVEL = 2
_MAX_NAMES = 10
_MAX_COMPARE_LEVEL = 100
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_]+")

_T = TypeVar("_T")


def has_class(value: object, cls: type[_T]) -> TypeGuard[_T]:
    """Whether the real class of ``value`` is ``cls`` or a subclass of it.

    Unlike ``isinstance``, a faked ``__class__`` attribute does not count.
    """
    return issubclass(type(value), cls)


def items_of(value: list[object] | tuple[object, ...]) -> list[object]:
    """The elements of a list or tuple, read without calling overridden methods."""
    if has_class(value, list):
        return list.copy(value)
    return list(tuple.__getitem__(cast("tuple[object, ...]", value), slice(None)))


def type_name(value: object) -> str:
    """The name of the value's class, or ``object`` if even that cannot be read."""
    try:
        name = type(value).__name__
    except Exception:  # noqa: BLE001 (user objects may raise anything)
        return "object"
    return str.__str__(name) if isinstance(name, str) else "object"


def quote(text: str) -> str:
    """``text`` in double quotes with escapes, cut to a readable length."""
    plain = str.__str__(text)
    if len(plain) > _MAX_TEXT:
        return json.dumps(plain[:_MAX_TEXT], ensure_ascii=False)[:-1] + '..."'
    return json.dumps(plain, ensure_ascii=False)


def render(value: object) -> str:
    """A short rendering of ``value`` that never raises."""
    try:
        return _render(value, 0)
    except Exception:  # noqa: BLE001 (user objects may raise anything)
        return f"<{type_name(value)} object>"


def describe(value: object) -> str:
    """``render(value)`` followed by the class name, e.g. ``"x" (str)``; ``None`` alone."""
    if value is None:
        return "None"
    return f"{render(value)} ({type_name(value)})"


def _render(value: object, level: int) -> str:
    if value is None or value is True or value is False:
        return repr(value)
    if isinstance(value, enum.Enum):
        return f"{type_name(value)}.{str.__str__(value.name)}"
    if has_class(value, type):
        return f"<class {str.__str__(value.__name__)}>"
    if has_class(value, int):
        try:
            text = int.__repr__(value)
        except ValueError:  # more digits than int-to-str conversion allows
            return f"<int of {int.bit_length(value)} bits>"
        return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "..."
    if has_class(value, float):
        return float.__repr__(value)
    if has_class(value, str):
        return quote(value)
    if has_class(value, list):
        return _render_items(items_of(value), "[", "]", level)
    if has_class(value, tuple):
        items = items_of(value)
        if len(items) == 1:
            return f"({_render(items[0], level + 1)},)" if level < _MAX_LEVEL else "(...)"
        return _render_items(items, "(", ")", level)
    if has_class(value, dict):
        pairs = list(dict.items(value))
        if not pairs:
            return "{}"
        if level >= _MAX_LEVEL:
            return "{...}"
        parts = [f"{_render(k, level + 1)}: {_render(v, level + 1)}" for k, v in pairs[:_MAX_ITEMS]]
        if len(pairs) > _MAX_ITEMS:
            parts.append("...")
        return "{" + ", ".join(parts) + "}"
    return f"<{type_name(value)} object>"


def _render_items(items: list[object], open_: str, close: str, level: int) -> str:
    if not items:
        return open_ + close
    if level >= _MAX_LEVEL:
        return f"{open_}...{close}"
    parts = [_render(item, level + 1) for item in items[:_MAX_ITEMS]]
    if len(items) > _MAX_ITEMS:
        parts.append("...")
    return open_ + ", ".join(parts) + close


def name_list(names: Iterable[str]) -> str:
    """Comma-separated names, each cut short, at most ten of them."""
    shown: list[str] = []
    for count, name in enumerate(names):
        if count == _MAX_NAMES:
            shown.append("...")
            break
        plain = str.__str__(name)
        shown.append(plain if len(plain) <= _MAX_TEXT else plain[:_MAX_TEXT] + "...")
    return ", ".join(shown)


def child_path(path: str, name: str) -> str:
    """The path of field ``name`` below ``path``: ``path.name``, or ``path["odd name"]``."""
    if _PLAIN_NAME.fullmatch(name):
        return f"{path}.{name}"
    return f"{path}[{json.dumps(name, ensure_ascii=False)}]"


def item_path(path: str, index: int) -> str:
    """The path of list element ``index`` below ``path``."""
    return f"{path}[{index}]"


def same_value(left: object, right: object) -> bool:
    """Structural equality that also compares classes (``1`` is not ``True``) and never raises.

    Dicts compare by key regardless of order; NaN equals NaN so a default survives a
    round trip. Anything that cannot be compared counts as different.
    """
    try:
        return _same(left, right, 0)
    except Exception:  # noqa: BLE001 (user objects may raise anything)
        return False


def _same(left: object, right: object, level: int) -> bool:
    if left is right:
        return True
    if type(left) is not type(right) or level > _MAX_COMPARE_LEVEL:
        return False
    if has_class(left, dict) and has_class(right, dict):
        right_map: dict[object, object] = dict(dict.items(right))
        return dict.__len__(left) == len(right_map) and all(
            key in right_map and _same(value, right_map[key], level + 1)
            for key, value in dict.items(left)
        )
    if (has_class(left, list) and has_class(right, list)) or (
        has_class(left, tuple) and has_class(right, tuple)
    ):
        left_items, right_items = items_of(left), items_of(right)
        return len(left_items) == len(right_items) and all(
            _same(a, b, level + 1) for a, b in zip(left_items, right_items, strict=True)
        )
    if (
        has_class(left, float)
        and has_class(right, float)
        and math.isnan(left)
        and math.isnan(right)
    ):
        return True
    result = left == right
    return result is True
