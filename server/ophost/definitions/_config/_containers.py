"""``Array``, ``Noneable`` and ``Map``: the config types built around an inner type."""

from __future__ import annotations

from ophost.definitions._config import _schema
from ophost.definitions._config._base import (
    ConfigKind,
    ConfigType,
    ScalarType,
    check_depth,
    check_description,
)
from ophost.definitions._config._render import describe, has_class, quote
from ophost.errors import InvalidArgumentError, InvalidConfigDefinitionError

__all__ = ["Array", "Map", "Noneable"]


class Array(ConfigType):
    """A list whose elements all match ``inner``. ``[int]`` in a schema means ``Array(int)``."""

    __slots__ = ("_inner",)

    def __init__(self, inner: object) -> None:
        resolved = _schema.to_type(inner, where="Array", path="inner")
        check_depth(resolved._depth + 1, "Array")
        self._inner = resolved
        super().__init__(depth=resolved._depth + 1, identity=(resolved,))

    @property
    def kind(self) -> ConfigKind:
        return ConfigKind.ARRAY

    @property
    def inner(self) -> ConfigType:
        """The type of every element."""
        return self._inner

    def _same(self, other: ConfigType) -> bool:
        return isinstance(other, Array) and self._inner == other._inner

    def __reduce__(self) -> tuple[object, ...]:
        return (Array, (self._inner,))

    def __repr__(self) -> str:
        return f"Array({self._inner!r})"


class Noneable(ConfigType):
    """``None`` or a value of ``inner``; a field of this type defaults to ``None``."""

    __slots__ = ("_inner",)

    def __init__(self, inner: object) -> None:
        resolved = _schema.to_type(inner, where="Noneable", path="inner")
        check_depth(resolved._depth + 1, "Noneable")
        self._inner = resolved
        super().__init__(depth=resolved._depth + 1, identity=(resolved,))

    @property
    def kind(self) -> ConfigKind:
        return ConfigKind.NONEABLE

    @property
    def inner(self) -> ConfigType:
        """The type a value other than ``None`` must match."""
        return self._inner

    def _all_optional(self) -> bool:
        return True

    def _same(self, other: ConfigType) -> bool:
        return isinstance(other, Noneable) and self._inner == other._inner

    def __reduce__(self) -> tuple[object, ...]:
        return (Noneable, (self._inner,))

    def __repr__(self) -> str:
        return f"Noneable({self._inner!r})"


class Map(ConfigType):
    """A dict whose keys are all of one scalar type and whose values all match ``inner``.

    ``Map(key_type, inner_type, key_label_name=None)``: ``key_type`` is ``str``, ``int``,
    ``float`` or ``bool``; ``key_label_name`` names what the keys stand for (shown in
    descriptions of the schema). In a schema, ``{str: int}`` means ``Map(str, int)``.
    A field of this type is required unless it has a default.
    """

    __slots__ = ("_inner", "_key", "_key_label_name")

    def __init__(
        self, key_type: object, inner_type: object, key_label_name: str | None = None
    ) -> None:
        key = _schema.to_type(key_type, where="Map", path="key_type")
        if not isinstance(key, ScalarType):
            raise InvalidConfigDefinitionError(
                f"Map: the key type must be str, int, float or bool, got {key!r}"
            )
        inner = _schema.to_type(inner_type, where="Map", path="inner_type")
        if key_label_name is not None and not has_class(key_label_name, str):
            raise InvalidArgumentError(
                f"Map: key_label_name must be a str or None, got {describe(key_label_name)}"
            )
        label = check_description(key_label_name, "Map")
        check_depth(inner._depth + 1, "Map")
        self._key = key
        self._inner = inner
        self._key_label_name = label
        super().__init__(depth=inner._depth + 1, identity=(key, inner, label))

    @property
    def kind(self) -> ConfigKind:
        return ConfigKind.MAP

    @property
    def key_type(self) -> ScalarType:
        """The scalar type of every key."""
        return self._key

    @property
    def inner_type(self) -> ConfigType:
        """The type of every value."""
        return self._inner

    @property
    def key_label_name(self) -> str | None:
        """What the keys stand for, if given."""
        return self._key_label_name

    def _same(self, other: ConfigType) -> bool:
        return (
            isinstance(other, Map)
            and self._key == other._key
            and self._inner == other._inner
            and self._key_label_name == other._key_label_name
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (Map, (self._key, self._inner, self._key_label_name))

    def __repr__(self) -> str:
        label = (
            ""
            if self._key_label_name is None
            else f", key_label_name={quote(self._key_label_name)}"
        )
        return f"Map({self._key!r}, {self._inner!r}{label})"
