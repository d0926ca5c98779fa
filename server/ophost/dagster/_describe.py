"""How a Dagster op is described as an ophost op: its types, config schema and metadata.

Each function takes one Dagster definition object and returns the ophost object that
says the same on the wire (see :func:`dagster_type` for how type checks match).
Config keeps Dagster's processing: the schema made here validates and fills defaults
as Dagster does, but leaves enum values as their config names, so the config it hands
on is still valid Dagster config (Dagster turns the names into Python values itself).
A config type ophost has no counterpart for (a scalar union such as ``StringSource``,
a ``Map``) is described as ``Any`` and left to Dagster to check.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any as TypingAny

import dagster
from dagster._config import ConfigTypeKind
from dagster._core.types.dagster_type import DagsterTypeKind

from ophost.definitions import (
    Any,
    Array,
    AssetKey,
    DagsterType,
    Enum,
    EnumValue,
    Field,
    MetadataEntry,
    MetadataValue,
    Noneable,
    Nothing,
    Permissive,
    PythonArtifactMetadataValue,
    Selector,
    Shape,
    TableColumn,
    TableColumnConstraints,
    TableConstraints,
    TableRecord,
    TableSchema,
    TypeCheck,
)
from ophost.definitions import RetryPolicy as OphostRetryPolicy
from ophost.definitions._retry import Backoff, Jitter
from ophost.definitions._types import BOOL, FLOAT, INT, STRING, Any_, TypeKind, list_of, optional_of

__all__ = [
    "config_schema",
    "dagster_type",
    "metadata_entries",
    "metadata_value",
    "retry_policy",
    "type_check",
]

_SCALARS = {"Int": INT, "Float": FLOAT, "String": STRING, "Bool": BOOL}


# -- types -------------------------------------------------------------------------------


def dagster_type(dt: dagster.DagsterType) -> DagsterType:
    """The ophost type describing ``dt``.

    Dagster's built-in types (``Any``, ``Nothing``, the scalars, and lists and optionals
    of them) become ophost's, whose checks are the same. Any other type keeps its own
    check function, run with a small context (a logger and no resources); Dagster runs
    the full check again inside the step.
    """
    if dt.is_nothing:
        return Nothing
    if dt.kind is DagsterTypeKind.ANY:
        return Any_
    if dt.kind is DagsterTypeKind.SCALAR and dt.key in _SCALARS:
        return _SCALARS[dt.key]
    inner = getattr(dt, "inner_type", None)
    if dt.kind is DagsterTypeKind.NULLABLE and isinstance(inner, dagster.DagsterType):
        return optional_of(dagster_type(inner))
    if dt.kind is DagsterTypeKind.LIST and isinstance(inner, dagster.DagsterType):
        return list_of(dagster_type(inner))
    return _custom(dt)


class _CheckContext:
    """What a custom type's check function is given outside a step."""

    def __init__(self, name: str) -> None:
        self.log = logging.getLogger(f"ophost.dagster.type.{name}")
        self.resources = SimpleNamespace()
        self.run_id = ""


def _custom(dt: dagster.DagsterType) -> DagsterType:
    check_context = _CheckContext(dt.unique_name or dt.display_name)

    def check(_context: object, value: object) -> TypeCheck:
        try:
            result = dt.type_check(check_context, value)  # type: ignore[arg-type]
        except dagster.Failure as failure:
            return TypeCheck(success=False, description=failure.description)
        return type_check(result)

    metadata = {label: metadata_value(v) for label, v in dt.metadata.items()}
    return DagsterType(
        check,
        key=dt.key,
        name=dt.display_name,
        description=dt.description,
        metadata=metadata or None,
        kind=TypeKind.CUSTOM,
    )


def type_check(result: dagster.TypeCheck) -> TypeCheck:
    """A Dagster type check's result as ophost's."""
    return TypeCheck(
        success=result.success,
        description=result.description,
        metadata_entries=metadata_entries(result.metadata),
    )


# -- metadata ------------------------------------------------------------------------------


def metadata_entries(metadata: Mapping[str, object]) -> list[MetadataEntry]:
    """Dagster metadata (label to value) as ophost metadata entries, in order."""
    return [MetadataEntry(label, value=metadata_value(value)) for label, value in metadata.items()]


