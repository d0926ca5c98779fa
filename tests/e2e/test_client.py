"""The async Python client against a real server: every method, events, errors, chunks."""

from __future__ import annotations

import math
from typing import Any

import grpc
import pytest

import ophost_client
from ophost import (
    AssetKey,
    AssetMaterialization,
    AssetObservation,
    CodecError,
    ExpectationResult,
    MetadataValue,
    OpSpec,
    Output,
)
from ophost.execution import (
    CancelOutcome,
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
)
from ophost.server import OpHostServer
from ophost_client import (
    AsyncOpHostClient,
    ChunkedOutput,
    ClientClosedError,
    ExecutionCanceledError,
    ExecutionInfo,
    ExecutionState,
    ExecutionStream,
    OpFailedError,
    OpHostRpcError,
)

from . import ops as test_ops

MiB = 1 << 20


@pytest.fixture
def client(ophost_client: AsyncOpHostClient) -> AsyncOpHostClient:
    """The client the test harness connected to the server (closed by it afterwards)."""
    return ophost_client


async def collect(stream: ExecutionStream) -> list[ExecutionEvent]:
    return [event async for event in stream]


def bodies(events: list[ExecutionEvent]) -> list[type]:
    return [type(e.body) for e in events]


# -- the public surface -------------------------------------------------------------------


def test_exports_are_pinned() -> None:
    assert sorted(ophost_client.__all__) == [
        "AsyncOpHostClient",
        "ChunkedOutput",
        "ClientClosedError",
        "ExecutionCanceledError",
        "ExecutionError",
        "ExecutionInfo",
        "ExecutionState",
        "ExecutionStream",
        "OpFailedError",
        "OpHostClient",
        "OpHostClientError",
        "OpHostRpcError",
        "ProtocolError",
        "ServerInfo",
        "ServerLimits",
        "StreamBrokenError",
        "SyncExecutionStream",
        "bearer",
    ]
    for name in ophost_client.__all__:
        assert getattr(ophost_client, name).__module__.startswith("ophost_client")


def test_error_tree() -> None:
    errors = ophost_client.errors
    for name in (
        "OpHostRpcError",
        "ExecutionError",
        "StreamBrokenError",
        "ClientClosedError",
        "ProtocolError",
    ):
        assert issubclass(getattr(errors, name), errors.OpHostClientError)
    assert issubclass(errors.OpFailedError, errors.ExecutionError)
    assert issubclass(errors.ExecutionCanceledError, errors.ExecutionError)
    assert not issubclass(errors.OpHostClientError, CodecError)
    for name in errors.__all__:
        assert name in (errors.__doc__ or "")


def test_constructor_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="timeout"):
        AsyncOpHostClient("x:1", timeout=0)
    with pytest.raises(ValueError, match="reattach_attempts"):
        AsyncOpHostClient("x:1", reattach_attempts=-1)
    with pytest.raises(ValueError, match="reattach_backoff"):
        AsyncOpHostClient("x:1", reattach_backoff=-0.1)


# -- server and ops -------------------------------------------------------------------------


async def test_server_info(client: AsyncOpHostClient, server: OpHostServer) -> None:
    info = await client.server_info()
    assert info.protocol_version == "1"
    assert info.ophost_version
    assert info.server_id == server.servicer.server_id  # type: ignore[union-attr]
    assert info.limits.inline_threshold_bytes == 64 * 1024
    assert info.limits.chunk_size_bytes == 64 * 1024
    assert info.limits.max_message_bytes == 4 * MiB
    assert info.limits.max_concurrent_executions == 8
    assert info.limits.event_retention.total_seconds() > 0
    # Acks are accepted but not used for pacing, so only chunked uploads are claimed.
    assert set(info.capabilities) == {"chunked_upload"}


async def test_list_ops_follows_pages(client: AsyncOpHostClient, server: OpHostServer) -> None:
    names = [op.name for op in test_ops.ALL]
    assert server.servicer is not None
    # Force several pages: the server's default page is larger than the op count.
    server.servicer._specs.update(  # grow the registry, for this test only
        {f"extra_{i}": server.servicer._specs["add"] for i in range(60)}
    )
    ops = await client.list_ops()
    assert [o.name for o in ops][: len(names)] == names
    assert len(ops) == len(names) + 60
    assert all(isinstance(o, OpSpec) for o in ops)


