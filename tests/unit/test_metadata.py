"""Metadata values, entries and normalisation, and where they differ from Dagster 0.14."""

from __future__ import annotations

import copy
import dataclasses
import functools
import os
import pathlib
import pickle
import types
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ophost.definitions._asset_key import AssetKey
from ophost.definitions._metadata import (
    BoolMetadataValue,
    DagsterAssetMetadataValue,
    DagsterPipelineRunMetadataValue,
    DagsterRunMetadataValue,
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
    normalize_metadata,
    normalize_metadata_value,
)
from ophost.definitions._table import (
    TableColumn,
    TableColumnConstraints,
    TableConstraints,
    TableRecord,
    TableSchema,
)
from ophost.errors import InvalidArgumentError, InvalidMetadataError, OpHostError

NAN = float("nan")
KEY = AssetKey(["a", "b"])
SCHEMA = TableSchema([TableColumn("a", "int")])


def some_function() -> None:
    """A module-level function, for python_artifact."""


class BytesPath(os.PathLike):  # type: ignore[type-arg]
    """A path-like whose path is bytes (not a metadata path)."""

    def __fspath__(self) -> bytes:
        return b"/tmp/x"


# --- normalisation of a metadata dict (strict: event metadata) ----------------------------

existing = TextMetadataValue("kept")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(existing, existing, id="metadata-value"),
        pytest.param("x", TextMetadataValue("x"), id="str"),
        pytest.param(1.5, FloatMetadataValue(1.5), id="float"),
        pytest.param(NAN, FloatMetadataValue(float("nan")), id="nan"),
        pytest.param(float("-inf"), FloatMetadataValue(float("-inf")), id="inf"),
        pytest.param(True, BoolMetadataValue(True), id="bool-before-int"),
        pytest.param(3, IntMetadataValue(3), id="int"),
        pytest.param(2**100, IntMetadataValue(2**100), id="big-int"),
        pytest.param(
            {"a": [1, {"b": None}]}, JsonMetadataValue({"a": [1, {"b": None}]}), id="dict"
        ),
        pytest.param(pathlib.PurePosixPath("/a/b"), PathMetadataValue("/a/b"), id="pathlike"),
        pytest.param(KEY, DagsterAssetMetadataValue(KEY), id="asset-key"),
        pytest.param(SCHEMA, TableSchemaMetadataValue(SCHEMA), id="table-schema"),
        # As in current Dagster, a list becomes JSON and None the null value (0.14 raises).
        pytest.param([1, "a", None], JsonMetadataValue([1, "a", None]), id="policy-list"),
        pytest.param(None, NullMetadataValue(), id="policy-none"),
    ],
)
def test_normalize_table(raw: object, expected: MetadataValue) -> None:
    entries = normalize_metadata({"label": raw}, None)
    assert entries == [MetadataEntry("label", None, expected)]
    assert type(entries[0].value) is type(expected)
    assert normalize_metadata_value("label", raw) == expected


def test_normalize_keeps_a_metadata_value_as_is() -> None:
    assert normalize_metadata({"x": existing}, None)[0].value is existing