def metadata_value(value: object) -> MetadataValue:
    """One Dagster metadata value as ophost's; a kind ophost lacks becomes its text."""
    if not isinstance(value, dagster.MetadataValue):
        return MetadataValue.text(repr(value))
    if isinstance(value, dagster.TextMetadataValue):
        return MetadataValue.text(value.text)
    if isinstance(value, dagster.UrlMetadataValue):
        return MetadataValue.url(value.url)
    if isinstance(value, dagster.PathMetadataValue):
        return MetadataValue.path(value.path)
    if isinstance(value, dagster.JsonMetadataValue):
        return MetadataValue.json(value.data)  # type: ignore[arg-type]
    if isinstance(value, dagster.MarkdownMetadataValue):
        return MetadataValue.md(value.md_str)
    if isinstance(value, dagster.PythonArtifactMetadataValue):
        return PythonArtifactMetadataValue(value.module, value.name)
    if isinstance(value, dagster.BoolMetadataValue):
        return MetadataValue.bool(value.value)
    if isinstance(value, dagster.IntMetadataValue):
        return MetadataValue.int(value.value)
    if isinstance(value, dagster.FloatMetadataValue):
        return MetadataValue.float(value.value)
    if isinstance(value, dagster.NullMetadataValue):
        return MetadataValue.null()
    if isinstance(value, dagster.DagsterRunMetadataValue):
        return MetadataValue.dagster_run(value.run_id)
    if isinstance(value, dagster.DagsterAssetMetadataValue):
        return MetadataValue.asset(AssetKey(list(value.asset_key.path)))
    if isinstance(value, dagster.TableSchemaMetadataValue):
        return MetadataValue.table_schema(_table_schema(value.schema))
    if isinstance(value, dagster.TableMetadataValue):
        schema = _table_schema(value.schema) if value.schema is not None else None
        records = [TableRecord(**dict(record.data)) for record in value.records]
        return MetadataValue.table(records, schema)
    return MetadataValue.text(str(value.value))


def _table_schema(schema: dagster.TableSchema) -> TableSchema:
    columns = [
        TableColumn(
            name=c.name,
            type=c.type,
            description=c.description,
            constraints=TableColumnConstraints(
                nullable=c.constraints.nullable,
                unique=c.constraints.unique,
                other=list(c.constraints.other),
            ),
        )
        for c in schema.columns
    ]
    return TableSchema(
        columns=columns, constraints=TableConstraints(other=list(schema.constraints.other))
    )


# -- config --------------------------------------------------------------------------------


def config_schema(op_def: dagster.OpDefinition) -> Field | None:
    """The op's config schema as an ophost field (None: the op takes no config)."""
    field = op_def.config_field
    if field is None:
        return None
    return _field(field)


def _field(field: TypingAny) -> Field:
    config = _config_type(field.config_type)
    if field.default_provided:
        return Field(config, default_value=field.default_value, description=field.description)
    return Field(config, is_required=field.is_required, description=field.description)


def _config_type(config_type: TypingAny) -> object:
    kind = config_type.kind
    if kind is ConfigTypeKind.SCALAR:
        return {"Int": builtins.int, "Float": builtins.float, "String": builtins.str}.get(
            config_type.given_name, builtins.bool if config_type.given_name == "Bool" else Any
        )
    if kind is ConfigTypeKind.ENUM:
        # The python value stays the config name: Dagster maps names to values itself.
        return Enum(
            config_type.given_name,
            [
                EnumValue(v.config_value, v.config_value, v.description)
                for v in config_type.enum_values
            ],
        )
    if kind is ConfigTypeKind.STRICT_SHAPE:
        return Shape(_fields(config_type), config_type.description)
    if kind is ConfigTypeKind.PERMISSIVE_SHAPE:
        return Permissive(_fields(config_type), config_type.description)
    if kind is ConfigTypeKind.SELECTOR:
        return Selector(_fields(config_type), config_type.description)
    if kind is ConfigTypeKind.ARRAY:
        return Array(_config_type(config_type.inner_type))
    if kind is ConfigTypeKind.NONEABLE:
        return Noneable(_config_type(config_type.inner_type))
    # ANY, and what ophost has no counterpart for (scalar unions, maps): Dagster checks.
    return Any


def _fields(config_type: TypingAny) -> dict[str, Field]:
    return {name: _field(field) for name, field in config_type.fields.items()}


# -- retry policy --------------------------------------------------------------------------


def retry_policy(policy: dagster.RetryPolicy | None) -> OphostRetryPolicy | None:
    """Dagster's retry policy as ophost's, for the wire (Dagster applies its own)."""
    if policy is None:
        return None
    backoff = None if policy.backoff is None else Backoff(policy.backoff.value)
    jitter = None if policy.jitter is None else Jitter(policy.jitter.value)
    return OphostRetryPolicy(
        max_retries=policy.max_retries, delay=policy.delay, backoff=backoff, jitter=jitter
    )