async def test_list_ops_views(client: AsyncOpHostClient) -> None:
    basic = {o.name: o for o in await client.list_ops()}
    full = {o.name: o for o in await client.list_ops(full=True)}
    assert [i.name for i in basic["add"].inputs] == ["a", "b"]
    assert basic["add"].inputs[0].dagster_type.display_name == "Int"
    # Basic views leave out config and resources; full views have them.
    assert basic["greet"].required_resource_keys == frozenset()
    assert full["greet"].required_resource_keys == frozenset({"greeting"})
    assert full["flaky"].retry_policy is not None
    assert full["flaky"].retry_policy.max_retries == 2


async def test_get_op(client: AsyncOpHostClient) -> None:
    spec = await client.get_op("scaled")
    assert isinstance(spec, OpSpec)
    assert spec.name == "scaled"
    assert [i.name for i in spec.inputs] == ["x"]
    assert [o.name for o in spec.outputs] == ["result"]
    assert spec == (await client.list_ops(full=True))[1]
    with pytest.raises(OpHostRpcError) as info:
        await client.get_op("nope")
    assert info.value.code is grpc.StatusCode.NOT_FOUND
    assert info.value.reason == "OP_NOT_FOUND"
    assert info.value.domain == "ophost"
    assert isinstance(info.value.__cause__, grpc.aio.AioRpcError)


# -- executing ------------------------------------------------------------------------------


async def test_every_event_kind_is_decoded(client: AsyncOpHostClient) -> None:
    stream = client.execute("every_event", tags={"team": "a"})
    before = stream.execution_id  # nothing is sent before the stream is used
    execution_id = await stream.accepted()
    assert before is None
    assert stream.execution_id == execution_id
    assert stream.execution is not None
    assert stream.execution.op_name == "every_event"
    assert stream.execution.tags == {"team": "a"}
    events = await collect(stream)
    assert [e.sequence for e in events] == list(range(1, 12))
    assert {e.execution_id for e in events} == {execution_id}
    assert {e.op_name for e in events} == {"every_event"}
    assert bodies(events) == [
        ExecutionStarted,
        StepStarted,
        LogMessage,
        ExpectationResult,
        AssetMaterialization,
        AssetObservation,
        OutputProduced,
        LogMessage,
        OutputProduced,
        StepSucceeded,
        ExecutionFinished,
    ]
    b = [e.body for e in events]
    assert b[0] == ExecutionStarted(request_id="")
    assert b[2] == LogMessage(LogLevel.INFO, "starting", "ophost.op.every_event")
    assert b[3] == ExpectationResult(success=True, label="ok", metadata={"n": 1})
    assert b[4] == AssetMaterialization(asset_key=["a", "b"], metadata={"rows": 3, "f": 1.5})
    assert isinstance(b[4], AssetMaterialization)
    assert b[4].asset_key == AssetKey(["a", "b"])
    assert b[5] == AssetObservation(asset_key=["a", "b"], metadata={"rows": 3}, partition="p1")
    first, second = b[6], b[8]
    assert isinstance(first, OutputProduced)
    assert isinstance(second, OutputProduced)
    assert first.output == Output("one", "first", metadata={"url": MetadataValue.url("https://x")})
    assert second.output == Output(2, "second")
    assert b[7] == LogMessage(LogLevel.WARNING, "halfway", "ophost.op.every_event")
    assert isinstance(b[9], StepSucceeded)
    assert b[9].duration_seconds >= 0
    assert b[10] == ExecutionFinished(status=ExecutionStatus.SUCCEEDED)
    assert stream.outputs == {"first": "one", "second": 2}
    assert stream.finished == ExecutionFinished(status=ExecutionStatus.SUCCEEDED)
    assert stream.last_sequence == 11
    assert stream.reattach_count == 0
    assert await stream.result() == {"first": "one", "second": 2}


