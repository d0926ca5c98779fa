"""RPC errors as ``google.rpc.Status`` (docs/protocol.md §13): constructors, limits, parsing."""

from __future__ import annotations

import math
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2  # type: ignore[import-untyped, unused-ignore]

from ophost.codec.chunks import ChunkError, ChunkLimitError
from ophost.codec.status import (
    DOMAIN,
    STATUS_DETAILS_KEY,
    StatusDetails,
    find_status_details,
    parse_status_details,
)
from ophost.errors import CodecError, ConfigErrorDetail, InvalidConfigError
from ophost.server import _status
from ophost.server._status import (
    MAX_DESCRIPTION_CHARS,
    MAX_DETAILS_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_VIOLATIONS,
    StatusError,
)
from ophost.v1 import error_pb2


def _details_bytes(error: StatusError) -> bytes:
    status = error.to_status()
    [(key, value)] = status.trailing_metadata
    assert key == STATUS_DETAILS_KEY
    assert isinstance(value, bytes)
    return value


def _parsed(error: StatusError) -> StatusDetails:
    return parse_status_details(_details_bytes(error))


# --- one test per constructor -----------------------------------------------------------


def test_op_not_found_suggests_a_close_name() -> None:
    error = _status.op_not_found("ad", ["add", "multiply"])
    assert error.code is grpc.StatusCode.NOT_FOUND
    assert error.reason == "OP_NOT_FOUND"
    assert error.message == "no op named 'ad' on this server; did you mean 'add'?"
    assert error.metadata == {"op": "ad"}
    assert error.violations == []
    assert error.retry_delay is None


def test_op_not_found_lists_some_known_ops() -> None:
    error = _status.op_not_found("zzz", [f"op{i}" for i in range(12)])
    assert error.message == (
        "no op named 'zzz' on this server "
        "(ops: op0, op1, op2, op3, op4, op5, op6, op7, op8, op9 and 2 more)"
    )
    few = _status.op_not_found("zzz", iter(["alpha", "beta"]))
    assert few.message == "no op named 'zzz' on this server (ops: alpha, beta)"


def test_op_not_found_on_a_server_without_ops() -> None:
    error = _status.op_not_found("zzz", [])
    assert error.message == "no op named 'zzz' on this server (it hosts no ops)"


def test_execution_not_found() -> None:
    error = _status.execution_not_found("ex-1")
    assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "EXECUTION_NOT_FOUND")
    assert error.message == (
        "no execution with id 'ex-1' (it never existed, or its retention expired)"
    )
    assert error.metadata == {"execution_id": "ex-1"}


def test_invalid_inputs_has_one_violation_per_problem() -> None:
    problems = [
        ConfigErrorDetail("inputs.a", "no value provided for required input"),
        ConfigErrorDetail("inputs.zz", 'op "add" has no input "zz" (inputs: a, b)'),
    ]
    error = _status.invalid_inputs("add", problems)
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INPUT")
    assert error.metadata == {"op": "add"}
    assert error.violations == [
        ("inputs.a", "no value provided for required input"),
        ("inputs.zz", 'op "add" has no input "zz" (inputs: a, b)'),
    ]
    assert error.message == (
        "inputs for op 'add' are invalid: inputs.a: no value provided for required input; "
        'inputs.zz: op "add" has no input "zz" (inputs: a, b)'
    )


def test_invalid_config_has_one_violation_per_config_path() -> None:
    config_error = InvalidConfigError(
        'Config for op "load" is invalid',
        [
            ConfigErrorDetail("config.db.port", "expected an int, got str"),
            ConfigErrorDetail("config.hosts[2]", "expected a str, got None"),
        ],
    )
    error = _status.invalid_config("load", config_error)
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_CONFIG")
    assert error.metadata == {"op": "load"}
    assert error.violations == [
        ("config.db.port", "expected an int, got str"),
        ("config.hosts[2]", "expected a str, got None"),
    ]
    assert error.message == (
        'Config for op "load" is invalid: config.db.port: expected an int, got str; '
        "config.hosts[2]: expected a str, got None"
    )


