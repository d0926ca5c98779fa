"""Checking a value against a config type and producing the processed value.

One walk does both jobs. It records a ``ConfigErrorDetail`` for every problem it
finds (it never stops at the first) and builds the processed value: missing fields
filled from their defaults, enum strings turned into their Python values, permissive
extras kept. The walk only descends where the type does, so its depth is bounded by
the type's depth; ``Any`` values and permissive extras are passed through untouched.
"""

from __future__ import annotations

import copy
import difflib
import enum as std_enum
from typing import TYPE_CHECKING

from ophost.definitions._config._base import (
    SCALAR_NAMES,
    AnyType,
    ConfigKind,
    ConfigType,
    ScalarType,
)
from ophost.definitions._config._containers import Array, Map, Noneable
from ophost.definitions._config._enum import Enum
from ophost.definitions._config._render import (
    child_path,
    describe,
    has_class,
    item_path,
    items_of,
    name_list,
    quote,
)
from ophost.definitions._config._shapes import FieldsType, Permissive, Selector
from ophost.errors import ConfigErrorDetail, InvalidArgumentError

if TYPE_CHECKING:
    from ophost.definitions._config._field import Field

__all__ = ["Walk", "accepts_none", "check_value", "copy_default", "expected", "implicit_default"]


def check_value(config_type: ConfigType, value: object, *, root: str) -> list[ConfigErrorDetail]:
    """Every problem with ``value`` as config form of ``config_type`` (enums stay strings)."""
    walk = Walk(post_process=False)
    walk.value(config_type, value, root)
    return walk.errors


def implicit_default(config_type: ConfigType) -> object:
    """The default a field of an all-optional type takes when none is given, in config form."""
    if isinstance(config_type, FieldsType):
        return Walk(post_process=False).value(config_type, {}, "default_value")
    return None


def accepts_none(config_type: ConfigType) -> bool:
    """Whether ``None`` is a valid value of ``config_type`` (``Any`` and ``Noneable``)."""
    return isinstance(config_type, (AnyType, Noneable))


def copy_default(value: object) -> object:
    """A deep copy of a default, so validated config never shares it with the schema.

    A default that cannot be copied is used as it is.
    """
    try:
        return copy.deepcopy(value)
    except Exception:  # noqa: BLE001 (user objects may raise anything)
        return value


def expected(config_type: ConfigType) -> str:
    """What a value of ``config_type`` looks like, for messages (``int``, ``a list``...)."""
    if isinstance(config_type, ScalarType):
        return SCALAR_NAMES[config_type._kind]
    if isinstance(config_type, Array):
        return "a list"
    if isinstance(config_type, Map):
        return f"a dict of {SCALAR_NAMES[config_type.key_type._kind]} keys"
    if isinstance(config_type, Noneable):
        return f"{expected(config_type.inner)} or None"
    if isinstance(config_type, Enum):
        return f"one of {_enum_choices(config_type)}"
    if isinstance(config_type, Selector):
        return f"a dict with exactly one of ({name_list(config_type._fields)})"
    if isinstance(config_type, FieldsType):
        return "a dict"
    return "any value"


def _enum_choices(enum_type: Enum) -> str:
    return ", ".join(value.config_value for value in enum_type._values)


def _scalar_ok(kind: ConfigKind, value: object) -> bool:
    if kind is ConfigKind.INT:
        return has_class(value, int) and not has_class(value, bool)
    if kind is ConfigKind.FLOAT:
        return (has_class(value, int) or has_class(value, float)) and not has_class(value, bool)
    if kind is ConfigKind.STRING:
        return has_class(value, str)
    return has_class(value, bool)


