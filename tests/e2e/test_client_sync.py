"""The blocking facade, OpHostClient, against a real server.

Plain (not async) tests: the server runs on a background event loop thread, started
by the test harness (``ophost_host_in_thread``), and the client runs its own loop in
a thread too. ``ophost_sync_client`` is the client the harness connected; tests of a
client's own life cycle make theirs.
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
from ophost.testing import RunningHostInThread
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


def test_methods(ophost_sync_client: OpHostClient) -> None:
    client = ophost_sync_client
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


def test_a_client_of_its_own_stops_its_thread(ophost_host_in_thread: RunningHostInThread) -> None:
    before = loop_threads()
    with OpHostClient(ophost_host_in_thread.address) as client:
        assert client.call("add", {"a": 1, "b": 2}) == {"result": 3}
        assert len(loop_threads()) == len(before) + 1
    assert loop_threads() == before


def test_execute_is_a_plain_iterator(ophost_sync_client: OpHostClient) -> None:
    stream = ophost_sync_client.execute("every_event")
    assert isinstance(stream, SyncExecutionStream)
    execution_id = stream.accepted()
    assert stream.execution_id == execution_id
    events = list(stream)
    assert stream.outputs == {"first": "one", "second": 2}
    assert stream.finished == ExecutionFinished(status=ExecutionStatus.SUCCEEDED)
    assert stream.last_sequence == 11
    assert stream.result() == {"first": "one", "second": 2}
    assert [e.sequence for e in events] == list(range(1, 12))
    assert [e.body.output_name for e in events if isinstance(e.body, OutputProduced)] == [
        "first",
        "second",
    ]


@pytest.mark.parametrize("via", ["stream", "client"])
def test_cancel(ophost_sync_client: OpHostClient, via: str) -> None:
    client = ophost_sync_client
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
    finished = events[-1].body
    assert isinstance(finished, ExecutionFinished)
    assert finished.status is ExecutionStatus.CANCELED
    assert finished.cancel_outcome is CancelOutcome.COOPERATIVE


def test_cancel_from_another_thread_while_iterating(ophost_sync_client: OpHostClient) -> None:
    stream = ophost_sync_client.execute("slow_async")
    stream.accepted()
    canceller = threading.Thread(target=stream.cancel)
    events = iter(stream)
    first = next(events)
    canceller.start()  # cancels while this thread waits in next()
    rest = [first, *events]
    canceller.join()
    assert isinstance(rest[-1].body, ExecutionFinished)
    finished = stream.finished
    assert finished is not None
    assert finished.status is ExecutionStatus.CANCELED


def test_close_stops_the_loop_thread(ophost_host_in_thread: RunningHostInThread) -> None:
    before = loop_threads()
    client = OpHostClient(ophost_host_in_thread.address)
    assert len(loop_threads()) == len(before) + 1
    stream = client.execute("add", {"a": 1, "b": 1})
    assert next(stream).sequence == 1
    stream.close()
    assert list(stream) == []
    client.close()
    client.close()  # idempotent
    stream.close()  # harmless after the client closed
    assert loop_threads() == before


def test_calls_after_close_raise_client_closed(ophost_host_in_thread: RunningHostInThread) -> None:
    client = OpHostClient(ophost_host_in_thread.address)
    client.close()
    with pytest.raises(ClientClosedError, match="client is closed"):
        client.call("add", {"a": 1, "b": 2})
    with pytest.raises(ClientClosedError, match="client is closed"):
        client.list_ops()


def test_not_from_its_own_loop(ophost_sync_client: OpHostClient) -> None:
    client = ophost_sync_client
    loop = client._loop.loop
    future = asyncio.run_coroutine_threadsafe(_server_info_inside(client), loop)
    with pytest.raises(RuntimeError, match="own event loop"):
        future.result()


async def _server_info_inside(client: OpHostClient) -> None:
    client.server_info()


def test_used_and_closed_from_a_thread_running_an_event_loop(
    ophost_host_in_thread: RunningHostInThread,
) -> None:
    """Code that runs in an event loop's thread (a notebook, an async framework's sync
    callback) may use the blocking client, and close it, without an error."""

    async def inside_a_loop() -> object:
        with OpHostClient(ophost_host_in_thread.address) as client:
            result = client.call("add", {"a": 2, "b": 3})
        return result["result"]

    before = loop_threads()
    assert asyncio.run(inside_a_loop()) == 5
    assert loop_threads() == before