def test_malformed_with_and_without_a_field() -> None:
    error = _status.malformed("big_int_value '12a' is not a base-10 integer", "inputs.n")
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST")
    assert error.message == "inputs.n: big_int_value '12a' is not a base-10 integer"
    assert error.violations == [("inputs.n", "big_int_value '12a' is not a base-10 integer")]
    bare = _status.malformed("start.op_name is empty")
    assert bare.message == "start.op_name is empty"
    assert bare.violations == []
    assert bare.metadata == {}


def test_out_of_order() -> None:
    error = _status.out_of_order("the first message of Execute must be start")
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "OUT_OF_ORDER")
    assert error.message == "the first message of Execute must be start"


def test_request_id_conflict() -> None:
    error = _status.request_id_conflict("req-9")
    assert (error.code, error.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "REQUEST_ID_CONFLICT",
    )
    assert error.metadata == {"request_id": "req-9"}
    assert error.message == (
        "request id 'req-9' was already used for a different start (op, inputs, config or "
        "tags differ)"
    )


def test_draining_uses_the_documented_code() -> None:
    error = _status.draining()
    assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "SERVER_DRAINING")
    assert error.retry_delay is None
    assert _parsed(error).retry_delay is None
    with_retry = _status.draining(retry_after=2.5)
    assert with_retry.retry_delay == 2.5
    assert _parsed(with_retry).retry_delay == 2.5


def test_too_many_executions_carries_retry_info() -> None:
    error = _status.too_many_executions(8, retry_after=1.5)
    assert (error.code, error.reason) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "TOO_MANY_EXECUTIONS",
    )
    assert error.message == "the server already runs its maximum of 8 concurrent executions"
    assert error.metadata == {"limit": "8"}
    assert error.retry_delay == 1.5


def test_invalid_chunk_names_the_value_path() -> None:
    chunk_error = ChunkError("inputs.x", "chunk 3 of 'v1' has offset 9, expected 12")
    error = _status.invalid_chunk(chunk_error)
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_CHUNK")
    assert error.message == "inputs.x: chunk 3 of 'v1' has offset 9, expected 12"
    assert error.violations == [("inputs.x", "chunk 3 of 'v1' has offset 9, expected 12")]


def test_sequence_out_of_range() -> None:
    error = _status.sequence_out_of_range(after=12, last=10)
    assert (error.code, error.reason) == (grpc.StatusCode.OUT_OF_RANGE, "SEQUENCE_OUT_OF_RANGE")
    assert error.message == "after_sequence 12 is beyond the execution's last sequence 10"
    assert error.metadata == {"after_sequence": "12", "last_sequence": "10"}
    assert error.violations == [("after_sequence", "must be at most 10")]


def test_invalid_page_token() -> None:
    error = _status.invalid_page_token()
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN")
    assert error.violations == [("page_token", "not a token this server issued for this query")]


def test_undecodable_names_the_message_and_the_field() -> None:
    error = _status.undecodable("ophost.v1.GetOpRequest", "op_name", "not valid UTF-8")
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST")
    assert error.message == "the GetOpRequest does not decode: op_name: not valid UTF-8"
    assert error.metadata == {"message": "ophost.v1.GetOpRequest"}
    assert error.violations == [("op_name", "not valid UTF-8")]


def test_undecodable_on_a_stream_says_which_message() -> None:
    error = _status.undecodable("ophost.v1.ExecuteRequest", "", "corrupt", index=3)
    assert error.message == "message 3 of the stream (an ExecuteRequest) does not decode: corrupt"
    assert error.metadata == {"message": "ophost.v1.ExecuteRequest", "message_index": "3"}
    assert error.violations == []


