"""Events, and the control-flow exceptions Failure and RetryRequested."""

from __future__ import annotations

import copy
import dataclasses
import pathlib
import pickle
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ophost.definitions._asset_key import AssetKey
from ophost.definitions._metadata import (
    FloatMetadataValue,
    IntMetadataValue,
    JsonMetadataValue,
    MetadataEntry,
    PathMetadataValue,
    TextMetadataValue,
)
from ophost.definitions._op_events import (
    AssetMaterialization,
    AssetObservation,
    ExpectationResult,
    Failure,
    Output,
    RetryRequested,
    TypeCheck,
)
from ophost.errors import InvalidArgumentError, InvalidMetadataError, OpHostError

NAN = float("nan")
ENTRY = MetadataEntry("n", value=1)
BOTH = 'give metadata either as "metadata" or as "metadata_entries", not both'


# --- metadata handling shared by every event -----------------------------------------

EVENT_BUILDERS: list[Callable[..., Any]] = [
    lambda **kw: Output(1, **kw),
    lambda **kw: AssetMaterialization("a", **kw),
    lambda **kw: AssetObservation("a", **kw),
    lambda **kw: ExpectationResult(True, **kw),
    lambda **kw: TypeCheck(True, **kw),
    lambda **kw: Failure("boom", **kw),
]
EVENT_IDS = [
    "Output",
    "AssetMaterialization",
    "AssetObservation",
    "ExpectationResult",
    "TypeCheck",
    "Failure",
]


@pytest.mark.parametrize("build", EVENT_BUILDERS, ids=EVENT_IDS)
def test_metadata_dict_is_normalised(build: Callable[..., Any]) -> None:
    event = build(metadata={"n": 1, "t": "x", "l": [1], "z": None})
    assert [(e.label, type(e.value).__name__) for e in event.metadata_entries] == [
        ("n", "IntMetadataValue"),
        ("t", "TextMetadataValue"),
        ("l", "JsonMetadataValue"),
        ("z", "NullMetadataValue"),
    ]


@pytest.mark.parametrize("build", EVENT_BUILDERS, ids=EVENT_IDS)
def test_metadata_entries_are_kept(build: Callable[..., Any]) -> None:
    event = build(metadata_entries=(ENTRY,))
    assert event.metadata_entries == [ENTRY]
    assert build().metadata_entries == []


@pytest.mark.parametrize(
    ("build", "owner"), list(zip(EVENT_BUILDERS, EVENT_IDS, strict=True)), ids=EVENT_IDS
)
def test_metadata_errors_name_the_event(build: Callable[..., object], owner: str) -> None:
    with pytest.raises(InvalidMetadataError) as info:
        build(metadata={"a": 1}, metadata_entries=[ENTRY])
    assert str(info.value) == f"{owner}: {BOTH}"
    with pytest.raises(InvalidMetadataError) as info:
        build(metadata={"a": {1}})
    assert str(info.value).startswith(
        f'{owner}: could not resolve the metadata value for "a" to a known type.'
    )
    with pytest.raises(InvalidArgumentError) as arg_info:
        build(metadata=["a"])
    assert str(arg_info.value) == (
        f'{owner}: "metadata" must be a mapping of str to value or None, got list'
    )
    with pytest.raises(InvalidArgumentError) as arg_info:
        build(metadata_entries=[("a", 1)])
    assert str(arg_info.value) == (
        f'{owner}: "metadata_entries" must contain only MetadataEntry, got tuple at index 0'
    )


@pytest.mark.parametrize("build", EVENT_BUILDERS, ids=EVENT_IDS)
def test_metadata_entries_emit_no_deprecation_warning(build: Callable[..., object]) -> None:
    # ophost decision: metadata_entries= is accepted without the 0.14 deprecation warning.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build(metadata_entries=[ENTRY])
    assert caught == []