async def test_input_checks_are_events(client: AsyncOpHostClient) -> None:
    events = await collect(client.execute("add", {"a": 1, "b": 2}))
    checks = [e.body for e in events if isinstance(e.body, InputChecked)]
    assert [c.input_name for c in checks] == ["a", "b"]
    assert all(c.type_check.success for c in checks)


@pytest.mark.parametrize(
    "value",
    [
        0,
        -7,
        2**70,
        -(2**80),
        1.5,
        math.inf,
        -0.0,
        True,
        None,
        "text ü",
        b"\x00\xffbytes",
        [1, [2, [3]]],
        (1, "two", (3.0,)),
        {1, 2, 3},
        {"a": {"b": [1, 2]}, 3: "int key", (4, 5): frozenset({6})},
    ],
    ids=repr,
)
async def test_values_round_trip(client: AsyncOpHostClient, value: object) -> None:
    outputs = await client.call("echo", {"value": value})
    assert outputs == {"result": value}
    assert type(outputs["result"]) is type(value)


async def test_nan_round_trips(client: AsyncOpHostClient) -> None:
    result = (await client.call("echo", {"value": math.nan}))["result"]
    assert isinstance(result, float)
    assert math.isnan(result)


async def test_call_with_config_and_resources(client: AsyncOpHostClient) -> None:
    assert await client.call("add", {"a": 2, "b": 3}) == {"result": 5}
    assert await client.call("scaled", {"x": 3}, config={"factor": 10, "db": {"port": 1}}) == {
        "result": 31
    }
    assert await client.call("greet", {"name": "ann"}) == {"result": "hello, ann"}


async def test_call_raises_op_failed(client: AsyncOpHostClient) -> None:
    with pytest.raises(OpFailedError) as info:
        await client.call("fails")
    error = info.value
    assert error.error is not None
    assert error.error.type_name.endswith("Failure")
    assert error.error.message == "it broke"
    assert error.error.cause is not None
    assert error.error.cause.type_name == "builtins.KeyError"
    assert error.user_failure is not None
    assert error.user_failure.description == "it broke"
    assert [(m.label, m.value) for m in error.user_failure.metadata_entries] == [
        ("code", MetadataValue.int(7))
    ]
    assert error.failure is not None
    assert isinstance(error.failure.body, StepFailed)
    assert error.failure.body.error_source is ErrorSource.USER_CODE
    assert not error.failure.body.will_retry
    assert isinstance(error.finished.body, ExecutionFinished)
    assert error.finished.body.status is ExecutionStatus.FAILED
    assert error.finished.sequence == error.failure.sequence + 1
    assert "Failure: it broke" in str(error)
    assert "'fails'" in str(error)
    assert error.execution_id == error.finished.execution_id
    info_ = await client.get_execution(error.execution_id)
    assert info_.state is ExecutionState.FAILED
    assert info_.error is not None
    assert info_.error.message == "it broke"


async def test_framework_failure(client: AsyncOpHostClient) -> None:
    with pytest.raises(OpFailedError) as info:
        await client.call("unsendable")
    assert info.value.failure is not None
    assert isinstance(info.value.failure.body, StepFailed)
    assert info.value.failure.body.error_source is ErrorSource.FRAMEWORK
    assert info.value.user_failure is None


async def test_retries_are_visible(client: AsyncOpHostClient) -> None:
    stream = client.execute("flaky", {"key": "client-retries"})
    events = await collect(stream)
    retries = [e.body for e in events if isinstance(e.body, RetryScheduled)]
    assert [(r.failed_attempt, r.next_attempt) for r in retries] == [(0, 1), (1, 2)]
    assert [(r.error.type_name, r.error.message) for r in retries] == [
        ("builtins.ConnectionError", "attempt 0"),
        ("builtins.ConnectionError", "attempt 1"),
    ]
    restarts = [e for e in events if isinstance(e.body, StepRestarted)]
    assert [e.attempt for e in restarts] == [1, 2]
    failures = [e.body for e in events if isinstance(e.body, StepFailed)]
    assert [f.will_retry for f in failures] == [True, True]
    assert events[-1].attempt == 2
    assert await stream.result() == {"result": "client-retries"}
    assert test_ops._flaky_calls["client-retries"] == 3


