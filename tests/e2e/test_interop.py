"""The server driven by the bare generated grpcio stub: every RPC, errors, plumbing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from ophost.codec import events as events_codec
from ophost.codec import values
from ophost.codec.status import find_status_details
from ophost.execution import OutputProduced
from ophost.server import SERVICE_NAME, OpHostServer
from ophost.v1 import (
    event_pb2,
    execution_pb2,
    value_pb2,
)
from ophost.v1 import (
    op_host_service_pb2 as pb,
)

if TYPE_CHECKING:
    from ophost.v1.op_host_service_pb2_grpc import OpHostServiceAsyncStub as Stub


def start(
    op_name: str, /, config: object = None, request_id: str = "", **inputs: object
) -> execution_pb2.ExecutionStart:
    message = execution_pb2.ExecutionStart(op_name=op_name, request_id=request_id)
    for name, value in inputs.items():
        message.inputs.add(name=name).value.CopyFrom(values.to_proto(value))
    if config is not None:
        message.config.CopyFrom(values.to_proto(config))
    return message


async def run_execute(
    stub: Stub, first: execution_pb2.ExecutionStart
) -> tuple[pb.ExecuteResponse, list[event_pb2.Event], int]:
    async def requests() -> AsyncIterator[pb.ExecuteRequest]:
        yield pb.ExecuteRequest(start=first)

    accepted: pb.ExecuteResponse | None = None
    events: list[event_pb2.Event] = []
    messages = 0
    async for response in stub.Execute(requests()):
        messages += 1
        if response.WhichOneof("kind") == "accepted":
            accepted = response
        else:
            events.extend(response.events.events)
    assert accepted is not None
    return accepted, events, messages


def kinds(events: list[event_pb2.Event]) -> list[str]:
    return [e.WhichOneof("kind") or "" for e in events]


def details(error: grpc.aio.AioRpcError) -> object:
    found = find_status_details(error.trailing_metadata() or ())
    assert found is not None
    return found


async def test_server_info(stub: Stub) -> None:
    info = await stub.GetServerInfo(pb.GetServerInfoRequest())
    assert info.protocol_version == "1"
    assert info.server_id
    assert info.limits.inline_threshold_bytes == 64 * 1024
    assert info.limits.max_concurrent_executions == 8
    assert "chunked_upload" in info.capabilities


async def test_list_ops_pages_and_views(stub: Stub) -> None:
    first = await stub.ListOps(pb.ListOpsRequest(page_size=5))
    assert [o.name for o in first.ops] == ["add", "scaled", "every_event", "fails", "flaky"]
    assert first.next_page_token
    names = [o.name for o in first.ops]
    token = first.next_page_token
    while token:
        page = await stub.ListOps(pb.ListOpsRequest(page_size=5, page_token=token))
        names += [o.name for o in page.ops]
        token = page.next_page_token
    assert len(names) == 14
    basic = first.ops[1]
    assert not basic.HasField("config")
    full = await stub.ListOps(pb.ListOpsRequest(page_size=2, view=pb.OP_VIEW_FULL))
    assert full.ops[1].config.type.WhichOneof("kind") == "shape_type"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ListOps(pb.ListOpsRequest(page_token="garbage"))
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_get_op(stub: Stub) -> None:
    op = (await stub.GetOp(pb.GetOpRequest(op_name="add"))).op
    assert [i.name for i in op.inputs] == ["a", "b"]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.GetOp(pb.GetOpRequest(op_name="ad"))
    assert info.value.code() is grpc.StatusCode.NOT_FOUND
    assert details(info.value).reason == "OP_NOT_FOUND"  # type: ignore[attr-defined]


async def test_execute_streams_every_event_in_order(stub: Stub) -> None:
    accepted, events, messages = await run_execute(stub, start("every_event"))
    assert accepted.accepted.execution_id
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert kinds(events) == [
        "execution_started",
        "step_started",
        "log",
        "expectation_result",
        "asset_materialization",
        "asset_observation",
        "output",
        "log",
        "output",
        "step_success",
        "execution_finished",
    ]
    # Events travel in batches: a quick execution needs far fewer messages than events.
    assert messages <= 3 < len(events)
    decoded = [events_codec.from_proto(e) for e in events]
    outputs = {
        d.body.output_name: d.body.value for d in decoded if isinstance(d.body, OutputProduced)
    }
    assert outputs == {"first": "one", "second": 2}


async def test_op_failure_is_an_event_and_the_rpc_ends_ok(stub: Stub) -> None:
    _, events, _ = await run_execute(stub, start("fails"))
    failure = events[-2].step_failure
    assert failure.user_failure.description == "it broke"
    assert failure.error.cause.type_name == "builtins.KeyError"
    assert events[-1].execution_finished.status == event_pb2.EXECUTION_STATUS_FAILED


async def test_retries_are_visible(stub: Stub) -> None:
    _, events, _ = await run_execute(stub, start("flaky", key="k-retries"))
    assert kinds(events).count("retry_scheduled") == 2
    assert kinds(events).count("step_restarted") == 2
    assert events[-1].execution_finished.status == event_pb2.EXECUTION_STATUS_SUCCEEDED


@pytest.mark.parametrize(
    ("message", "code", "reason", "field"),
    [
        (start("nope"), grpc.StatusCode.NOT_FOUND, "OP_NOT_FOUND", None),
        (start("add", a=1), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INPUT", "inputs.b"),
        (start("add", a="x", b=1), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INPUT", "inputs.a"),
        (
            start("scaled", x=1, config={"db": {"port": "x"}}),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_CONFIG",
            "config.db.port",
        ),
    ],
    ids=["unknown-op", "missing-input", "wrong-input-type", "bad-config"],
)
async def test_bad_starts_get_clear_statuses(
    stub: Stub,
    message: execution_pb2.ExecutionStart,
    code: grpc.StatusCode,
    reason: str,
    field: str | None,
) -> None:
    async def unary() -> object:
        return await stub.StartExecution(pb.StartExecutionRequest(start=message))

    async def stream() -> object:
        return await run_execute(stub, message)

    for call in (unary, stream):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call()
        assert info.value.code() is code
        found = details(info.value)
        assert found.reason == reason  # type: ignore[attr-defined]
        if field is not None:
            assert field in [v[0] for v in found.violations]  # type: ignore[attr-defined]
    # ... and the server keeps serving.
    _, events, _ = await run_execute(stub, start("add", a=1, b=2))
    assert events[-1].execution_finished.status == event_pb2.EXECUTION_STATUS_SUCCEEDED


async def test_protocol_errors_on_the_stream(stub: Stub) -> None:
    async def cancel_first() -> AsyncIterator[pb.ExecuteRequest]:
        yield pb.ExecuteRequest(cancel=pb.ExecuteCancel())

    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in stub.Execute(cancel_first()):
            pass
    assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION

    async def two_starts() -> AsyncIterator[pb.ExecuteRequest]:
        yield pb.ExecuteRequest(start=start("slow_async"))
        yield pb.ExecuteRequest(start=start("add", a=1, b=1))

    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in stub.Execute(two_starts()):
            pass
    assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "second start" in (info.value.details() or "")


async def test_start_is_idempotent_by_request_id(stub: Stub) -> None:
    first = await stub.StartExecution(
        pb.StartExecutionRequest(start=start("add", request_id="r1", a=1, b=2))
    )
    again = await stub.StartExecution(
        pb.StartExecutionRequest(start=start("add", request_id="r1", a=1, b=2))
    )
    assert first.execution.id == again.execution.id
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.StartExecution(
            pb.StartExecutionRequest(start=start("add", request_id="r1", a=5, b=2))
        )
    assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    accepted, events, _ = await run_execute(stub, start("add", request_id="r1", a=1, b=2))
    assert accepted.accepted.execution_id == first.execution.id
    assert events[0].sequence == 1


async def test_stream_events_replays_and_follows(stub: Stub) -> None:
    started = await stub.StartExecution(pb.StartExecutionRequest(start=start("every_event")))
    execution_id = started.execution.id
    seen: list[event_pb2.Event] = []
    async for response in stub.StreamEvents(pb.StreamEventsRequest(execution_id=execution_id)):
        seen.extend(response.events)
    assert seen[-1].WhichOneof("kind") == "execution_finished"
    later: list[event_pb2.Event] = []
    async for response in stub.StreamEvents(
        pb.StreamEventsRequest(execution_id=execution_id, after_sequence=4)
    ):
        later.extend(response.events)
    assert [e.sequence for e in later] == [e.sequence for e in seen[4:]]
    got = await stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
    assert got.execution.state == execution_pb2.EXECUTION_STATE_SUCCEEDED
    assert got.execution.last_sequence == len(seen)
    assert [o.name for o in got.execution.outputs] == ["first", "second"]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in stub.StreamEvents(
            pb.StreamEventsRequest(execution_id=execution_id, after_sequence=999)
        ):
            pass
    assert info.value.code() is grpc.StatusCode.OUT_OF_RANGE
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.GetExecution(pb.GetExecutionRequest(execution_id="missing"))
    assert info.value.code() is grpc.StatusCode.NOT_FOUND


async def test_cancel_execution_and_list(stub: Stub) -> None:
    started = await stub.StartExecution(pb.StartExecutionRequest(start=start("slow_async")))
    execution_id = started.execution.id
    await asyncio.sleep(0.05)
    canceled = await stub.CancelExecution(pb.CancelExecutionRequest(execution_id=execution_id))
    assert canceled.execution.state in (
        execution_pb2.EXECUTION_STATE_CANCEL_REQUESTED,
        execution_pb2.EXECUTION_STATE_CANCELED,
    )
    events: list[event_pb2.Event] = []
    async for response in stub.StreamEvents(pb.StreamEventsRequest(execution_id=execution_id)):
        events.extend(response.events)
    finished = events[-1].execution_finished
    assert finished.status == event_pb2.EXECUTION_STATUS_CANCELED
    assert finished.cancel_outcome == event_pb2.CANCEL_OUTCOME_COOPERATIVE
    again = await stub.CancelExecution(pb.CancelExecutionRequest(execution_id=execution_id))
    assert again.execution.state == execution_pb2.EXECUTION_STATE_CANCELED
    listed = await stub.ListExecutions(
        pb.ListExecutionsRequest(
            op_name="slow_async", states=[execution_pb2.EXECUTION_STATE_CANCELED]
        )
    )
    assert execution_id in [e.id for e in listed.executions]


async def test_large_output_travels_in_chunks(stub: Stub) -> None:
    size = 1 << 20
    _, events, _ = await run_execute(stub, start("big_output", size=size))
    output = next(e for e in events if e.WhichOneof("kind") == "output")
    ref = output.output.value.chunked_value
    assert ref.chunk_count == len([e for e in events if e.WhichOneof("kind") == "value_chunk"])
    data = b"".join(e.value_chunk.data for e in events if e.WhichOneof("kind") == "value_chunk")
    assert len(data) == ref.total_size_bytes
    assert values.from_proto(value_pb2.Value.FromString(data)) == b"x" * size


async def test_unencodable_output_is_a_framework_failure(stub: Stub) -> None:
    _, events, _ = await run_execute(stub, start("unsendable"))
    failure = events[-2].step_failure
    assert failure.error_source == event_pb2.ERROR_SOURCE_FRAMEWORK
    assert "outputs.result" in failure.error.message
    assert "cannot be sent" in failure.error.message
    assert events[-1].execution_finished.status == event_pb2.EXECUTION_STATUS_FAILED


async def test_too_many_executions(stub: Stub) -> None:
    from . import ops as test_ops

    test_ops.gate.clear()
    started = [
        await stub.StartExecution(pb.StartExecutionRequest(start=start("waits_for_gate")))
        for _ in range(8)
    ]
    try:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.StartExecution(pb.StartExecutionRequest(start=start("add", a=1, b=1)))
        assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert details(info.value).retry_delay is not None  # type: ignore[attr-defined]
    finally:
        test_ops.gate.set()
    for item in started:
        async for _ in stub.StreamEvents(pb.StreamEventsRequest(execution_id=item.execution.id)):
            pass
    _, events, _ = await run_execute(stub, start("add", a=1, b=1))
    assert events[-1].execution_finished.status == event_pb2.EXECUTION_STATUS_SUCCEEDED


async def test_request_over_the_message_limit(stub: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.StartExecution(
            pb.StartExecutionRequest(start=start("echo", value=b"x" * (5 << 20)))
        )
    assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    _, events, _ = await run_execute(stub, start("add", a=1, b=1))
    assert events[-1].execution_finished.status == event_pb2.EXECUTION_STATUS_SUCCEEDED


async def test_deadlines(stub: Stub) -> None:
    # A unary call whose deadline has already passed fails without reaching an op.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.StartExecution(
            pb.StartExecutionRequest(start=start("add", a=1, b=1)), timeout=-1
        )
    assert info.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    # A deadline on a watch stream ends the stream, not the execution: it can be
    # followed again afterwards.
    started = await stub.StartExecution(pb.StartExecutionRequest(start=start("slow_async")))
    execution_id = started.execution.id
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in stub.StreamEvents(
            pb.StreamEventsRequest(execution_id=execution_id), timeout=0.3
        ):
            pass
    assert info.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    state = (await stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))).execution
    assert state.state == execution_pb2.EXECUTION_STATE_RUNNING
    await stub.CancelExecution(pb.CancelExecutionRequest(execution_id=execution_id))
    async for _ in stub.StreamEvents(pb.StreamEventsRequest(execution_id=execution_id)):
        pass


async def test_health_and_reflection(server: OpHostServer, channel: grpc.aio.Channel) -> None:
    health: Any = health_pb2_grpc.HealthStub(channel)  # the stubs are typed for sync channels
    for service in ("", SERVICE_NAME):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    reflection: Any = reflection_pb2_grpc.ServerReflectionStub(channel)  # type: ignore[arg-type]

    async def ask() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    names: list[str] = []
    async for reply in reflection.ServerReflectionInfo(ask()):
        names = [s.name for s in reply.list_services_response.service]
    assert SERVICE_NAME in names
    assert "grpc.reflection.v1.ServerReflection" in names


async def test_draining_refuses_new_starts(
    server: OpHostServer, stub: Stub, channel: grpc.aio.Channel
) -> None:
    assert server.servicer is not None
    server.servicer.draining = True
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.StartExecution(pb.StartExecutionRequest(start=start("add", a=1, b=1)))
    assert details(info.value).reason == "SERVER_DRAINING"  # type: ignore[attr-defined]
    server.servicer.draining = False


async def test_reflection_describes_the_service_methods(channel: grpc.aio.Channel) -> None:
    from google.protobuf import descriptor_pb2

    for path in (
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    ):
        call = channel.stream_stream(
            path,
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )

        async def ask() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
            yield reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE_NAME)

        methods: list[str] = []
        async for reply in call(ask()):
            for raw in reply.file_descriptor_response.file_descriptor_proto:
                proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
                for service in proto.service:
                    if f"{proto.package}.{service.name}" == SERVICE_NAME:
                        methods = [m.name for m in service.method]
        assert methods == [
            "GetServerInfo",
            "ListOps",
            "GetOp",
            "Execute",
            "StartExecution",
            "GetExecution",
            "ListExecutions",
            "CancelExecution",
            "StreamEvents",
        ], path


async def test_huge_log_lines_and_errors_are_cut_to_fit(stub: Stub) -> None:
    _, events, _ = await run_execute(stub, start("chatty_failure"))
    log = next(e.log for e in events if e.WhichOneof("kind") == "log")
    assert log.message.endswith("characters cut]")
    assert len(log.message) < 300_000
    failure = events[-2].step_failure
    assert failure.error.type_name == "builtins.ValueError"
    assert failure.error.message.endswith("characters cut]")
    assert all(e.ByteSize() < 4 << 20 for e in events)
    assert events[-1].execution_finished.status == event_pb2.EXECUTION_STATUS_FAILED