# --- Output --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "fields"),
    [
        pytest.param(lambda: Output(5), (5, "result", []), id="defaults"),
        pytest.param(lambda: Output(None), (None, "result", []), id="none-value"),
        pytest.param(lambda: Output(5, "out"), (5, "out", []), id="positional-name"),
        pytest.param(lambda: Output(5, "out", [ENTRY]), (5, "out", [ENTRY]), id="positional-ent"),
        # The name is not validated here, only when the output is processed.
        pytest.param(lambda: Output(5, "not a name!"), (5, "not a name!", []), id="any-name"),
        pytest.param(
            lambda: Output(value=5, output_name="o", metadata={"n": 1}),
            (5, "o", [MetadataEntry("n", value=1)]),
            id="keywords",
        ),
    ],
)
def test_output(build: Callable[[], Output[object]], fields: tuple[object, ...]) -> None:
    output = build()
    assert (output.value, output.output_name, output.metadata_entries) == fields


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param(None, 'Output: "output_name" must be a str, got None', id="none"),
        pytest.param(1, 'Output: "output_name" must be a str, got int', id="int"),
    ],
)
def test_output_name_must_be_str(name: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        Output(1, name)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_output_is_generic() -> None:
    def annotated() -> Output[int]:
        return Output[int](1)

    assert annotated() == Output(1)


# As in Dagster 0.15+, Output compares by value, name and metadata (0.14: by identity).
@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        pytest.param(Output(1), Output(1), True, id="same"),
        pytest.param(Output([1, {"a": 2}]), Output([1, {"a": 2}]), True, id="container"),
        pytest.param(Output(NAN), Output(float("nan")), True, id="nan"),
        pytest.param(Output([NAN]), Output([float("nan")]), True, id="nan-in-list"),
        pytest.param(Output({"a": (NAN,)}), Output({"a": (float("nan"),)}), True, id="nan-deep"),
        pytest.param(Output(1), Output(1.0), True, id="python-equality"),
        pytest.param(
            Output(1, metadata={"a": 1}),
            Output(1, metadata_entries=[MetadataEntry("a", value=1)]),
            True,
            id="same-metadata",
        ),
        pytest.param(Output(1), Output(2), False, id="value"),
        pytest.param(Output([NAN]), Output([1.0]), False, id="nan-vs-number"),
        pytest.param(Output(1), Output(1, "other"), False, id="name"),
        pytest.param(Output(1), Output(1, metadata={"a": 1}), False, id="metadata"),
        pytest.param(
            Output(1, metadata={"a": 1}), Output(1, metadata={"a": 1.0}), False, id="typed-meta"
        ),
        pytest.param(Output(1), 1, False, id="vs-value"),
    ],
)
def test_output_equality(left: Output[object], right: object, equal: bool) -> None:
    assert (left == right) is equal
    assert (left != right) is not equal


# --- AssetMaterialization and AssetObservation (the same arguments and checks) ------------

ASSET_EVENTS = [
    pytest.param(AssetMaterialization, id="materialization"),
    pytest.param(AssetObservation, id="observation"),
]
AssetEvent = type[AssetMaterialization] | type[AssetObservation]


@pytest.mark.parametrize(
    ("asset_key", "path"),
    [
        pytest.param(AssetKey(["a/b", "c"]), ["a/b", "c"], id="asset-key-as-is"),
        # A str is split on every character outside [A-Za-z0-9_], empties dropped.
        pytest.param("a/b.c-d e", ["a", "b", "c", "d", "e"], id="str-split"),
        pytest.param("/data//x.csv", ["data", "x", "csv"], id="str-drops-empties"),
        pytest.param("é/x", ["x"], id="non-ascii-is-a-separator"),
        pytest.param("abc_1", ["abc_1"], id="str-one-part"),
        pytest.param("", [], id="empty-str"),
        pytest.param(["a/b", "c.d"], ["a/b", "c.d"], id="list-verbatim"),
        pytest.param(("a.b",), ["a.b"], id="tuple-verbatim"),
    ],
)
@pytest.mark.parametrize("kind", ASSET_EVENTS)
def test_asset_event_key_coercion(kind: AssetEvent, asset_key: object, path: list[str]) -> None:
    materialization = kind(asset_key)  # type: ignore[arg-type]
    assert materialization.asset_key == AssetKey(path)
    assert materialization.label == " ".join(path)