def test_too_long_and_too_many_name_the_field_and_the_limit() -> None:
    long = _status.too_long("op_name", 300, 256)
    assert (long.code, long.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST")
    assert long.violations == [("op_name", "300 characters, more than the limit of 256")]
    many = _status.too_many("start.tags", 65, 64)
    assert many.violations == [("start.tags", "65 entries, more than the limit of 64")]


def test_upload_limits_are_resource_exhausted() -> None:
    error = _status.upload_too_large(ChunkLimitError("inputs.x", "too big", limit=10), 10)
    assert (error.code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "UPLOAD_TOO_LARGE")
    assert error.metadata == {"limit": "10"}
    assert error.violations == [("inputs.x", "too big")]
    assert error.retry_delay is None
    full = _status.upload_buffer_full(100, retry_after=1.0)
    assert (full.code, full.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "UPLOAD_BUFFER_FULL")
    assert full.metadata == {"limit": "100"}
    assert _parsed(full).retry_delay == 1.0


def test_op_not_found_suggests_nothing_when_comparing_would_cost_too_much() -> None:
    names = [f"op_number_{i}" for i in range(2000)]
    error = _status.op_not_found("op_number_1x", names)
    assert "did you mean" not in error.message
    assert "did you mean 'op_number_1'" in _status.op_not_found("op_number_1x", names[:20]).message


def test_internal() -> None:
    error = _status.internal("the event store lost execution ex-1")
    assert (error.code, error.reason) == (grpc.StatusCode.INTERNAL, "INTERNAL")
    assert error.message == "the event store lost execution ex-1"


def test_authentication_and_permission_errors() -> None:
    error = _status.unauthenticated("the bearer token matches no identity")
    assert (error.code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
    assert error.metadata == {}
    denied = _status.permission_denied("ci", "run", op="payroll")
    assert (denied.code, denied.reason) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    assert denied.message == "identity 'ci' may not run op 'payroll'"
    assert denied.metadata == {"identity": "ci", "action": "run", "op": "payroll"}
    denied = _status.permission_denied("ci", "read", execution_id="e1")
    assert denied.message == "identity 'ci' may not read execution 'e1'"
    assert denied.metadata == {"identity": "ci", "action": "read", "execution_id": "e1"}
    denied = _status.permission_denied("ci", "list", method="/ophost.v1.OpHostService/ListOps")
    assert denied.message == (
        "identity 'ci' lacks the action 'list' that /ophost.v1.OpHostService/ListOps needs"
    )
    assert denied.metadata == {"identity": "ci", "action": "list"}
    limited = _status.too_many_executions_for_identity("ci", 2, retry_after=1.0)
    assert limited.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert limited.reason == "TOO_MANY_EXECUTIONS_FOR_IDENTITY"
    assert limited.metadata == {"identity": "ci", "limit": "2"}
    assert limited.retry_delay == 1.0
    conflict = _status.request_id_conflict("r1", another_identity=True)
    assert conflict.message == "request id 'r1' was already used by another identity"


def test_every_error_reason_has_a_constructor() -> None:
    made = {
        _status.op_not_found("x", []).reason,
        _status.execution_not_found("x").reason,
        _status.invalid_inputs("x", []).reason,
        _status.invalid_config("x", InvalidConfigError("bad", [])).reason,
        _status.malformed("x").reason,
        _status.invalid_page_token().reason,
        _status.invalid_chunk(ChunkError("x", "y")).reason,
        _status.out_of_order("x").reason,
        _status.request_id_conflict("x").reason,
        _status.draining().reason,
        _status.too_many_executions(1, 1.0).reason,
        _status.sequence_out_of_range(2, 1).reason,
        _status.internal("x").reason,
        _status.store_full("x").reason,
        _status.store_unavailable("x").reason,
        _status.unauthenticated("x").reason,
        _status.permission_denied("x", "run", op="y").reason,
        _status.too_many_executions_for_identity("x", 1, 1.0).reason,
        _status.upload_too_large(ChunkLimitError("x", "y", limit=1), 1).reason,
        _status.upload_buffer_full(1, 1.0).reason,
    }
    names = {name.removeprefix("ERROR_REASON_") for name in error_pb2.ErrorReason.keys()}
    assert made == names - {"UNSPECIFIED"}


# --- the exception and the wire form ----------------------------------------------------


def test_status_error_is_an_exception_with_the_message() -> None:
    error = _status.execution_not_found("ex-1")
    assert isinstance(error, Exception)
    assert str(error) == error.message
    assert repr(error) == f"StatusError(NOT_FOUND, EXECUTION_NOT_FOUND, {error.message!r})"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"code": grpc.StatusCode.OK}, "a StatusError cannot have status code OK"),
        ({"reason": "NOPE"}, "'NOPE' is not an ErrorReason name (without its prefix)"),
        ({"reason": "UNSPECIFIED"}, "'UNSPECIFIED' is not an ErrorReason name"),
        (
            {"reason": "ERROR_REASON_INTERNAL"},
            "'ERROR_REASON_INTERNAL' is not an ErrorReason name",
        ),
        ({"retry_delay": -1.0}, "retry_delay must be a finite number >= 0, got -1.0"),
        ({"retry_delay": math.nan}, "retry_delay must be a finite number >= 0, got nan"),
        ({"retry_delay": math.inf}, "retry_delay must be a finite number >= 0, got inf"),
    ],
)
def test_status_error_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"code": grpc.StatusCode.INTERNAL, "reason": "INTERNAL"}
    arguments.update(kwargs)
    code = arguments.pop("code")
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        StatusError(code, "boom", **arguments)


