"""``Array`` and ``Noneable``: the config types that wrap one inner type."""

from __future__ import annotations

from ophost.definitions._config import _schema
from ophost.definitions._config._base import ConfigKind, ConfigType, check_depth

__all__ = ["Array", "Noneable"]


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
