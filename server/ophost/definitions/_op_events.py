"""What an op body produces or raises: outputs, events, and the control-flow exceptions.

``Output``, ``AssetMaterialization``, ``AssetObservation``, ``ExpectationResult`` and
``TypeCheck`` are immutable and validated when built; each takes metadata either as a
``metadata`` dict or as a ``metadata_entries`` list (not both) and keeps it as
``metadata_entries``. ``Failure`` and ``RetryRequested`` are exceptions an op raises
to fail on purpose or to ask to be run again.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ophost.definitions._asset_key import AssetKey
from ophost.definitions._metadata import MetadataEntry, PathMetadataValue, _normalize
from ophost.definitions._metadata_support import (
    check_bool,
    check_opt_str,
    check_str,
    describe,
    loose_equal,
)
from ophost.errors import InvalidArgumentError

__all__ = [
    "LOGGABLE_EVENTS",
    "AssetMaterialization",
    "AssetObservation",
    "Event",
    "ExpectationResult",
    "Failure",
    "LoggableEvent",
    "Output",
    "RetryRequested",
    "TypeCheck",
]

T = TypeVar("T")

# ``AssetMaterialization("a/b.c")`` (and ``AssetObservation``) splits its string key on
# these characters.
_EVENT_KEY_SPLIT = re.compile(r"[^A-Za-z0-9_]+")


@dataclass(frozen=True, init=False, eq=False)
class Output(Generic[T]):
    """A value for one of the op's outputs (``"result"`` unless named).

    ``output_name`` must be a str; whether the op has such an output is checked
    when the output is processed. Two outputs are equal when their values (with
    ``==``, NaN equal to NaN), names and metadata entries are.
    """

    value: T
    output_name: str
    metadata_entries: list[MetadataEntry]

    def __init__(
        self,
        value: T,
        output_name: str = "result",
        metadata_entries: Sequence[MetadataEntry] | None = None,
        metadata: Mapping[str, object] | None = None,
    ) -> None:
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "output_name", check_str("Output", "output_name", output_name))
        object.__setattr__(
            self, "metadata_entries", _normalize("Output", metadata, metadata_entries)
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Output):
            return NotImplemented
        return (
            self.output_name == other.output_name
            and self.metadata_entries == other.metadata_entries
            and loose_equal(self.value, other.value)
        )

    __hash__ = None  # type: ignore[assignment]


def _event_asset_key(owner: str, asset_key: object) -> AssetKey:
    if isinstance(asset_key, AssetKey):
        return asset_key
    if isinstance(asset_key, str):
        return AssetKey([part for part in _EVENT_KEY_SPLIT.split(asset_key) if part])
    if isinstance(asset_key, (list, tuple)):
        for index, part in enumerate(asset_key):
            if not isinstance(part, str):
                raise InvalidArgumentError(
                    f'{owner}: "asset_key" must contain only str, '
                    f"got {describe(part)} at index {index}"
                )
        return AssetKey(asset_key)
    raise InvalidArgumentError(
        f'{owner}: "asset_key" must be an AssetKey, a str, or a list or tuple '
        f"of str, got {describe(asset_key)}"
    )


def _tags(owner: str, tags: object) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidArgumentError(
            f'{owner}: "tags" must be a mapping of str to str or None, got {describe(tags)}'
        )
    for key, value in tags.items():
        if not isinstance(key, str):
            raise InvalidArgumentError(
                f'{owner}: the keys of "tags" must be str, got {describe(key)}'
            )
        if not isinstance(value, str):
            raise InvalidArgumentError(
                f'{owner}: the value of tag "{key}" must be a str, got {describe(value)}'
            )
    return dict(tags)


@dataclass(frozen=True, init=False)
class AssetMaterialization:
    """Records that the op wrote (materialised) an asset.

    ``asset_key`` may be an ``AssetKey``, a list or tuple of str (used as is), or a
    str, which, unlike ``AssetKey("...")``, is split on every character outside
    ``[A-Za-z0-9_]`` with empty pieces dropped: ``"a/b.c-d e"`` is the key
    ``["a", "b", "c", "d", "e"]``. ``tags`` maps str to str.
    """

    asset_key: AssetKey
    description: str | None
    metadata_entries: list[MetadataEntry]
    partition: str | None
    tags: dict[str, str]

    def __init__(
        self,
        asset_key: AssetKey | str | Sequence[str],
        description: str | None = None,
        metadata_entries: Sequence[MetadataEntry] | None = None,
        partition: str | None = None,
        tags: Mapping[str, str] | None = None,
        metadata: Mapping[str, object] | None = None,
    ) -> None:
        owner = "AssetMaterialization"
        object.__setattr__(self, "asset_key", _event_asset_key(owner, asset_key))
        object.__setattr__(self, "description", check_opt_str(owner, "description", description))
        object.__setattr__(self, "metadata_entries", _normalize(owner, metadata, metadata_entries))
        object.__setattr__(self, "partition", check_opt_str(owner, "partition", partition))
        object.__setattr__(self, "tags", _tags(owner, tags))

    __hash__ = None  # type: ignore[assignment]

    @property
    def label(self) -> str:
        """The key's components joined with spaces."""
        return " ".join(self.asset_key.path)

    @staticmethod
    def file(
        path: str | os.PathLike[str],
        description: str | None = None,
        asset_key: AssetKey | str | Sequence[str] | None = None,
    ) -> AssetMaterialization:
        """A materialisation of the file at ``path``, with a ``"path"`` metadata entry.

        The key defaults to the path string, split as described on the class
        (``"/data/x/y.csv"`` gives ``["data", "x", "y", "csv"]``). As in Dagster, a
        path-like ``path`` needs an explicit ``asset_key``; only a str path can
        serve as the key.
        """
        owner = "AssetMaterialization.file"
        if asset_key is None:
            if not isinstance(path, str):
                raise InvalidArgumentError(
                    f'{owner}: "path" must be a str when no "asset_key" is given (the key '
                    f"is made from the path string), got {describe(path)}"
                )
            asset_key = path
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidArgumentError(
                f'{owner}: "path" must be a str or an os.PathLike of str, got {describe(path)}'
            )
        return AssetMaterialization(
            asset_key=asset_key,
            description=description,
            metadata_entries=[MetadataEntry("path", value=PathMetadataValue(path))],
        )


