"""Turning annotations and ``dagster_type=`` arguments into :class:`DagsterType` objects."""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Any as TypingAny

from ophost.definitions._config._base import Any as ConfigAny
from ophost.definitions._types import (
    BOOL,
    FLOAT,
    INT,
    STRING,
    Any_,
    DagsterType,
    Nothing,
    TypeFamily,
    dict_of,
    inferred_class_type,
    list_of,
    optional_of,
    registered_type,
    set_of,
    tuple_of,
)
from ophost.errors import DefinitionError

__all__ = ["NOT_SET", "resolve_dagster_type"]


class _NotSet:
    """Marker for "no type given" (distinct from ``None``, which means Any)."""

    _instance: _NotSet | None = None

    def __new__(cls) -> _NotSet:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_SET"

    def __reduce__(self) -> str:
        return "NOT_SET"


NOT_SET: TypingAny = _NotSet()

_SCALARS: dict[object, DagsterType] = {int: INT, float: FLOAT, str: STRING, bool: BOOL}
_NONE_TYPE = type(None)


class _Unresolvable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def resolve_dagster_type(obj: object, *, where: str) -> DagsterType:
    """Resolve a type given by an annotation or a ``dagster_type=`` argument.

    ``where`` names the place for the error message (``'input "x" of op "y"'``).
    """
    try:
        return _resolve(obj)
    except _Unresolvable as exc:
        raise DefinitionError(f"{where}: {exc.reason}") from None
    except DefinitionError as exc:
        raise DefinitionError(f"{where}: {exc}") from None


def _resolve(obj: object) -> DagsterType:
    if isinstance(obj, DagsterType):
        return obj
    if obj is None or obj is TypingAny or obj is ConfigAny:
        # ``Any`` is one name for both systems, as in Dagster: as a type it accepts all.
        return Any_
    if isinstance(obj, TypeFamily):
        return obj.bare()
    if obj is _NONE_TYPE:
        return Nothing
    try:
        scalar = _SCALARS.get(obj)
    except TypeError:  # unhashable
        scalar = None
        _invalid(obj)
    if scalar is not None:
        return scalar
    origin = typing.get_origin(obj)
    args = typing.get_args(obj)
    if obj is list or obj is typing.List:  # noqa: UP006
        return list_of(None)
    if obj is dict or obj is typing.Dict:  # noqa: UP006
        return dict_of(None, None)
    if obj is set or obj is typing.Set:  # noqa: UP006
        return set_of(None)
    if obj is tuple or obj is typing.Tuple:  # noqa: UP006
        return tuple_of(None)
    if origin is typing.Union or (origin is types.UnionType):
        if len(args) == 2 and args[1] is _NONE_TYPE:
            return optional_of(_resolve(args[0]))
        raise _Unresolvable(
            f"the union {obj!r} is not supported; only Optional[X] (X | None, with None last) is"
        )
    if origin is list:
        return list_of(_resolve(args[0]) if args else None)
    if origin is dict:
        if len(args) == 2:
            return dict_of(_resolve(args[0]), _resolve(args[1]))
        return dict_of(None, None)
    if origin in (set, frozenset):
        return set_of(_resolve(args[0]) if args else None)
    if origin is tuple:
        if not args:
            return tuple_of(None)
        if Ellipsis in args:
            raise _Unresolvable(
                f"the annotation {obj!r} uses '...', which is not supported; "
                "give every element's type"
            )
        return tuple_of([_resolve(a) for a in args])
    if origin is collections.abc.Callable or origin is not None:
        raise _Unresolvable(f"the annotation {obj!r} cannot be used as an ophost type")
    if isinstance(obj, type):
        registered = registered_type(obj)
        return registered if registered is not None else inferred_class_type(obj)
    return _invalid(obj)


def _invalid(obj: object) -> typing.NoReturn:
    raise _Unresolvable(
        f"invalid type {obj!r}: dagster_type must be an instance of DagsterType or a Python type"
    )
