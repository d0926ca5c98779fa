"""Streams that break: the client re-attaches and loses or repeats nothing.

The client talks to the server through a TCP proxy whose connections the test can
reset at a chosen moment, as a network failure would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import grpc
import pytest

from ophost.execution import (
    ExecutionEvent,
    ExecutionFinished,
    ExecutionStatus,
    LogMessage,
    OutputProduced,
)
from ophost.server import OpHostServer
from ophost_client import (
    AsyncOpHostClient,
    ExecutionCanceledError,
    ExecutionState,
    StreamBrokenError,
)
from tests.tcp_proxy import CuttableProxy

from . import ops as test_ops

MiB = 1 << 20


@pytest.fixture
async def proxy(server: OpHostServer) -> AsyncIterator[CuttableProxy]:
    async with CuttableProxy(server.address) as p:
        yield p


@pytest.fixture
async def client(proxy: CuttableProxy) -> AsyncIterator[AsyncOpHostClient]:
    async with AsyncOpHostClient(proxy.address, reattach_attempts=10, reattach_backoff=0.05) as c:
        yield c


@pytest.fixture
def direct(ophost_client: AsyncOpHostClient) -> AsyncOpHostClient:
    """A client connected straight to the server (the harness's), not through the proxy."""
    return ophost_client


@pytest.fixture
def closed_gate(server: OpHostServer) -> Iterator[None]:
    """Close the shared gate of ``waits_for_gate``; put it back as it was afterwards.

    Depends on the server so that this runs before the server drains. The tests open
    the gate themselves and wait for their executions to finish.
    """
    was_open = test_ops.gate.is_set()
    test_ops.gate.clear()
    yield
    if was_open:
        test_ops.gate.set()
    else:
        test_ops.gate.clear()


def assert_complete(events: list[ExecutionEvent], last_sequence: int) -> None:
    assert [e.sequence for e in events] == list(range(1, last_sequence + 1))
    assert isinstance(events[-1].body, ExecutionFinished)


@pytest.mark.usefixtures("closed_gate")
async def test_a_dropped_stream_is_reattached(
    client: AsyncOpHostClient, direct: AsyncOpHostClient, proxy: CuttableProxy
) -> None:
    stream = client.execute("waits_for_gate")
    events: list[ExecutionEvent] = []
    async for event in stream:
        events.append(event)
        if isinstance(event.body, LogMessage):
            # The op now waits for the gate, so the stream cannot have ended: cut it,
            # then let the op finish while the client is cut off.
            proxy.cut()
            test_ops.gate.set()
    assert stream.execution_id is not None
    info = await direct.get_execution(stream.execution_id)
    assert info.state is ExecutionState.SUCCEEDED
    assert_complete(events, info.last_sequence)
    assert stream.reattach_count >= 1
    assert proxy.connections >= 2
    assert stream.outputs == {"result": "opened"}
    assert await stream.result() == {"result": "opened"}


async def test_many_events_missed_while_cut_off_arrive_once(
    client: AsyncOpHostClient, direct: AsyncOpHostClient, proxy: CuttableProxy
) -> None:
    stream = client.execute("slow_gen", {"n": 100_000})
    events: list[ExecutionEvent] = []
    cut_at = 0
    async for event in stream:
        events.append(event)
        if event.sequence == 10:
            # The op yields for minutes: the stream is certainly not over.
            proxy.cut()
            cut_at = proxy.cuts
        if cut_at and stream.reattach_count >= 1 and event.sequence == 60:
            # Cancel after re-attaching: sent with CancelExecution, as Execute is gone.
            await stream.cancel()
    assert cut_at
    assert stream.execution_id is not None
    info = await direct.get_execution(stream.execution_id)
    assert_complete(events, info.last_sequence)
    finished = events[-1].body
    assert isinstance(finished, ExecutionFinished)
    assert finished.status is ExecutionStatus.CANCELED
    with pytest.raises(ExecutionCanceledError):
        await stream.result()


async def test_a_stream_cut_inside_a_chunk_run_resumes_before_the_output(
    server: OpHostServer, direct: AsyncOpHostClient
) -> None:
    size = 16 * MiB
    # The first connection breaks a quarter of the way through the output's chunks.
    async with (
        CuttableProxy(server.address, cut_after_bytes=4 * MiB) as proxy,
        AsyncOpHostClient(proxy.address, reattach_backoff=0.05, reattach_attempts=10) as client,
    ):
        stream = client.execute("big_output", {"size": size})
        events = [event async for event in stream]
        assert proxy.cuts == 1
        assert stream.reattach_count >= 1
        # The re-attached stream carried the whole output again (resumed before it).
        assert proxy.downstream_bytes >= 4 * MiB + size
    assert stream.execution_id is not None
    info = await direct.get_execution(stream.execution_id)
    outputs = [e for e in events if isinstance(e.body, OutputProduced)]
    assert len(outputs) == 1
    assert outputs[0].body.value == b"x" * size  # type: ignore[union-attr]
    chunks = info.last_sequence - len(events)
    output_seq = outputs[0].sequence
    assert [e.sequence for e in events] == [
        *range(1, output_seq + 1),
        *range(output_seq + chunks + 1, info.last_sequence + 1),
    ]
    assert await stream.result() == {"result": b"x" * size}


@pytest.mark.usefixtures("closed_gate")
async def test_reattaching_gives_up(
    server: OpHostServer, direct: AsyncOpHostClient, proxy: CuttableProxy
) -> None:
    async with AsyncOpHostClient(
        proxy.address, reattach_attempts=2, reattach_backoff=0.01
    ) as client:
        stream = client.execute("waits_for_gate")
        seen: list[int] = []

        async def consume() -> None:
            async for event in stream:
                seen.append(event.sequence)
                if isinstance(event.body, LogMessage):
                    proxy.refuse()
                    proxy.cut()

        with pytest.raises(StreamBrokenError) as info:
            await consume()
    error = info.value
    assert error.execution_id == stream.execution_id
    assert error.last_sequence == seen[-1] == 3
    assert error.attempts == 2
    assert error.last_error is not None
    assert error.last_error.code is grpc.StatusCode.UNAVAILABLE
    assert error.__cause__ is error.last_error
    assert "sequence 3" in str(error)
    # The execution went on; another client picks up exactly where this one stopped.
    test_ops.gate.set()
    assert error.execution_id is not None
    rest = [e async for e in direct.attach(error.execution_id, after_sequence=error.last_sequence)]
    assert rest[0].sequence == 4
    assert isinstance(rest[-1].body, ExecutionFinished)


@pytest.mark.usefixtures("closed_gate")
async def test_no_reattach_when_attempts_are_zero(
    proxy: CuttableProxy, direct: AsyncOpHostClient
) -> None:
    async with AsyncOpHostClient(proxy.address, reattach_attempts=0) as client:
        stream = client.execute("waits_for_gate")

        async def consume() -> None:
            async for event in stream:
                if isinstance(event.body, LogMessage):
                    proxy.cut()

        with pytest.raises(StreamBrokenError) as info:
            await consume()
    assert info.value.attempts == 0
    assert info.value.last_sequence == 3
    assert proxy.connections == 1
    test_ops.gate.set()
    assert await direct.attach(info.value.execution_id).result() == {"result": "opened"}
