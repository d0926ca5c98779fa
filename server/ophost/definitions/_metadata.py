"""Metadata: labelled entries, and the normalisation of raw values into value kinds.

The value kinds themselves live in :mod:`ophost.definitions._metadata_values` and are
re-exported here.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ophost.definitions._asset_key import AssetKey
from ophost.definitions._metadata_support import check_opt_str, check_str, describe, json_problem
from ophost.definitions._metadata_values import (
    BoolMetadataValue,
    DagsterAssetMetadataValue,
    DagsterPipelineRunMetadataValue,
    DagsterRunMetadataValue,
    FloatMetadataValue,
    IntMetadataValue,
    JsonMetadataValue,
    MarkdownMetadataValue,
    MetadataValue,
    NullMetadataValue,
    PathMetadataValue,
    PythonArtifactMetadataValue,
    TableMetadataValue,
    TableSchemaMetadataValue,
    TextMetadataValue,
    UrlMetadataValue,
)
from ophost.definitions._table import TableRecord, TableSchema
from ophost.errors import InvalidArgumentError, InvalidMetadataError

__all__ = [
    "BoolMetadataValue",
    "DagsterAssetMetadataValue",
    "DagsterPipelineRunMetadataValue",
    "DagsterRunMetadataValue",
    "FloatMetadataValue",
    "IntMetadataValue",
    "JsonMetadataValue",
    "MarkdownMetadataValue",
    "MetadataEntry",
    "MetadataValue",
    "NullMetadataValue",
    "PathMetadataValue",
    "PythonArtifactMetadataValue",
    "TableMetadataValue",
    "TableSchemaMetadataValue",
    "TextMetadataValue",
    "UrlMetadataValue",
    "normalize_metadata",
    "normalize_metadata_value",
]


@dataclass(frozen=True, init=False)
class MetadataEntry:
    """A labelled metadata value, with an optional description.

    ``MetadataEntry(label, description=None, entry_data=None, value=None)``: give the
    value as ``value=`` or (the older spelling, also the third positional argument)
    ``entry_data=``, not both. Either goes through the same normalisation as a
    ``metadata`` dict value, so ``MetadataEntry("l", value="x")`` holds a
    ``TextMetadataValue``; giving neither stores a ``NullMetadataValue``.
    ``value`` reads back ``entry_data``.
    """

    label: str
    description: str | None
    entry_data: MetadataValue

    def __init__(
        self,
        label: str,
        description: str | None = None,
        entry_data: object = None,
        value: object = None,
    ) -> None:
        owner = "MetadataEntry"
        check_str(owner, "label", label)
        check_opt_str(owner, "description", description)
        if entry_data is not None and value is not None:
            raise InvalidArgumentError(
                f'{owner}: give the value as "value" or as "entry_data", not both'
            )
        raw = value if entry_data is None else entry_data
        object.__setattr__(self, "label", label)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "entry_data", _normalize_value(owner, label, raw, False))

    @classmethod
    def _unchecked(cls, label: str, entry_data: MetadataValue) -> MetadataEntry:
        entry = object.__new__(cls)
        object.__setattr__(entry, "label", label)
        object.__setattr__(entry, "description", None)
        object.__setattr__(entry, "entry_data", entry_data)
        return entry

    @property
    def value(self) -> MetadataValue:
        """The metadata value (the same object as ``entry_data``)."""
        return self.entry_data

    # Static constructors: ``MetadataEntry.<kind>(payload, label, description=None)``.

    @staticmethod
    def text(
        text: builtins.str | None, label: builtins.str, description: builtins.str | None = None
    ) -> MetadataEntry:
        return MetadataEntry(label, description, TextMetadataValue(text))

    @staticmethod
    def url(
        url: builtins.str | None, label: builtins.str, description: builtins.str | None = None
    ) -> MetadataEntry:
        return MetadataEntry(label, description, UrlMetadataValue(url))

    @staticmethod
    def path(
        path: builtins.str | os.PathLike[builtins.str] | None,
        label: builtins.str,
        description: builtins.str | None = None,
    ) -> MetadataEntry:
        return MetadataEntry(label, description, PathMetadataValue(path))

    @staticmethod
    def fspath(
        path: builtins.str,
        label: builtins.str | None = None,
        description: builtins.str | None = None,
    ) -> MetadataEntry:
        """A path entry whose label defaults to the last component of the path."""
        check_str("MetadataEntry.fspath", "path", path)
        if label is None:
            label = os.path.basename(os.path.normpath(path))
        return MetadataEntry(label, description, PathMetadataValue(path))

    @staticmethod
    def json(
        data: Mapping[builtins.str, Any] | builtins.list[Any] | None,
        label: builtins.str,
        description: builtins.str | None = None,
    ) -> MetadataEntry:
        return MetadataEntry(label, description, JsonMetadataValue(data))

    @staticmethod
    def md(
        md_str: builtins.str | None, label: builtins.str, description: builtins.str | None = None
    ) -> MetadataEntry:
        return MetadataEntry(label, description, MarkdownMetadataValue(md_str))

    @staticmethod
    def python_artifact(
        python_artifact: Callable[..., Any],
        label: builtins.str,
        description: builtins.str | None = None,
    ) -> MetadataEntry:
        return MetadataEntry(label, description, MetadataValue.python_artifact(python_artifact))

    @staticmethod
    def float(
        value: builtins.float | None, label: builtins.str, description: builtins.str | None = None
    ) -> MetadataEntry:
        return MetadataEntry(label, description, FloatMetadataValue(value))

    @staticmethod
    def int(
        value: builtins.int | None, label: builtins.str, description: builtins.str | None = None
    ) -> MetadataEntry:
        return MetadataEntry(label, description, IntMetadataValue(value))

    @staticmethod
    def pipeline_run(
        run_id: builtins.str, label: builtins.str, description: builtins.str | None = None
    ) -> MetadataEntry:
        return MetadataEntry(label, description, DagsterPipelineRunMetadataValue(run_id))

    @staticmethod
    def asset(
        asset_key: AssetKey, label: builtins.str, description: builtins.str | None = None
    ) -> MetadataEntry:
        return MetadataEntry(label, description, DagsterAssetMetadataValue(asset_key))

    @staticmethod
    def table(
        records: list[TableRecord],
        label: builtins.str,
        description: builtins.str | None = None,
        schema: TableSchema | None = None,
    ) -> MetadataEntry:
        return MetadataEntry(label, description, TableMetadataValue(records, schema))

    @staticmethod
    def table_schema(
        schema: TableSchema, label: builtins.str, description: builtins.str | None = None
    ) -> MetadataEntry:
        return MetadataEntry(label, description, TableSchemaMetadataValue(schema))


# --- normalisation -----------------------------------------------------------------


def _prefix(owner: str | None) -> str:
    return f"{owner}: " if owner else ""


def _json_value(
    owner: str | None, label: str, raw: dict[Any, Any] | list[Any]
) -> JsonMetadataValue:
    kind = "dict" if isinstance(raw, dict) else "list"
    if isinstance(raw, dict):
        for key in raw:
            if not isinstance(key, str):
                raise InvalidArgumentError(
                    f'{_prefix(owner)}the metadata value for "{label}" is a dict whose keys '
                    f"must be str, got {describe(key)}"
                )
    problem = json_problem(raw)
    if problem is not None:
        raise InvalidMetadataError(
            f'{_prefix(owner)}the metadata value for "{label}" is a {kind} but is not '
            f"JSON serializable: {problem}"
        )
    return JsonMetadataValue._unchecked(raw)  # noqa: SLF001 - already checked here


def _strict_value(owner: str | None, label: str, raw: object) -> MetadataValue:
    if isinstance(raw, MetadataValue):
        return raw
    if isinstance(raw, str):
        return TextMetadataValue(raw)
    if isinstance(raw, float):
        return FloatMetadataValue(raw)
    if isinstance(raw, bool):  # before int: a bool is an int
        return BoolMetadataValue(raw)
    if isinstance(raw, int):
        return IntMetadataValue(raw)
    if isinstance(raw, (dict, list)):  # a list is accepted as current Dagster does (Policy)
        return _json_value(owner, label, raw)
    if raw is None:  # as current Dagster does (Policy)
        return NullMetadataValue()
    if isinstance(raw, os.PathLike):
        path = os.fspath(raw)
        if isinstance(path, str):
            return PathMetadataValue(path)
    elif isinstance(raw, AssetKey):
        return DagsterAssetMetadataValue(raw)
    elif isinstance(raw, TableSchema):
        return TableSchemaMetadataValue(raw)
    elif isinstance(raw, MetadataEntry):
        raise InvalidMetadataError(
            f'{_prefix(owner)}expected a metadata value for "{label}", found a MetadataEntry; '
            "give the value itself (or a MetadataValue) instead"
        )
    raise InvalidMetadataError(
        f'{_prefix(owner)}could not resolve the metadata value for "{label}" to a known '
        f"type. Its type was {type(raw)!r}. Wrap it in a MetadataValue constructor such "
        "as MetadataValue.text(...) or MetadataValue.json(...)"
    )


def _normalize_value(owner: str | None, label: str, raw: object, lenient: bool) -> MetadataValue:
    if not lenient:
        return _strict_value(owner, label, raw)
    try:
        return _strict_value(owner, label, raw)
    except (InvalidMetadataError, InvalidArgumentError):
        return TextMetadataValue(f"[{type(raw).__name__}] (unserializable)")


def normalize_metadata_value(label: str, raw: object, *, lenient: bool = False) -> MetadataValue:
    """Convert one raw metadata value into a ``MetadataValue``.

    The rules are those of a ``metadata`` dict value (see ``normalize_metadata``);
    ``label`` is used in error messages.
    """
    check_str("normalize_metadata_value", "label", label)
    return _normalize_value(None, label, raw, lenient)


def normalize_metadata(
    metadata: Mapping[str, object] | None,
    metadata_entries: Sequence[MetadataEntry] | None,
    *,
    lenient: bool = False,
) -> list[MetadataEntry]:
    """Turn a ``metadata`` dict or a ``metadata_entries`` list into a list of entries.

    Giving both (non-empty) is an ``InvalidMetadataError``. Entries are returned as
    given, in a new list. Dict values become entries labelled with their key, in
    dict order:

    ============================  ==========================================
    raw value                     kind
    ============================  ==========================================
    a ``MetadataValue``           itself
    str                           ``TextMetadataValue``
    float (NaN, inf included)     ``FloatMetadataValue``
    bool (checked before int)     ``BoolMetadataValue``
    int                           ``IntMetadataValue``
    dict with str keys, or list   ``JsonMetadataValue`` (must be JSON data)
    None                          ``NullMetadataValue``
    ``os.PathLike``               ``PathMetadataValue``
    ``AssetKey``                  ``DagsterAssetMetadataValue``
    ``TableSchema``               ``TableSchemaMetadataValue``
    ============================  ==========================================

    Anything else (a tuple, a set, bytes, a ``MetadataEntry``, other objects) is an
    ``InvalidMetadataError``, as is a dict or list that is not JSON data. With
    ``lenient=True`` (definition metadata of ``In`` and ``Out``) such a value
    becomes ``TextMetadataValue("[<TypeName>] (unserializable)")`` instead.
    """
    return _normalize(None, metadata, metadata_entries, lenient=lenient)


def _normalize(
    owner: str | None,
    metadata: Mapping[str, object] | None,
    metadata_entries: Sequence[MetadataEntry] | None,
    *,
    lenient: bool = False,
) -> list[MetadataEntry]:
    """``normalize_metadata``, with ``owner`` (e.g. ``"Output"``) named in errors."""
    prefix = _prefix(owner)
    if metadata is not None and not isinstance(metadata, Mapping):
        raise InvalidArgumentError(
            f'{prefix}"metadata" must be a mapping of str to value or None, '
            f"got {describe(metadata)}"
        )
    if metadata_entries is not None and not isinstance(metadata_entries, (list, tuple)):
        raise InvalidArgumentError(
            f'{prefix}"metadata_entries" must be a list of MetadataEntry or None, '
            f"got {describe(metadata_entries)}"
        )
    if metadata and metadata_entries:
        raise InvalidMetadataError(
            f'{prefix}give metadata either as "metadata" or as "metadata_entries", not both'
        )
    if metadata_entries:
        for index, entry in enumerate(metadata_entries):
            if not isinstance(entry, MetadataEntry):
                raise InvalidArgumentError(
                    f'{prefix}"metadata_entries" must contain only MetadataEntry, '
                    f"got {describe(entry)} at index {index}"
                )
        return list(metadata_entries)
    if not metadata:
        return []
    entries = []
    for label, raw in metadata.items():
        if not isinstance(label, str):
            raise InvalidArgumentError(
                f'{prefix}the keys of "metadata" must be str, got {describe(label)}'
            )
        entries.append(
            MetadataEntry._unchecked(label, _normalize_value(owner, label, raw, lenient))  # noqa: SLF001 - already checked here
        )
    return entries