def unknown(kind: type) -> str:
    return (
        f'could not resolve the metadata value for "m" to a known type. Its type was {kind!r}. '
        "Wrap it in a MetadataValue constructor such as MetadataValue.text(...) or "
        "MetadataValue.json(...)"
    )


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        pytest.param((1, 2), InvalidMetadataError, unknown(tuple), id="tuple"),
        pytest.param({1}, InvalidMetadataError, unknown(set), id="set"),
        pytest.param(frozenset(), InvalidMetadataError, unknown(frozenset), id="frozenset"),
        pytest.param(b"x", InvalidMetadataError, unknown(bytes), id="bytes"),
        pytest.param(object(), InvalidMetadataError, unknown(object), id="object"),
        pytest.param(1j, InvalidMetadataError, unknown(complex), id="complex"),
        pytest.param(BytesPath(), InvalidMetadataError, unknown(BytesPath), id="bytes-path"),
        pytest.param(
            MetadataEntry("x", value=1),
            InvalidMetadataError,
            'expected a metadata value for "m", found a MetadataEntry; give the value itself '
            "(or a MetadataValue) instead",
            id="metadata-entry",
        ),
        pytest.param(
            {"a": {1}},
            InvalidMetadataError,
            "the metadata value for \"m\" is a dict but is not JSON serializable: data['a'] "
            "is of type set, which JSON cannot represent",
            id="dict-not-json",
        ),
        pytest.param(
            [1, [object()]],
            InvalidMetadataError,
            'the metadata value for "m" is a list but is not JSON serializable: data[1][0] '
            "is of type object, which JSON cannot represent",
            id="list-not-json",
        ),
        pytest.param(
            {"a": {2: "x"}},
            InvalidMetadataError,
            "the metadata value for \"m\" is a dict but is not JSON serializable: data['a'] "
            "has a key of type int (JSON keys must be str)",
            id="nested-int-key",
        ),
        pytest.param(
            {1: "x"},
            InvalidArgumentError,
            'the metadata value for "m" is a dict whose keys must be str, got int',
            id="int-key",
        ),
    ],
)
def test_normalize_errors(raw: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        normalize_metadata({"m": raw}, None)
    assert str(info.value) == message
    with pytest.raises(error):
        normalize_metadata_value("m", raw)


def test_normalize_rejects_self_containing_json() -> None:
    data: dict[str, Any] = {}
    data["self"] = data
    with pytest.raises(InvalidMetadataError, match=r"data\['self'\] closes a reference cycle"):
        normalize_metadata({"m": data}, None)


def test_normalize_rejects_json_nested_too_deeply() -> None:
    data: list[Any] = []
    for _ in range(100_000):
        data = [data]
    with pytest.raises(InvalidMetadataError, match="data is nested too deeply"):
        normalize_metadata({"m": data}, None)


def test_normalize_keeps_dict_order_and_has_no_descriptions() -> None:
    entries = normalize_metadata({"b": 1, "a": "x", "c": None}, None)
    assert [(e.label, e.description) for e in entries] == [("b", None), ("a", None), ("c", None)]


@pytest.mark.parametrize(
    ("metadata", "entries", "expected"),
    [
        pytest.param(None, None, [], id="neither"),
        pytest.param({}, [], [], id="both-empty"),
        pytest.param({"a": 1}, [], [MetadataEntry("a", value=1)], id="dict-and-empty-list"),
        pytest.param({}, [MetadataEntry("b", value=2)], [MetadataEntry("b", value=2)], id="list"),
        pytest.param(
            None, (MetadataEntry("b", value=2),), [MetadataEntry("b", value=2)], id="tuple"
        ),
    ],
)
def test_normalize_dict_or_entries(
    metadata: dict[str, object] | None,
    entries: list[MetadataEntry] | None,
    expected: list[MetadataEntry],
) -> None:
    result = normalize_metadata(metadata, entries)
    assert result == expected
    assert type(result) is list
    assert result is not entries


@pytest.mark.parametrize(
    ("metadata", "entries", "error", "message"),
    [
        pytest.param(
            {"a": 1},
            [MetadataEntry("b", value=2)],
            InvalidMetadataError,
            'give metadata either as "metadata" or as "metadata_entries", not both',
            id="both",
        ),
        pytest.param(
            [("a", 1)],
            None,
            InvalidArgumentError,
            '"metadata" must be a mapping of str to value or None, got list',
            id="metadata-not-mapping",
        ),
        pytest.param(
            {1: "a"},
            None,
            InvalidArgumentError,
            'the keys of "metadata" must be str, got int',
            id="int-label",
        ),
        pytest.param(
            None,
            MetadataEntry("a", value=1),
            InvalidArgumentError,
            '"metadata_entries" must be a list of MetadataEntry or None, got MetadataEntry',
            id="entries-not-list",
        ),
        pytest.param(
            None,
            [MetadataEntry("a", value=1), ("b", 2)],
            InvalidArgumentError,
            '"metadata_entries" must contain only MetadataEntry, got tuple at index 1',
            id="entry-not-entry",
        ),
    ],
)
def test_normalize_argument_errors(
    metadata: object, entries: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        normalize_metadata(metadata, entries)  # type: ignore[arg-type]
    assert str(info.value) == message


# --- lenient mode: In / Out definition metadata -------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param((1, 2), TextMetadataValue("[tuple] (unserializable)"), id="tuple"),
        pytest.param({1}, TextMetadataValue("[set] (unserializable)"), id="set"),
        pytest.param(object(), TextMetadataValue("[object] (unserializable)"), id="object"),
        pytest.param(
            MetadataEntry("x", value=1),
            TextMetadataValue("[MetadataEntry] (unserializable)"),
            id="metadata-entry",
        ),
        pytest.param({"a": {1}}, TextMetadataValue("[dict] (unserializable)"), id="dict-not-json"),
        pytest.param({1: "a"}, TextMetadataValue("[dict] (unserializable)"), id="dict-int-key"),
        pytest.param([{1}], TextMetadataValue("[list] (unserializable)"), id="list-not-json"),
        # Values with a kind are normalised exactly as in strict mode.
        pytest.param("x", TextMetadataValue("x"), id="str"),
        pytest.param([1], JsonMetadataValue([1]), id="policy-list"),
        pytest.param(None, NullMetadataValue(), id="policy-none"),
    ],
)
def test_lenient_table(raw: object, expected: MetadataValue) -> None:
    assert normalize_metadata({"m": raw}, None, lenient=True) == [
        MetadataEntry("m", None, expected)
    ]
    assert normalize_metadata_value("m", raw, lenient=True) == expected


def test_lenient_still_checks_labels_and_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match='the keys of "metadata" must be str'):
        normalize_metadata({1: "a"}, None, lenient=True)  # type: ignore[dict-item]
    with pytest.raises(InvalidMetadataError, match="not both"):
        normalize_metadata({"a": 1}, [MetadataEntry("b", value=1)], lenient=True)


def test_normalize_metadata_value_checks_the_label() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        normalize_metadata_value(1, "x")  # type: ignore[arg-type]
    assert str(info.value) == 'normalize_metadata_value: "label" must be a str, got int'


# --- MetadataValue static constructors ----------------------------------------------------

