"""The config schema system: the Dagster vocabulary used in ``config_schema``.

Types: ``Any``, the scalars (written ``int``, ``float``, ``str``, ``bool``, or ``Int``,
``Float``, ``String``, ``Bool``), ``Shape`` (or a plain dict), ``Permissive``,
``Selector``, ``Array`` (or ``[inner]``), ``Map`` (or ``{str: inner}``), ``Noneable``,
``Enum`` with ``EnumValue``. ``Field`` wraps a type with whether it is
required, a default and a description. ``resolve_config_schema`` turns anything
accepted as a ``config_schema`` into a ``Field``; ``validate_config`` checks a value
against it and returns the processed value.

Modules: ``_base`` (kinds, base class, Any, scalars), ``_containers`` (Array,
Noneable, Map), ``_enum``, ``_shapes``, ``_field``, ``_schema`` (schema resolution),
``_process`` (the checking walk), ``_validate`` (the public entry point) and
``_render`` (safe text for messages).
"""

from ophost.definitions._config._base import Any, AnyType, ConfigKind, ConfigType, ScalarType
from ophost.definitions._config._containers import Array, Map, Noneable
from ophost.definitions._config._enum import Enum, EnumValue
from ophost.definitions._config._field import Field
from ophost.definitions._config._schema import resolve_config_schema
from ophost.definitions._config._shapes import Permissive, Selector, Shape
from ophost.definitions._config._validate import validate_config

__all__ = [
    "Any",
    "AnyType",
    "Array",
    "ConfigKind",
    "ConfigType",
    "Enum",
    "EnumValue",
    "Field",
    "Map",
    "Noneable",
    "Permissive",
    "ScalarType",
    "Selector",
    "Shape",
    "resolve_config_schema",
    "validate_config",
]
