"""Every type family survives the wire: ``from_proto(to_proto(x)) == x`` (property tests)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ophost import AssetKey, FloatMetadataValue, IntMetadataValue, JsonMetadataValue
from ophost.codec import config, definitions, events, failures, metadata, types, values
from ophost.definitions._config import Field
from ophost.definitions._op_spec import OpSpec
from ophost.definitions._types import DagsterType
from ophost.errors import CodecError
from ophost.execution import ErrorData, ExecutionEvent
from ophost.v1 import event_pb2, metadata_pb2, op_pb2, value_pb2

from . import strategies as s

settings.register_profile("ophost", deadline=None, max_examples=150)
settings.load_profile("ophost")


def _wire(message: object) -> object:
    """Serialize and parse again, as a peer would see it."""
    cls = type(message)
    parsed = cls()
    parsed.ParseFromString(message.SerializeToString())  # type: ignore[attr-defined]
    return parsed


@given(s.values)
def test_values_round_trip(value: object) -> None:
    decoded = values.from_proto(_wire(values.to_proto(value)))  # type: ignore[arg-type]
    assert s.same(decoded, value)


@given(s.metadata_values)
def test_metadata_values_round_trip(value: object) -> None:
    decoded = metadata.from_proto(_wire(metadata.to_proto(value)))  # type: ignore[arg-type]
    assert decoded == value
    assert type(decoded) is type(value)


@given(s.metadata_entries)
def test_metadata_entries_round_trip(entry: object) -> None:
    assert metadata.entry_from_proto(_wire(metadata.entry_to_proto(entry))) == entry  # type: ignore[arg-type]


@given(s.asset_keys)
def test_asset_keys_round_trip(key: AssetKey) -> None:
    assert metadata.asset_key_from_proto(_wire(metadata.asset_key_to_proto(key))) == key  # type: ignore[arg-type]


@given(s.dagster_types)
def test_types_round_trip(dtype: DagsterType) -> None:
    decoded = types.from_proto(_wire(types.to_proto(dtype)))  # type: ignore[arg-type]
    assert decoded == dtype
    assert (decoded.name, decoded.key, decoded.kind) == (dtype.name, dtype.key, dtype.kind)


@given(s.config_fields)
def test_config_schemas_round_trip(field: Field) -> None:
    assert config.from_proto(_wire(config.to_proto(field))) == field  # type: ignore[arg-type]


@given(s.retry_policies)
def test_retry_policies_round_trip(policy: object) -> None:
    assert (
        definitions.retry_policy_from_proto(
            _wire(definitions.retry_policy_to_proto(policy))  # type: ignore[arg-type]
        )
        == policy
    )


@given(s.op_specs())
def test_op_definitions_round_trip(spec: OpSpec) -> None:
    assert definitions.from_proto(_wire(definitions.to_proto(spec))) == spec  # type: ignore[arg-type]


@given(s.errors)
def test_errors_round_trip(error: ErrorData) -> None:
    assert failures.from_proto(_wire(failures.to_proto(error))) == error  # type: ignore[arg-type]


@given(st.lists(s.events, max_size=8))
def test_event_streams_round_trip(stream: list[ExecutionEvent]) -> None:
    decoded = [events.from_proto(_wire(events.to_proto(e))) for e in stream]  # type: ignore[arg-type]
    assert decoded == stream


# -- pinned edge cases ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "arm"),
    [
        (None, "null_value"),
        (True, "bool_value"),
        (0, "int_value"),
        (2**63 - 1, "int_value"),
        (-(2**63), "int_value"),
        (2**63, "big_int_value"),
        (-(2**63) - 1, "big_int_value"),
        (1.0, "double_value"),
        (float("nan"), "double_value"),
        (-0.0, "double_value"),
        ("", "string_value"),
        ("\U0001f600", "string_value"),
        (b"", "bytes_value"),
        (bytearray(b"x"), "bytes_value"),
        ([], "list_value"),
        ((), "tuple_value"),
        (set(), "set_value"),
        (frozenset(), "set_value"),
        ({}, "map_value"),
    ],
    ids=repr,
)
def test_value_arms(value: object, arm: str) -> None:
    assert values.to_proto(value).WhichOneof("kind") == arm


def test_int64_bounds_and_big_ints_keep_exact_values() -> None:
    for number in (2**63 - 1, -(2**63), 2**63, -(2**64), 10**40):
        assert values.from_proto(values.to_proto(number)) == number
    assert values.to_proto(10**40).big_int_value == "1" + "0" * 40


def test_negative_zero_and_infinities_survive() -> None:
    for number in (-0.0, math.inf, -math.inf):
        decoded = values.from_proto(_wire(values.to_proto(number)))  # type: ignore[arg-type]
        assert s.same(decoded, number)


def test_empty_string_is_not_null() -> None:
    assert values.from_proto(values.to_proto("")) == ""
    assert values.from_proto(values.to_proto(None)) is None


def test_dict_order_and_non_string_keys() -> None:
    value = {3: "c", "a": 1, (1, 2): [None], frozenset({1}): b"x"}
    decoded = values.from_proto(values.to_proto(value))
    assert isinstance(decoded, dict)
    assert list(decoded) == list(value)


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (object(), "value"),
        ([1, {"k": object()}], "value[1]['k']"),
        ("\udc80", "value"),
    ],
    ids=["object", "nested", "surrogate"],
)
def test_unencodable_values_name_the_path(value: object, path: str) -> None:
    with pytest.raises(CodecError) as info:
        values.to_proto(value)
    assert info.value.path == path


def test_depth_limit() -> None:
    deep: object = 1
    for _ in range(values.MAX_DEPTH):
        deep = [deep]
    values.to_proto(deep)
    with pytest.raises(CodecError, match="levels deep"):
        values.to_proto([deep])


@pytest.mark.parametrize(
    "message",
    [
        value_pb2.Value(),
        value_pb2.Value(big_int_value="12x"),
        value_pb2.Value(big_int_value="+1"),
        value_pb2.Value(big_int_value="007"),
        value_pb2.Value(
            set_value=value_pb2.ListValue(
                values=[value_pb2.Value(list_value=value_pb2.ListValue())]
            )
        ),
        value_pb2.Value(chunked_value=value_pb2.ChunkedValueRef(value_id="x")),
    ],
    ids=["empty", "bad-digits", "plus", "leading-zero", "unhashable-in-set", "chunk-ref"],
)
def test_malformed_values_are_codec_errors(message: value_pb2.Value) -> None:
    with pytest.raises(CodecError):
        values.from_proto(message)


def test_metadata_none_numbers_and_nan() -> None:
    for value in (FloatMetadataValue(None), IntMetadataValue(None), FloatMetadataValue(math.nan)):
        assert metadata.from_proto(metadata.to_proto(value)) == value
    big = IntMetadataValue(-(10**30))
    assert metadata.to_proto(big).int_value.big_int_value == str(-(10**30))
    assert metadata.from_proto(metadata.to_proto(big)) == big


def test_json_metadata_travels_as_typed_values() -> None:
    value = JsonMetadataValue({"n": 1, "f": 1.0, "ok": True, "none": None, "list": [1, "a"]})
    wire = metadata.to_proto(value)
    entries = {e.key.string_value: e.value.WhichOneof("kind") for e in wire.json.map_value.entries}
    assert entries == {
        "n": "int_value",
        "f": "double_value",
        "ok": "bool_value",
        "none": "null_value",
        "list": "list_value",
    }


def test_malformed_metadata_and_events() -> None:
    with pytest.raises(CodecError):
        metadata.from_proto(metadata_pb2.MetadataValue())
    with pytest.raises(CodecError):
        events.from_proto(event_pb2.Event(sequence=3))
    bad_level = event_pb2.Event(
        sequence=1,
        log=event_pb2.LogEvent(level=99),  # type: ignore[arg-type]
    )
    with pytest.raises(CodecError, match="log level"):
        events.from_proto(bad_level)


def test_unencodable_default_travels_as_optional_input() -> None:
    from ophost import op

    marker = object()

    @op
    def f(a=marker):  # type: ignore[no-untyped-def]
        return a

    wire = definitions.to_proto(f)
    assert not wire.inputs[0].HasField("default_value")
    assert wire.inputs[0].required is False
    decoded = definitions.from_proto(wire)
    assert decoded.inputs[0].has_default_value
    assert decoded.inputs[0].is_required is False


def test_op_definition_wire_shape() -> None:
    from examples import ops

    wire = definitions.to_proto(ops.parse_csv)
    assert isinstance(wire, op_pb2.OpDefinition)
    assert [i.name for i in wire.inputs] == ["text"]
    assert wire.inputs[0].type.scalar_type
    assert [f.name for f in wire.config.type.shape_type.fields] == ["separator", "skip_header"]
    assert wire.config.type.shape_type.fields[0].default_value.string_value == ","
    assert wire.description.startswith("Split CSV text")