RECORDS = [TableRecord(a=1)]


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        pytest.param(lambda: MetadataValue.text("a"), TextMetadataValue("a"), id="text"),
        pytest.param(lambda: MetadataValue.text(None), TextMetadataValue(""), id="text-none"),
        pytest.param(lambda: MetadataValue.url("http://x"), UrlMetadataValue("http://x"), id="url"),
        pytest.param(lambda: MetadataValue.url(None), UrlMetadataValue(""), id="url-none"),
        pytest.param(lambda: MetadataValue.path("/p"), PathMetadataValue("/p"), id="path"),
        pytest.param(
            lambda: MetadataValue.path(pathlib.PurePosixPath("/p/q")),
            PathMetadataValue("/p/q"),
            id="path-pathlike",
        ),
        pytest.param(lambda: MetadataValue.path(None), PathMetadataValue(""), id="path-none"),
        pytest.param(lambda: MetadataValue.json({"a": 1}), JsonMetadataValue({"a": 1}), id="json"),
        pytest.param(lambda: MetadataValue.json(None), JsonMetadataValue({}), id="json-none"),
        # A frozen mapping is accepted too; it is stored as a dict.
        pytest.param(
            lambda: MetadataValue.json(types.MappingProxyType({"a": 1})),
            JsonMetadataValue({"a": 1}),
            id="json-mapping",
        ),
        # As in current Dagster, lists are JSON too (0.14 rejects them here).
        pytest.param(lambda: MetadataValue.json([1, 2]), JsonMetadataValue([1, 2]), id="json-list"),
        pytest.param(lambda: MetadataValue.md("# t"), MarkdownMetadataValue("# t"), id="md"),
        pytest.param(lambda: MetadataValue.md(None), MarkdownMetadataValue(""), id="md-none"),
        pytest.param(
            lambda: MetadataValue.python_artifact(some_function),
            PythonArtifactMetadataValue(__name__, "some_function"),
            id="python-artifact",
        ),
        pytest.param(
            lambda: MetadataValue.python_artifact(TableRecord),
            PythonArtifactMetadataValue("ophost.definitions._table", "TableRecord"),
            id="python-artifact-class",
        ),
        pytest.param(lambda: MetadataValue.float(1.5), FloatMetadataValue(1.5), id="float"),
        pytest.param(lambda: MetadataValue.float(None), FloatMetadataValue(None), id="float-none"),
        pytest.param(lambda: MetadataValue.int(7), IntMetadataValue(7), id="int"),
        pytest.param(lambda: MetadataValue.int(True), IntMetadataValue(True), id="int-bool"),
        pytest.param(lambda: MetadataValue.int(None), IntMetadataValue(None), id="int-none"),
        pytest.param(lambda: MetadataValue.bool(False), BoolMetadataValue(False), id="bool"),
        pytest.param(lambda: MetadataValue.bool(None), BoolMetadataValue(None), id="bool-none"),
        pytest.param(
            lambda: MetadataValue.pipeline_run("r1"),
            DagsterPipelineRunMetadataValue("r1"),
            id="pipeline-run",
        ),
        # Added in newer Dagster: MetadataValue.dagster_run, the same class.
        pytest.param(
            lambda: MetadataValue.dagster_run("r1"),
            DagsterPipelineRunMetadataValue("r1"),
            id="dagster-run",
        ),
        pytest.param(lambda: MetadataValue.asset(KEY), DagsterAssetMetadataValue(KEY), id="asset"),
        pytest.param(
            lambda: MetadataValue.table(RECORDS),
            TableMetadataValue(RECORDS, TableSchema([TableColumn("a", "int")])),
            id="table",
        ),
        pytest.param(
            lambda: MetadataValue.table(RECORDS, SCHEMA),
            TableMetadataValue(RECORDS, SCHEMA),
            id="table-schema-given",
        ),
        pytest.param(
            lambda: MetadataValue.table_schema(SCHEMA),
            TableSchemaMetadataValue(SCHEMA),
            id="table-schema",
        ),
        pytest.param(MetadataValue.null, NullMetadataValue(), id="null"),
    ],
)
def test_static_constructors(build: Callable[[], MetadataValue], expected: MetadataValue) -> None:
    value = build()
    assert value == expected
    assert type(value) is type(expected)
    assert isinstance(value, MetadataValue)


