"""Hypothesis strategies for ophost's authoring objects, shared by the codec tests."""

from __future__ import annotations

import math
import string
from typing import Any

from hypothesis import strategies as st

from ophost import (
    AssetKey,
    AssetMaterialization,
    AssetObservation,
    BoolMetadataValue,
    DagsterAssetMetadataValue,
    DagsterPipelineRunMetadataValue,
    DagsterType,
    ExpectationResult,
    FloatMetadataValue,
    IntMetadataValue,
    JsonMetadataValue,
    MarkdownMetadataValue,
    MetadataEntry,
    NullMetadataValue,
    PathMetadataValue,
    PythonArtifactMetadataValue,
    RetryPolicy,
    TableColumn,
    TableColumnConstraints,
    TableConstraints,
    TableMetadataValue,
    TableRecord,
    TableSchema,
    TableSchemaMetadataValue,
    TextMetadataValue,
    TypeCheck,
    UrlMetadataValue,
)
from ophost.definitions._config import Any as AnyConfig
from ophost.definitions._config import (
    Array,
    ConfigKind,
    Enum,
    EnumValue,
    Field,
    Map,
    Noneable,
    Permissive,
    ScalarType,
    Selector,
    Shape,
)
from ophost.definitions._io import NO_DEFAULT, InputDefinition, OutputDefinition
from ophost.definitions._op_spec import OpSpec
from ophost.definitions._retry import Backoff, Jitter
from ophost.definitions._types import (
    BOOL,
    FLOAT,
    INT,
    STRING,
    Any_,
    Nothing,
    dict_of,
    list_of,
    optional_of,
    set_of,
    tuple_of,
)
from ophost.execution import (
    CancelOutcome,
    ErrorData,
    ErrorSource,
    ExecutionEvent,
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    InputChecked,
    LogLevel,
    LogMessage,
    OutputProduced,
    RetryScheduled,
    StepFailed,
    StepRestarted,
    StepStarted,
    StepSucceeded,
    UserFailure,
)

text = st.text(max_size=12)
opt_text = st.none() | text
names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: n not in {"context", "config", "dict", "int", "str", "float", "bool", "type"}
)
any_int = st.integers() | st.integers(min_value=-(2**200), max_value=2**200)
any_float = st.floats(allow_nan=True, allow_infinity=True)

# -- values --------------------------------------------------------------------------------

scalars = st.none() | st.booleans() | any_int | any_float | text | st.binary(max_size=12)
hashables = st.recursive(
    scalars.filter(lambda v: not isinstance(v, bytes)) | st.binary(max_size=4),
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=6,
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.sets(hashables, max_size=4)
        | st.dictionaries(hashables, inner, max_size=4)
    ),
    max_leaves=12,
)
nan_free_values = values.filter(lambda v: not _has_nan(v))


def _has_nan(value: object) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_has_nan(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nan(k) or _has_nan(v) for k, v in value.items())
    return False


def same(left: object, right: object) -> bool:
    """Deep equality that tells apart types (bool/int, list/tuple) and matches NaN to NaN."""
    if isinstance(left, float) and isinstance(right, float):
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        return left == right and math.copysign(1, left) == math.copysign(1, right)
    if isinstance(left, (set, frozenset)) and isinstance(right, (set, frozenset)):
        if len(left) != len(right):
            return False
        remaining = list(right)
        for item in left:
            match = next((i for i, r in enumerate(remaining) if same(item, r)), None)
            if match is None:
                return False
            remaining.pop(match)
        return True
    if type(left) is not type(right):
        return False
    if isinstance(left, (list, tuple)):
        assert isinstance(right, (list, tuple))
        return len(left) == len(right) and all(
            same(a, b) for a, b in zip(left, right, strict=False)
        )
    if isinstance(left, dict):
        assert isinstance(right, dict)
        return len(left) == len(right) and all(
            same(k1, k2) and same(v1, v2)
            for (k1, v1), (k2, v2) in zip(left.items(), right.items(), strict=True)
        )
    return left == right


# -- metadata ------------------------------------------------------------------------------

asset_keys = st.lists(st.text(max_size=8), max_size=4).map(AssetKey)
json_data: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | any_int | any_float | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
cell = st.none() | st.booleans() | any_int | any_float | text
column_constraints = st.builds(
    TableColumnConstraints,
    nullable=st.booleans(),
    unique=st.booleans(),
    other=st.lists(text, max_size=2),
)
columns = st.builds(
    TableColumn,
    name=text,
    type=st.sampled_from(["string", "int", "float", "bool", "custom type"]),
    description=opt_text,
    constraints=column_constraints,
)
schemas = st.builds(
    TableSchema,
    columns=st.lists(columns, max_size=3),
    constraints=st.builds(TableConstraints, other=st.lists(text, max_size=2)),
)


