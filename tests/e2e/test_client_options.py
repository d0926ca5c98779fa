"""Per-call options and caller-built channels, checked from the server's side.

The server runs with a :class:`~tests.e2e.interceptors.CallRecorder`, a real gRPC
server interceptor that records each call's method and metadata; deadlines are
checked against ops (or methods held back by a :class:`~tests.e2e.interceptors.Delay`)
that take longer than the deadline.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import grpc
import pytest

from ophost import op
from ophost.execution import ExecutionFinished, LogMessage
from ophost.server import OpHostServer
from ophost.testing import RunningHost, running_host, running_host_in_thread
from ophost_client import (
    AsyncOpHostClient,
    ExecutionState,
    OpHostClient,
    OpHostRpcError,
)
from tests.tcp_proxy import CuttableProxy

from . import ops as test_ops
from .interceptors import CallRecorder, Delay, Tagging

DEADLINE = grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.fixture
def recorder() -> CallRecorder:
    return CallRecorder()


@pytest.fixture
def ophost_host_options(
    ophost_host_options: Mapping[str, Any], recorder: CallRecorder
) -> Mapping[str, Any]:
    """The e2e server's options, with the recorder as an interceptor."""
    return {**ophost_host_options, "interceptors": [recorder]}


@pytest.fixture
def closed_gate(server: OpHostServer) -> Iterator[None]:
    """Close the gate of ``waits_for_gate`` for the test; open it afterwards."""
    test_ops.gate.clear()
    yield
    test_ops.gate.set()


async def cancel_running(client: AsyncOpHostClient, op_name: str) -> None:
    """Cancel the executions of ``op_name`` still running (a deadline leaves them so)."""
    for execution in await client.list_executions(op_name=op_name):
        if not execution.is_terminal:
            await client.cancel(execution.id)


# -- timeout ----------------------------------------------------------------------------


async def test_a_call_past_its_timeout_raises_deadline_exceeded(
    ophost_client: AsyncOpHostClient,
) -> None:
    began = time.monotonic()
    with pytest.raises(OpHostRpcError) as info:
        await ophost_client.call("slow_async", timeout=0.5)  # the op sleeps for 60 s
    elapsed = time.monotonic() - began
    assert info.value.code is DEADLINE
    assert 0.45 <= elapsed < 10
    # The deadline ended the call, not the execution: it still runs on the server.
    [execution] = await ophost_client.list_executions(op_name="slow_async")
    assert execution.state is ExecutionState.RUNNING
    await ophost_client.cancel(execution.id)


async def test_streams_have_a_deadline_only_when_given(ophost_client: AsyncOpHostClient) -> None:
    # The client's default timeout (here 0.3 s) is for unary calls, not streams.
    async with AsyncOpHostClient(ophost_client.target, timeout=0.3) as hurried:
        started = await hurried.start("slow_async")
        stream = hurried.attach(started.id)
        first = await stream.__anext__()
        await asyncio.sleep(0.6)  # longer than the client's timeout: the stream stays open
        second = await stream.__anext__()
        assert (first.sequence, second.sequence) == (1, 2)
        with pytest.raises(OpHostRpcError) as info:
            [event async for event in hurried.attach(started.id, timeout=0.4)]
        assert info.value.code is DEADLINE
        await stream.aclose()
    await cancel_running(ophost_client, "slow_async")


async def test_a_unary_timeout_replaces_the_clients_default() -> None:
    # GetServerInfo is held back for 1 s on the server.
    async with running_host(
        test_ops.ALL, interceptors=[Delay({"GetServerInfo": 1.0})], client_timeout=None
    ) as host:
        with pytest.raises(OpHostRpcError) as info:
            await host.client.server_info(timeout=0.2)
        assert info.value.code is DEADLINE
        assert (await host.client.server_info()).protocol_version == "1"  # no default deadline
        async with AsyncOpHostClient(host.address, timeout=0.2) as hurried:
            with pytest.raises(OpHostRpcError) as info:
                await hurried.server_info()
            assert info.value.code is DEADLINE
            assert (await hurried.server_info(timeout=None)).protocol_version == "1"
            assert (await hurried.server_info(timeout=5)).protocol_version == "1"


def _numbered_op(i: int) -> Any:
    @op(name=f"numbered_{i:03}")
    def numbered() -> int:
        return i

    return numbered