def test_to_status_carries_code_message_and_details() -> None:
    error = _status.too_many_executions(4, retry_after=0.25)
    status = error.to_status()
    assert status.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert status.details == error.message
    proto = status_pb2.Status.FromString(_details_bytes(error))
    assert proto.code == code_pb2.RESOURCE_EXHAUSTED
    assert proto.message == error.message
    assert [d.TypeName() for d in proto.details] == ["google.rpc.ErrorInfo", "google.rpc.RetryInfo"]
    info = error_details_pb2.ErrorInfo()
    assert proto.details[0].Unpack(info)
    assert (info.reason, info.domain, dict(info.metadata)) == (
        "TOO_MANY_EXECUTIONS",
        "ophost",
        {"limit": "4"},
    )
    retry = error_details_pb2.RetryInfo()
    assert proto.details[1].Unpack(retry)
    assert retry.retry_delay.ToMilliseconds() == 250


def test_details_without_violations_or_retry_hold_only_error_info() -> None:
    proto = status_pb2.Status.FromString(_details_bytes(_status.execution_not_found("e")))
    assert [d.TypeName() for d in proto.details] == ["google.rpc.ErrorInfo"]


@pytest.mark.parametrize(
    "error",
    [
        _status.op_not_found("ad", ["add"]),
        _status.invalid_inputs("add", [ConfigErrorDetail("inputs.a", "missing")]),
        _status.invalid_config("op", InvalidConfigError("p", [ConfigErrorDetail("config.a", "x")])),
        _status.malformed("bad", "start.inputs[0].value"),
        _status.too_many_executions(3, retry_after=2.0),
        _status.sequence_out_of_range(5, 3),
        _status.draining(retry_after=0.001),
    ],
    ids=lambda e: e.reason,
)
def test_parse_status_details_round_trips(error: StatusError) -> None:
    assert _parsed(error) == StatusDetails(
        code=error.code.value[0],
        message=error.message,
        reason=error.reason,
        domain=DOMAIN,
        metadata=error.metadata,
        violations=error.violations,
        retry_delay=error.retry_delay,
    )