@st.composite
def tables(draw: st.DrawFn) -> TableMetadataValue:
    keys = draw(st.lists(st.from_regex(r"[a-z]{1,5}", fullmatch=True), max_size=3, unique=True))
    records = draw(
        st.lists(
            st.fixed_dictionaries(dict.fromkeys(keys, cell)).map(lambda d: TableRecord(**d)),
            max_size=3,
        )
    )
    schema = draw(schemas)
    return TableMetadataValue(records, schema)


def _artifact(module: str, name: str) -> PythonArtifactMetadataValue:
    return PythonArtifactMetadataValue(module, name)


metadata_values = st.one_of(
    text.map(TextMetadataValue),
    text.map(UrlMetadataValue),
    text.map(PathMetadataValue),
    st.dictionaries(text, json_data, max_size=3).map(JsonMetadataValue),
    st.lists(json_data, max_size=3).map(JsonMetadataValue),
    text.map(MarkdownMetadataValue),
    st.builds(_artifact, text, text),
    (st.none() | any_float).map(FloatMetadataValue),
    (st.none() | any_int).map(IntMetadataValue),
    (st.none() | st.booleans()).map(BoolMetadataValue),
    st.just(NullMetadataValue()),
    text.map(DagsterPipelineRunMetadataValue),
    asset_keys.map(DagsterAssetMetadataValue),
    tables(),
    schemas.map(TableSchemaMetadataValue),
)
metadata_entries = st.builds(MetadataEntry, text, opt_text, metadata_values)
entry_lists = st.lists(metadata_entries, max_size=3)

# -- types, config, definitions ------------------------------------------------------------

_custom = st.builds(
    lambda key, desc, resource_keys: DagsterType(
        lambda _c, _v: True,
        key=f"custom.{key}",
        name=key,
        description=desc,
        required_resource_keys=resource_keys,
    ),
    names,
    opt_text,
    st.frozensets(names, max_size=2),
)
dagster_types = st.recursive(
    st.sampled_from([Any_, INT, FLOAT, STRING, BOOL]) | _custom,
    lambda inner: (
        inner.map(optional_of)
        | (st.none() | inner).map(list_of)
        | st.tuples(inner, inner).map(lambda kv: dict_of(*kv))
        | st.just(dict_of(None, None))
        | (st.none() | inner).map(set_of)
        | (st.none() | st.lists(inner, min_size=1, max_size=3)).map(tuple_of)
    ),
    max_leaves=5,
)

_scalar_defaults = {
    ConfigKind.INT: any_int.filter(lambda v: -(2**62) < v < 2**62),
    ConfigKind.FLOAT: any_float.filter(lambda v: not math.isnan(v)),
    ConfigKind.STRING: text,
    ConfigKind.BOOL: st.booleans(),
}


@st.composite
def scalar_fields(draw: st.DrawFn) -> Field:
    kind = draw(st.sampled_from(list(_scalar_defaults)))
    description = draw(opt_text)
    if draw(st.booleans()):
        return Field(
            ScalarType(kind), default_value=draw(_scalar_defaults[kind]), description=description
        )
    return Field(ScalarType(kind), is_required=draw(st.booleans()), description=description)


def _fields_of(inner: st.SearchStrategy[Field]) -> st.SearchStrategy[dict[str, Field]]:
    return st.dictionaries(names, inner, min_size=1, max_size=3)


config_fields: st.SearchStrategy[Field] = st.recursive(
    scalar_fields() | st.just(Field(AnyConfig, is_required=False)),
    lambda inner: (
        st.builds(lambda f, d: Field(Shape(f, description=d)), _fields_of(inner), opt_text)
        | st.builds(lambda f: Field(Permissive(f)), _fields_of(inner))
        | st.builds(lambda f: Field(Selector(f)), _fields_of(inner))
        | inner.map(lambda f: Field(Array(f.config_type)))
        | inner.map(lambda f: Field(Noneable(f.config_type)))
        | st.builds(
            lambda kind, f, label: Field(Map(ScalarType(kind), f.config_type, label)),
            st.sampled_from(list(_scalar_defaults)),
            inner,
            opt_text,
        )
        | st.lists(
            st.from_regex(r"[A-Z]{1,4}", fullmatch=True), min_size=1, max_size=3, unique=True
        ).map(lambda vs: Field(Enum("Color", [EnumValue(v, description=v.lower()) for v in vs])))
    ),
    max_leaves=6,
)

