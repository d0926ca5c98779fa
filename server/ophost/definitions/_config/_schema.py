"""Turning what users write as a config schema into config types and fields.

A schema may be a ``Field``, a config type object, a scalar class (``int``, ``float``,
``str``, ``bool``) or its Dagster name (``Int``, ``Float``, ``String``, ``Bool``), ``Any``
or ``typing.Any``, a dict of field schemas (a ``Shape``), a dict with one entry whose key
is a scalar type (``{str: int}``, a ``Map``), a one-element list (an ``Array``), or the
bare classes ``list`` (``Array(Any)``) and ``dict`` (``Permissive()``). Anything else is an
``InvalidConfigDefinitionError`` whose message names where the schema came from and the
path inside it.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ophost.definitions import _types as dagster_types
from ophost.definitions._config._base import (
    BOOL,
    FLOAT,
    INT,
    MAX_DEPTH,
    STRING,
    Any,
    ConfigType,
    check_depth,
)
from ophost.definitions._config._render import (
    child_path,
    describe,
    has_class,
    item_path,
    items_of,
    render,
)
from ophost.errors import DefinitionError, InvalidArgumentError, InvalidConfigDefinitionError

if TYPE_CHECKING:
    from ophost.definitions._config._field import Field

__all__ = ["resolve_config_schema", "to_field", "to_fields", "to_type"]

_HELP = (
    "a config schema is int, float, str, bool, Any, a dict of field schemas, a one-element "
    "list such as [int], a map such as {str: int}, or a Field, Shape, Permissive, "
    "Selector, Array, Map, Noneable or Enum"
)


def resolve_config_schema(schema: object, *, where: str) -> Field:
    """Normalise anything accepted as a ``config_schema`` into a ``Field``.

    ``None`` means "any value, optional" (``Field(Any, is_required=False)``). ``where``
    says whose schema this is (e.g. ``'op "my_op" config_schema'``); it starts the
    message of any ``DefinitionError``, followed by the path inside the schema.
    """
    from ophost.definitions._config._field import Field

    if not has_class(where, str):
        raise InvalidArgumentError(
            f"resolve_config_schema: where must be a str, got {describe(where)}"
        )
    if schema is None:
        return Field(Any, is_required=False)
    return to_field(schema, where=str.__str__(where), path="config_schema")


def to_type(schema: object, *, where: str, path: str) -> ConfigType:
    """Resolve ``schema`` to a config type; errors name ``where`` and ``path``."""
    return _Resolver(where).type_at(schema, path, 0)


def to_field(schema: object, *, where: str, path: str) -> Field:
    """Resolve ``schema`` to a ``Field``; a ``Field`` is returned as it is."""
    return _Resolver(where).field_at(schema, path, 0)


def to_fields(fields: object, *, where: str, path: str) -> dict[str, Field]:
    """Resolve a mapping of field names to schemas, keeping its order."""
    return _Resolver(where).fields_at(fields, path, 0)


class _Resolver:
    __slots__ = ("_where",)

    def __init__(self, where: str) -> None:
        self._where = where

    def _fail(self, path: str, reason: str) -> InvalidConfigDefinitionError:
        return InvalidConfigDefinitionError(
            f"{self._where}: invalid config schema at {path}: {reason}"
        )

    def field_at(self, schema: object, path: str, level: int) -> Field:
        from ophost.definitions._config._field import Field

        if has_class(schema, Field):
            return schema
        if schema is None:
            raise self._fail(
                path,
                "a field cannot be None; use Any for any value, or Field(<type>, "
                "is_required=False) for an optional field",
            )
        return Field(self.type_at(schema, path, level))

    def fields_at(self, fields: object, path: str, level: int) -> dict[str, Field]:
        if has_class(fields, dict):
            pairs = list(dict.items(fields))
        elif isinstance(fields, Mapping):
            try:
                pairs = list(fields.items())
            except Exception as exc:
                raise self._fail(path, f"could not read the fields: {exc!r}") from exc
        else:
            raise InvalidArgumentError(
                f"{self._where}: fields must be a dict of field names to schemas, "
                f"got {describe(fields)}"
            )
        resolved: dict[str, Field] = {}
        for name, value in pairs:
            if not has_class(name, str):
                hint = ""
                if _scalar(name) is not None:
                    hint = (
                        " (a map schema such as {str: int} has exactly one entry, "
                        "the key type and the value type)"
                    )
                raise self._fail(path, f"field names must be str, got {describe(name)}{hint}")
            plain = str.__str__(name)
            resolved[plain] = self.field_at(value, child_path(path, plain), level + 1)
        return resolved

    def type_at(self, schema: object, path: str, level: int) -> ConfigType:
        from ophost.definitions._config._containers import Array
        from ophost.definitions._config._field import Field
        from ophost.definitions._config._shapes import Permissive, Shape

        if level > MAX_DEPTH:
            raise self._fail(path, f"the schema nests deeper than {MAX_DEPTH} levels")
        if isinstance(schema, ConfigType) and issubclass(type(schema), ConfigType):
            if not isinstance(schema, _supported_classes()):
                raise self._fail(
                    path,
                    f"{type(schema).__name__} is not one of ophost's config types; subclass "
                    "Shape, Permissive, Selector, Array, Noneable or Enum instead",
                )
            return schema
        scalar = _scalar(schema)
        if scalar is not None:
            return scalar
        if schema is list:
            return Array(Any)
        if schema is dict:
            return Permissive()
        if has_class(schema, dict):
            shorthand = self._map_shorthand(schema, path, level)
            if shorthand is not None:
                return shorthand
            fields = self.fields_at(schema, path, level)
            self._check_depth(
                1 + max((f.config_type._depth for f in fields.values()), default=0), path
            )
            return Shape(fields)
        if has_class(schema, list):
            items = items_of(schema)
            if len(items) != 1:
                raise self._fail(
                    path,
                    "a list in a schema must hold exactly one element, the element type "
                    f"(e.g. [int]), got {len(items)}",
                )
            inner = self.type_at(items[0], item_path(path, 0), level + 1)
            self._check_depth(inner._depth + 1, path)
            return Array(inner)
        if has_class(schema, Field):
            raise self._fail(
                path,
                "a Field is only allowed as a field of a dict, Shape, Permissive or Selector, "
                "or as the whole schema; here a config type is needed",
            )
        raise self._fail(path, _not_a_type(schema))

    def _map_shorthand(
        self, schema: dict[object, object], path: str, level: int
    ) -> ConfigType | None:
        """``{key_type: value_type}`` (one entry, a scalar type as key) as a ``Map``."""
        from ophost.definitions._config._containers import Map

        pairs = list(dict.items(schema))
        if len(pairs) != 1 or has_class(pairs[0][0], str):
            return None
        key, value = pairs[0]
        key_type = _scalar(key)
        if key_type is None or key_type is Any:
            return None
        inner = self.type_at(value, child_path(path, f"<{key_type!r} key>"), level + 1)
        self._check_depth(inner._depth + 1, path)
        return Map(key_type, inner)

    def _check_depth(self, depth: int, path: str) -> None:
        try:
            check_depth(depth, self._where)
        except DefinitionError:
            raise self._fail(path, f"the schema nests deeper than {MAX_DEPTH} levels") from None


def _supported_classes() -> tuple[type[ConfigType], ...]:
    from ophost.definitions._config._base import AnyType, ScalarType
    from ophost.definitions._config._containers import Array, Map, Noneable
    from ophost.definitions._config._enum import Enum
    from ophost.definitions._config._shapes import FieldsType

    return (AnyType, ScalarType, Array, Map, Noneable, Enum, FieldsType)


def _scalar(schema: object) -> ConfigType | None:
    # Identity checks only: hashing or comparing an arbitrary object could run user code.
    if schema is int:
        return INT
    if schema is float:
        return FLOAT
    if schema is str:
        return STRING
    if schema is bool:
        return BOOL
    if schema is typing.Any:
        return Any
    # Dagster's names for the scalars are the op types Int, Float, String and Bool; as
    # in Dagster, they mean the scalar config types here.
    if schema is dagster_types.INT:
        return INT
    if schema is dagster_types.FLOAT:
        return FLOAT
    if schema is dagster_types.STRING:
        return STRING
    if schema is dagster_types.BOOL:
        return BOOL
    if schema is dagster_types.Any_:
        return Any
    return None


def _not_a_type(schema: object) -> str:
    """Explain why ``schema`` is not a config type, with a hint where one helps."""
    if isinstance(schema, dagster_types.TypeFamily):
        return (
            f"{schema.name} is a type for op inputs and outputs, not a config type; "
            "for a list use [<type>] or Array(<type>), for a dict a Shape, Permissive "
            "or Map"
        )
    if isinstance(schema, dagster_types.DagsterType):
        return (
            f'the type "{schema.display_name}" is a type for op inputs and outputs, not a '
            f"config type; {_HELP}"
        )
    try:
        origin = typing.get_origin(schema)
        args = typing.get_args(schema)
    except Exception:  # noqa: BLE001 (user objects may raise anything)
        origin, args = None, ()
    if origin is typing.Union or has_class(schema, types.UnionType):
        if any(arg is type(None) for arg in args):
            return (
                f"{_text(schema)} is not a config type; for an optional field use "
                "Field(<type>, is_required=False), and to accept None use Noneable(<type>)"
            )
        return f"{_text(schema)} is not a config type; unions are not supported (see Selector)"
    if any(origin is kind for kind in (list, tuple, set, frozenset)):
        return f"{_text(schema)} is not a config type; for a list use [<type>] or Array(<type>)"
    if origin is not None or getattr(type(schema), "__module__", None) == "typing":
        return f"{_text(schema)} is not a config type; types from typing are not config types"
    if has_class(schema, type):
        name = _text(schema)
        if issubclass(schema, ConfigType):
            return f"the class {name} is not a config type itself; use an instance: {name}(...)"
        from ophost.definitions._config._field import Field

        if schema is Field:
            return "the class Field is not a config type; call it, e.g. Field(int)"
        return f"the class {name} is not a config type; {_HELP}"
    return f"{describe(schema)} is not a config type; {_HELP}"


def _text(schema: object) -> str:
    """A class's name or a typing construct's repr, falling back to a safe rendering."""
    try:
        text = schema.__name__ if has_class(schema, type) else repr(schema)
    except Exception:  # noqa: BLE001 (user objects may raise anything)
        return render(schema)
    return str.__str__(text) if isinstance(text, str) and len(text) <= 80 else render(schema)