def _partial() -> object:
    return functools.partial(print, "x")


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        pytest.param(
            lambda: MetadataValue.text(1),  # type: ignore[arg-type]
            InvalidArgumentError,
            'TextMetadataValue: "text" must be a str or None, got int',
            id="text",
        ),
        pytest.param(
            lambda: MetadataValue.url(b"x"),  # type: ignore[arg-type]
            InvalidArgumentError,
            'UrlMetadataValue: "url" must be a str or None, got bytes',
            id="url",
        ),
        pytest.param(
            lambda: MetadataValue.path(1),  # type: ignore[arg-type]
            InvalidArgumentError,
            'PathMetadataValue: "path" must be a str, an os.PathLike of str or None, got int',
            id="path-int",
        ),
        pytest.param(
            lambda: MetadataValue.path(BytesPath()),
            InvalidArgumentError,
            'PathMetadataValue: "path" must be a str, an os.PathLike of str or None, got bytes',
            id="path-bytes",
        ),
        pytest.param(
            lambda: MetadataValue.json("x"),  # type: ignore[arg-type]
            InvalidArgumentError,
            'JsonMetadataValue: "data" must be a dict, a list or None, got str',
            id="json-str",
        ),
        pytest.param(
            lambda: MetadataValue.json((1, 2)),  # type: ignore[arg-type]
            InvalidArgumentError,
            'JsonMetadataValue: "data" must be a dict, a list or None, got tuple',
            id="json-tuple",
        ),
        pytest.param(
            lambda: MetadataValue.json({1: "a"}),  # type: ignore[dict-item]
            InvalidArgumentError,
            'JsonMetadataValue: the keys of "data" must be str, got int',
            id="json-int-key",
        ),
        pytest.param(
            lambda: MetadataValue.json({"a": {1}}),
            InvalidMetadataError,
            "JsonMetadataValue: \"data\" is not JSON serializable: data['a'] is of type set, "
            "which JSON cannot represent",
            id="json-not-serializable",
        ),
        pytest.param(
            lambda: MetadataValue.md(1),  # type: ignore[arg-type]
            InvalidArgumentError,
            'MarkdownMetadataValue: "md_str" must be a str or None, got int',
            id="md",
        ),
        pytest.param(
            lambda: MetadataValue.python_artifact("x"),  # type: ignore[arg-type]
            InvalidArgumentError,
            'MetadataValue.python_artifact: "python_artifact" must be callable, got str',
            id="python-artifact-not-callable",
        ),
        pytest.param(
            lambda: MetadataValue.python_artifact(_partial()),  # type: ignore[arg-type]
            InvalidArgumentError,
            'MetadataValue.python_artifact: "python_artifact" must have a str __module__ and '
            "__name__ (a function or a class), got partial",
            id="python-artifact-no-name",
        ),
        pytest.param(
            lambda: MetadataValue.float(1),
            InvalidArgumentError,
            'FloatMetadataValue: "value" must be a float or None, got int',
            id="float-int",
        ),
        pytest.param(
            lambda: MetadataValue.float(True),
            InvalidArgumentError,
            'FloatMetadataValue: "value" must be a float or None, got bool',
            id="float-bool",
        ),
        pytest.param(
            lambda: MetadataValue.int(1.0),  # type: ignore[arg-type]
            InvalidArgumentError,
            'IntMetadataValue: "value" must be an int or None, got float',
            id="int-float",
        ),
        pytest.param(
            lambda: MetadataValue.int("1"),  # type: ignore[arg-type]
            InvalidArgumentError,
            'IntMetadataValue: "value" must be an int or None, got str',
            id="int-str",
        ),
        pytest.param(
            lambda: MetadataValue.bool(1),  # type: ignore[arg-type]
            InvalidArgumentError,
            'BoolMetadataValue: "value" must be a bool or None, got int',
            id="bool-int",
        ),
        pytest.param(
            lambda: MetadataValue.pipeline_run(None),  # type: ignore[arg-type]
            InvalidArgumentError,
            'DagsterPipelineRunMetadataValue: "run_id" must be a str, got None',
            id="pipeline-run-none",
        ),
        pytest.param(
            lambda: MetadataValue.asset("a"),  # type: ignore[arg-type]
            InvalidArgumentError,
            'DagsterAssetMetadataValue: "asset_key" must be an AssetKey, got str',
            id="asset-str",
        ),
        pytest.param(
            lambda: MetadataValue.table("x"),  # type: ignore[arg-type]
            InvalidArgumentError,
            'TableMetadataValue: "records" must be a list of TableRecord, got str',
            id="table-records-str",
        ),
        pytest.param(
            lambda: MetadataValue.table([{"a": 1}]),  # type: ignore[list-item]
            InvalidArgumentError,
            'TableMetadataValue: "records" must contain only TableRecord, got dict at index 0',
            id="table-record-dict",
        ),
        pytest.param(
            lambda: MetadataValue.table([]),
            InvalidArgumentError,
            'TableMetadataValue: "schema" must be given when "records" is empty',
            id="table-empty-no-schema",
        ),
        pytest.param(
            lambda: MetadataValue.table([TableRecord(a=1), TableRecord(b=1)]),
            InvalidArgumentError,
            "TableMetadataValue: all records must have the same fields; ['b'] differs from ['a']",
            id="table-different-fields",
        ),
        pytest.param(
            lambda: MetadataValue.table(RECORDS, "x"),  # type: ignore[arg-type]
            InvalidArgumentError,
            'TableMetadataValue: "schema" must be a TableSchema or None, got str',
            id="table-schema-str",
        ),
        pytest.param(
            lambda: MetadataValue.table_schema({"a": "int"}),  # type: ignore[arg-type]
            InvalidArgumentError,
            'TableSchemaMetadataValue: "schema" must be a TableSchema, got dict',
            id="table-schema-dict",
        ),
    ],
)
def test_static_constructor_errors(
    build: Callable[[], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        build()
    assert str(info.value) == message


def test_base_class_cannot_be_built() -> None:
    with pytest.raises(InvalidArgumentError, match="MetadataValue is the base class"):
        MetadataValue()


# --- value classes ------------------------------------------------------------------------

table_value = TableMetadataValue(RECORDS, SCHEMA)
artifact = PythonArtifactMetadataValue("mod", "fn")


@pytest.mark.parametrize(
    ("value", "fields", "payload"),
    [
        pytest.param(TextMetadataValue("t"), {"text": "t"}, "t", id="text"),
        pytest.param(UrlMetadataValue("u"), {"url": "u"}, "u", id="url"),
        pytest.param(PathMetadataValue("p"), {"path": "p"}, "p", id="path"),
        pytest.param(JsonMetadataValue({"a": 1}), {"data": {"a": 1}}, {"a": 1}, id="json"),
        pytest.param(MarkdownMetadataValue("m"), {"md_str": "m"}, "m", id="markdown"),
        pytest.param(artifact, {"module": "mod", "name": "fn"}, artifact, id="python-artifact"),
        pytest.param(FloatMetadataValue(2.5), {"value": 2.5}, 2.5, id="float"),
        pytest.param(IntMetadataValue(3), {"value": 3}, 3, id="int"),
        pytest.param(BoolMetadataValue(True), {"value": True}, True, id="bool"),
        pytest.param(NullMetadataValue(), {}, None, id="null"),
        pytest.param(DagsterPipelineRunMetadataValue("r"), {"run_id": "r"}, "r", id="pipeline-run"),
        # .value returns the key (in 0.14.20 it calls itself forever, a bug not reproduced).
        pytest.param(DagsterAssetMetadataValue(KEY), {"asset_key": KEY}, KEY, id="asset"),
        pytest.param(table_value, {"records": RECORDS, "schema": SCHEMA}, table_value, id="table"),
        pytest.param(TableSchemaMetadataValue(SCHEMA), {"schema": SCHEMA}, SCHEMA, id="schema"),
    ],
)
def test_value_classes(value: Any, fields: dict[str, object], payload: object) -> None:
    assert {f.name: getattr(value, f.name) for f in dataclasses.fields(value)} == fields
    if isinstance(payload, MetadataValue):
        assert value.value is payload
    else:
        assert value.value == payload
    assert isinstance(value, MetadataValue)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(TextMetadataValue(None), "", id="text"),
        pytest.param(UrlMetadataValue(None), "", id="url"),
        pytest.param(PathMetadataValue(None), "", id="path"),
        pytest.param(MarkdownMetadataValue(None), "", id="markdown"),
        pytest.param(JsonMetadataValue(None), {}, id="json"),
    ],
)
def test_direct_construction_with_none(value: MetadataValue, expected: object) -> None:
    assert value.value == expected


