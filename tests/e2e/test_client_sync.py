"""The blocking facade, OpHostClient, against a real server.

The server runs on the test's event loop, so each test drives the blocking client from
a worker thread (``asyncio.to_thread``); the client runs its own loop in a thread too.
"""

from __future__ import annotations

import asyncio
import threading

import grpc
import pytest

from ophost import OpSpec
from ophost.execution import (
    CancelOutcome,
    ExecutionEvent,
    ExecutionFinished,
    ExecutionStatus,
    LogMessage,
    OutputProduced,
)
from ophost.server import OpHostServer
from ophost_client import (
    AsyncOpHostClient,
    ClientClosedError,
    ExecutionCanceledError,
    ExecutionState,
    OpFailedError,
    OpHostClient,
    OpHostRpcError,
    SyncExecutionStream,
)

from . import ops as test_ops


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ophost-client-loop"]


async def test_methods(server: OpHostServer) -> None:
    def run() -> None:
        with OpHostClient(server.address) as client:
            assert isinstance(client.async_client, AsyncOpHostClient)
            assert client.server_info().protocol_version == "1"
            ops = client.list_ops()
            assert [o.name for o in ops] == [o.name for o in test_ops.ALL]
            assert isinstance(client.get_op("add"), OpSpec)
            assert client.call("add", {"a": 1, "b": 2}) == {"result": 3}
            started = client.start("add", {"a": 2, "b": 2})
            assert client.attach(started.id).result() == {"result": 4}
            assert client.get_execution(started.id).state is ExecutionState.SUCCEEDED
            listed = client.list_executions(op_name="add", states=["SUCCEEDED"])
            assert started.id in [e.id for e in listed]
            with pytest.raises(OpHostRpcError) as info:
                client.get_op("nope")
            assert info.value.code is grpc.StatusCode.NOT_FOUND
            with pytest.raises(OpFailedError) as failed:
                client.call("fails")
            assert failed.value.user_failure is not None
            assert failed.value.user_failure.description == "it broke"

    await asyncio.to_thread(run)
    assert loop_threads() == []


async def test_execute_is_a_plain_iterator(server: OpHostServer) -> None:
    def run() -> list[ExecutionEvent]:
        with OpHostClient(server.address) as client:
            stream = client.execute("every_event")
            assert isinstance(stream, SyncExecutionStream)
            execution_id = stream.accepted()
            assert stream.execution_id == execution_id
            events = list(stream)
            assert stream.outputs == {"first": "one", "second": 2}
            assert stream.finished == ExecutionFinished(status=ExecutionStatus.SUCCEEDED)
            assert stream.last_sequence == 10
            assert stream.result() == {"first": "one", "second": 2}
            return events

    events = await asyncio.to_thread(run)
    assert [e.sequence for e in events] == list(range(1, 11))
    assert [e.body.output_name for e in events if isinstance(e.body, OutputProduced)] == [
        "first",
        "second",
    ]


@pytest.mark.parametrize("via", ["stream", "client"])
async def test_cancel(server: OpHostServer, via: str) -> None:
    def run() -> list[ExecutionEvent]:
        with OpHostClient(server.address) as client:
            events: list[ExecutionEvent] = []
            with client.execute("slow_sync") as stream:
                for event in stream:
                    events.append(event)
                    if isinstance(event.body, LogMessage):
                        if via == "stream":
                            stream.cancel()
                        else:
                            assert stream.execution_id is not None
                            client.cancel(stream.execution_id)
                with pytest.raises(ExecutionCanceledError):
                    stream.result()
            return events

    events = await asyncio.to_thread(run)
    finished = events[-1].body
    assert isinstance(finished, ExecutionFinished)
    assert finished.status is ExecutionStatus.CANCELED
    assert finished.cancel_outcome is CancelOutcome.COOPERATIVE


async def test_cancel_from_another_thread_while_iterating(server: OpHostServer) -> None:
    def run() -> ExecutionFinished | None:
        with OpHostClient(server.address) as client:
            stream = client.execute("slow_async")
            stream.accepted()
            canceller = threading.Thread(target=stream.cancel)
            events = iter(stream)
            first = next(events)
            canceller.start()  # cancels while this thread waits in next()
            rest = [first, *events]
            canceller.join()
            assert isinstance(rest[-1].body, ExecutionFinished)
            return stream.finished

    finished = await asyncio.to_thread(run)
    assert finished is not None
    assert finished.status is ExecutionStatus.CANCELED


async def test_close_stops_the_loop_thread(server: OpHostServer) -> None:
    def run() -> None:
        client = OpHostClient(server.address)
        assert len(loop_threads()) == 1
        stream = client.execute("add", {"a": 1, "b": 1})
        assert next(stream).sequence == 1
        stream.close()
        assert list(stream) == []
        client.close()
        client.close()  # idempotent
        stream.close()  # harmless after the client closed

    await asyncio.to_thread(run)
    assert loop_threads() == []


async def test_calls_after_close_raise_client_closed(server: OpHostServer) -> None:
    def run() -> None:
        client = OpHostClient(server.address)
        client.close()
        with pytest.raises(ClientClosedError, match="client is closed"):
            client.call("add", {"a": 1, "b": 2})
        with pytest.raises(ClientClosedError, match="client is closed"):
            client.list_ops()

    await asyncio.to_thread(run)


async def test_not_from_its_own_loop(server: OpHostServer) -> None:
    def run() -> None:
        with OpHostClient(server.address) as client:
            loop = client._loop.loop
            future = asyncio.run_coroutine_threadsafe(_server_info_inside(client), loop)
            with pytest.raises(RuntimeError, match="own event loop"):
                future.result()

    await asyncio.to_thread(run)


async def _server_info_inside(client: OpHostClient) -> None:
    client.server_info()