@pytest.mark.parametrize(
    ("asset_key", "message"),
    [
        pytest.param(
            5,
            '"asset_key" must be an AssetKey, a str, or a list or tuple of str, got int',
            id="int",
        ),
        pytest.param(
            None,
            '"asset_key" must be an AssetKey, a str, or a list or tuple of str, got None',
            id="none",
        ),
        pytest.param(
            ["a", 1],
            '"asset_key" must contain only str, got int at index 1',
            id="int-element",
        ),
    ],
)
@pytest.mark.parametrize("kind", ASSET_EVENTS)
def test_asset_event_key_errors(kind: AssetEvent, asset_key: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        kind(asset_key)  # type: ignore[arg-type]
    assert str(info.value) == f"{kind.__name__}: {message}"


@pytest.mark.parametrize("kind", ASSET_EVENTS)
def test_asset_event_fields_and_defaults(kind: AssetEvent) -> None:
    plain = kind("a")
    assert (plain.description, plain.metadata_entries, plain.partition, plain.tags) == (
        None,
        [],
        None,
        {},
    )
    full = kind("a.b", "desc", [ENTRY], "2024-01-01", {"k": "v"})
    assert (full.asset_key, full.description, full.metadata_entries, full.partition) == (
        AssetKey(["a", "b"]),
        "desc",
        [ENTRY],
        "2024-01-01",
    )
    assert full.tags == {"k": "v"}
    assert full.label == "a b"
    assert full == kind(AssetKey(["a", "b"]), "desc", [ENTRY], "2024-01-01", {"k": "v"})
    assert full != kind(AssetKey(["a", "b"]), "desc", [ENTRY], "2024-01-02")
    # An observation is never equal to a materialization with the same fields.
    other = AssetObservation if kind is AssetMaterialization else AssetMaterialization
    assert full != other(AssetKey(["a", "b"]), "desc", [ENTRY], "2024-01-01", {"k": "v"})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"description": 1},
            '"description" must be a str or None, got int',
            id="description",
        ),
        pytest.param(
            {"partition": 1},
            '"partition" must be a str or None, got int',
            id="partition",
        ),
        pytest.param(
            {"tags": [("a", "b")]},
            '"tags" must be a mapping of str to str or None, got list',
            id="tags-list",
        ),
        pytest.param(
            {"tags": {"a": 1}},
            'the value of tag "a" must be a str, got int',
            id="tag-value",
        ),
        pytest.param(
            {"tags": {1: "a"}},
            'the keys of "tags" must be str, got int',
            id="tag-key",
        ),
    ],
)
@pytest.mark.parametrize("kind", ASSET_EVENTS)
def test_asset_event_errors(kind: AssetEvent, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        kind("a", **kwargs)  # type: ignore[arg-type]
    assert str(info.value) == f"{kind.__name__}: {message}"


@pytest.mark.parametrize(
    ("build", "path", "key", "description"),
    [
        pytest.param(
            lambda: AssetMaterialization.file("/data/x/y.csv"),
            "/data/x/y.csv",
            ["data", "x", "y", "csv"],
            None,
            id="key-from-path",
        ),
        pytest.param(
            lambda: AssetMaterialization.file("/p.txt", "d"), "/p.txt", ["p", "txt"], "d", id="desc"
        ),
        pytest.param(
            lambda: AssetMaterialization.file("/p.txt", asset_key=AssetKey("p.txt")),
            "/p.txt",
            ["p.txt"],
            None,
            id="asset-key",
        ),
        pytest.param(
            lambda: AssetMaterialization.file("/p.txt", asset_key="x.y"),
            "/p.txt",
            ["x", "y"],
            None,
            id="str-asset-key-is-split",
        ),
        pytest.param(
            lambda: AssetMaterialization.file(pathlib.PurePosixPath("/p/q"), asset_key="k"),
            "/p/q",
            ["k"],
            None,
            id="pathlike-with-key",
        ),
    ],
)
def test_materialization_file(
    build: Callable[[], AssetMaterialization], path: str, key: list[str], description: str | None
) -> None:
    materialization = build()
    assert materialization.asset_key == AssetKey(key)
    assert materialization.description == description
    assert materialization.metadata_entries == [
        MetadataEntry("path", None, PathMetadataValue(path))
    ]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        # A path-like path needs an explicit asset key (the key is built from a str only).
        pytest.param(
            lambda: AssetMaterialization.file(pathlib.PurePosixPath("/p")),
            'AssetMaterialization.file: "path" must be a str when no "asset_key" is given '
            "(the key is made from the path string), got PurePosixPath",
            id="pathlike-without-key",
        ),
        pytest.param(
            lambda: AssetMaterialization.file(5, asset_key="k"),  # type: ignore[arg-type]
            'AssetMaterialization.file: "path" must be a str or an os.PathLike of str, got int',
            id="int-path",
        ),
    ],
)
def test_materialization_file_errors(build: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        build()
    assert str(info.value) == message


# --- ExpectationResult, TypeCheck --------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "fields"),
    [
        pytest.param(lambda: ExpectationResult(True), (True, "result", None, []), id="defaults"),
        pytest.param(
            lambda: ExpectationResult(False, "rows", "d", [ENTRY]),
            (False, "rows", "d", [ENTRY]),
            id="positional",
        ),
        pytest.param(
            lambda: ExpectationResult(success=True, label=None), (True, "result", None, []), id="n"
        ),
    ],
)
def test_expectation_result(
    build: Callable[[], ExpectationResult], fields: tuple[object, ...]
) -> None:
    result = build()
    assert (result.success, result.label, result.description, result.metadata_entries) == fields