async def test_one_deadline_covers_every_page() -> None:
    ops = [_numbered_op(i) for i in range(120)]  # three pages of at most 50
    async with running_host(ops, interceptors=[Delay({"ListOps": 0.4})]) as host:
        assert len(await host.client.list_ops(timeout=5)) == 120
        # Each page takes 0.4 s: every one would fit in 0.9 s, all three do not.
        with pytest.raises(OpHostRpcError) as info:
            await host.client.list_ops(timeout=0.9)
        assert info.value.code is DEADLINE


@pytest.mark.usefixtures("closed_gate")
async def test_a_stream_deadline_covers_its_reattaches(
    server: OpHostServer, recorder: CallRecorder
) -> None:
    async with (
        CuttableProxy(server.address) as proxy,
        AsyncOpHostClient(proxy.address, reattach_backoff=0.05) as client,
    ):
        stream = client.execute("waits_for_gate", timeout=2.0, metadata=[("x-call", "stream")])

        async def consume() -> None:
            async for event in stream:
                if isinstance(event.body, LogMessage):  # the op now waits for the gate
                    await asyncio.sleep(1.5)
                    proxy.cut()

        began = time.monotonic()
        with pytest.raises(OpHostRpcError) as info:
            await consume()
        elapsed = time.monotonic() - began
        assert info.value.code is DEADLINE
        assert stream.reattach_count >= 1
        # Re-attaching kept the stream's deadline (a new 2 s would end after 3.5 s).
        assert elapsed < 3.2
        # The re-attach carried the stream's metadata.
        assert recorder.tagged("x-call", "stream") == ["GetServerInfo", "Execute", "StreamEvents"]
        test_ops.gate.set()
        assert stream.execution_id is not None
        assert await client.attach(stream.execution_id).result() == {"result": "opened"}


async def test_timeouts_are_checked(ophost_client: AsyncOpHostClient) -> None:
    with pytest.raises(ValueError, match="timeout"):
        await ophost_client.server_info(timeout=0)
    with pytest.raises(ValueError, match="timeout"):
        await ophost_client.call("add", {"a": 1, "b": 2}, timeout=-1)
    with pytest.raises(ValueError, match="timeout"):
        ophost_client.attach("x", timeout=0)


# -- metadata ---------------------------------------------------------------------------


async def test_every_method_sends_its_metadata(
    ophost_host: RunningHost, recorder: CallRecorder
) -> None:
    def tag(name: str) -> list[tuple[str, str | bytes]]:
        return [("x-call", name), ("x-bin", b"\x00\x01")]

    # A fresh client: its first start asks for the server's info, with the metadata.
    async with AsyncOpHostClient(ophost_host.address) as client:
        started = await client.start("add", {"a": 1, "b": 2}, metadata=tag("start"))
        await client.server_info(metadata=tag("server_info"))
        await client.list_ops(metadata=tag("list_ops"))
        await client.get_op("add", metadata=tag("get_op"))
        await client.attach(started.id, metadata=tag("attach")).result()
        await client.get_execution(started.id, metadata=tag("get_execution"))
        await client.list_executions(metadata=tag("list_executions"))
        await client.cancel(started.id, metadata=tag("cancel"))
        assert await client.call("add", {"a": 2, "b": 2}, metadata=tag("call")) == {"result": 4}
        await client.execute("add", {"a": 3, "b": 3}, metadata=tag("execute")).result()

    expected = {
        "start": ["GetServerInfo", "StartExecution"],
        "server_info": ["GetServerInfo"],
        "list_ops": ["ListOps"],
        "get_op": ["GetOp"],
        "attach": ["StreamEvents"],
        "get_execution": ["GetExecution"],
        "list_executions": ["ListExecutions"],
        "cancel": ["CancelExecution"],
        "call": ["Execute"],
        "execute": ["Execute"],
    }
    for name, methods in expected.items():
        assert recorder.tagged("x-call", name) == methods, name
    # Nothing else was called, and every call carried all of its metadata.
    assert len(recorder.calls) == sum(len(methods) for methods in expected.values())
    assert all(call.get("x-bin") == [b"\x00\x01"] for call in recorder.calls)


