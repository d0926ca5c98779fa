"""The wire layer's inbound side: request bytes that do not parse, and request limits.

No sockets: the deserializer, the diagnosis of bad bytes and the checks are called
directly. tests/e2e/test_hardening.py drives the same paths through a real server.
"""

from __future__ import annotations

import ast
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import message_factory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ophost.server import _requests
from ophost.server._limits import MAX_NAME_CHARS, MAX_STATES, MAX_TAGS
from ophost.server._requests import Undecodable, deserializer, diagnose
from ophost.server._status import StatusError
from ophost.v1 import execution_pb2, op_host_service_pb2, value_pb2

_SERVICE = op_host_service_pb2.DESCRIPTOR.services_by_name["OpHostService"]
_REQUESTS = {m.name: message_factory.GetMessageClass(m.input_type) for m in _SERVICE.methods}


def _varint(number: int) -> bytes:
    out = bytearray()
    while number >= 0x80:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _nested_value(depth: int) -> bytes:
    value = value_pb2.Value(int_value=1).SerializeToString()
    for _ in range(depth):
        value = _field(value_pb2.Value.LIST_VALUE_FIELD_NUMBER, _field(1, value))
    return value


def _diagnosed(message: type, data: bytes) -> tuple[str, str]:
    parsed = deserializer(message)(data)
    assert isinstance(parsed, Undecodable), "the bytes parsed"
    return diagnose(parsed.descriptor, parsed.data, parsed.parser_message)


_START = op_host_service_pb2.StartExecutionRequest


@pytest.mark.parametrize(
    ("data", "path", "problem"),
    [
        (b"\xff\xff", "", "a field tag is cut off"),
        (b"\x0a\x05ab", "start", "the length 5 runs past the end of the message (2 bytes left)"),
        (_field(1, _field(1, b"\xc3\x28")), "start.op_name", "not valid UTF-8"),
        (
            _field(1, _field(2, _field(1, b"x")) + _field(2, _field(1, b"y") + b"\x08")),
            "start.inputs[1].name",
            "the varint value is cut off",
        ),
        (
            _field(1, _field(2, _field(2, _field(7, b"\xff")))),
            "start.inputs[0].value.big_int_value",
            "not valid UTF-8",
        ),
        (_field(1, b"\x0f"), "start.op_name", "wire type 7 does not exist"),
        (_field(1, b"\x00"), "start", "number 0"),
        (_field(1, b"\xfc\x07"), "start.<field 127>", "an end-group tag with no group open"),
        (_field(1, b"\x0b\x08\x01"), "start.op_name", "group 1 is never closed"),
    ],
    ids=[
        "cut-tag",
        "length-past-end",
        "utf8",
        "second-input",
        "nested-utf8",
        "wire-type-7",
        "field-0",
        "end-group",
        "open-group",
    ],
)
def test_the_field_at_fault_is_named(data: bytes, path: str, problem: str) -> None:
    found_path, found_problem = _diagnosed(_START, data)
    assert found_path == path
    assert problem in found_problem


def test_nesting_past_the_parsers_limit_is_found_where_it_passes_100() -> None:
    start = _field(2, _field(1, b"x") + _field(2, _nested_value(60)))
    path, problem = _diagnosed(_START, _field(1, start))
    # The middle of a deep path is left out.
    assert path.startswith("start.inputs[0].value.list_value.values[0].list_value.<")
    assert path.endswith(" more>.list_value.values[0].list_value.values[0]")
    assert problem == "messages are nested more than 100 deep here"


def test_nesting_just_within_the_limit_parses() -> None:
    # StartExecutionRequest > start > inputs > value: three levels, then two per list.
    start = _field(2, _field(1, b"x") + _field(2, _nested_value(48)))
    parsed = deserializer(_START)(_field(1, start))
    assert isinstance(parsed, _START)


def test_a_packed_varint_cut_short_is_named() -> None:
    data = _field(op_host_service_pb2.ListExecutionsRequest.STATES_FIELD_NUMBER, b"\x01\x80")
    path, problem = _diagnosed(op_host_service_pb2.ListExecutionsRequest, data)
    assert (path, problem) == ("states", "a packed varint is cut off")


def test_a_wide_message_gives_up_naming_the_field_quickly() -> None:
    # A list of 200,000 strings, the last one invalid UTF-8: the walk is bounded and
    # falls back to what the parser said.
    string = value_pb2.Value.STRING_VALUE_FIELD_NUMBER
    items = _field(1, _field(string, b"x")) * 200_000 + _field(1, _field(string, b"\xff"))
    value = _field(value_pb2.Value.LIST_VALUE_FIELD_NUMBER, items)
    data = _field(1, _field(2, _field(1, b"x") + _field(2, value)))
    began = time.perf_counter()
    path, problem = _diagnosed(_START, data)
    assert time.perf_counter() - began < 0.5
    assert (path, problem) == ("", "a string field holds invalid UTF-8")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from(sorted(_REQUESTS)), data=st.binary(max_size=200))