def test_run_metadata_value_is_the_same_class() -> None:
    # Added in newer Dagster: DagsterRunMetadataValue, the same class as the pipeline-run one.
    assert DagsterRunMetadataValue is DagsterPipelineRunMetadataValue
    assert DagsterRunMetadataValue("r") == DagsterPipelineRunMetadataValue("r")


def test_repr_is_readable() -> None:
    assert repr(TextMetadataValue("a")) == "TextMetadataValue(text='a')"
    assert repr(IntMetadataValue(1)) == "IntMetadataValue(value=1)"
    assert repr(NullMetadataValue()) == "NullMetadataValue()"
    assert repr(DagsterAssetMetadataValue(KEY)) == (
        "DagsterAssetMetadataValue(asset_key=AssetKey(['a', 'b']))"
    )


@pytest.mark.parametrize(
    ("first", "columns"),
    [
        pytest.param(
            TableRecord(b=True, i=1, f=1.5, s="x", n=None),
            [("b", "bool"), ("i", "int"), ("f", "float"), ("s", "string"), ("n", "string")],
            id="every-kind-in-record-order",
        ),
        pytest.param(TableRecord(z=1, a=2), [("z", "int"), ("a", "int")], id="first-record-order"),
    ],
)
def test_table_schema_inference(first: TableRecord, columns: list[tuple[str, str]]) -> None:
    # The later record has the same fields (other cell kinds, other order): only the
    # first record decides the inferred column types.
    later = TableRecord(**dict.fromkeys(reversed(first.data), "other"))
    table = TableMetadataValue([first, later])
    assert [(c.name, c.type) for c in table.schema.columns] == columns
    assert table.schema.constraints == TableConstraints(other=[])
    assert table.records == [first, later]


def test_table_with_no_records_keeps_the_schema() -> None:
    assert TableMetadataValue([], SCHEMA).schema is SCHEMA
    assert TableMetadataValue([], SCHEMA).records == []


# --- metadata values compare by type as well as value (docs/dagster-differences.md) ------


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param(IntMetadataValue(1), FloatMetadataValue(1.0), id="int-vs-float"),
        pytest.param(BoolMetadataValue(True), IntMetadataValue(1), id="bool-vs-int"),
        pytest.param(TextMetadataValue("a"), UrlMetadataValue("a"), id="text-vs-url"),
        pytest.param(TextMetadataValue("a"), PathMetadataValue("a"), id="text-vs-path"),
        pytest.param(TextMetadataValue("a"), MarkdownMetadataValue("a"), id="text-vs-markdown"),
        pytest.param(
            DagsterPipelineRunMetadataValue("a"), TextMetadataValue("a"), id="run-vs-text"
        ),
        pytest.param(TextMetadataValue("a"), ("a",), id="text-vs-tuple"),
        pytest.param(IntMetadataValue(1), 1, id="int-vs-plain-int"),
        pytest.param(NullMetadataValue(), None, id="null-vs-none"),
        pytest.param(FloatMetadataValue(None), FloatMetadataValue(0.0), id="none-vs-zero"),
        pytest.param(FloatMetadataValue(NAN), FloatMetadataValue(1.0), id="nan-vs-number"),
        pytest.param(JsonMetadataValue({"a": 1}), JsonMetadataValue({"a": 1.0}), id="json-1-1.0"),
        pytest.param(JsonMetadataValue([1]), JsonMetadataValue([True]), id="json-1-true"),
        pytest.param(JsonMetadataValue([0]), JsonMetadataValue([None]), id="json-0-null"),
        pytest.param(JsonMetadataValue(["1"]), JsonMetadataValue([1]), id="json-str-int"),
        pytest.param(JsonMetadataValue({"a": 1}), JsonMetadataValue([1]), id="json-dict-list"),
        pytest.param(JsonMetadataValue([[1]]), JsonMetadataValue([[1, 2]]), id="json-lengths"),
        pytest.param(
            JsonMetadataValue({"a": 1}), JsonMetadataValue({"b": 1}), id="json-different-keys"
        ),
        pytest.param(
            TableMetadataValue([TableRecord(a=1)]),
            TableMetadataValue([TableRecord(a=1.0)]),
            id="table-1-1.0",
        ),
        pytest.param(
            TableMetadataValue([TableRecord(a=1)], TableSchema([TableColumn("a", "string")])),
            TableMetadataValue([TableRecord(a=1)]),
            id="table-schema-differs",
        ),
    ],
)
def test_values_of_different_kinds_or_payloads_are_unequal(left: object, right: object) -> None:
    assert left != right
    assert right != left
    assert not left == right