@pytest.mark.parametrize(
    ("build", "fields"),
    [
        pytest.param(lambda: TypeCheck(True), (True, None, []), id="defaults"),
        pytest.param(lambda: TypeCheck(False, "bad", [ENTRY]), (False, "bad", [ENTRY]), id="pos"),
        pytest.param(
            lambda: TypeCheck(False, metadata={"n": 1}), (False, None, [ENTRY]), id="metadata"
        ),
    ],
)
def test_type_check(build: Callable[[], TypeCheck], fields: tuple[object, ...]) -> None:
    check = build()
    assert (check.success, check.description, check.metadata_entries) == fields


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(
            lambda: ExpectationResult(1),  # type: ignore[arg-type]
            'ExpectationResult: "success" must be a bool, got int',
            id="er-success-int",
        ),
        pytest.param(
            lambda: ExpectationResult(None),  # type: ignore[arg-type]
            'ExpectationResult: "success" must be a bool, got None',
            id="er-success-none",
        ),
        pytest.param(
            lambda: ExpectationResult(True, 1),  # type: ignore[arg-type]
            'ExpectationResult: "label" must be a str, got int',
            id="er-label",
        ),
        pytest.param(
            lambda: ExpectationResult(True, "l", 1),  # type: ignore[arg-type]
            'ExpectationResult: "description" must be a str or None, got int',
            id="er-description",
        ),
        pytest.param(
            lambda: TypeCheck(1),  # type: ignore[arg-type]
            'TypeCheck: "success" must be a bool, got int',
            id="tc-success",
        ),
        pytest.param(
            lambda: TypeCheck(True, b"d"),  # type: ignore[arg-type]
            'TypeCheck: "description" must be a str or None, got bytes',
            id="tc-description",
        ),
    ],
)
def test_expectation_and_type_check_errors(build: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        build()
    assert str(info.value) == message


# --- immutability and copying of the event values ----------------------------------------

EVENTS = [
    pytest.param(Output(1, metadata={"a": NAN}), id="Output"),
    pytest.param(AssetMaterialization("a", tags={"k": "v"}, metadata={"a": 1}), id="AM"),
    pytest.param(AssetObservation("a", tags={"k": "v"}, metadata={"a": 1}), id="AO"),
    pytest.param(ExpectationResult(True, metadata={"a": [1]}), id="ExpectationResult"),
    pytest.param(TypeCheck(False, "d"), id="TypeCheck"),
]


@pytest.mark.parametrize("event", EVENTS)
def test_events_are_immutable_and_copyable(event: object) -> None:
    name = dataclasses.fields(event)[0].name  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(event, name, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.extra = 1  # type: ignore[attr-defined]
    assert pickle.loads(pickle.dumps(event)) == event
    assert copy.deepcopy(event) == event
    with pytest.raises(TypeError, match="unhashable"):
        hash(event)


def test_event_repr_is_readable() -> None:
    assert repr(Output(1)) == "Output(value=1, output_name='result', metadata_entries=[])"
    assert repr(TypeCheck(True)) == (
        "TypeCheck(success=True, description=None, metadata_entries=[])"
    )


# --- Failure ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "text", "description"),
    [
        pytest.param(Failure, "None", None, id="no-description"),
        pytest.param(lambda: Failure("boom"), "boom", "boom", id="description"),
        pytest.param(lambda: Failure(description=""), "", "", id="empty"),
    ],
)
def test_failure_description(build: Callable[[], Failure], text: str, description: str) -> None:
    failure = build()
    assert str(failure) == text
    assert failure.args == (description,)
    assert failure.description == description


@pytest.mark.parametrize(
    ("kwargs", "allow_retries"),
    [
        # Added in newer Dagster: Failure(allow_retries=...), with Dagster 1.x semantics.
        pytest.param({}, True, id="default-true"),
        pytest.param({"allow_retries": None}, True, id="none-is-true"),
        pytest.param({"allow_retries": False}, False, id="false"),
        pytest.param({"allow_retries": True}, True, id="true"),
    ],
)
def test_failure_allow_retries(kwargs: dict[str, object], allow_retries: bool) -> None:
    assert Failure("x", **kwargs).allow_retries is allow_retries  # type: ignore[arg-type]


def test_failure_positional_signature() -> None:
    failure = Failure("d", [ENTRY], None, False)
    assert (failure.description, failure.metadata_entries, failure.allow_retries) == (
        "d",
        [ENTRY],
        False,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"description": 1}, 'Failure: "description" must be a str or None, got int', id="desc"
        ),
        pytest.param(
            {"allow_retries": 0}, 'Failure: "allow_retries" must be a bool, got int', id="retries"
        ),
    ],
)
def test_failure_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        Failure(**kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_failure_is_a_plain_exception() -> None:
    assert issubclass(Failure, Exception)
    assert not issubclass(Failure, OpHostError)
    with pytest.raises(Failure, match=r"^boom$"):
        raise Failure("boom", metadata={"a": 1})


def test_failure_survives_pickling() -> None:
    failure = Failure("boom", metadata={"a": 1.5}, allow_retries=False)
    twin = pickle.loads(pickle.dumps(failure))
    assert (twin.description, twin.metadata_entries, twin.allow_retries, twin.args) == (
        "boom",
        [MetadataEntry("a", None, FloatMetadataValue(1.5))],
        False,
        ("boom",),
    )


# --- RetryRequested ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "fields"),
    [
        pytest.param(RetryRequested, (1, None), id="defaults"),
        pytest.param(lambda: RetryRequested(3, 2.5), (3, 2.5), id="positional"),
        pytest.param(lambda: RetryRequested(max_retries=0, seconds_to_wait=2), (0, 2), id="kw"),
        # No range checks, as in Dagster.
        pytest.param(lambda: RetryRequested(-1, -1.0), (-1, -1.0), id="negative"),
    ],
)
def test_retry_requested(build: Callable[[], RetryRequested], fields: tuple[object, ...]) -> None:
    request = build()
    assert (request.max_retries, request.seconds_to_wait) == fields
    assert request.args == ()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"max_retries": None},
            'RetryRequested: "max_retries" must be an int, got None',
            id="none-retries",
        ),
        pytest.param(
            {"max_retries": 1.5},
            'RetryRequested: "max_retries" must be an int, got float',
            id="float-retries",
        ),
        # ophost choice: a bool is not accepted as a count.
        pytest.param(
            {"max_retries": True},
            'RetryRequested: "max_retries" must be an int, got bool',
            id="bool-retries",
        ),
        pytest.param(
            {"seconds_to_wait": "1"},
            'RetryRequested: "seconds_to_wait" must be an int, a float or None, got str',
            id="str-wait",
        ),
        pytest.param(
            {"seconds_to_wait": False},
            'RetryRequested: "seconds_to_wait" must be an int, a float or None, got bool',
            id="bool-wait",
        ),
    ],
)
def test_retry_requested_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        RetryRequested(**kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


def _retry_from(original: Exception) -> None:
    try:
        raise original
    except ValueError as exc:
        raise RetryRequested(max_retries=2, seconds_to_wait=0.5) from exc


def test_retry_requested_chains_and_pickles() -> None:
    original = ValueError("flaky")
    with pytest.raises(RetryRequested) as info:
        _retry_from(original)
    assert info.value.__cause__ is original
    assert repr(info.value) == "RetryRequested(max_retries=2, seconds_to_wait=0.5)"
    twin = pickle.loads(pickle.dumps(info.value))
    assert (twin.max_retries, twin.seconds_to_wait) == (2, 0.5)
    assert not issubclass(RetryRequested, OpHostError)


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
    st.dictionaries(st.integers() | st.text(max_size=2), st.integers() | st.text(), max_size=2),
    st.just(object()),
    st.just(pathlib.PurePosixPath("/x")),
)