# -- cancellation ---------------------------------------------------------------------------


@pytest.mark.parametrize("op_name", ["slow_gen", "slow_sync", "slow_async"])
@pytest.mark.parametrize("via", ["stream", "client"])
async def test_cancel(client: AsyncOpHostClient, op_name: str, via: str) -> None:
    stream = client.execute(op_name)
    events: list[ExecutionEvent] = []
    async for event in stream:
        events.append(event)
        if (
            isinstance(event.body, LogMessage)
            and len([e for e in events if isinstance(e.body, LogMessage)]) == 1
        ):
            # The op body is running (its first log arrived): cancel it.
            if via == "stream":
                await stream.cancel("enough")
            else:
                assert stream.execution_id is not None
                now = await client.cancel(stream.execution_id, reason="enough")
                assert now.state in (ExecutionState.CANCEL_REQUESTED, ExecutionState.CANCELED)
    assert isinstance(events[-1].body, ExecutionFinished)
    finished = stream.finished
    assert finished is not None
    assert finished.status is ExecutionStatus.CANCELED
    assert finished.cancel_requested
    assert finished.cancel_outcome is CancelOutcome.COOPERATIVE
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    with pytest.raises(ExecutionCanceledError) as info:
        await stream.result()
    assert info.value.cancel_outcome is CancelOutcome.COOPERATIVE
    assert "canceled" in str(info.value)
    assert stream.execution_id is not None
    after = await client.get_execution(stream.execution_id)
    assert after.state is ExecutionState.CANCELED
    # Cancel is idempotent on a finished execution.
    again = await client.cancel(stream.execution_id)
    assert again.state is ExecutionState.CANCELED


async def test_cancel_before_iterating_starts_and_cancels(client: AsyncOpHostClient) -> None:
    stream = client.execute("slow_async")
    await stream.cancel()
    events = await collect(stream)
    assert isinstance(events[-1].body, ExecutionFinished)
    assert events[-1].body.status is ExecutionStatus.CANCELED


# -- large values ---------------------------------------------------------------------------


async def test_large_output_is_reassembled(client: AsyncOpHostClient) -> None:
    size = 16 * MiB
    stream = client.execute("big_output", {"size": size})
    events = await collect(stream)
    outputs = [e for e in events if isinstance(e.body, OutputProduced)]
    assert len(outputs) == 1
    body = outputs[0].body
    assert isinstance(body, OutputProduced)
    assert body.value == b"x" * size
    assert stream.outputs == {"result": b"x" * size}
    # The chunks were events of their own, but never reach the caller.
    assert stream.execution_id is not None
    info = await client.get_execution(stream.execution_id)
    chunk_count = info.last_sequence - len(events)
    sequences = [e.sequence for e in events]
    output_seq = outputs[0].sequence
    assert sequences == [
        *range(1, output_seq + 1),
        *range(output_seq + chunk_count + 1, info.last_sequence + 1),
    ]
    marker = info.outputs["result"]
    assert isinstance(marker, ChunkedOutput)
    assert marker.total_size_bytes > size
    assert marker.chunk_count == chunk_count == math.ceil(marker.total_size_bytes / (64 * 1024))
    # Replaying the execution reassembles the value again.
    assert await client.attach(stream.execution_id).result() == {"result": b"x" * size}