@pytest.mark.parametrize(
    ("left", "right"),
    [
        # NaN equals NaN (a different NaN object), so values survive a codec round trip.
        pytest.param(FloatMetadataValue(NAN), FloatMetadataValue(float("nan")), id="float-nan"),
        pytest.param(FloatMetadataValue(None), FloatMetadataValue(None), id="float-none"),
        pytest.param(FloatMetadataValue(0.0), FloatMetadataValue(-0.0), id="float-signed-zero"),
        pytest.param(
            JsonMetadataValue({"a": [NAN, {"b": NAN}]}),
            JsonMetadataValue({"a": [float("nan"), {"b": float("nan")}]}),
            id="json-nan",
        ),
        pytest.param(
            JsonMetadataValue({"a": 1, "b": 2}),
            JsonMetadataValue({"b": 2, "a": 1}),
            id="json-order",
        ),
        # JSON has one array type: a tuple inside equals a list.
        pytest.param(
            JsonMetadataValue({"a": (1, 2)}), JsonMetadataValue({"a": [1, 2]}), id="tuple"
        ),
        pytest.param(
            TableMetadataValue([TableRecord(a=NAN)]),
            TableMetadataValue([TableRecord(a=float("nan"))]),
            id="table-nan",
        ),
        pytest.param(TextMetadataValue("a"), MetadataValue.text("a"), id="text"),
        pytest.param(NullMetadataValue(), NullMetadataValue(), id="null"),
        pytest.param(
            DagsterAssetMetadataValue(KEY), MetadataValue.asset(AssetKey(["a", "b"])), id="asset"
        ),
    ],
)
def test_equal_values(left: MetadataValue, right: MetadataValue) -> None:
    assert left == right
    assert not left != right


finite_or_nan = st.one_of(st.floats(allow_nan=True), st.none())


@given(finite_or_nan)
def test_float_equality_is_reflexive_and_hash_consistent(raw: float | None) -> None:
    copied = None if raw is None else float(str(raw))  # a different object, same number
    assert FloatMetadataValue(raw) == FloatMetadataValue(copied)
    assert hash(FloatMetadataValue(raw)) == hash(FloatMetadataValue(copied))


json_data = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=3), json_data, max_size=3))
def test_json_equality_is_reflexive_across_copies(data: dict[str, Any]) -> None:
    assert JsonMetadataValue(data) == JsonMetadataValue(copy.deepcopy(data))
    assert JsonMetadataValue(data) == JsonMetadataValue(pickle.loads(pickle.dumps(data)))


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(TextMetadataValue("a"), id="text"),
        pytest.param(UrlMetadataValue("a"), id="url"),
        pytest.param(PathMetadataValue("a"), id="path"),
        pytest.param(MarkdownMetadataValue("a"), id="markdown"),
        pytest.param(PythonArtifactMetadataValue("m", "n"), id="python-artifact"),
        pytest.param(FloatMetadataValue(NAN), id="float"),
        pytest.param(IntMetadataValue(2**80), id="int"),
        pytest.param(BoolMetadataValue(None), id="bool"),
        pytest.param(NullMetadataValue(), id="null"),
        pytest.param(DagsterPipelineRunMetadataValue("r"), id="run"),
        pytest.param(DagsterAssetMetadataValue(KEY), id="asset"),
    ],
)
def test_scalar_values_are_hashable(value: MetadataValue) -> None:
    twin = pickle.loads(pickle.dumps(value))
    assert twin == value
    assert hash(twin) == hash(value)
    assert {value: 1}[twin] == 1


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(JsonMetadataValue({"a": 1}), id="json"),
        pytest.param(table_value, id="table"),
        pytest.param(TableSchemaMetadataValue(SCHEMA), id="table-schema"),
    ],
)
def test_container_values_are_not_hashable(value: MetadataValue) -> None:
    with pytest.raises(TypeError, match="unhashable"):
        hash(value)


ALL_VALUES = [
    TextMetadataValue("a"),
    UrlMetadataValue("a"),
    PathMetadataValue("a"),
    JsonMetadataValue({"a": [1, NAN]}),
    MarkdownMetadataValue("a"),
    PythonArtifactMetadataValue("m", "n"),
    FloatMetadataValue(NAN),
    IntMetadataValue(1),
    BoolMetadataValue(True),
    DagsterPipelineRunMetadataValue("r"),
    DagsterAssetMetadataValue(KEY),
    table_value,
    TableSchemaMetadataValue(SCHEMA),
]