CALLS: list[Callable[[Any], object]] = [
    lambda x: Output(1, x),
    lambda x: Output(1, metadata=x),
    lambda x: Output(1, metadata_entries=x),
    AssetMaterialization,
    lambda x: AssetMaterialization("a", x, None, x, x),
    lambda x: AssetMaterialization("a", metadata={"k": x}),
    AssetMaterialization.file,
    lambda x: AssetMaterialization.file("/p", x, x),
    AssetObservation,
    lambda x: AssetObservation("a", x, None, x, x),
    lambda x: AssetObservation("a", metadata={"k": x}),
    ExpectationResult,
    lambda x: ExpectationResult(True, x, x, x),
    TypeCheck,
    lambda x: TypeCheck(True, x, None, x),
    Failure,
    lambda x: Failure(None, x, None, x),
    lambda x: Failure(None, None, x),
    RetryRequested,
    lambda x: RetryRequested(1, x),
]


@pytest.mark.parametrize("call", CALLS, ids=range(len(CALLS)))
@given(arg=junk)
def test_bad_input_raises_only_ophost_errors(call: Callable[[object], object], arg: object) -> None:
    try:
        call(arg)
    except OpHostError:
        pass


def test_event_metadata_values_are_typed() -> None:
    # Metadata values compare by type as well as value, also inside events.
    assert ExpectationResult(True, metadata={"a": 1}) != ExpectationResult(
        True, metadata={"a": 1.0}
    )
    assert ExpectationResult(True, metadata={"a": "x"}).metadata_entries == [
        MetadataEntry("a", None, TextMetadataValue("x"))
    ]
    assert TypeCheck(True, metadata={"a": {"b": 1}}).metadata_entries[0].value == (
        JsonMetadataValue({"b": 1})
    )
    assert IntMetadataValue(1) != FloatMetadataValue(1.0)