async def test_large_input_is_uploaded_in_chunks(client: AsyncOpHostClient) -> None:
    data = bytes(range(256)) * (16 * MiB // 256)
    # 16 MiB is four times the server's message limit: only chunks can carry it.
    assert await client.call("echo", {"value": data}) == {"result": data}


async def test_large_config_is_uploaded_in_chunks(client: AsyncOpHostClient) -> None:
    # echo has no config schema, so any config is valid.
    assert await client.call("echo", {"value": 1}, config="y" * (8 * MiB)) == {"result": 1}
    with pytest.raises(OpHostRpcError) as info:
        await client.call("scaled", {"x": 1}, config={"db": {"port": 2}, "junk": "y" * MiB})
    # The config arrived whole (through chunks) and was then validated.
    assert info.value.reason == "INVALID_CONFIG"
    assert info.value.fields == ["config"]
    assert "junk" in info.value.violations[0][1]


async def test_start_refuses_values_over_the_inline_threshold(client: AsyncOpHostClient) -> None:
    with pytest.raises(CodecError) as info:
        await client.start("echo", {"value": b"x" * (65 * 1024)})
    assert info.value.path == "inputs.value"
    assert "execute()" in str(info.value)
    with pytest.raises(CodecError) as info:
        await client.start("scaled", {"x": 1}, config={"junk": "y" * (65 * 1024)})
    assert info.value.path == "config"


async def test_unencodable_values_name_their_path(client: AsyncOpHostClient) -> None:
    with pytest.raises(CodecError) as info:
        client.execute("echo", {"value": [1, object()]})
    assert info.value.path == "inputs.value[1]"
    with pytest.raises(CodecError) as info:
        await client.call("scaled", {"x": 1}, config={"when": 1j})
    assert info.value.path == "config['when']"
    with pytest.raises(CodecError):
        await client.start("echo", {"value": object()})


# -- start, attach, get, list ---------------------------------------------------------------


async def test_start_then_attach(client: AsyncOpHostClient) -> None:
    info = await client.start("every_event", request_id="client-start-1", tags={"k": "v"})
    assert isinstance(info, ExecutionInfo)
    assert info.op_name == "every_event"
    assert info.request_id == "client-start-1"
    assert info.tags == {"k": "v"}
    assert info.create_time is not None
    assert info.create_time.tzinfo is not None
    stream = client.attach(info.id)
    assert stream.execution_id == info.id
    assert await stream.accepted() == info.id
    events = await collect(stream)
    assert [e.sequence for e in events] == list(range(1, 12))
    assert stream.outputs == {"first": "one", "second": 2}
    assert isinstance(events[0].body, ExecutionStarted)
    assert events[0].body.request_id == "client-start-1"
    done = await client.get_execution(info.id)
    assert done.state is ExecutionState.SUCCEEDED
    assert done.is_terminal
    assert done.last_sequence == 11
    assert done.outputs == {"first": "one", "second": 2}
    assert done.start_time is not None
    assert done.finish_time is not None
    assert done.finish_time >= done.start_time


async def test_attach_after_a_sequence(client: AsyncOpHostClient) -> None:
    outputs = client.execute("every_event")
    await outputs.result()
    assert outputs.execution_id is not None
    later = await collect(client.attach(outputs.execution_id, after_sequence=4))
    assert [e.sequence for e in later] == list(range(5, 12))
    assert isinstance(later[0].body, AssetMaterialization)
    assert isinstance(later[1].body, AssetObservation)
    stream = client.attach(outputs.execution_id, after_sequence=7)
    assert await stream.result() == {"second": 2}
    # Attached inside a chunk run: the orphan chunks are skipped, the rest follows.
    big = client.execute("big_output", {"size": MiB})
    await big.result()
    assert big.execution_id is not None
    last = (await client.get_execution(big.execution_id)).last_sequence
    events = [e async for e in client.attach(big.execution_id, after_sequence=6)]
    assert [type(e.body) for e in events] == [StepSucceeded, ExecutionFinished]
    assert [e.sequence for e in events] == [last - 1, last]


async def test_attach_errors(client: AsyncOpHostClient) -> None:
    with pytest.raises(OpHostRpcError) as info:
        await collect(client.attach("missing"))
    assert info.value.code is grpc.StatusCode.NOT_FOUND
    assert info.value.reason == "EXECUTION_NOT_FOUND"
    done = client.execute("add", {"a": 1, "b": 1})
    await done.result()
    assert done.execution_id is not None
    with pytest.raises(OpHostRpcError) as info:
        await collect(client.attach(done.execution_id, after_sequence=999))
    assert info.value.code is grpc.StatusCode.OUT_OF_RANGE
    assert info.value.reason == "SEQUENCE_OUT_OF_RANGE"
    with pytest.raises(ValueError, match="after_sequence"):
        client.attach(done.execution_id, after_sequence=-1)


async def test_get_and_list_executions(client: AsyncOpHostClient) -> None:
    ok = await client.start("add", {"a": 1, "b": 2})
    await client.attach(ok.id).result()
    failed = client.execute("fails")
    with pytest.raises(OpFailedError):
        await failed.result()
    many = [await client.start("add", {"a": i, "b": 0}) for i in range(55)]
    for item in many:
        await client.attach(item.id).result()
    adds = await client.list_executions(op_name="add")
    # Newest first, across pages (more than the server's default page).
    assert [e.id for e in adds] == [e.id for e in reversed([ok, *many])]
    assert all(e.state is ExecutionState.SUCCEEDED for e in adds)
    assert adds[-1].outputs == {"result": 3}
    by_state = await client.list_executions(states=[ExecutionState.FAILED])
    assert [e.id for e in by_state] == [failed.execution_id]
    by_name = await client.list_executions(states=["FAILED", "CANCELED"])
    assert [e.id for e in by_name] == [failed.execution_id]
    assert await client.list_executions(op_name="slow_async") == []
    with pytest.raises(OpHostRpcError) as info:
        await client.get_execution("missing")
    assert info.value.code is grpc.StatusCode.NOT_FOUND


async def test_request_id_makes_start_idempotent(client: AsyncOpHostClient) -> None:
    first = await client.start("add", {"a": 1, "b": 2}, request_id="client-r1")
    again = await client.start("add", {"a": 1, "b": 2}, request_id="client-r1")
    assert again.id == first.id
    stream = client.execute("add", {"a": 1, "b": 2}, request_id="client-r1")
    assert await stream.accepted() == first.id
    assert await stream.result() == {"result": 3}
    with pytest.raises(OpHostRpcError) as info:
        await client.start("add", {"a": 5, "b": 2}, request_id="client-r1")
    assert info.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert info.value.reason == "REQUEST_ID_CONFLICT"
    with pytest.raises(OpHostRpcError) as info:
        await client.execute("add", {"a": 5, "b": 2}, request_id="client-r1").accepted()
    assert info.value.reason == "REQUEST_ID_CONFLICT"


async def test_a_request_id_covers_the_data_of_uploaded_values(client: AsyncOpHostClient) -> None:
    data = b"a" * MiB  # over the inline threshold: uploaded in chunks
    first = client.execute("echo", {"value": data}, request_id="upload-r1")
    assert await first.result() == {"result": data}
    again = client.execute("echo", {"value": data}, request_id="upload-r1")
    assert await again.accepted() == first.execution_id
    # The same size and the same references, but other bytes: a different request.
    with pytest.raises(OpHostRpcError) as info:
        await client.execute("echo", {"value": b"b" * MiB}, request_id="upload-r1").accepted()
    assert info.value.reason == "REQUEST_ID_CONFLICT"


# -- RPC errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op_name", "inputs", "config", "code", "reason", "fields"),
    [
        ("nope", {}, None, grpc.StatusCode.NOT_FOUND, "OP_NOT_FOUND", []),
        ("add", {"a": 1}, None, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_INPUT", ["inputs.b"]),
        (
            "add",
            {"a": "x", "b": 1},
            None,
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_INPUT",
            ["inputs.a"],
        ),
        (
            "add",
            {"a": 1, "b": 2, "c": 3},
            None,
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_INPUT",
            ["inputs.c"],
        ),
        (
            "scaled",
            {"x": 1},
            {"db": {"port": "x"}},
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_CONFIG",
            ["config.db.port"],
        ),
    ],
    ids=["unknown-op", "missing-input", "wrong-type", "unknown-input", "bad-config"],
)
@pytest.mark.parametrize("how", ["execute", "start", "call"])
async def test_rpc_errors_carry_their_details(
    client: AsyncOpHostClient,
    how: str,
    op_name: str,
    inputs: dict[str, object],
    config: object,
    code: grpc.StatusCode,
    reason: str,
    fields: list[str],
) -> None:
    kwargs: dict[str, Any] = {} if config is None else {"config": config}

    async def attempt() -> object:
        if how == "execute":
            return await collect(client.execute(op_name, inputs, **kwargs))
        if how == "start":
            return await client.start(op_name, inputs, **kwargs)
        return await client.call(op_name, inputs, **kwargs)

    with pytest.raises(OpHostRpcError) as info:
        await attempt()
    error = info.value
    assert error.code is code
    assert error.reason == reason
    assert error.domain == "ophost"
    assert sorted(error.fields) == fields
    assert all(description for _, description in error.violations)
    assert error.message
    assert code.name in str(error)
    assert reason in str(error)
    assert isinstance(error.__cause__, grpc.aio.AioRpcError)


async def test_a_failed_start_is_not_retried(client: AsyncOpHostClient) -> None:
    stream = client.execute("nope")
    for _ in range(2):
        with pytest.raises(OpHostRpcError) as info:
            await stream.accepted()
        assert info.value.reason == "OP_NOT_FOUND"
    assert await client.list_executions() == []


async def test_unreachable_server() -> None:
    async with AsyncOpHostClient("127.0.0.1:1", timeout=5) as nowhere:
        with pytest.raises(OpHostRpcError) as info:
            await nowhere.call("add", {"a": 1, "b": 2})
    assert info.value.code is grpc.StatusCode.UNAVAILABLE


# -- channels and closing -------------------------------------------------------------------


async def test_a_given_channel_is_left_open(
    server: OpHostServer, channel: grpc.aio.Channel
) -> None:
    async with AsyncOpHostClient("ignored", channel=channel) as borrowed:
        assert await borrowed.call("add", {"a": 1, "b": 1}) == {"result": 2}
    assert borrowed.closed
    async with AsyncOpHostClient("ignored", channel=channel) as again:
        assert await again.call("add", {"a": 2, "b": 2}) == {"result": 4}


async def test_closing_a_stream_leaves_the_execution_running(client: AsyncOpHostClient) -> None:
    was_open = test_ops.gate.is_set()
    test_ops.gate.clear()
    try:
        async with client.execute("waits_for_gate") as stream:
            async for event in stream:
                if isinstance(event.body, LogMessage):
                    break
        assert [e async for e in stream] == []
        assert stream.execution_id is not None
        info = await client.get_execution(stream.execution_id)
        assert info.state is ExecutionState.RUNNING
        test_ops.gate.set()
        assert await client.attach(stream.execution_id).result() == {"result": "opened"}
    finally:
        if was_open:
            test_ops.gate.set()
        else:
            test_ops.gate.clear()


async def test_closing_the_client_ends_its_streams(server: OpHostServer) -> None:
    was_open = test_ops.gate.is_set()
    test_ops.gate.clear()
    client = AsyncOpHostClient(server.address)
    try:
        stream = client.execute("waits_for_gate")
        seen: list[ExecutionEvent] = []

        async def consume() -> None:
            async for event in stream:
                seen.append(event)
                if isinstance(event.body, LogMessage):
                    await client.close()

        with pytest.raises(ClientClosedError, match="client was closed"):
            await consume()
        assert [e.sequence for e in seen] == [1, 2, 3]
        with pytest.raises(ClientClosedError, match="client is closed"):
            await client.server_info()
        with pytest.raises(ClientClosedError, match="client is closed"):
            await client.execute("add", {"a": 1, "b": 2}).accepted()
        await client.close()  # idempotent
    finally:
        test_ops.gate.set()
    async with AsyncOpHostClient(server.address) as other:
        assert stream.execution_id is not None
        assert await other.attach(stream.execution_id).result() == {"result": "opened"}
    if not was_open:
        test_ops.gate.clear()


async def test_64_mib_output_and_input_with_default_message_limits(server: OpHostServer) -> None:
    """64 MiB each way over a channel with gRPC's default limits (4 MiB per message)."""
    size = 64 << 20
    async with grpc.aio.insecure_channel(server.address) as channel:
        plain = AsyncOpHostClient(server.address, channel=channel)
        outputs = await plain.call("big_output", {"size": size})
        result = outputs["result"]
        assert isinstance(result, bytes)
        assert len(result) == size
        assert result == b"x" * size
        del result, outputs
        payload = bytes(range(256)) * (size // 256)
        echoed = await plain.call("echo", {"value": payload})
        assert echoed["result"] == payload