@pytest.mark.parametrize("value", ALL_VALUES, ids=lambda v: type(v).__name__)
def test_values_are_immutable_and_copyable(value: Any) -> None:
    name = dataclasses.fields(value)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, name, None)
    assert pickle.loads(pickle.dumps(value)) == value
    assert copy.deepcopy(value) == value
    assert dataclasses.replace(value) == value


# --- MetadataEntry --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        pytest.param(
            lambda: MetadataEntry("l", value="x"), ("l", None, TextMetadataValue("x")), id="value"
        ),
        pytest.param(
            lambda: MetadataEntry("l", None, TextMetadataValue("a")),
            ("l", None, TextMetadataValue("a")),
            id="positional-entry-data",
        ),
        pytest.param(
            lambda: MetadataEntry("l", entry_data=3), ("l", None, IntMetadataValue(3)), id="raw-ed"
        ),
        pytest.param(
            lambda: MetadataEntry("l", "about", value=1.5),
            ("l", "about", FloatMetadataValue(1.5)),
            id="description",
        ),
        pytest.param(
            lambda: MetadataEntry(label="l", value=[1]),
            ("l", None, JsonMetadataValue([1])),
            id="policy-list",
        ),
        # As in current Dagster, an entry without a value holds the null value (0.14 raises).
        pytest.param(lambda: MetadataEntry("l"), ("l", None, NullMetadataValue()), id="no-value"),
    ],
)
def test_entry_construction(
    build: Callable[[], MetadataEntry], expected: tuple[str, str | None, MetadataValue]
) -> None:
    entry = build()
    assert (entry.label, entry.description, entry.entry_data) == expected
    assert entry.value is entry.entry_data


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        pytest.param(
            lambda: MetadataEntry("l", entry_data=TextMetadataValue("a"), value="b"),
            InvalidArgumentError,
            'MetadataEntry: give the value as "value" or as "entry_data", not both',
            id="both",
        ),
        pytest.param(
            lambda: MetadataEntry(None, value=1),  # type: ignore[arg-type]
            InvalidArgumentError,
            'MetadataEntry: "label" must be a str, got None',
            id="label",
        ),
        pytest.param(
            lambda: MetadataEntry("l", 1, value=1),  # type: ignore[arg-type]
            InvalidArgumentError,
            'MetadataEntry: "description" must be a str or None, got int',
            id="description",
        ),
        pytest.param(
            lambda: MetadataEntry("l", value={1}),
            InvalidMetadataError,
            'MetadataEntry: could not resolve the metadata value for "l" to a known type',
            id="unknown-value",
        ),
        pytest.param(
            lambda: MetadataEntry("l", value=MetadataEntry("x")),
            InvalidMetadataError,
            'MetadataEntry: expected a metadata value for "l", found a MetadataEntry',
            id="nested-entry",
        ),
    ],
)
def test_entry_errors(build: Callable[[], object], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        build()
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        pytest.param(
            lambda: MetadataEntry.text("t", "l"),
            MetadataEntry("l", None, TextMetadataValue("t")),
            id="text",
        ),
        pytest.param(
            lambda: MetadataEntry.text("t", "l", "d"),
            MetadataEntry("l", "d", TextMetadataValue("t")),
            id="text-description",
        ),
        pytest.param(
            lambda: MetadataEntry.url("u", "l"),
            MetadataEntry("l", None, UrlMetadataValue("u")),
            id="url",
        ),
        pytest.param(
            lambda: MetadataEntry.path("/p", "l"),
            MetadataEntry("l", None, PathMetadataValue("/p")),
            id="path",
        ),
        pytest.param(
            lambda: MetadataEntry.fspath("/a/b/c.txt"),
            MetadataEntry("c.txt", None, PathMetadataValue("/a/b/c.txt")),
            id="fspath-label-default",
        ),
        pytest.param(
            lambda: MetadataEntry.fspath("/a/dir/"),
            MetadataEntry("dir", None, PathMetadataValue("/a/dir/")),
            id="fspath-normalised-label",
        ),
        pytest.param(
            lambda: MetadataEntry.fspath("/a/b", "l", "d"),
            MetadataEntry("l", "d", PathMetadataValue("/a/b")),
            id="fspath-label",
        ),
        pytest.param(
            lambda: MetadataEntry.json({"a": 1}, "l"),
            MetadataEntry("l", None, JsonMetadataValue({"a": 1})),
            id="json",
        ),
        pytest.param(
            lambda: MetadataEntry.md("# m", "l"),
            MetadataEntry("l", None, MarkdownMetadataValue("# m")),
            id="md",
        ),
        pytest.param(
            lambda: MetadataEntry.python_artifact(some_function, "l"),
            MetadataEntry("l", None, PythonArtifactMetadataValue(__name__, "some_function")),
            id="python-artifact",
        ),
        pytest.param(
            lambda: MetadataEntry.float(0.5, "l"),
            MetadataEntry("l", None, FloatMetadataValue(0.5)),
            id="float",
        ),
        pytest.param(
            lambda: MetadataEntry.int(5, "l"),
            MetadataEntry("l", None, IntMetadataValue(5)),
            id="int",
        ),
        pytest.param(
            lambda: MetadataEntry.pipeline_run("r", "l"),
            MetadataEntry("l", None, DagsterPipelineRunMetadataValue("r")),
            id="pipeline-run",
        ),
        pytest.param(
            lambda: MetadataEntry.asset(KEY, "l"),
            MetadataEntry("l", None, DagsterAssetMetadataValue(KEY)),
            id="asset",
        ),
        pytest.param(
            lambda: MetadataEntry.table(RECORDS, "l", None, SCHEMA),
            MetadataEntry("l", None, TableMetadataValue(RECORDS, SCHEMA)),
            id="table-schema-last",
        ),
        pytest.param(
            lambda: MetadataEntry.table(RECORDS, "l"),
            MetadataEntry("l", None, TableMetadataValue(RECORDS)),
            id="table-inferred",
        ),
        pytest.param(
            lambda: MetadataEntry.table_schema(SCHEMA, "l"),
            MetadataEntry("l", None, TableSchemaMetadataValue(SCHEMA)),
            id="table-schema",
        ),
    ],
)
def test_entry_static_constructors(
    build: Callable[[], MetadataEntry], expected: MetadataEntry
) -> None:
    assert build() == expected


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(
            lambda: MetadataEntry.fspath(pathlib.PurePosixPath("/a")),  # type: ignore[arg-type]
            'MetadataEntry.fspath: "path" must be a str, got PurePosixPath',
            id="fspath-pathlike",
        ),
        pytest.param(
            lambda: MetadataEntry.text(1, "l"),  # type: ignore[arg-type]
            'TextMetadataValue: "text" must be a str or None, got int',
            id="text",
        ),
        pytest.param(
            lambda: MetadataEntry.float(1, "l"),
            'FloatMetadataValue: "value" must be a float or None, got int',
            id="float",
        ),
        pytest.param(
            lambda: MetadataEntry.int(1, None),  # type: ignore[arg-type]
            'MetadataEntry: "label" must be a str, got None',
            id="label",
        ),
    ],
)
def test_entry_static_constructor_errors(build: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        build()
    assert str(info.value) == message


def test_entry_has_only_the_014_constructors() -> None:
    # As in Dagster 0.14, there is no MetadataEntry.bool nor MetadataEntry.dagster_run.
    assert not hasattr(MetadataEntry, "bool")
    assert not hasattr(MetadataEntry, "dagster_run")


def test_no_deprecation_warnings() -> None:
    # ophost decision: the 0.14 deprecation warnings (static constructors, description=)
    # are not emitted; ophost has no deprecated surface.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MetadataEntry.text("t", "l", "described")
        MetadataEntry("l", "described", value=1)
        normalize_metadata(None, [MetadataEntry("l", value=1)])
    assert caught == []


def test_entry_equality_hash_and_repr() -> None:
    entry = MetadataEntry("l", value=1)
    assert entry == MetadataEntry("l", None, IntMetadataValue(1))
    assert entry != MetadataEntry("l", None, FloatMetadataValue(1.0))
    assert entry != MetadataEntry("l", "d", IntMetadataValue(1))
    assert hash(entry) == hash(MetadataEntry("l", value=1))
    assert repr(entry) == (
        "MetadataEntry(label='l', description=None, entry_data=IntMetadataValue(value=1))"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.label = "m"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(entry)) == entry
    assert dataclasses.replace(entry, label="m") == MetadataEntry("m", value=1)


# --- no stray Python errors on bad input -------------------------------------------------

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=5),
    st.binary(max_size=3),
    st.lists(st.integers() | st.text(max_size=2), max_size=3),
    st.tuples(st.text(max_size=2)),
    st.dictionaries(st.integers() | st.text(max_size=2), st.integers() | st.none(), max_size=2),
    st.sets(st.integers(), max_size=2),
    st.just(object()),
    st.just(KEY),
    st.just(SCHEMA),
    st.just(RECORDS),
)

