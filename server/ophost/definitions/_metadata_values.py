"""The metadata value kinds: ``MetadataValue`` and one immutable class per kind.

Equality is typed: values of different classes are never equal, even when their
payloads are (``IntMetadataValue(1) != FloatMetadataValue(1.0)``), and a value never
equals a plain tuple. NaN equals NaN, in floats and inside JSON and table payloads,
so that a value survives an encode/decode round trip equal to itself. Values whose
payload is a list or dict (JSON, table, table schema) are not hashable.
"""

from __future__ import annotations

import builtins
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ophost.definitions._asset_key import AssetKey
from ophost.definitions._metadata_support import (
    check_opt_bool,
    check_opt_str,
    check_str,
    describe,
    float_hash,
    json_equal,
    json_problem,
)
from ophost.definitions._table import TableColumn, TableRecord, TableSchema
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
    "MetadataValue",
    "NullMetadataValue",
    "PathMetadataValue",
    "PythonArtifactMetadataValue",
    "TableMetadataValue",
    "TableSchemaMetadataValue",
    "TextMetadataValue",
    "UrlMetadataValue",
]


class MetadataValue:
    """Base class of every metadata value kind, and home of their static constructors.

    ``MetadataValue.text("a")``, ``MetadataValue.int(3)`` and so on build the
    matching value class. ``value`` gives the payload (for the python-artifact and
    table kinds, the value object itself). The base class cannot be instantiated.
    """

    def __init__(self) -> None:
        raise InvalidArgumentError(
            "MetadataValue is the base class of the metadata kinds; build a value with "
            "one of its static constructors, e.g. MetadataValue.text(...)"
        )

    if TYPE_CHECKING:
        # Declared for type checkers only: at run time every kind provides ``value``
        # itself, as a property or (float, int, bool) as its field, which a property
        # on this base class would hide.
        @property
        def value(self) -> object: ...

    @staticmethod
    def text(text: builtins.str | None) -> TextMetadataValue:
        """Plain text; None becomes ``""``."""
        return TextMetadataValue(text)

    @staticmethod
    def url(url: builtins.str | None) -> UrlMetadataValue:
        """A URL; None becomes ``""``."""
        return UrlMetadataValue(url)

    @staticmethod
    def path(path: builtins.str | os.PathLike[builtins.str] | None) -> PathMetadataValue:
        """A filesystem path (str or path-like); None becomes ``""``."""
        return PathMetadataValue(path)

    @staticmethod
    def json(
        data: Mapping[builtins.str, Any] | builtins.list[Any] | None,
    ) -> JsonMetadataValue:
        """JSON data: a dict with str keys or a list; None becomes ``{}``."""
        return JsonMetadataValue(data)

    @staticmethod
    def md(data: builtins.str | None) -> MarkdownMetadataValue:
        """Markdown text; None becomes ``""``."""
        return MarkdownMetadataValue(data)

    @staticmethod
    def python_artifact(python_artifact: Callable[..., Any]) -> PythonArtifactMetadataValue:
        """A reference to a Python function or class, by module and name."""
        owner = "MetadataValue.python_artifact"
        if not callable(python_artifact):
            raise InvalidArgumentError(
                f'{owner}: "python_artifact" must be callable, got {describe(python_artifact)}'
            )
        module = getattr(python_artifact, "__module__", None)
        name = getattr(python_artifact, "__name__", None)
        if not isinstance(module, builtins.str) or not isinstance(name, builtins.str):
            raise InvalidArgumentError(
                f'{owner}: "python_artifact" must have a str __module__ and __name__ '
                f"(a function or a class), got {describe(python_artifact)}"
            )
        return PythonArtifactMetadataValue(module, name)

    @staticmethod
    def float(value: builtins.float | None) -> FloatMetadataValue:
        """A float (an int is rejected), NaN and infinities included; or None."""
        return FloatMetadataValue(value)

    @staticmethod
    def int(value: builtins.int | None) -> IntMetadataValue:
        """An int of any size (a float is rejected); or None."""
        return IntMetadataValue(value)

    @staticmethod
    def bool(value: builtins.bool | None) -> BoolMetadataValue:
        """A bool (strictly; ``1`` is rejected); or None."""
        return BoolMetadataValue(value)

    @staticmethod
    def null() -> NullMetadataValue:
        """The absence of a value."""
        return NullMetadataValue()

    @staticmethod
    def pipeline_run(run_id: builtins.str) -> DagsterPipelineRunMetadataValue:
        """A reference to a run, by id."""
        return DagsterPipelineRunMetadataValue(run_id)

    @staticmethod
    def dagster_run(run_id: builtins.str) -> DagsterPipelineRunMetadataValue:
        """The same as ``pipeline_run`` (the newer Dagster name)."""
        return DagsterPipelineRunMetadataValue(run_id)

    @staticmethod
    def asset(asset_key: AssetKey) -> DagsterAssetMetadataValue:
        """A reference to an asset; ``asset_key`` must be an ``AssetKey``."""
        return DagsterAssetMetadataValue(asset_key)

    @staticmethod
    def table(records: list[TableRecord], schema: TableSchema | None = None) -> TableMetadataValue:
        """A table of records; the schema is inferred from the first record if omitted."""
        return TableMetadataValue(records, schema)

    @staticmethod
    def table_schema(schema: TableSchema) -> TableSchemaMetadataValue:
        """A table schema on its own."""
        return TableSchemaMetadataValue(schema)