retry_policies = st.builds(
    lambda n, delay, backoff, jitter: RetryPolicy(
        n, delay, backoff if delay is not None else None, jitter if delay is not None else None
    ),
    st.integers(-5, 100),
    st.none() | st.floats(0, 1e6),
    st.none() | st.sampled_from(Backoff),
    st.none() | st.sampled_from(Jitter),
)


@st.composite
def input_defs(draw: st.DrawFn, name: str) -> InputDefinition:
    dtype = draw(dagster_types | st.just(Nothing))
    default: object = NO_DEFAULT
    if not dtype.is_nothing and draw(st.booleans()):
        default = draw(nan_free_values)
    return InputDefinition(
        name=name,
        dagster_type=dtype,
        description=draw(opt_text),
        default_value=default,
        metadata_entries=tuple(draw(entry_lists)),
        asset_key=draw(st.none() | asset_keys),
    )


@st.composite
def output_defs(draw: st.DrawFn, name: str) -> OutputDefinition:
    return OutputDefinition(
        name=name,
        dagster_type=draw(dagster_types | st.just(Nothing)),
        description=draw(opt_text),
        is_required=draw(st.booleans()),
        metadata_entries=tuple(draw(entry_lists)),
        asset_key=draw(st.none() | asset_keys),
    )


@st.composite
def op_specs(draw: st.DrawFn) -> OpSpec:
    input_names = draw(st.lists(names, max_size=3, unique=True))
    output_names = draw(st.lists(names, max_size=3, unique=True))
    return OpSpec(
        name=draw(names),
        description=draw(opt_text),
        inputs=tuple(draw(input_defs(n)) for n in input_names),
        outputs=tuple(draw(output_defs(n)) for n in output_names),
        config=draw(config_fields),
        tags=draw(st.dictionaries(text, text, max_size=3)),
        code_version=draw(opt_text),
        retry_policy=draw(st.none() | retry_policies),
        required_resource_keys=frozenset(draw(st.lists(names, max_size=3))),
    )


# -- events --------------------------------------------------------------------------------

errors: st.SearchStrategy[ErrorData] = st.recursive(
    st.builds(ErrorData, type_name=text, message=text, stack=st.lists(text, max_size=3).map(tuple)),
    lambda inner: st.builds(
        ErrorData,
        type_name=text,
        message=text,
        stack=st.lists(text, max_size=2).map(tuple),
        cause=st.none() | inner,
        context=st.none() | inner,
    ),
    max_leaves=4,
)
type_checks = st.builds(
    lambda s, d, m: TypeCheck(s, d, metadata_entries=m), st.booleans(), opt_text, entry_lists
)
nanos_seconds = st.integers(0, 2**62).map(lambda n: n / 1_000_000_000)

bodies = st.one_of(
    st.builds(ExecutionStarted, request_id=text),
    st.just(StepStarted()),
    st.just(StepRestarted()),
    st.builds(InputChecked, names, type_checks),
    st.builds(
        OutputProduced,
        output_name=names,
        value=nan_free_values,
        metadata_entries=entry_lists.map(tuple),
        type_check=type_checks,
    ),
    st.builds(
        AssetMaterialization,
        asset_keys,
        opt_text,
        entry_lists,
        opt_text,
        st.dictionaries(text, text, max_size=2),
    ),
    st.builds(
        AssetObservation,
        asset_keys,
        opt_text,
        entry_lists,
        opt_text,
        st.dictionaries(text, text, max_size=2),
    ),
    st.builds(
        ExpectationResult,
        st.booleans(),
        text,
        opt_text,
        entry_lists,
    ),
    st.builds(LogMessage, st.sampled_from(LogLevel), text, text),
    st.builds(
        RetryScheduled,
        failed_attempt=st.integers(0, 2**32 - 1),
        next_attempt=st.integers(0, 2**32 - 1),
        delay_seconds=st.floats(allow_nan=False),
        error=errors,
    ),
    st.builds(
        StepFailed,
        error=errors,
        error_source=st.sampled_from(ErrorSource),
        user_failure=st.none() | st.builds(UserFailure, opt_text, entry_lists.map(tuple)),
        will_retry=st.booleans(),
    ),
    st.builds(StepSucceeded, duration_seconds=nanos_seconds),
    st.builds(
        ExecutionFinished,
        status=st.sampled_from(ExecutionStatus),
        error=st.none() | errors,
        cancel_requested=st.booleans(),
        cancel_outcome=st.none() | st.sampled_from(CancelOutcome),
    ),
)
events = st.builds(
    ExecutionEvent,
    execution_id=st.text(alphabet=string.hexdigits, max_size=32),
    sequence=st.integers(1, 2**64 - 1),
    attempt=st.integers(0, 2**32 - 1),
    timestamp=nanos_seconds,
    op_name=names,
    body=bodies,
)