CALLS: list[Callable[[Any], object]] = [
    MetadataValue.text,
    MetadataValue.url,
    MetadataValue.path,
    MetadataValue.json,
    MetadataValue.md,
    MetadataValue.python_artifact,
    MetadataValue.float,
    MetadataValue.int,
    MetadataValue.bool,
    MetadataValue.pipeline_run,
    MetadataValue.dagster_run,
    MetadataValue.asset,
    MetadataValue.table,
    MetadataValue.table_schema,
    lambda x: MetadataValue.table(RECORDS, x),
    lambda x: PythonArtifactMetadataValue(x, x),
    MetadataEntry,
    lambda x: MetadataEntry("l", x),
    lambda x: MetadataEntry("l", None, x),
    MetadataEntry.fspath,
    lambda x: MetadataEntry.text("t", x),
    lambda x: normalize_metadata(x, None),
    lambda x: normalize_metadata(None, x),
    lambda x: normalize_metadata({"l": x}, None),
    lambda x: normalize_metadata({"l": x}, None, lenient=True),
    lambda x: normalize_metadata_value("l", x),
    TableRecord,
    lambda x: TableRecord(a=x),
    lambda x: TableColumn(x, x, x, x),
    lambda x: TableSchema(x, x),
    TableSchema.from_name_type_dict,
    lambda x: TableColumnConstraints(x, x, x),
    TableConstraints,
]


@pytest.mark.parametrize("call", CALLS, ids=range(len(CALLS)))
@given(arg=junk)
def test_bad_input_raises_only_ophost_errors(call: Callable[[object], object], arg: object) -> None:
    try:
        call(arg)
    except OpHostError:
        pass