def _opt_text(owner: str, arg: str, value: object) -> str:
    return check_opt_str(owner, arg, value) or ""


@dataclass(frozen=True, init=False)
class TextMetadataValue(MetadataValue):
    """Plain text."""

    text: str  # type: ignore[assignment]  # the field shadows MetadataValue.text, as in Dagster

    def __init__(self, text: str | None) -> None:
        object.__setattr__(self, "text", _opt_text("TextMetadataValue", "text", text))

    @property
    def value(self) -> str:
        return self.text


@dataclass(frozen=True, init=False)
class UrlMetadataValue(MetadataValue):
    """A URL."""

    url: str  # type: ignore[assignment]  # the field shadows MetadataValue.url, as in Dagster

    def __init__(self, url: str | None) -> None:
        object.__setattr__(self, "url", _opt_text("UrlMetadataValue", "url", url))

    @property
    def value(self) -> str:
        return self.url


@dataclass(frozen=True, init=False)
class PathMetadataValue(MetadataValue):
    """A filesystem path, stored as a str."""

    path: str  # type: ignore[assignment]  # the field shadows MetadataValue.path, as in Dagster

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if path is not None and not isinstance(path, str):
            raise InvalidArgumentError(
                'PathMetadataValue: "path" must be a str, an os.PathLike of str or None, '
                f"got {describe(path)}"
            )
        object.__setattr__(self, "path", path or "")

    @property
    def value(self) -> str:
        return self.path


@dataclass(frozen=True, init=False, eq=False)
class JsonMetadataValue(MetadataValue):
    """JSON data: a dict with str keys, or a list.

    The data is checked to be JSON (see the metadata docs) but not copied; do not
    change it afterwards. Equality is typed and structural: ``1``, ``1.0`` and
    ``True`` differ, NaN equals NaN, and a tuple inside equals a list with equal items.
    """

    data: dict[str, Any] | list[Any]

    def __init__(self, data: Mapping[str, Any] | list[Any] | None) -> None:
        owner = "JsonMetadataValue"
        if data is None:
            data = {}
        elif isinstance(data, Mapping):
            if not isinstance(data, dict):
                data = dict(data)
            for key in data:
                if not isinstance(key, str):
                    raise InvalidArgumentError(
                        f'{owner}: the keys of "data" must be str, got {describe(key)}'
                    )
        elif not isinstance(data, list):
            raise InvalidArgumentError(
                f'{owner}: "data" must be a dict, a list or None, got {describe(data)}'
            )
        problem = json_problem(data)
        if problem is not None:
            raise InvalidMetadataError(f'{owner}: "data" is not JSON serializable: {problem}')
        object.__setattr__(self, "data", data)

    @classmethod
    def _unchecked(cls, data: dict[str, Any] | list[Any]) -> JsonMetadataValue:
        """Build from data the caller has already validated."""
        value = object.__new__(cls)
        object.__setattr__(value, "data", data)
        return value

    @property
    def value(self) -> dict[str, Any] | list[Any]:
        return self.data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JsonMetadataValue):
            return NotImplemented
        return json_equal(self.data, other.data)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, init=False)
class MarkdownMetadataValue(MetadataValue):
    """Markdown text."""

    md_str: str

    def __init__(self, md_str: str | None) -> None:
        object.__setattr__(self, "md_str", _opt_text("MarkdownMetadataValue", "md_str", md_str))

    @property
    def value(self) -> str:
        return self.md_str


@dataclass(frozen=True, init=False)
class PythonArtifactMetadataValue(MetadataValue):
    """A Python function or class, by module and name."""

    module: str
    name: str

    def __init__(self, module: str, name: str) -> None:
        owner = "PythonArtifactMetadataValue"
        object.__setattr__(self, "module", check_str(owner, "module", module))
        object.__setattr__(self, "name", check_str(owner, "name", name))

    @property
    def value(self) -> PythonArtifactMetadataValue:
        return self


@dataclass(frozen=True, init=False, eq=False)
class FloatMetadataValue(MetadataValue):
    """A float (NaN and infinities included), or None. NaN equals NaN."""

    value: float | None

    def __init__(self, value: float | None) -> None:
        if value is not None and not isinstance(value, float):
            raise InvalidArgumentError(
                f'FloatMetadataValue: "value" must be a float or None, got {describe(value)}'
            )
        object.__setattr__(self, "value", value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FloatMetadataValue):
            return NotImplemented
        mine, theirs = self.value, other.value
        if mine is None or theirs is None:
            return mine is theirs
        return mine == theirs or (math.isnan(mine) and math.isnan(theirs))

    def __hash__(self) -> int:
        return float_hash(self.value)