async def test_abort_ends_the_rpc_with_the_status() -> None:
    class Aborted(Exception):
        pass

    class FakeContext:
        def __init__(self) -> None:
            self.statuses: list[grpc.Status] = []

        async def abort_with_status(self, status: grpc.Status) -> None:
            self.statuses.append(status)
            raise Aborted

    context = FakeContext()
    error = _status.op_not_found("x", [])
    with pytest.raises(Aborted):
        await _status.abort(context, error)  # type: ignore[arg-type]
    [status] = context.statuses
    assert status.code is grpc.StatusCode.NOT_FOUND
    assert status.details == error.message
    assert status.trailing_metadata == error.to_status().trailing_metadata


# --- size limits ------------------------------------------------------------------------


def test_long_descriptions_and_metadata_values_are_cut() -> None:
    error = StatusError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "bad",
        reason="INVALID_INPUT",
        metadata={"op": "o" * 600},
        violations=[("inputs." + "f" * 300, "d" * 600)],
    )
    details = _parsed(error)
    [(field, description)] = details.violations
    assert description == "d" * (MAX_DESCRIPTION_CHARS - 3) + "..."
    assert len(description) == MAX_DESCRIPTION_CHARS
    assert field == ("inputs." + "f" * 300)[:253] + "..."
    assert details.metadata == {"op": "o" * (MAX_DESCRIPTION_CHARS - 3) + "..."}
    # The exception itself keeps the full text.
    assert error.violations == [("inputs." + "f" * 300, "d" * 600)]


def test_a_description_at_the_limit_is_kept_whole() -> None:
    error = StatusError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "bad",
        reason="INVALID_INPUT",
        violations=[("inputs.a", "d" * MAX_DESCRIPTION_CHARS)],
    )
    assert _parsed(error).violations == [("inputs.a", "d" * MAX_DESCRIPTION_CHARS)]


def test_the_message_is_cut_to_its_byte_limit_at_a_character_boundary() -> None:
    error = _status.internal("é" * 1000)  # 2000 UTF-8 bytes
    status = error.to_status()
    expected = "é" * ((MAX_MESSAGE_BYTES - 3) // 2) + "..."
    assert status.details == expected
    assert len(expected.encode()) <= MAX_MESSAGE_BYTES
    assert _parsed(error).message == expected
    short = _status.internal("é" * 10)
    assert short.to_status().details == "é" * 10


def test_lone_surrogates_are_replaced() -> None:
    error = _status.malformed("bad \udc80 text", field="inputs.\ud800")
    details = _parsed(error)
    assert details.message == "inputs.?: bad ? text"
    assert details.violations == [("inputs.?", "bad ? text")]


def test_at_most_max_violations_are_sent_and_the_rest_counted() -> None:
    problems = [ConfigErrorDetail(f"inputs.i{n}", "missing") for n in range(60)]
    details = _parsed(_status.invalid_inputs("op", problems))
    assert len(details.violations) == MAX_VIOLATIONS
    assert details.violations == [(f"inputs.i{n}", "missing") for n in range(MAX_VIOLATIONS)]
    assert details.metadata == {"op": "op", "omitted_violations": "10"}
    assert details.omitted_violations == 10


def test_exactly_max_violations_omit_nothing() -> None:
    problems = [ConfigErrorDetail(f"inputs.i{n}", "missing") for n in range(MAX_VIOLATIONS)]
    details = _parsed(_status.invalid_inputs("op", problems))
    assert len(details.violations) == MAX_VIOLATIONS
    assert details.metadata == {"op": "op"}
    assert details.omitted_violations == 0


def test_violations_are_dropped_until_the_details_fit_the_byte_budget() -> None:
    problems = [ConfigErrorDetail(f"inputs.i{n}", "x" * 600) for n in range(50)]
    error = _status.invalid_inputs("op", problems)
    proto = error.to_status_proto()
    assert proto.ByteSize() <= MAX_DETAILS_BYTES
    details = _parsed(error)
    kept = len(details.violations)
    # The message takes its full 1 KiB and each violation about 530 bytes: 5 fit.
    assert kept == 5
    assert details.violations == [(f"inputs.i{n}", "x" * 509 + "...") for n in range(kept)]
    assert details.omitted_violations == 50 - kept
    # One more violation would not have fit.
    bigger = error._build(
        proto.message,
        [
            error_details_pb2.BadRequest.FieldViolation(
                field=f"inputs.i{n}", description="x" * 509 + "..."
            )
            for n in range(kept + 1)
        ],
        50 - kept - 1,
    )
    assert bigger.ByteSize() > MAX_DETAILS_BYTES


def test_the_worst_case_status_stays_under_the_trailer_limit() -> None:
    problems = [ConfigErrorDetail("inputs." + "p" * 500, "€" * 600) for _ in range(200)]
    error = StatusError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "€" * 5000,
        reason="INVALID_INPUT",
        metadata={"op": "€" * 5000},
        violations=[(p.path, p.message) for p in problems],
    )
    data = _details_bytes(error)
    assert len(data) <= MAX_DETAILS_BYTES
    message_bytes = len(error.to_status().details.encode())
    assert message_bytes <= MAX_MESSAGE_BYTES
    # grpc-message travels percent-encoded (at most 3 characters a byte), and the
    # details as raw bytes: together well under gRPC's 8 KiB soft limit.
    assert 3 * message_bytes + len(data) < 8192


