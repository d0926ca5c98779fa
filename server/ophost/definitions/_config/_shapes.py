"""``Shape``, ``Permissive`` and ``Selector``: config types made of named fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ophost.definitions._config import _schema
from ophost.definitions._config._base import ConfigKind, ConfigType, check_depth, check_description
from ophost.definitions._config._render import quote
from ophost.errors import DefinitionError

if TYPE_CHECKING:
    from ophost.definitions._config._field import Field

__all__ = ["FieldsType", "Permissive", "Selector", "Shape"]


class FieldsType(ConfigType):
    """Shared base of the types whose value is a dict of named fields."""

    __slots__ = ("_description", "_fields")

    def __init__(
        self, fields: Mapping[str, object], description: str | None, *, where: str
    ) -> None:
        self._description = check_description(description, where)
        resolved = _schema.to_fields(fields, where=where, path="fields")
        depth = 1 + max((field.config_type._depth for field in resolved.values()), default=0)
        check_depth(depth, where)
        self._fields = resolved
        super().__init__(depth=depth, identity=(tuple(resolved.items()), self._description))

    @property
    def description(self) -> str | None:
        return self._description

    @property
    def fields(self) -> dict[str, Field]:
        """The fields by name, in declaration order (a fresh dict on every access)."""
        return dict(self._fields)

    def _all_optional(self) -> bool:
        return not any(field.is_required for field in self._fields.values())

    def _same(self, other: ConfigType) -> bool:
        return (
            isinstance(other, FieldsType)
            and self._description == other._description
            and list(self._fields.items()) == list(other._fields.items())
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self._fields, self._description))

    def __repr__(self) -> str:
        inner = ", ".join(f"{quote(name)}: {field!r}" for name, field in self._fields.items())
        text = f"{type(self).__name__}({{{inner}}}"
        if self._description is not None:
            text += f", description={quote(self._description)}"
        return text + ")"


class Shape(FieldsType):
    """A dict with exactly these fields; other keys are errors. A dict in a schema is a Shape."""

    __slots__ = ()

    def __init__(self, fields: Mapping[str, object], description: str | None = None) -> None:
        super().__init__(fields, description, where="Shape")

    @property
    def kind(self) -> ConfigKind:
        return ConfigKind.SHAPE


class Permissive(FieldsType):
    """A dict whose declared fields are checked; other keys are allowed and kept as given."""

    __slots__ = ()

    def __init__(
        self, fields: Mapping[str, object] | None = None, description: str | None = None
    ) -> None:
        super().__init__({} if fields is None else fields, description, where="Permissive")

    @property
    def kind(self) -> ConfigKind:
        return ConfigKind.PERMISSIVE


class Selector(FieldsType):
    """A dict holding exactly one of the declared fields: a choice between alternatives.

    With a single field that is optional, an empty dict selects that field.
    """

    __slots__ = ()

    def __init__(self, fields: Mapping[str, object], description: str | None = None) -> None:
        super().__init__(fields, description, where="Selector")
        if not self._fields:
            raise DefinitionError("Selector: needs at least one field to choose from")

    @property
    def kind(self) -> ConfigKind:
        return ConfigKind.SELECTOR

    def _all_optional(self) -> bool:
        return len(self._fields) == 1 and super()._all_optional()
