"""The root of the config types: ``ConfigKind``, ``ConfigType``, ``Any`` and the scalars.

Every config type is an immutable object that knows its ``kind`` and compares equal
to another object of the same class with the same structure. Each one caches its
hash and its nesting depth when it is built, so hashing is cheap and no walk over a
type can run deeper than ``MAX_DEPTH`` levels.
"""

from __future__ import annotations

import abc
import enum

from ophost.definitions._config._render import describe, has_class
from ophost.errors import DefinitionError, InvalidArgumentError

__all__ = [
    "BOOL",
    "FLOAT",
    "INT",
    "MAX_DEPTH",
    "SCALAR_NAMES",
    "STRING",
    "Any",
    "AnyType",
    "ConfigKind",
    "ConfigType",
    "ScalarType",
    "check_depth",
    "check_description",
]

MAX_DEPTH = 100
"""How deeply config types may nest; deeper schemas are rejected with ``DefinitionError``."""


class ConfigKind(enum.Enum):
    """What sort of value a config type describes."""

    ANY = "ANY"
    INT = "INT"
    FLOAT = "FLOAT"
    STRING = "STRING"
    BOOL = "BOOL"
    SHAPE = "SHAPE"
    PERMISSIVE = "PERMISSIVE"
    SELECTOR = "SELECTOR"
    ARRAY = "ARRAY"
    NONEABLE = "NONEABLE"
    ENUM = "ENUM"
    MAP = "MAP"


def check_depth(depth: int, where: str) -> None:
    """Raise ``DefinitionError`` if a type of this ``depth`` nests too deeply."""
    if depth > MAX_DEPTH:
        raise DefinitionError(f"{where}: config schema nests deeper than {MAX_DEPTH} levels")


def check_description(description: object, where: str) -> str | None:
    """Return ``description`` if it is a ``str`` or ``None``; raise otherwise."""
    if description is None:
        return None
    if has_class(description, str):
        return str.__str__(description)
    raise InvalidArgumentError(
        f"{where}: description must be a str or None, got {describe(description)}"
    )


class ConfigType(abc.ABC):
    """Base class of every config type. Subclasses are immutable and compare by structure."""

    __slots__ = ("_depth", "_hash")

    def __init__(self, *, depth: int, identity: tuple[object, ...]) -> None:
        # ``identity`` holds hashable parts of the structure; equal types give equal tuples.
        self._depth = depth
        self._hash = hash((type(self).__name__, identity))

    @property
    @abc.abstractmethod
    def kind(self) -> ConfigKind:
        """The kind of value this type describes."""

    @property
    def description(self) -> str | None:
        """Human-readable text about this type, if any."""
        return None

    def _all_optional(self) -> bool:
        """Whether a field of this type may be left out (and then takes an implicit default)."""
        return False

    @abc.abstractmethod
    def _same(self, other: ConfigType) -> bool:
        """Structural comparison with ``other``, which has exactly the same class."""

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(other) is not type(self) or not isinstance(other, ConfigType):
            return NotImplemented
        return self._hash == other._hash and self._same(other)

    def __hash__(self) -> int:
        return self._hash

    @abc.abstractmethod
    def __reduce__(self) -> tuple[object, ...]:
        """Rebuild through the constructor, so the cached hash is computed afresh.

        String hashes differ between processes, so a pickled hash would be stale.
        """


class AnyType(ConfigType):
    """The type of ``Any``: every value is valid and passes through unchanged."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(depth=1, identity=())

    @property
    def kind(self) -> ConfigKind:
        return ConfigKind.ANY

    def _all_optional(self) -> bool:
        return True

    def _same(self, other: ConfigType) -> bool:
        return True

    def __reduce__(self) -> tuple[object, ...]:
        return (AnyType, ())

    def __repr__(self) -> str:
        return "Any"


Any = AnyType()
"""Config type that accepts any value. ``typing.Any`` in a schema means the same."""

SCALAR_NAMES: dict[ConfigKind, str] = {
    ConfigKind.INT: "int",
    ConfigKind.FLOAT: "float",
    ConfigKind.STRING: "str",
    ConfigKind.BOOL: "bool",
}


class ScalarType(ConfigType):
    """One of the four scalar types, written ``int``, ``float``, ``str`` or ``bool`` in a schema."""

    __slots__ = ("_kind",)

    def __init__(self, kind: ConfigKind) -> None:
        if not isinstance(kind, ConfigKind) or kind not in SCALAR_NAMES:
            raise InvalidArgumentError(
                "ScalarType: kind must be ConfigKind.INT, FLOAT, STRING or BOOL, "
                f"got {describe(kind)}"
            )
        self._kind = kind
        super().__init__(depth=1, identity=(kind,))

    @property
    def kind(self) -> ConfigKind:
        return self._kind

    def _same(self, other: ConfigType) -> bool:
        return self._kind is other.kind

    def __reduce__(self) -> tuple[object, ...]:
        return (ScalarType, (self._kind,))

    def __repr__(self) -> str:
        return SCALAR_NAMES[self._kind]


INT = ScalarType(ConfigKind.INT)
FLOAT = ScalarType(ConfigKind.FLOAT)
STRING = ScalarType(ConfigKind.STRING)
BOOL = ScalarType(ConfigKind.BOOL)