# --- the client-side parser -------------------------------------------------------------


def test_parse_status_details_rejects_bytes_that_are_not_a_status() -> None:
    with pytest.raises(CodecError) as info:
        parse_status_details(b"\xff\xff\xff")
    assert info.value.path == STATUS_DETAILS_KEY
    assert info.value.reason.startswith("not a google.rpc.Status")


def test_parse_status_details_rejects_a_detail_that_does_not_parse() -> None:
    bad = any_pb2.Any(type_url="type.googleapis.com/google.rpc.ErrorInfo", value=b"\xff\xff")
    data = status_pb2.Status(code=5, message="m", details=[bad]).SerializeToString()
    with pytest.raises(CodecError) as info:
        parse_status_details(data)
    assert info.value.path == f"{STATUS_DETAILS_KEY}.details[0]"


def test_parse_status_details_ignores_unknown_details_and_extra_infos() -> None:
    def packed(message: Any) -> any_pb2.Any:
        value = any_pb2.Any()
        value.Pack(message)
        return value

    status = status_pb2.Status(
        code=3,
        message="m",
        details=[
            packed(error_details_pb2.DebugInfo(detail="stack")),
            packed(error_details_pb2.ErrorInfo(reason="FIRST", domain="d1")),
            packed(error_details_pb2.ErrorInfo(reason="SECOND", domain="d2")),
            packed(
                error_details_pb2.BadRequest(field_violations=[{"field": "a", "description": "1"}])
            ),
            packed(
                error_details_pb2.BadRequest(field_violations=[{"field": "b", "description": "2"}])
            ),
        ],
    )
    details = parse_status_details(status.SerializeToString())
    assert details == StatusDetails(
        code=3,
        message="m",
        reason="FIRST",
        domain="d1",
        violations=[("a", "1"), ("b", "2")],
    )
    assert details.code_name == "INVALID_ARGUMENT"


def test_an_empty_status_parses_to_empty_details() -> None:
    details = parse_status_details(b"")
    assert details == StatusDetails(code=0, message="")
    assert details.code_name == "OK"
    assert details.omitted_violations == 0


def test_unknown_codes_and_odd_omitted_counts_are_tolerated() -> None:
    details = StatusDetails(code=99, message="", metadata={"omitted_violations": "many"})
    assert details.code_name == "99"
    assert details.omitted_violations == 0


def test_find_status_details_in_trailing_metadata() -> None:
    error = _status.execution_not_found("e")
    trailers = [("x-other", "1"), *error.to_status().trailing_metadata]
    found = find_status_details(trailers)
    assert found is not None
    assert found.reason == "EXECUTION_NOT_FOUND"
    assert find_status_details([("x-other", "1")]) is None
    assert find_status_details(None) is None