def test_the_deserializer_never_raises(method: str, data: bytes) -> None:
    parsed = deserializer(_REQUESTS[method])(data)
    if isinstance(parsed, Undecodable):
        error = parsed.error()
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert error.metadata["message"] == _REQUESTS[method].DESCRIPTOR.full_name
    else:
        assert isinstance(parsed, _REQUESTS[method])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    message=st.builds(
        lambda op, inputs, tags: op_host_service_pb2.StartExecutionRequest(
            start=execution_pb2.ExecutionStart(op_name=op, inputs=inputs, tags=tags)
        ),
        st.text(max_size=20),
        st.lists(
            st.builds(
                lambda name, text: value_pb2.NamedValue(
                    name=name, value=value_pb2.Value(string_value=text)
                ),
                st.text(max_size=5),
                st.text(max_size=5),
            ),
            max_size=4,
        ),
        st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    ),
    cut=st.integers(min_value=1, max_value=400),
    flip=st.integers(min_value=0, max_value=400),
)
def test_mutated_starts_parse_or_say_why(
    message: op_host_service_pb2.StartExecutionRequest, cut: int, flip: int
) -> None:
    data = bytearray(message.SerializeToString())
    if data:
        data[flip % len(data)] ^= 0xFF
        del data[len(data) - (cut % len(data)) :]
    parsed = deserializer(_START)(bytes(data))
    if isinstance(parsed, Undecodable):
        error = parsed.error()
        assert "does not decode" in error.message


_RUNNING = execution_pb2.EXECUTION_STATE_RUNNING


def _state(number: int) -> execution_pb2.ExecutionState.ValueType:
    return execution_pb2.ExecutionState.ValueType(number)


# -- the limits -----------------------------------------------------------------------------------


def _accept(method: str, request: object) -> object:
    return _requests._checker(method)(request, None)  # type: ignore[arg-type]


def test_a_request_within_the_limits_passes_unchanged() -> None:
    request = op_host_service_pb2.GetOpRequest(op_name="x" * MAX_NAME_CHARS)
    assert _accept("GetOp", request) is request