class Walk:
    """One pass over a value; ``errors`` collects the problems found along the way."""

    __slots__ = ("_guesses_left", "_post_process", "errors")

    def __init__(self, *, post_process: bool) -> None:
        self._post_process = post_process
        self._guesses_left = _MAX_GUESSES
        self.errors: list[ConfigErrorDetail] = []

    def fail(self, path: str, message: str) -> None:
        """Record one problem at ``path``."""
        self.errors.append(ConfigErrorDetail(path, message))

    def value(self, config_type: ConfigType, value: object, path: str) -> object:
        """Check ``value`` against ``config_type`` and return the processed value."""
        # Dispatch on the classes, not on ``kind``: only these classes reach a Field
        # (``resolve_config_schema`` rejects any other ConfigType subclass).
        if isinstance(config_type, AnyType):
            return value
        if isinstance(config_type, Noneable):
            return None if value is None else self.value(config_type.inner, value, path)
        if value is None:
            self.fail(path, f"expected {expected(config_type)}, got None")
            return None
        if isinstance(config_type, ScalarType):
            if not _scalar_ok(config_type._kind, value):
                self.fail(path, f"expected {expected(config_type)}, got {describe(value)}")
            return value
        if isinstance(config_type, Enum):
            return self._enum(config_type, value, path)
        if isinstance(config_type, Array):
            return self._array(config_type, value, path)
        if isinstance(config_type, Map):
            return self._map(config_type, value, path)
        if isinstance(config_type, Selector):
            return self._selector(config_type, value, path)
        if isinstance(config_type, FieldsType):
            return self._shape(config_type, value, path)
        raise InvalidArgumentError(f"unsupported config type {type(config_type).__name__}")

    def _enum(self, enum_type: Enum, value: object, path: str) -> object:
        if not has_class(value, str):
            hint = ""
            if isinstance(value, std_enum.Enum):
                try:
                    name = str.__str__(value.name)
                except Exception:  # noqa: BLE001 (user objects may raise anything)
                    name = None
                if name is not None and enum_type._lookup(name) is not None:
                    hint = f"; write the name {quote(name)} instead of the member"
            self.fail(path, f"expected {expected(enum_type)}, got {describe(value)}{hint}")
            return value
        text = str.__str__(value)
        choice = enum_type._lookup(text)
        if choice is None:
            guess = self._guess(text, [v.config_value for v in enum_type._values])
            self.fail(path, f"value {quote(text)} is not one of {_enum_choices(enum_type)}{guess}")
            return value
        return choice.python_value if self._post_process else choice.config_value

    def _array(self, array_type: Array, value: object, path: str) -> object:
        if not has_class(value, list):
            self.fail(path, f"expected {expected(array_type)}, got {describe(value)}")
            return value
        inner = array_type.inner
        return [
            self.value(inner, item, item_path(path, index))
            for index, item in enumerate(items_of(value))
        ]

    def _map(self, map_type: Map, value: object, path: str) -> object:
        if not has_class(value, dict):
            self.fail(path, f"expected {expected(map_type)}, got {describe(value)}")
            return value
        key_kind = map_type.key_type._kind
        result: dict[object, object] = {}
        for key, item in dict.items(value):
            if has_class(key, str):
                item_at = child_path(path, str.__str__(key))
            else:
                item_at = f"{path}[{describe(key)}]"
            if not _scalar_ok(key_kind, key):
                self.fail(
                    path,
                    f"map keys must be {SCALAR_NAMES[key_kind]}, got {describe(key)}",
                )
                continue
            result[key] = self.value(map_type.inner_type, item, item_at)
        return result

    def _keys(self, value: object, config_type: ConfigType, path: str) -> dict[str, object] | None:
        """The value's entries by (plain str) key, or None if it is not a dict."""
        if not has_class(value, dict):
            self.fail(path, f"expected {expected(config_type)}, got {describe(value)}")
            return None
        given: dict[str, object] = {}
        for key, item in dict.items(value):
            if has_class(key, str):
                given[str.__str__(key)] = item
            else:
                self.fail(path, f"field names must be str, got {describe(key)}")
        return given

    def _field(self, field: Field, name: str, given: dict[str, object], path: str) -> object:
        if name in given:
            return self.value(field.config_type, given[name], child_path(path, name))
        return self.value(
            field.config_type, copy_default(field.default_value), child_path(path, name)
        )

    def _shape(self, shape: FieldsType, value: object, path: str) -> object:
        given = self._keys(value, shape, path)
        if given is None:
            return value
        fields = shape._fields
        result: dict[str, object] = {}
        for name, field in fields.items():
            if name in given or field.default_provided:
                result[name] = self._field(field, name, given, path)
            elif field.is_required:
                self.fail(path, f"missing required field {quote(name)}")
        for name, item in given.items():
            if name in fields:
                continue
            if isinstance(shape, Permissive):
                result[name] = item
            else:
                self._unexpected(name, fields, path)
        return result

    def _selector(self, selector: Selector, value: object, path: str) -> object:
        given = self._keys(value, selector, path)
        if given is None:
            return value
        fields = selector._fields
        for name in given:
            if name not in fields:
                self._unexpected(name, fields, path)
        if not given and selector._all_optional():
            # The only field is optional: an empty dict selects it, with its default if it
            # has one. Without a default a dict type starts from {} and anything else is None.
            ((name, field),) = fields.items()
            if field.default_provided:
                item = copy_default(field.default_value)
            elif not isinstance(field.config_type, FieldsType):
                return {name: None}
            else:
                item = None
            return {name: self._choice(field, item, child_path(path, name))}
        if len(given) != 1:
            count = f"{len(given)}: {name_list(given)}" if given else "none"
            self.fail(path, f"selector requires exactly one of ({name_list(fields)}), got {count}")
            return value
        ((name, item),) = given.items()
        if name not in fields:
            return value
        return {name: self._choice(fields[name], item, child_path(path, name))}

    def _choice(self, field: Field, item: object, path: str) -> object:
        # A chosen field written without a value (``{"csv": None}``) stands for an empty
        # dict when the field is itself made of fields, so their defaults apply.
        if item is None and isinstance(field.config_type, FieldsType):
            item = {}
        return self.value(field.config_type, item, path)

    def _unexpected(self, name: str, fields: dict[str, Field], path: str) -> None:
        if not fields:
            self.fail(path, f"unexpected field {quote(name)} (no fields are defined here)")
            return
        guess = self._guess(name, list(fields))
        self.fail(
            path, f"unexpected field {quote(name)}{guess} (known fields: {name_list(fields)})"
        )

    def _guess(self, name: str, candidates: list[str]) -> str:
        """A ", did you mean ...?" suffix naming the closest candidate, or an empty string.

        Fuzzy matching is not free, so a value full of wrong names gets suggestions for
        the first ones only, and very long names get none.
        """
        if self._guesses_left <= 0 or len(name) > _MAX_GUESS_LENGTH:
            return ""
        self._guesses_left -= 1
        folded = name.casefold()
        close = [c for c in candidates if c.casefold() == folded]
        close = close or difflib.get_close_matches(name, candidates, n=1)
        return f", did you mean {quote(close[0])}?" if close else ""


_MAX_GUESSES = 100
_MAX_GUESS_LENGTH = 100