@dataclass(frozen=True, init=False)
class AssetObservation:
    """Records what the op saw of an asset, without writing it.

    An observation carries metadata about an asset (a row count, a freshness, a
    checksum) that something else creates. Its arguments and their checks are those
    of ``AssetMaterialization``: ``asset_key`` may be an ``AssetKey``, a list or
    tuple of str (used as is), or a str split on every character outside
    ``[A-Za-z0-9_]``; ``tags`` maps str to str.
    """

    asset_key: AssetKey
    description: str | None
    metadata_entries: list[MetadataEntry]
    partition: str | None
    tags: dict[str, str]

    def __init__(
        self,
        asset_key: AssetKey | str | Sequence[str],
        description: str | None = None,
        metadata_entries: Sequence[MetadataEntry] | None = None,
        partition: str | None = None,
        tags: Mapping[str, str] | None = None,
        metadata: Mapping[str, object] | None = None,
    ) -> None:
        owner = "AssetObservation"
        object.__setattr__(self, "asset_key", _event_asset_key(owner, asset_key))
        object.__setattr__(self, "description", check_opt_str(owner, "description", description))
        object.__setattr__(self, "metadata_entries", _normalize(owner, metadata, metadata_entries))
        object.__setattr__(self, "partition", check_opt_str(owner, "partition", partition))
        object.__setattr__(self, "tags", _tags(owner, tags))

    __hash__ = None  # type: ignore[assignment]

    @property
    def label(self) -> str:
        """The key's components joined with spaces."""
        return " ".join(self.asset_key.path)