@pytest.mark.parametrize(
    ("method", "request_message", "field"),
    [
        ("GetOp", op_host_service_pb2.GetOpRequest(op_name="x" * 257), "op_name"),
        (
            "ListExecutions",
            op_host_service_pb2.ListExecutionsRequest(op_name="é" * 300),
            "op_name",
        ),
        (
            "ListOps",
            op_host_service_pb2.ListOpsRequest(page_token="t" * 1025),
            "page_token",
        ),
        (
            "StreamEvents",
            op_host_service_pb2.StreamEventsRequest(execution_id="e" * 257),
            "execution_id",
        ),
        (
            "CancelExecution",
            op_host_service_pb2.CancelExecutionRequest(execution_id="e", reason="r" * 4097),
            "reason",
        ),
        (
            "StartExecution",
            op_host_service_pb2.StartExecutionRequest(
                start=execution_pb2.ExecutionStart(op_name="add", request_id="r" * 257)
            ),
            "start.request_id",
        ),
        (
            "StartExecution",
            op_host_service_pb2.StartExecutionRequest(
                start=execution_pb2.ExecutionStart(
                    op_name="add",
                    inputs=[value_pb2.NamedValue(name="a"), value_pb2.NamedValue(name="b" * 300)],
                )
            ),
            "start.inputs[1].name",
        ),
        (
            "StartExecution",
            op_host_service_pb2.StartExecutionRequest(
                start=execution_pb2.ExecutionStart(op_name="add", tags={"k": "v" * 4097})
            ),
            "start.tags['k']",
        ),
        (
            "StartExecution",
            op_host_service_pb2.StartExecutionRequest(
                start=execution_pb2.ExecutionStart(
                    op_name="add", tags={f"k{i}": "v" for i in range(MAX_TAGS + 1)}
                )
            ),
            "start.tags",
        ),
        (
            "Execute",
            op_host_service_pb2.ExecuteRequest(chunk=value_pb2.ValueChunk(value_id="v" * 257)),
            "chunk.value_id",
        ),
        (
            "Execute",
            op_host_service_pb2.ExecuteRequest(
                start=execution_pb2.ExecutionStart(
                    op_name="add",
                    config=value_pb2.Value(
                        chunked_value=value_pb2.ChunkedValueRef(value_id="v" * 257)
                    ),
                )
            ),
            "start.config.chunked_value.value_id",
        ),
        (
            "ListExecutions",
            op_host_service_pb2.ListExecutionsRequest(states=[_RUNNING] * (MAX_STATES + 1)),
            "states",
        ),
        (
            "ListExecutions",
            op_host_service_pb2.ListExecutionsRequest(states=[_RUNNING, _state(0)]),
            "states[1]",
        ),
        (
            "ListExecutions",
            op_host_service_pb2.ListExecutionsRequest(states=[_state(77)]),
            "states[0]",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_requests_over_a_limit_are_refused_naming_the_field(
    method: str, request_message: object, field: str
) -> None:
    with pytest.raises(StatusError) as info:
        _accept(method, request_message)
    error = info.value
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST")
    assert error.violations[0][0] == field


def test_every_method_of_the_service_has_checks() -> None:
    assert set(_REQUESTS) == set(_requests._CHECKS)


# -- a large start's fields, counted before parsing -------------------------------------------


def _tags_start(count: int, *, split: int = 1) -> bytes:
    """A StartExecutionRequest whose start has ``count`` distinct tags, its start field
    written ``split`` times (the parser merges the occurrences)."""
    entry = [_field(1, f"k{i:07d}".encode()) for i in range(count)]
    tags = [_field(execution_pb2.ExecutionStart.TAGS_FIELD_NUMBER, e) for e in entry]
    size = -(-count // split)
    parts = [b"".join(tags[i : i + size]) for i in range(0, count, size)]
    return b"".join(_field(1, part) for part in parts)


@pytest.mark.parametrize("split", [1, 50])
def test_a_start_with_too_many_tags_is_refused_before_parsing(split: int) -> None:
    data = _tags_start(300_000, split=split)
    began = time.perf_counter()
    parsed = deserializer(_START)(data)
    took = time.perf_counter() - began
    assert isinstance(parsed, _requests.Refused)
    assert not isinstance(parsed, Undecodable)
    error = parsed.error()
    assert error.violations == [("start.tags", f"more than the limit of {MAX_TAGS} entries")]
    # Parsing 300,000 tags takes the protobuf runtime about a second, holding the GIL.
    assert took < 0.05


def test_a_start_with_too_many_unknown_fields_is_refused_before_parsing() -> None:
    data = _field(1, b"\x78\x01" * 200_000)  # field 15, a varint, 200,000 times
    parsed = deserializer(op_host_service_pb2.ExecuteRequest)(data)
    assert isinstance(parsed, _requests.Refused)
    assert parsed.error().violations[0][0] == "start"


def test_a_large_start_within_the_limits_parses() -> None:
    start = execution_pb2.ExecutionStart(op_name="echo", tags={f"k{i}": "v" for i in range(64)})
    start.inputs.add(name="value").value.bytes_value = b"x" * 100_000
    data = op_host_service_pb2.StartExecutionRequest(start=start).SerializeToString()
    parsed = deserializer(_START)(data)
    assert isinstance(parsed, _START)
    assert len(parsed.start.tags) == 64


# -- nothing from the wire is ever run -------------------------------------------------------

_SERVER = Path(_requests.__file__).parent
_CODEC = _SERVER.parent / "codec"
# Modules that turn bytes into objects (pickle and its kin) and ways of running code.
_UNSAFE_MODULES = {"pickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle", "importlib"}
_UNSAFE_CALLS = {"eval", "exec", "compile", "__import__"}
# The loader imports the ops named on the command line (never anything a request names).
# Modules that import by name what the operator configured, never what a request names:
# the optional extras behind --metrics-port and --tracing, and the TOML or YAML reader
# of the token file.
_TRUSTED = {_SERVER / "_observe.py", _SERVER / "_token_file.py"}


def _unsafe_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(node.module or "").split(".")[0]]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            names = [node.func.id] if node.func.id in _UNSAFE_CALLS else []
        else:
            continue
        found += [
            f"{path.name}:{node.lineno} {n}" for n in names if n in _UNSAFE_MODULES | _UNSAFE_CALLS
        ]
    return found


def test_no_request_path_module_unpickles_or_runs_code() -> None:
    """Requests are typed protobuf messages decoded into plain Python values: the host
    and the codec never unpickle, import or evaluate anything (a request names ops,
    which are looked up among those the host was given)."""
    modules = [p for p in [*_SERVER.rglob("*.py"), *_CODEC.rglob("*.py")] if p not in _TRUSTED]
    assert len(modules) > 20
    assert [use for path in modules for use in _unsafe_uses(path)] == []


def test_a_large_request_with_too_many_fields_of_its_own_is_refused() -> None:
    data = _field(9, b"u" * 1024) * 70  # an unknown field, 70 times: 70 kB
    parsed = deserializer(_START)(data)
    assert isinstance(parsed, _requests.Refused)
    assert parsed.error().message == "the request has more than 64 fields"
