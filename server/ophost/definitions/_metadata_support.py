"""Private helpers shared by the metadata, table, asset-key and event modules.

Three families live here:

* argument checks that raise :class:`~ophost.errors.InvalidArgumentError` with a
  message of the form ``Owner: "arg" must be a str, got int``;
* the JSON rules for metadata payloads: what counts as JSON data, and how two
  payloads compare (typed, with NaN equal to NaN);
* a NaN-tolerant loose comparison for arbitrary values (used by ``Output``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ophost.errors import InvalidArgumentError

__all__ = [
    "check_bool",
    "check_opt_bool",
    "check_opt_str",
    "check_str",
    "check_str_list",
    "describe",
    "float_hash",
    "json_equal",
    "json_problem",
    "loose_equal",
]

# The hash every NaN gets, so that equal values (NaN == NaN for us) hash alike.
_NAN_HASH = 0x7FF8_0000_0000_0001  # any fixed int will do


def describe(value: object) -> str:
    """The type name used in error messages (``None`` for None)."""
    return "None" if value is None else type(value).__name__


def _fail(owner: str, arg: str, expected: str, value: object) -> InvalidArgumentError:
    return InvalidArgumentError(f'{owner}: "{arg}" must be {expected}, got {describe(value)}')


def check_str(owner: str, arg: str, value: object) -> str:
    if not isinstance(value, str):
        raise _fail(owner, arg, "a str", value)
    return value


def check_opt_str(owner: str, arg: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _fail(owner, arg, "a str or None", value)
    return value


def check_bool(owner: str, arg: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _fail(owner, arg, "a bool", value)
    return value


def check_opt_bool(owner: str, arg: str, value: object) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise _fail(owner, arg, "a bool or None", value)
    return value


def check_str_list(owner: str, arg: str, value: object) -> list[str]:
    """A list or tuple of str, returned as a new list."""
    if not isinstance(value, (list, tuple)):
        raise _fail(owner, arg, "a list of str", value)
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise InvalidArgumentError(
                f'{owner}: "{arg}" must contain only str, got {describe(item)} at index {index}'
            )
    return list(value)


def float_hash(value: float | None) -> int:
    """``hash(value)``, except that every NaN hashes to one value."""
    if value is not None and math.isnan(value):
        return _NAN_HASH
    return hash(value)


# --- JSON payloads ---------------------------------------------------------------

_JSON_SCALARS = (str, int, float)  # bool is an int


class _JsonProblem(Exception):
    """Internal: carries the location of the first non-JSON item up the stack."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what
        self.where: list[str] = []


def _walk(value: object, active: set[int]) -> None:
    pairs: Iterable[tuple[object, object]]
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise _JsonProblem(f"has a key of type {describe(key)} (JSON keys must be str)")
        pairs = value.items()
    elif isinstance(value, (list, tuple)):
        pairs = enumerate(value)
    else:
        raise _JsonProblem(f"is of type {describe(value)}, which JSON cannot represent")
    ident = id(value)
    if ident in active:
        raise _JsonProblem("closes a reference cycle")
    active.add(ident)
    for key, item in pairs:
        if item is None or isinstance(item, _JSON_SCALARS):
            continue
        try:
            _walk(item, active)
        except _JsonProblem as problem:
            problem.where.append(f"[{key!r}]")
            raise
    active.discard(ident)


def json_problem(data: object) -> str | None:
    """Why ``data`` is not JSON data, or None when it is.

    JSON data is None, str, int (bool included), float (NaN and infinities
    included), list or tuple of JSON data, and dict with str keys and JSON data
    values. The answer names the first offending place, e.g. ``data['a'][1] is of type set``.
    """
    if data is None or isinstance(data, _JSON_SCALARS):
        return None
    try:
        _walk(data, set())
    except _JsonProblem as problem:
        return "data" + "".join(reversed(problem.where)) + " " + problem.what
    except RecursionError:
        return "data is nested too deeply"
    return None


def json_equal(left: object, right: object) -> bool:
    """Typed structural equality of JSON data.

    bool, int, float, str and None are distinct kinds (``1`` is not ``1.0`` nor
    ``True``); NaN equals NaN; a list equals a tuple with equal items (JSON has one
    array type); dicts compare by key set and values, ignoring order.
    """
    if left is right:
        return True
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, int):
        return isinstance(right, int) and left == right
    if isinstance(left, float):
        return isinstance(right, float) and (
            left == right or (math.isnan(left) and math.isnan(right))
        )
    if isinstance(left, str):
        return isinstance(right, str) and left == right
    if isinstance(left, (list, tuple)):
        return (
            isinstance(right, (list, tuple))
            and len(left) == len(right)
            and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
        )
    if isinstance(left, dict):
        return (
            isinstance(right, dict)
            and left.keys() == right.keys()
            and all(json_equal(item, right[key]) for key, item in left.items())
        )
    return left is None and right is None


def loose_equal(left: object, right: object) -> bool:
    """Python ``==``, except that NaN equals NaN, also inside lists, tuples and dicts."""
    if left is right:
        return True
    if isinstance(left, float) and isinstance(right, float):
        return left == right or (math.isnan(left) and math.isnan(right))
    if (isinstance(left, list) and isinstance(right, list)) or (
        isinstance(left, tuple) and isinstance(right, tuple)
    ):
        return len(left) == len(right) and all(
            loose_equal(a, b) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(
            loose_equal(item, right[key]) for key, item in left.items()
        )
    return bool(left == right)