@pytest.mark.usefixtures("closed_gate")
async def test_stream_cancel_takes_metadata(
    ophost_client: AsyncOpHostClient, recorder: CallRecorder
) -> None:
    started = await ophost_client.start("waits_for_gate")
    stream = ophost_client.attach(
        started.id, metadata=[("x-call", "attach"), ("x-team", "a"), ("x-keep", "yes")]
    )
    async for event in stream:
        if isinstance(event.body, LogMessage):
            # An attached stream has no Execute call: the cancel is a CancelExecution,
            # sent with the stream's metadata and this call's on top.
            await stream.cancel(
                "enough", timeout=5, metadata=[("x-call", "cancel"), ("x-team", "b")]
            )
    finished = stream.finished
    assert isinstance(finished, ExecutionFinished)
    assert finished.cancel_requested
    [cancel] = recorder.of("CancelExecution")
    assert cancel.get("x-call") == ["cancel"]
    assert cancel.get("x-team") == ["b"]
    assert cancel.get("x-keep") == ["yes"]


# -- channels -----------------------------------------------------------------------------


async def test_a_caller_built_channel_carries_every_call(
    server: OpHostServer, recorder: CallRecorder
) -> None:
    tagging = Tagging("x-via", "caller-channel")
    channel = grpc.aio.insecure_channel(server.address, interceptors=tagging.interceptors)
    try:
        async with AsyncOpHostClient("label", channel=channel) as client:
            assert repr(client) == "AsyncOpHostClient('label')"
            await client.server_info()
            outputs = client.execute("add", {"a": 1, "b": 2})
            assert await outputs.result() == {"result": 3}
            assert outputs.execution_id is not None
            assert await client.attach(outputs.execution_id).result() == {"result": 3}
        assert client.closed
        methods = ["GetServerInfo", "Execute", "StreamEvents"]
        assert tagging.methods == methods
        assert recorder.tagged("x-via", "caller-channel") == methods
        # Closing the client left the channel open: it still carries calls.
        async with AsyncOpHostClient("again", channel=channel) as again:
            assert await again.call("add", {"a": 2, "b": 2}) == {"result": 4}
        assert tagging.methods[-1] == "Execute"
    finally:
        await channel.close()


def test_the_sync_client_makes_its_channel_on_its_loop() -> None:
    tagging = Tagging("x-via", "factory-channel")
    recorder = CallRecorder()
    made: list[tuple[str, grpc.aio.Channel]] = []
    with running_host_in_thread(test_ops.ALL, interceptors=[recorder]) as host:

        def factory() -> grpc.aio.Channel:
            channel = grpc.aio.insecure_channel(host.address, interceptors=tagging.interceptors)
            made.append((threading.current_thread().name, channel))
            return channel

        with OpHostClient("label", channel_factory=factory) as client:
            assert client.call("add", {"a": 1, "b": 2}) == {"result": 3}
            assert client.get_op("add").name == "add"
        [(thread, channel)] = made
        assert thread == "ophost-client-loop"
        assert tagging.methods == ["GetServerInfo", "Execute", "GetOp"]
        assert recorder.tagged("x-via", "factory-channel") == tagging.methods
        # The client closed the channel it had the factory make.
        assert channel.get_state() is grpc.ChannelConnectivity.SHUTDOWN


def test_the_sync_client_takes_per_call_options() -> None:
    recorder = CallRecorder()
    with running_host_in_thread(test_ops.ALL, interceptors=[recorder]) as host:
        client = host.client
        began = time.monotonic()
        with pytest.raises(OpHostRpcError) as info:
            client.call("slow_async", timeout=0.5)
        assert info.value.code is DEADLINE
        assert time.monotonic() - began < 10
        [running] = client.list_executions(op_name="slow_async", metadata=[("x-call", "list")])
        stream = client.attach(running.id, metadata=[("x-call", "attach")])
        assert stream.accepted() == running.id
        stream.cancel(metadata=[("x-call", "cancel")], timeout=5)
        assert [type(e.body) for e in stream][-1] is ExecutionFinished
        assert client.get_execution(running.id, timeout=5).state is ExecutionState.CANCELED
        assert recorder.tagged("x-call", "list") == ["ListExecutions"]
        assert recorder.tagged("x-call", "attach") == ["StreamEvents"]
        assert recorder.tagged("x-call", "cancel") == ["CancelExecution"]
