"""The client against a scripted fake server: sequence checks, resume points, odd streams.

A real server never sends a gap or cuts a chunk run short, so these cases are
scripted: each ``StreamEvents`` call plays the next script (batches of events, then
status OK, or a status error), and the test checks what the client made of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2  # type: ignore[import-untyped]
from grpc_status import rpc_status

from ophost.codec import events as events_codec
from ophost.codec.chunks import encode_value
from ophost.execution import (
    ErrorData,
    ErrorSource,
    EventBody,
    ExecutionEvent,
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    LogLevel,
    LogMessage,
    OutputProduced,
    RetryScheduled,
    StepFailed,
    StepRestarted,
    StepStarted,
    StepSucceeded,
)
from ophost.v1 import event_pb2, execution_pb2, op_host_service_pb2, op_host_service_pb2_grpc
from ophost.v1 import op_host_service_pb2 as pb
from ophost_client import AsyncOpHostClient, OpHostRpcError, ProtocolError, StreamBrokenError

_Context = grpc.aio.ServicerContext[Any, Any]
EID = "fake-execution"


def ev(sequence: int, body: EventBody, *, attempt: int = 0) -> event_pb2.Event:
    return events_codec.to_proto(ExecutionEvent(EID, sequence, attempt, 1.0, "fake", body))


def chunked_output(sequence: int, value: object, name: str = "result") -> list[event_pb2.Event]:
    """An output event holding a reference, then its chunk events (4 chunks)."""
    ref, chunks = encode_value(
        value, path=f"outputs.{name}", inline_threshold=0, chunk_size=40, value_id=f"v{sequence}"
    )
    assert len(chunks) == 4
    output = ev(sequence, OutputProduced(name, None), attempt=0)
    output.output.value.CopyFrom(ref)
    events = [output]
    for offset, chunk in enumerate(chunks, start=1):
        message = event_pb2.Event(execution_id=EID, sequence=sequence + offset, op_name="fake")
        message.value_chunk.CopyFrom(chunk)
        events.append(message)
    return events


STARTED = ExecutionStarted()
LOG = LogMessage(LogLevel.INFO, "hi")
DONE = ExecutionFinished(status=ExecutionStatus.SUCCEEDED)
BIG = b"0123456789" * 15  # 150 bytes: 4 chunks of at most 40


@dataclass
class Script:
    """What one StreamEvents call does: send ``batches``, then end with ``status``."""

    batches: list[list[event_pb2.Event]] = field(default_factory=list)
    status: grpc.Status | None = None


def status_with_reason(code: grpc.StatusCode, reason: str) -> grpc.Status:
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="ophost"))
    number = getattr(code_pb2, code.name)
    return rpc_status.to_status(status_pb2.Status(code=number, message=reason, details=[info]))


class FakeServicer(op_host_service_pb2_grpc.OpHostServiceServicer):
    def __init__(self) -> None:
        self.scripts: list[Script] = []
        self.requests: list[int] = []
        self.execute_responses: list[op_host_service_pb2.ExecuteResponse] = []
        self.release = asyncio.Event()

    async def GetServerInfo(
        self, request: pb.GetServerInfoRequest, context: _Context
    ) -> pb.GetServerInfoResponse:
        await self.release.wait()
        return pb.GetServerInfoResponse(
            protocol_version="1",
            limits=pb.ServerLimits(inline_threshold_bytes=1024, chunk_size_bytes=1024),
        )

    async def Execute(
        self, request_iterator: AsyncIterator[pb.ExecuteRequest], context: _Context
    ) -> AsyncIterator[pb.ExecuteResponse]:
        async for _ in request_iterator:
            break
        for response in self.execute_responses:
            yield response

    async def StreamEvents(
        self, request: pb.StreamEventsRequest, context: _Context
    ) -> AsyncIterator[pb.StreamEventsResponse]:
        self.requests.append(request.after_sequence)
        script = self.scripts.pop(0)
        for batch in script.batches:
            yield pb.StreamEventsResponse(events=batch)
        if script.status is not None:
            await context.abort_with_status(script.status)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeServicer, str]]:
    servicer = FakeServicer()  # type: ignore[abstract]  # serves only what the tests use
    server = grpc.aio.server()
    op_host_service_pb2_grpc.add_OpHostServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        servicer.release.set()
        await server.stop(None)


@pytest.fixture
async def client(fake: tuple[FakeServicer, str]) -> AsyncIterator[AsyncOpHostClient]:
    async with AsyncOpHostClient(fake[1], reattach_attempts=3, reattach_backoff=0.0) as c:
        yield c


@pytest.fixture
def servicer(fake: tuple[FakeServicer, str]) -> FakeServicer:
    return fake[0]


async def read_all(client: AsyncOpHostClient, seen: list[ExecutionEvent]) -> None:
    async for event in client.attach(EID):
        seen.append(event)


@pytest.mark.parametrize(
    ("second", "problem"),
    [
        ([ev(4, LOG)], "received event 4, not 3"),
        ([ev(2, LOG)], "received event 2, not 3"),
        ([ev(3, DONE), ev(4, LOG)], "after the terminal event"),
    ],
    ids=["gap", "repeat", "after-terminal"],
)
async def test_sequences_must_follow_each_other(
    client: AsyncOpHostClient, servicer: FakeServicer, second: list[event_pb2.Event], problem: str
) -> None:
    servicer.scripts = [Script([[ev(1, STARTED), ev(2, StepStarted())], second])]
    seen: list[ExecutionEvent] = []
    with pytest.raises(ProtocolError, match=problem):
        await read_all(client, seen)
    assert [e.sequence for e in seen] == [1, 2]


async def test_unknown_event_kinds_are_skipped(
    client: AsyncOpHostClient, servicer: FakeServicer
) -> None:
    unknown = event_pb2.Event(execution_id=EID, sequence=2, op_name="fake")  # no kind set
    servicer.scripts = [Script([[ev(1, STARTED), unknown, ev(3, DONE)]])]
    seen: list[ExecutionEvent] = []
    await read_all(client, seen)
    assert [e.sequence for e in seen] == [1, 3]


async def test_a_chunk_run_must_not_be_interrupted(
    client: AsyncOpHostClient, servicer: FakeServicer
) -> None:
    run = chunked_output(2, BIG)
    servicer.scripts = [Script([[ev(1, STARTED), *run[:2], ev(4, LOG)]])]
    with pytest.raises(ProtocolError, match="came before every chunk"):
        await read_all(client, [])


async def test_a_chunk_with_no_output_is_an_error(
    client: AsyncOpHostClient, servicer: FakeServicer
) -> None:
    run = chunked_output(2, BIG)
    run[1].sequence = 2
    servicer.scripts = [Script([[ev(1, STARTED), run[1]]])]
    with pytest.raises(ProtocolError, match="value chunk with no output"):
        await read_all(client, [])


async def test_resume_point_is_before_an_incomplete_output(
    client: AsyncOpHostClient, servicer: FakeServicer
) -> None:
    run = chunked_output(3, BIG)
    servicer.scripts = [
        # The first stream ends (OK, but early) two chunks into the output's run.
        Script([[ev(1, STARTED), ev(2, StepStarted()), *run[:3]]]),
        Script([[*run, ev(8, StepSucceeded(0.1)), ev(9, DONE)]]),
    ]
    seen: list[ExecutionEvent] = []
    await read_all(client, seen)
    assert servicer.requests == [0, 2]
    assert [e.sequence for e in seen] == [1, 2, 3, 8, 9]
    body = seen[2].body
    assert isinstance(body, OutputProduced)
    assert body.value == BIG


async def test_resume_after_complete_events(
    client: AsyncOpHostClient, servicer: FakeServicer
) -> None:
    unavailable = status_with_reason(grpc.StatusCode.UNAVAILABLE, "TRY_AGAIN")
    servicer.scripts = [
        Script([[ev(1, STARTED)], [ev(2, LOG)]]),  # ends early with OK
        Script([[ev(3, LOG)]], status=unavailable),  # UNAVAILABLE is always transient
        Script([[ev(4, DONE)]]),
    ]
    seen: list[ExecutionEvent] = []
    await read_all(client, seen)
    assert servicer.requests == [0, 2, 3]
    assert [e.sequence for e in seen] == [1, 2, 3, 4]


async def test_outputs_are_those_of_the_final_attempt(
    client: AsyncOpHostClient, servicer: FakeServicer
) -> None:
    error = ErrorData("builtins.ValueError", "no")
    servicer.scripts = [
        Script(
            [
                [
                    ev(1, STARTED),
                    ev(2, StepStarted()),
                    ev(3, OutputProduced("a", 1)),
                    ev(4, StepFailed(error, ErrorSource.USER_CODE, will_retry=True)),
                    ev(5, RetryScheduled(0, 1, 0.0, error)),
                    ev(6, StepRestarted(), attempt=1),
                    ev(7, OutputProduced("b", 2), attempt=1),
                    ev(8, StepSucceeded(0.1), attempt=1),
                    ev(9, DONE, attempt=1),
                ]
            ]
        )
    ]
    stream = client.attach(EID)
    outputs_seen: list[dict[str, object]] = []
    async for _ in stream:
        outputs_seen.append(stream.outputs)
    assert outputs_seen[2] == {"a": 1}
    assert outputs_seen[5] == {}
    assert await stream.result() == {"b": 2}


async def test_a_stream_that_keeps_ending_early_gives_up(
    client: AsyncOpHostClient, servicer: FakeServicer
) -> None:
    servicer.scripts = [Script([[ev(1, STARTED)]]), Script(), Script(), Script()]
    with pytest.raises(StreamBrokenError) as info:
        await read_all(client, [])
    assert info.value.last_sequence == 1
    assert info.value.attempts == 3
    assert info.value.last_error is None
    assert servicer.requests == [0, 1, 1, 1]


async def test_a_server_error_while_reattaching_ends_the_stream(
    client: AsyncOpHostClient, servicer: FakeServicer
) -> None:
    servicer.scripts = [
        Script([[ev(1, STARTED)]]),
        Script(status=status_with_reason(grpc.StatusCode.NOT_FOUND, "EXECUTION_NOT_FOUND")),
    ]
    with pytest.raises(StreamBrokenError) as info:
        await read_all(client, [])
    assert info.value.last_error is not None
    assert info.value.last_error.code is grpc.StatusCode.NOT_FOUND
    assert info.value.last_error.reason == "EXECUTION_NOT_FOUND"


async def test_an_error_from_the_servers_logic_is_not_retried(
    client: AsyncOpHostClient, servicer: FakeServicer
) -> None:
    servicer.scripts = [
        Script([[ev(1, STARTED)]], status=status_with_reason(grpc.StatusCode.INTERNAL, "INTERNAL"))
    ]
    with pytest.raises(OpHostRpcError) as info:
        await read_all(client, [])
    assert info.value.code is grpc.StatusCode.INTERNAL
    assert info.value.reason == "INTERNAL"
    assert servicer.requests == [0]


async def test_execute_must_begin_with_accepted(
    client: AsyncOpHostClient, servicer: FakeServicer
) -> None:
    servicer.release.set()
    servicer.execute_responses = [pb.ExecuteResponse(events=pb.EventBatch(events=[ev(1, STARTED)]))]
    with pytest.raises(ProtocolError, match="before accepted"):
        await client.execute("x").accepted()
    servicer.execute_responses = []
    with pytest.raises(ProtocolError, match="ended before the execution was accepted"):
        await client.execute("x").accepted()
    accepted = pb.ExecuteResponse(
        accepted=pb.ExecutionAccepted(
            execution_id=EID,
            execution=execution_pb2.Execution(id=EID, state=execution_pb2.EXECUTION_STATE_PENDING),
        )
    )
    servicer.execute_responses = [accepted, accepted]
    with pytest.raises(ProtocolError, match="second accepted"):
        [e async for e in client.execute("x")]


async def test_unary_calls_have_a_deadline(fake: tuple[FakeServicer, str]) -> None:
    async with AsyncOpHostClient(fake[1], timeout=0.2) as hurried:
        with pytest.raises(OpHostRpcError) as info:
            await hurried.server_info()  # the fake holds GetServerInfo until released
    assert info.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert info.value.reason == ""
