"""Metadata entries and values, asset keys and tables <-> their ``ophost.v1`` messages."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from ophost.codec import values
from ophost.definitions._asset_key import AssetKey
from ophost.definitions._metadata import (
    BoolMetadataValue,
    DagsterAssetMetadataValue,
    DagsterPipelineRunMetadataValue,
    FloatMetadataValue,
    IntMetadataValue,
    JsonMetadataValue,
    MarkdownMetadataValue,
    MetadataEntry,
    MetadataValue,
    NullMetadataValue,
    PathMetadataValue,
    PythonArtifactMetadataValue,
    TableMetadataValue,
    TableSchemaMetadataValue,
    TextMetadataValue,
    UrlMetadataValue,
)
from ophost.definitions._table import (
    TableColumn,
    TableColumnConstraints,
    TableConstraints,
    TableRecord,
    TableSchema,
)
from ophost.errors import CodecError, OpHostError
from ophost.v1 import metadata_pb2

__all__ = [
    "asset_key_from_proto",
    "asset_key_to_proto",
    "entries_from_proto",
    "entries_to_proto",
    "entry_from_proto",
    "entry_to_proto",
    "from_proto",
    "table_schema_from_proto",
    "table_schema_to_proto",
    "to_proto",
]

_T = TypeVar("_T")
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


# -- asset keys ---------------------------------------------------------------------------


def asset_key_to_proto(key: AssetKey) -> metadata_pb2.AssetKey:
    return metadata_pb2.AssetKey(path=list(key.path))


def asset_key_from_proto(message: metadata_pb2.AssetKey) -> AssetKey:
    return AssetKey(list(message.path))


# -- tables -------------------------------------------------------------------------------


def table_schema_to_proto(schema: TableSchema) -> metadata_pb2.TableSchema:
    message = metadata_pb2.TableSchema()
    for column in schema.columns:
        col = message.columns.add(name=column.name, type=column.type)
        if column.description is not None:
            col.description = column.description
        col.constraints.nullable = column.constraints.nullable
        col.constraints.unique = column.constraints.unique
        col.constraints.other.extend(column.constraints.other)
    message.constraints.other.extend(schema.constraints.other)
    return message


def table_schema_from_proto(message: metadata_pb2.TableSchema) -> TableSchema:
    columns = []
    for col in message.columns:
        constraints = (
            TableColumnConstraints(
                nullable=col.constraints.nullable,
                unique=col.constraints.unique,
                other=list(col.constraints.other),
            )
            if col.HasField("constraints")
            else TableColumnConstraints()
        )
        columns.append(
            TableColumn(
                name=col.name,
                type=col.type,
                description=col.description if col.HasField("description") else None,
                constraints=constraints,
            )
        )
    return TableSchema(
        columns=columns, constraints=TableConstraints(other=list(message.constraints.other))
    )


def _record_to_proto(record: TableRecord, out: metadata_pb2.TableRecord, path: str) -> None:
    for name, cell in record.data.items():
        field = out.fields.add(name=name)
        field.value.CopyFrom(values.to_proto(cell, path=f"{path}.{name}"))


def _record_from_proto(message: metadata_pb2.TableRecord, path: str) -> TableRecord:
    data = {f.name: values.from_proto(f.value, path=f"{path}.{f.name}") for f in message.fields}
    return _build(path, lambda: TableRecord(**data))  # type: ignore[arg-type]


# -- values -------------------------------------------------------------------------------


def to_proto(value: MetadataValue, *, path: str = "metadata") -> metadata_pb2.MetadataValue:
    """Encode one metadata value."""
    message = metadata_pb2.MetadataValue()
    if isinstance(value, TextMetadataValue):
        message.text = value.text
    elif isinstance(value, UrlMetadataValue):
        message.url = value.url
    elif isinstance(value, PathMetadataValue):
        message.path = value.path
    elif isinstance(value, JsonMetadataValue):
        message.json.CopyFrom(values.to_proto(value.data, path=path))
    elif isinstance(value, MarkdownMetadataValue):
        message.markdown = value.md_str
    elif isinstance(value, PythonArtifactMetadataValue):
        message.python_artifact.module = value.module
        message.python_artifact.name = value.name
    elif isinstance(value, FloatMetadataValue):
        message.float_value.SetInParent()
        if value.value is not None:
            message.float_value.value = value.value
    elif isinstance(value, IntMetadataValue):
        message.int_value.SetInParent()
        if value.value is not None:
            if _INT64_MIN <= value.value <= _INT64_MAX:
                message.int_value.int_value = value.value
            else:
                message.int_value.big_int_value = values.big_int_text(value.value, path)
    elif isinstance(value, BoolMetadataValue):
        message.bool_value.SetInParent()
        if value.value is not None:
            message.bool_value.value = value.value
    elif isinstance(value, NullMetadataValue):
        message.null_value.SetInParent()
    elif isinstance(value, DagsterPipelineRunMetadataValue):
        message.run_id = value.run_id
    elif isinstance(value, DagsterAssetMetadataValue):
        message.asset.CopyFrom(asset_key_to_proto(value.asset_key))
    elif isinstance(value, TableMetadataValue):
        table = message.table
        table.SetInParent()
        for index, record in enumerate(value.records):
            _record_to_proto(record, table.records.add(), f"{path}.records[{index}]")
        table.schema.CopyFrom(table_schema_to_proto(value.schema))
    elif isinstance(value, TableSchemaMetadataValue):
        message.table_schema.CopyFrom(table_schema_to_proto(value.schema))
    else:
        raise CodecError(path, f"{type(value).__name__} is not a metadata value kind")
    return message


def from_proto(message: metadata_pb2.MetadataValue, *, path: str = "metadata") -> MetadataValue:
    """Decode one metadata value."""
    kind = message.WhichOneof("kind")
    if kind == "text":
        return TextMetadataValue(message.text)
    if kind == "url":
        return UrlMetadataValue(message.url)
    if kind == "path":
        return PathMetadataValue(message.path)
    if kind == "json":
        data = values.from_proto(message.json, path=path)
        return _build(path, lambda: JsonMetadataValue(data))  # type: ignore[arg-type]
    if kind == "markdown":
        return MarkdownMetadataValue(message.markdown)
    if kind == "python_artifact":
        return PythonArtifactMetadataValue(
            message.python_artifact.module, message.python_artifact.name
        )
    if kind == "float_value":
        fv = message.float_value
        return FloatMetadataValue(fv.value if fv.HasField("value") else None)
    if kind == "int_value":
        iv = message.int_value
        which = iv.WhichOneof("value")
        if which == "int_value":
            return IntMetadataValue(iv.int_value)
        if which == "big_int_value":
            return IntMetadataValue(values.parse_big_int(iv.big_int_value, path))
        return IntMetadataValue(None)
    if kind == "bool_value":
        bv = message.bool_value
        return BoolMetadataValue(bv.value if bv.HasField("value") else None)
    if kind == "null_value":
        return NullMetadataValue()
    if kind == "run_id":
        return DagsterPipelineRunMetadataValue(message.run_id)
    if kind == "asset":
        return DagsterAssetMetadataValue(asset_key_from_proto(message.asset))
    if kind == "table":
        records = [
            _record_from_proto(r, f"{path}.records[{i}]")
            for i, r in enumerate(message.table.records)
        ]
        schema = table_schema_from_proto(message.table.schema)
        return _build(path, lambda: TableMetadataValue(records, schema))
    if kind == "table_schema":
        return TableSchemaMetadataValue(table_schema_from_proto(message.table_schema))
    raise CodecError(path, "the metadata value has no kind set")


def _build(path: str, make: Callable[[], _T]) -> _T:
    """Construct an authoring object from decoded parts; its validation errors name the path."""
    try:
        return make()
    except OpHostError as exc:
        raise CodecError(path, str(exc)) from None


# -- entries ------------------------------------------------------------------------------


def entry_to_proto(entry: MetadataEntry, *, path: str = "metadata") -> metadata_pb2.MetadataEntry:
    message = metadata_pb2.MetadataEntry(label=entry.label)
    if entry.description is not None:
        message.description = entry.description
    message.value.CopyFrom(to_proto(entry.value, path=f"{path}.{entry.label}"))
    return message


def entry_from_proto(
    message: metadata_pb2.MetadataEntry, *, path: str = "metadata"
) -> MetadataEntry:
    return MetadataEntry(
        message.label,
        message.description if message.HasField("description") else None,
        from_proto(message.value, path=f"{path}.{message.label}"),
    )


def entries_to_proto(
    entries: Iterable[MetadataEntry], *, path: str = "metadata"
) -> list[metadata_pb2.MetadataEntry]:
    return [entry_to_proto(e, path=path) for e in entries]


def entries_from_proto(
    messages: Iterable[metadata_pb2.MetadataEntry], *, path: str = "metadata"
) -> list[MetadataEntry]:
    return [entry_from_proto(m, path=path) for m in messages]
