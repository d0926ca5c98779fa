"""``AssetKey``: the name of an asset, as a list of string components."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import NoReturn

from ophost.definitions._metadata_support import check_bool, check_str_list, describe
from ophost.errors import InvalidArgumentError

__all__ = ["AssetKey"]

# Characters that separate components in the legacy database form (and in the
# strings given to ``AssetMaterialization``).
_LEGACY_SPLIT = re.compile(r"[^A-Za-z0-9_]")

# The user-string spelling of the key with no components. A lone backslash is
# never produced for any other key, because every backslash ``to_user_string``
# writes is followed by a backslash or a slash.
_EMPTY_USER_STRING = "\\"


def _components(owner: str, arg: str, path: object) -> tuple[str, ...]:
    if isinstance(path, str):
        return (path,)
    if isinstance(path, (list, tuple)):
        for index, item in enumerate(path):
            if not isinstance(item, str):
                raise InvalidArgumentError(
                    f'{owner}: "{arg}" must contain only str, got {describe(item)} at index {index}'
                )
        return tuple(path)
    raise InvalidArgumentError(
        f'{owner}: "{arg}" must be a str or a list or tuple of str, got {describe(path)}'
    )


def _escape(component: str) -> str:
    if "\\" in component or "/" in component:
        return component.replace("\\", "\\\\").replace("/", "\\/")
    return component


class AssetKey:
    """The key of an asset: an ordered list of string components.

    ``AssetKey("a/b")`` is one component (strings are never split here);
    ``AssetKey(["a", "b"])`` and ``AssetKey(("a", "b"))`` are two. Components may
    hold any character and may be empty; the key may have no components at all.

    Keys are immutable and hashable. Two keys are equal when their components are;
    a key never equals a plain list or tuple, but hashes like ``tuple(path)``.
    Keys order lexicographically by component.
    """

    __slots__ = ("_parts",)
    _parts: tuple[str, ...]

    def __init__(self, path: str | Sequence[str]) -> None:
        object.__setattr__(self, "_parts", _components("AssetKey", "path", path))

    @classmethod
    def _of(cls, parts: tuple[str, ...]) -> AssetKey:
        key = object.__new__(cls)
        object.__setattr__(key, "_parts", parts)
        return key

    # --- immutability, pickling --------------------------------------------------

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"AssetKey is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"AssetKey is immutable; cannot delete {name!r}")

    def __reduce__(self) -> tuple[type[AssetKey], tuple[list[str]]]:
        return (AssetKey, (list(self._parts),))

    # --- components ----------------------------------------------------------------

    @property
    def path(self) -> list[str]:
        """The components, as a new list."""
        return list(self._parts)

    @property
    def parts(self) -> tuple[str, ...]:
        """The components, as a tuple."""
        return self._parts

    # --- comparison ------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AssetKey):
            return self._parts == other._parts
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._parts)

    def __lt__(self, other: object) -> bool:
        if isinstance(other, AssetKey):
            return self._parts < other._parts
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if isinstance(other, AssetKey):
            return self._parts <= other._parts
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, AssetKey):
            return self._parts > other._parts
        return NotImplemented

    def __ge__(self, other: object) -> bool:
        if isinstance(other, AssetKey):
            return self._parts >= other._parts
        return NotImplemented

    def __repr__(self) -> str:
        return f"AssetKey({list(self._parts)!r})"

    __str__ = __repr__

    # --- string forms --------------------------------------------------------------

    def to_string(self, legacy: bool = False) -> str | None:
        """The storage form: ``json.dumps(path)``, or None for a key with no components.

        With ``legacy=True`` the components are joined with ``"."`` instead.
        """
        if check_bool("AssetKey.to_string", "legacy", legacy):
            return ".".join(self._parts)
        if not self._parts:
            return None
        return json.dumps(list(self._parts))

    def to_user_string(self) -> str:
        """The components joined with ``"/"``, escaped so that the form can be parsed back.

        Inside a component a backslash is written ``\\\\`` and a slash ``\\/``; keys
        whose components hold neither come out as the plain ``"/"`` join. The key with
        no components is written as a single backslash. ``from_user_string`` inverts
        this exactly.
        """
        if not self._parts:
            return _EMPTY_USER_STRING
        return "/".join(_escape(part) for part in self._parts)

    @staticmethod
    def from_user_string(user_string: str) -> AssetKey:
        """Parse the form written by ``to_user_string``.

        Splits on every ``"/"`` that is not escaped; ``""`` is the key ``[""]``. A
        backslash must be followed by a backslash or a slash; anything else is an
        ``InvalidArgumentError``.
        """
        owner = "AssetKey.from_user_string"
        if not isinstance(user_string, str):
            raise InvalidArgumentError(
                f'{owner}: "user_string" must be a str, got {describe(user_string)}'
            )
        if "\\" not in user_string:
            return AssetKey._of(tuple(user_string.split("/")))
        if user_string == _EMPTY_USER_STRING:
            return AssetKey._of(())
        parts: list[str] = []
        current: list[str] = []
        index = 0
        length = len(user_string)
        while index < length:
            char = user_string[index]
            if char == "\\":
                following = user_string[index + 1 : index + 2]
                if following not in ("\\", "/"):
                    raise InvalidArgumentError(
                        f"{owner}: the backslash at index {index} of {user_string!r} is not "
                        'followed by "\\" or "/"; write a literal backslash as "\\\\"'
                    )
                current.append(following)
                index += 2
                continue
            if char == "/":
                parts.append("".join(current))
                current = []
            else:
                current.append(char)
            index += 1
        parts.append("".join(current))
        return AssetKey._of(tuple(parts))

    @staticmethod
    def from_db_string(asset_key_string: str | None) -> AssetKey | None:
        """Parse the storage form; None or ``""`` give None.

        A string starting with ``"["`` is read as a JSON list of str; any other
        string (or one that is not valid JSON) is split on every character outside
        ``[A-Za-z0-9_]``, dropping empty pieces (``"a.b-c d"`` is ``["a", "b", "c", "d"]``).
        """
        owner = "AssetKey.from_db_string"
        if asset_key_string is None or asset_key_string == "":
            return None
        if not isinstance(asset_key_string, str):
            raise InvalidArgumentError(
                f'{owner}: "asset_key_string" must be a str or None, '
                f"got {describe(asset_key_string)}"
            )
        if asset_key_string.startswith("["):
            try:
                decoded = json.loads(asset_key_string)
            except (ValueError, RecursionError):
                pass  # not JSON after all: read it in the legacy form below
            else:
                return AssetKey._of(_components(owner, "asset_key_string", decoded))
        return AssetKey._of(tuple(p for p in _LEGACY_SPLIT.split(asset_key_string) if p))

    @staticmethod
    def get_db_prefix(path: Sequence[str], legacy: bool = False) -> str:
        """The storage form of ``path`` without its closing ``"]``, for prefix queries.

        With ``legacy=True``: the components joined with ``"."``.
        """
        owner = "AssetKey.get_db_prefix"
        components = check_str_list(owner, "path", path)
        if check_bool(owner, "legacy", legacy):
            return ".".join(components)
        return json.dumps(components)[:-2]

    @staticmethod
    def from_graphql_input(graphql_input_asset_key: Mapping[str, object] | None) -> AssetKey | None:
        """``AssetKey(d["path"])`` when ``d`` and its ``"path"`` are non-empty, else None."""
        owner = "AssetKey.from_graphql_input"
        if not graphql_input_asset_key:
            return None
        if not isinstance(graphql_input_asset_key, Mapping):
            raise InvalidArgumentError(
                f'{owner}: "graphql_input_asset_key" must be a mapping or None, '
                f"got {describe(graphql_input_asset_key)}"
            )
        path = graphql_input_asset_key.get("path")
        if not path:
            return None
        return AssetKey._of(_components(owner, "path", path))

    @staticmethod
    def from_coerceable(arg: AssetKey | str | Sequence[str]) -> AssetKey:
        """An ``AssetKey`` as is, a str as one component, a list or tuple of str as the path."""
        if isinstance(arg, AssetKey):
            return arg
        return AssetKey._of(_components("AssetKey.from_coerceable", "arg", arg))

    from_coercible = from_coerceable

    def with_prefix(self, prefix: str | Sequence[str]) -> AssetKey:
        """A new key with ``prefix`` (one component, or a list or tuple of them) in front."""
        return AssetKey._of(_components("AssetKey.with_prefix", "prefix", prefix) + self._parts)

    def has_prefix(self, prefix: Sequence[str]) -> bool:
        """Whether the first components of this key are ``prefix``."""
        components = check_str_list("AssetKey.has_prefix", "prefix", prefix)
        return list(self._parts[: len(components)]) == components