@dataclass(frozen=True, init=False)
class IntMetadataValue(MetadataValue):
    """An int of any size, or None."""

    value: int | None

    def __init__(self, value: int | None) -> None:
        if value is not None and not isinstance(value, int):
            raise InvalidArgumentError(
                f'IntMetadataValue: "value" must be an int or None, got {describe(value)}'
            )
        object.__setattr__(self, "value", value)


@dataclass(frozen=True, init=False)
class BoolMetadataValue(MetadataValue):
    """A bool, or None."""

    value: bool | None

    def __init__(self, value: bool | None) -> None:
        object.__setattr__(self, "value", check_opt_bool("BoolMetadataValue", "value", value))


@dataclass(frozen=True, init=False)
class NullMetadataValue(MetadataValue):
    """The absence of a value; ``value`` is None."""

    def __init__(self) -> None:
        pass

    @property
    def value(self) -> None:
        return None


@dataclass(frozen=True, init=False)
class DagsterPipelineRunMetadataValue(MetadataValue):
    """A reference to a run, by id. ``DagsterRunMetadataValue`` is the same class."""

    run_id: str

    def __init__(self, run_id: str) -> None:
        object.__setattr__(
            self, "run_id", check_str("DagsterPipelineRunMetadataValue", "run_id", run_id)
        )

    @property
    def value(self) -> str:
        return self.run_id


DagsterRunMetadataValue = DagsterPipelineRunMetadataValue


@dataclass(frozen=True, init=False)
class DagsterAssetMetadataValue(MetadataValue):
    """A reference to an asset; ``value`` is its ``AssetKey``."""

    asset_key: AssetKey

    def __init__(self, asset_key: AssetKey) -> None:
        if not isinstance(asset_key, AssetKey):
            raise InvalidArgumentError(
                'DagsterAssetMetadataValue: "asset_key" must be an AssetKey, '
                f"got {describe(asset_key)}"
            )
        object.__setattr__(self, "asset_key", asset_key)

    @property
    def value(self) -> AssetKey:
        return self.asset_key


def _infer_column_type(cell: object) -> str:
    if isinstance(cell, builtins.bool):
        return "bool"
    if isinstance(cell, builtins.int):
        return "int"
    if isinstance(cell, builtins.float):
        return "float"
    return "string"


@dataclass(frozen=True, init=False)
class TableMetadataValue(MetadataValue):
    """A table: records plus their schema; ``value`` is the object itself.

    All records must have the same columns. Without a schema, one is inferred from
    the first record, in its column order: bool, int and float cells give columns of
    those types, anything else a ``"string"`` column. With no records a schema is
    required.
    """

    records: list[TableRecord]
    schema: TableSchema

    def __init__(self, records: list[TableRecord], schema: TableSchema | None = None) -> None:
        owner = "TableMetadataValue"
        if not isinstance(records, list):
            raise InvalidArgumentError(
                f'{owner}: "records" must be a list of TableRecord, got {describe(records)}'
            )
        for index, record in enumerate(records):
            if not isinstance(record, TableRecord):
                raise InvalidArgumentError(
                    f'{owner}: "records" must contain only TableRecord, '
                    f"got {describe(record)} at index {index}"
                )
        if schema is not None and not isinstance(schema, TableSchema):
            raise InvalidArgumentError(
                f'{owner}: "schema" must be a TableSchema or None, got {describe(schema)}'
            )
        if records:
            columns = records[0].data.keys()
            for record in records[1:]:
                if record.data.keys() != columns:
                    raise InvalidArgumentError(
                        f"{owner}: all records must have the same fields; "
                        f"{sorted(record.data)} differs from {sorted(columns)}"
                    )
        elif schema is None:
            raise InvalidArgumentError(f'{owner}: "schema" must be given when "records" is empty')
        if schema is None:
            schema = TableSchema(
                columns=[
                    TableColumn(name=name, type=_infer_column_type(cell))
                    for name, cell in records[0].data.items()
                ]
            )
        object.__setattr__(self, "records", list(records))
        object.__setattr__(self, "schema", schema)

    @property
    def value(self) -> TableMetadataValue:
        return self

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, init=False)
class TableSchemaMetadataValue(MetadataValue):
    """A table schema on its own; ``value`` is the schema."""

    schema: TableSchema

    def __init__(self, schema: TableSchema) -> None:
        if not isinstance(schema, TableSchema):
            raise InvalidArgumentError(
                f'TableSchemaMetadataValue: "schema" must be a TableSchema, got {describe(schema)}'
            )
        object.__setattr__(self, "schema", schema)

    @property
    def value(self) -> TableSchema:
        return self.schema

    __hash__ = None  # type: ignore[assignment]
