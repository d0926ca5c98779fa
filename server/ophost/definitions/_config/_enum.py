"""``Enum`` and ``EnumValue``: a config value chosen by name from a fixed set."""

from __future__ import annotations

import enum as std_enum
from collections.abc import Sequence

from ophost.definitions._config._base import ConfigKind, ConfigType, check_description
from ophost.definitions._config._render import (
    describe,
    has_class,
    items_of,
    quote,
    render,
    same_value,
)
from ophost.errors import DefinitionError, InvalidArgumentError

__all__ = ["Enum", "EnumValue"]


class EnumValue:
    """One choice of an ``Enum``.

    ``config_value`` is the string written in config. Validated config holds
    ``python_value`` instead when one is given (``None`` means "use the string").
    """

    __slots__ = ("_config_value", "_description", "_python_value")

    def __init__(
        self,
        config_value: str,
        python_value: object = None,
        description: str | None = None,
    ) -> None:
        if not has_class(config_value, str):
            raise InvalidArgumentError(
                f"EnumValue: config_value must be a str, got {describe(config_value)}"
            )
        self._config_value = str.__str__(config_value)
        self._python_value = self._config_value if python_value is None else python_value
        self._description = check_description(description, "EnumValue")

    @property
    def config_value(self) -> str:
        """The string accepted in config."""
        return self._config_value

    @property
    def python_value(self) -> object:
        """What validated config holds for this choice."""
        return self._python_value

    @property
    def description(self) -> str | None:
        """Human-readable text about this choice, if any."""
        return self._description

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, EnumValue):
            return NotImplemented
        return (
            self._config_value == other._config_value
            and self._description == other._description
            and same_value(self._python_value, other._python_value)
        )

    def __hash__(self) -> int:
        return hash((self._config_value, self._description))

    def __reduce__(self) -> tuple[object, ...]:
        python_value = None if self._python_value is self._config_value else self._python_value
        return (EnumValue, (self._config_value, python_value, self._description))

    def __repr__(self) -> str:
        parts = [quote(self._config_value)]
        if self._python_value is not self._config_value:
            parts.append(f"python_value={render(self._python_value)}")
        if self._description is not None:
            parts.append(f"description={quote(self._description)}")
        return f"EnumValue({', '.join(parts)})"


class Enum(ConfigType):
    """A config type whose value is one of the ``config_value`` strings of ``enum_values``.

    Config values must be unique. Validated config holds the chosen value's
    ``python_value``.
    """

    __slots__ = ("_by_config_value", "_name", "_values")

    def __init__(self, name: str, enum_values: Sequence[EnumValue]) -> None:
        if not has_class(name, str):
            raise InvalidArgumentError(f"Enum: name must be a str, got {describe(name)}")
        plain_name = str.__str__(name)
        if not (has_class(enum_values, list) or has_class(enum_values, tuple)):
            raise InvalidArgumentError(
                f'Enum "{plain_name}": enum_values must be a list of EnumValue, '
                f"got {describe(enum_values)}"
            )
        values: list[EnumValue] = []
        for index, value in enumerate(items_of(enum_values)):
            if not has_class(value, EnumValue):
                raise InvalidArgumentError(
                    f'Enum "{plain_name}": enum_values[{index}] must be an EnumValue, '
                    f"got {describe(value)}"
                )
            values.append(value)
        if not values:
            raise DefinitionError(f'Enum "{plain_name}": needs at least one EnumValue')
        by_config_value: dict[str, EnumValue] = {}
        for value in values:
            if value.config_value in by_config_value:
                raise DefinitionError(
                    f'Enum "{plain_name}": config value {quote(value.config_value)} appears twice'
                )
            by_config_value[value.config_value] = value
        self._name = plain_name
        self._values = values
        self._by_config_value = by_config_value
        super().__init__(depth=1, identity=(plain_name, tuple(values)))

    @classmethod
    def from_python_enum(cls, python_enum: type[std_enum.Enum], name: str | None = None) -> Enum:
        """Build an ``Enum`` from a Python enum class.

        Each member becomes a value whose config value is the member's name and whose
        Python value is the member itself. ``name`` defaults to the class name.
        """
        if not (has_class(python_enum, type) and issubclass(python_enum, std_enum.Enum)):
            raise InvalidArgumentError(
                "Enum.from_python_enum: expected an enum.Enum subclass, "
                f"got {describe(python_enum)}"
            )
        if name is None:
            name = python_enum.__name__
        return cls(name, [EnumValue(member.name, python_value=member) for member in python_enum])

    @property
    def kind(self) -> ConfigKind:
        return ConfigKind.ENUM

    @property
    def name(self) -> str:
        """The name of the enum."""
        return self._name

    @property
    def values(self) -> list[EnumValue]:
        """The choices, in declaration order."""
        return list(self._values)

    def post_process(self, value: object) -> object:
        """The Python value of the choice written ``value`` in config.

        ``value`` is a config value string, or a Python enum member, which stands for
        its name. A value that is not one of the choices is an ``InvalidArgumentError``.
        """
        name: object = value
        if isinstance(value, std_enum.Enum):
            name = value.name
        choice = self._lookup(str.__str__(name)) if has_class(name, str) else None
        if choice is None:
            choices = ", ".join(v.config_value for v in self._values)
            raise InvalidArgumentError(
                f'Enum "{self._name}": {describe(value)} is not one of its values ({choices})'
            )
        return choice.python_value

    def _lookup(self, config_value: str) -> EnumValue | None:
        return self._by_config_value.get(config_value)

    def _same(self, other: ConfigType) -> bool:
        return (
            isinstance(other, Enum) and self._name == other._name and self._values == other._values
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (Enum, (self._name, self._values))

    def __repr__(self) -> str:
        return f"Enum({quote(self._name)}, {self._values!r})"