@dataclass(frozen=True, init=False)
class ExpectationResult:
    """The result of a data-quality expectation; a failed one does not fail the op."""

    success: bool
    label: str
    description: str | None
    metadata_entries: list[MetadataEntry]

    def __init__(
        self,
        success: bool,
        label: str | None = None,
        description: str | None = None,
        metadata_entries: Sequence[MetadataEntry] | None = None,
        metadata: Mapping[str, object] | None = None,
    ) -> None:
        owner = "ExpectationResult"
        object.__setattr__(self, "success", check_bool(owner, "success", success))
        object.__setattr__(
            self, "label", "result" if label is None else check_str(owner, "label", label)
        )
        object.__setattr__(self, "description", check_opt_str(owner, "description", description))
        object.__setattr__(self, "metadata_entries", _normalize(owner, metadata, metadata_entries))

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, init=False)
class TypeCheck:
    """The result of a type check, returned by a type's check function."""

    success: bool
    description: str | None
    metadata_entries: list[MetadataEntry]

    def __init__(
        self,
        success: bool,
        description: str | None = None,
        metadata_entries: Sequence[MetadataEntry] | None = None,
        metadata: Mapping[str, object] | None = None,
    ) -> None:
        owner = "TypeCheck"
        object.__setattr__(self, "success", check_bool(owner, "success", success))
        object.__setattr__(self, "description", check_opt_str(owner, "description", description))
        object.__setattr__(self, "metadata_entries", _normalize(owner, metadata, metadata_entries))

    __hash__ = None  # type: ignore[assignment]


LoggableEvent = AssetMaterialization | AssetObservation | ExpectationResult
"""The events an op may yield or record with ``context.log_event``."""

LOGGABLE_EVENTS = (AssetMaterialization, AssetObservation, ExpectationResult)
"""The classes of ``LoggableEvent``, for ``isinstance``."""

Event = Output[Any] | AssetMaterialization | AssetObservation | ExpectationResult
"""What an op body may yield (``TypeCheck`` is returned by type checks, not yielded)."""


class Failure(Exception):
    """Raise to fail the op on purpose, with a description and metadata.

    ``str(failure)`` is ``str(description)`` and ``failure.args`` is
    ``(description,)``. ``allow_retries=False`` makes the op fail at once even when
    a retry policy applies; None (the default) means True.
    """

    description: str | None
    metadata_entries: list[MetadataEntry]
    allow_retries: bool

    def __init__(
        self,
        description: str | None = None,
        metadata_entries: Sequence[MetadataEntry] | None = None,
        metadata: Mapping[str, object] | None = None,
        allow_retries: bool | None = None,
    ) -> None:
        owner = "Failure"
        super().__init__(description)
        self.description = check_opt_str(owner, "description", description)
        self.metadata_entries = _normalize(owner, metadata, metadata_entries)
        self.allow_retries = (
            True if allow_retries is None else check_bool(owner, "allow_retries", allow_retries)
        )

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuild through __init__ so that pickling keeps every attribute (the default
        # would call Failure(description) only); extra attributes travel as state.
        arguments = (self.description, self.metadata_entries, None, self.allow_retries)
        return (Failure, arguments, dict(self.__dict__))


class RetryRequested(Exception):
    """Raise (usually ``from`` the original error) to ask for the op to be run again.

    ``max_retries`` (an int; a bool is rejected) bounds how many times the op is
    retried in all; ``seconds_to_wait`` (an int, a float or None) is the wait before
    the next attempt. A retry policy on the op is not consulted for this request.
    """

    max_retries: int
    seconds_to_wait: float | None

    def __init__(self, max_retries: int = 1, seconds_to_wait: float | None = None) -> None:
        owner = "RetryRequested"
        super().__init__()
        if isinstance(max_retries, bool) or not isinstance(max_retries, int):
            raise InvalidArgumentError(
                f'{owner}: "max_retries" must be an int, got {describe(max_retries)}'
            )
        if seconds_to_wait is not None and (
            isinstance(seconds_to_wait, bool) or not isinstance(seconds_to_wait, (int, float))
        ):
            raise InvalidArgumentError(
                f'{owner}: "seconds_to_wait" must be an int, a float or None, '
                f"got {describe(seconds_to_wait)}"
            )
        self.max_retries = max_retries
        self.seconds_to_wait = seconds_to_wait

    def __repr__(self) -> str:
        return (
            f"RetryRequested(max_retries={self.max_retries!r}, "
            f"seconds_to_wait={self.seconds_to_wait!r})"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (RetryRequested, (self.max_retries, self.seconds_to_wait), dict(self.__dict__))
