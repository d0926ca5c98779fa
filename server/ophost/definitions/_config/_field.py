"""``Field``: a config type together with whether it is required, its default and a description."""

from __future__ import annotations

import enum as std_enum
import typing

from ophost.definitions._config import _process, _schema
from ophost.definitions._config._base import ConfigType, check_description
from ophost.definitions._config._enum import Enum
from ophost.definitions._config._render import describe, render, same_value
from ophost.errors import DefinitionError, InvalidArgumentError, InvalidConfigError

__all__ = ["NO_DEFAULT", "Field"]


class _NoDefault:
    """Type of ``NO_DEFAULT``, the marker for "no default value was given"."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<no default>"

    def __reduce__(self) -> str:
        # Copies and pickles of the marker are the marker itself.
        return "NO_DEFAULT"


NO_DEFAULT: typing.Final = _NoDefault()


def _check_default(config_type: ConfigType, default_value: object) -> None:
    """Raise if ``default_value`` is not a valid config value of ``config_type``.

    As in Dagster, a Python enum member given as the default of an ``Enum`` field is a
    mistake in the definition (``DefinitionError``: the default must be the member's
    name); every other invalid default is invalid config (``InvalidConfigError``,
    "Invalid default_value for Field.", listing each problem with its path).
    """
    if isinstance(config_type, Enum) and isinstance(default_value, std_enum.Enum):
        names = ", ".join(value.config_value for value in config_type.values)
        raise DefinitionError(
            f'Field: the default_value {render(default_value)} of the config enum "'
            f'{config_type.name}" is a Python enum member; give its name as a string '
            f"instead, one of: {names}"
        )
    problems = _process.check_value(config_type, default_value, root="default_value")
    if problems:
        raise InvalidConfigError("Invalid default_value for Field.", problems)


class Field:
    """One config field: its type, whether it must be given, its default and a description.

    ``config`` is any config schema (see ``resolve_config_schema``). When
    ``is_required`` is ``None`` it is worked out: the field is optional if it has a
    default or if its type can be left out (``Noneable``, ``Any``, a ``Shape`` or
    ``Permissive`` whose fields are all optional, a ``Selector`` with a single optional
    field). Such a type then gets an implicit default: ``None`` for ``Noneable`` and
    ``Any``, and the dict of its fields' defaults for the others.

    A default must be valid for the type and cannot be combined with
    ``is_required=True``; both mistakes raise ``DefinitionError``.
    """

    __slots__ = ("_config_type", "_default", "_description", "_hash", "_is_required")

    def __init__(
        self,
        config: object,
        default_value: object = NO_DEFAULT,
        is_required: bool | None = None,
        description: str | None = None,
    ) -> None:
        if is_required is not None and type(is_required) is not bool:
            raise InvalidArgumentError(
                f"Field: is_required must be a bool or None, got {describe(is_required)}"
            )
        self._description = check_description(description, "Field")
        config_type = _schema.to_type(config, where="Field", path="config")
        has_default = default_value is not NO_DEFAULT
        if has_default:
            if is_required:
                raise DefinitionError(
                    "Field: a field with a default_value is optional; "
                    "do not combine it with is_required=True"
                )
            if callable(default_value):
                raise DefinitionError(
                    f"Field: default_value cannot be a callable, got {describe(default_value)}"
                )
            _check_default(config_type, default_value)
        if is_required is None:
            is_required = not (has_default or config_type._all_optional())
            if not is_required and not has_default:
                default_value = _process.implicit_default(config_type)
        self._config_type = config_type
        self._default = default_value
        self._is_required = is_required
        self._hash = hash(
            (config_type, is_required, default_value is NO_DEFAULT, self._description)
        )

    @property
    def config_type(self) -> ConfigType:
        """The resolved config type of the field."""
        return self._config_type

    @property
    def is_required(self) -> bool:
        """Whether config must give a value for this field."""
        return self._is_required

    @property
    def default_provided(self) -> bool:
        """Whether the field has a default (given, or implied by its type)."""
        return self._default is not NO_DEFAULT

    @property
    def default_value(self) -> object:
        """The default, in config form. Raises ``InvalidArgumentError`` if there is none."""
        if self._default is NO_DEFAULT:
            raise InvalidArgumentError(
                "Field has no default value; check default_provided before reading default_value"
            )
        return self._default

    @property
    def description(self) -> str | None:
        """Human-readable text about the field, if any."""
        return self._description

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Field):
            return NotImplemented
        return (
            self._hash == other._hash
            and self._is_required == other._is_required
            and self._description == other._description
            and self._config_type == other._config_type
            and same_value(self._default, other._default)
        )

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuild through the constructor so the cached hash is recomputed (string hashes
        # differ between processes).
        return (Field, (self._config_type, self._default, self._is_required, self._description))

    def __repr__(self) -> str:
        parts = [repr(self._config_type)]
        if self._default is not NO_DEFAULT:
            parts.append(f"default_value={render(self._default)}")
        parts.append(f"is_required={self._is_required}")
        if self._description is not None:
            parts.append(f"description={render(self._description)}")
        return f"Field({', '.join(parts)})"
