"""Executions that outlive their host process: kill -9, restart, take-over, shared stores.

Every test runs real ``ophost serve`` processes on a real store: a SQLite file, and a
PostgreSQL database (a throwaway server the tests start; see tests/postgres.py).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest

from ophost import codec
from ophost.definitions import ExecutionFinished, ExecutionStatus, RetryScheduled, StepFailed
from ophost.v1 import event_pb2, execution_pb2, op_host_service_pb2_grpc
from ophost.v1 import op_host_service_pb2 as pb
from ophost_client import AsyncOpHostClient, OpHostRpcError

if TYPE_CHECKING:
    from ophost.v1.op_host_service_pb2_grpc import OpHostServiceAsyncStub

from .host_processes import WAIT, free_port, hosts, raw_events, start_host, write_ops

FAILED = execution_pb2.EXECUTION_STATE_FAILED
SUCCEEDED = execution_pb2.EXECUTION_STATE_SUCCEEDED
RUNNING = execution_pb2.EXECUTION_STATE_RUNNING


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    dsn: str = request.getfixturevalue("postgres_dsn")
    return dsn


def _stub(channel: grpc.aio.Channel) -> OpHostServiceAsyncStub:
    return op_host_service_pb2_grpc.OpHostServiceStub(channel)


def start_request(op: str, request_id: str = "", **inputs: object) -> pb.StartExecutionRequest:
    request = pb.StartExecutionRequest()
    request.start.op_name = op
    request.start.request_id = request_id
    for name, value in inputs.items():
        request.start.inputs.add(name=name).value.CopyFrom(codec.values.to_proto(value))
    return request


def events_of(data: bytes) -> list[event_pb2.Event]:
    return list(pb.StreamEventsResponse.FromString(data).events)


async def until(check: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():  # type: ignore[misc]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_a_killed_host_restarts_with_its_executions(store_url: str, tmp_path: Path) -> None:
    ops = write_ops(tmp_path)
    port = free_port()
    args = ("-f", str(ops), "--port", str(port), "--store", store_url, "--lease", "2")
    first = await start_host(*args, cwd=tmp_path)
    async with hosts(first):
        address = first.address
        async with (
            grpc.aio.insecure_channel(address) as channel,
            AsyncOpHostClient(address, reattach_attempts=200, reattach_backoff=0.05) as client,
        ):
            stub = _stub(channel)
            done = (await stub.StartExecution(start_request("add", a=1, b=2))).execution
            await until(
                lambda: _state_is(stub, done.id, SUCCEEDED), "the first execution to finish"
            )
            before = await raw_events(address, done.id)
            plain = (await stub.StartExecution(start_request("ticks", "plain-1", n=200))).execution
            retried = (
                await stub.StartExecution(start_request("ticks_retried", "retried-1", n=30))
            ).execution
            stream = client.attach(retried.id)
            seen = []
            async for event in stream:
                seen.append(event)
                if len(seen) >= 5:
                    break
            await until(lambda: _last_sequence_at_least(stub, plain.id, 5), "ticks to run")

            await first.kill()
            second = await start_host(*args, cwd=tmp_path)
            async with hosts(second):
                # The attached stream re-attaches through the restart and sees the rest.
                async for event in stream:
                    seen.append(event)
                assert [e.sequence for e in seen] == list(range(1, len(seen) + 1))
                failures = [e.body for e in seen if isinstance(e.body, StepFailed)]
                assert [f.error_source.name for f in failures] == ["HOST_LOST"]
                assert failures[0].will_retry
                assert "was lost before the attempt ended" in failures[0].error.message
                retries = [e.body for e in seen if isinstance(e.body, RetryScheduled)]
                assert [(r.failed_attempt, r.next_attempt) for r in retries] == [(0, 1)]
                end = seen[-1].body
                assert isinstance(end, ExecutionFinished)
                assert end.status is ExecutionStatus.SUCCEEDED
                assert await stream.result() == {"result": 30}

                # Without a retry policy the lost attempt fails the execution.
                lost = events_of(await raw_events(second.address, plain.id))
                assert [e.sequence for e in lost] == list(range(1, len(lost) + 1))
                assert lost[-2].step_failure.error_source == event_pb2.ERROR_SOURCE_HOST_LOST
                assert lost[-1].execution_finished.status == event_pb2.EXECUTION_STATUS_FAILED
                record = await stub.GetExecution(pb.GetExecutionRequest(execution_id=plain.id))
                assert record.execution.state == FAILED
                assert record.execution.error.type_name == "ophost.HostLost"

                # What finished before the crash replays byte for byte.
                assert await raw_events(second.address, done.id) == before
                listed = await stub.ListExecutions(pb.ListExecutionsRequest())
                assert {e.id for e in listed.executions} == {done.id, plain.id, retried.id}

                # A start repeated with its request id returns the same execution.
                again = await stub.StartExecution(start_request("ticks", "plain-1", n=200))
                assert again.execution.id == plain.id
                assert again.execution.state == FAILED
                assert await second.stop() == 0


async def _state_is(stub: OpHostServiceAsyncStub, execution_id: str,
                    state: int) -> bool:  # fmt: skip
    response = await stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
    return response.execution.state == state


async def _last_sequence_at_least(stub: OpHostServiceAsyncStub,
                                  execution_id: str, sequence: int) -> bool:  # fmt: skip
    response = await stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
    return response.execution.last_sequence >= sequence


async def _channels_to_two_processes(address: str) -> list[grpc.aio.Channel]:
    """Two channels to ``address`` that landed on two different server processes."""
    by_server: dict[str, grpc.aio.Channel] = {}
    spare: list[grpc.aio.Channel] = []
    for attempt in range(64):
        # A distinct option makes each channel its own connection.
        channel = grpc.aio.insecure_channel(address, options=[("ophost.test.n", attempt)])
        stub = _stub(channel)
        info = await stub.GetServerInfo(pb.GetServerInfoRequest(), timeout=WAIT)
        if info.server_id in by_server:
            spare.append(channel)
        else:
            by_server[info.server_id] = channel
        if len(by_server) == 2:
            break
    for channel in spare:
        await channel.close()
    assert len(by_server) == 2, "the kernel never handed a connection to the second worker"
    return list(by_server.values())


async def _start_there_follow_and_cancel_here(
    there: grpc.aio.Channel, here: grpc.aio.Channel, here_address: str
) -> None:
    """Start on one process; list, follow live and cancel through the other."""
    one = _stub(there)
    other = _stub(here)
    started = (await one.StartExecution(start_request("ticks", n=400))).execution
    listed = await other.ListExecutions(pb.ListExecutionsRequest(op_name="ticks"))
    assert started.id in [e.id for e in listed.executions]
    async with AsyncOpHostClient(here_address) as client:
        stream = client.attach(started.id)
        ticks = 0
        async for event in stream:
            if type(event.body).__name__ == "LogMessage":
                ticks += 1
                if ticks == 3:
                    break
        canceled = await other.CancelExecution(
            pb.CancelExecutionRequest(execution_id=started.id, reason="test")
        )
        assert canceled.execution.state in (
            execution_pb2.EXECUTION_STATE_CANCEL_REQUESTED,
            execution_pb2.EXECUTION_STATE_CANCELED,
        )
        rest = [event async for event in stream]
    end = rest[-1].body
    assert isinstance(end, ExecutionFinished)
    assert end.status is ExecutionStatus.CANCELED
    record = await other.GetExecution(pb.GetExecutionRequest(execution_id=started.id))
    assert record.execution.state == execution_pb2.EXECUTION_STATE_CANCELED


async def test_two_replicas_on_one_store_act_as_one_host(store_url: str, tmp_path: Path) -> None:
    ops = write_ops(tmp_path)
    common = ("-f", str(ops), "--store", store_url, "--lease", "2")
    first = await start_host(*common, "--port", "0", cwd=tmp_path)
    second = await start_host(*common, "--port", "0", cwd=tmp_path)
    async with (
        hosts(first, second),
        grpc.aio.insecure_channel(first.address) as there,
        grpc.aio.insecure_channel(second.address) as here,
    ):
        await _start_there_follow_and_cancel_here(there, here, second.address)
        await _start_there_follow_and_cancel_here(here, there, first.address)


async def test_workers_share_a_port_and_a_sqlite_file(tmp_path: Path) -> None:
    ops = write_ops(tmp_path)
    served = await start_host(
        "-f", str(ops), "--port", "0", "--workers", "2", "--store",
        f"sqlite:///{tmp_path}/store.db", cwd=tmp_path,
    )  # fmt: skip
    async with hosts(served):
        channels = await _channels_to_two_processes(served.address)
        try:
            # The address is shared, so the follower's client may land on either worker;
            # the channels pin the start and the cancel to different ones.
            await _start_there_follow_and_cancel_here(channels[0], channels[1], served.address)
        finally:
            for channel in channels:
                await channel.close()
        assert await served.stop() == 0
    assert served.lines[-1] == "ophost: stopped"
    assert sum("stopped" in line for line in served.lines) == 3


async def test_a_stalled_replica_loses_its_executions_to_another(
    store_url: str, tmp_path: Path
) -> None:
    ops = write_ops(tmp_path)
    common = ("-f", str(ops), "--store", store_url, "--lease", "1.5")
    first = await start_host(*common, "--port", "0", cwd=tmp_path)
    second = await start_host(*common, "--port", "0", cwd=tmp_path)
    async with (
        hosts(first, second),
        grpc.aio.insecure_channel(first.address) as there,
        grpc.aio.insecure_channel(second.address) as here,
    ):
        one = _stub(there)
        other = _stub(here)
        plain = (await one.StartExecution(start_request("ticks", n=400))).execution
        retried = (await one.StartExecution(start_request("ticks_retried", n=40))).execution
        await until(lambda: _last_sequence_at_least(other, plain.id, 4), "ticks to run")
        # Both running (not merely started), so that both are lost mid-attempt.
        await until(lambda: _last_sequence_at_least(other, retried.id, 4), "the other to run")
        # Stopped, not dead: its pid lives on, so only its lease running out tells.
        first.process.send_signal(signal.SIGSTOP)
        stalled_at = asyncio.get_running_loop().time()
        try:
            await until(lambda: _state_is(other, plain.id, FAILED), "the take-over", timeout=20)
            taken_after = asyncio.get_running_loop().time() - stalled_at
            assert taken_after < 1.5 + 2.0  # the lease, and a claim round or two
            await until(lambda: _state_is(other, retried.id, SUCCEEDED), "the retry")
        finally:
            first.process.send_signal(signal.SIGCONT)
        events = events_of(await raw_events(second.address, retried.id))
        sources = [e.step_failure.error_source for e in events if e.HasField("step_failure")]
        assert sources == [event_pb2.ERROR_SOURCE_HOST_LOST]
        assert events[-1].execution_finished.status == event_pb2.EXECUTION_STATUS_SUCCEEDED
        # The stalled replica, woken, writes nothing more into what it lost.
        last = await other.GetExecution(pb.GetExecutionRequest(execution_id=plain.id))
        await asyncio.sleep(1.0)
        again = await other.GetExecution(pb.GetExecutionRequest(execution_id=plain.id))
        assert again.execution.last_sequence == last.execution.last_sequence
        assert again.execution.state == FAILED


async def test_a_balanced_client_over_two_replicas(store_url: str, tmp_path: Path) -> None:
    """One client with both replicas' addresses: its calls alternate between them, and
    an execution started through one is fetched, followed and canceled through either."""
    ops = write_ops(tmp_path)
    common = ("-f", str(ops), "--store", store_url)
    first = await start_host(*common, "--port", "0", cwd=tmp_path)
    second = await start_host(*common, "--port", "0", cwd=tmp_path)
    async with (
        hosts(first, second),
        AsyncOpHostClient([first.address, second.address]) as client,
        AsyncOpHostClient(first.address) as only_first,
        AsyncOpHostClient(second.address) as only_second,
    ):
        ids = {(await c.server_info()).server_id for c in (only_first, only_second)}
        seen: set[str] = set()
        for _ in range(40):
            seen.add((await client.server_info()).server_id)
            if seen == ids:
                break
        assert seen == ids, "the balanced client never reached both replicas"
        started = [await client.start("add", {"a": n, "b": 1}) for n in range(6)]
        for n, info in enumerate(started):
            # Each replica knows every execution, whichever started it.
            for one in (only_first, only_second):
                assert (await one.get_execution(info.id)).id == info.id
            assert await client.attach(info.id).result() == {"result": n + 1}
        long = await client.start("ticks", {"n": 400})
        stream = client.attach(long.id)
        async for event in stream:
            if type(event.body).__name__ == "LogMessage":
                break
        await client.cancel(long.id)
        rest = [event async for event in stream]
        end = rest[-1].body
        assert isinstance(end, ExecutionFinished)
        assert end.status is ExecutionStatus.CANCELED
        for one in (only_first, only_second):
            final = await one.get_execution(long.id)
            assert final.state.name == "CANCELED"


async def test_retention_deletes_whole_executions(tmp_path: Path) -> None:
    ops = write_ops(tmp_path)
    store = f"sqlite:///{tmp_path}/store.db"
    host = await start_host(
        "-f", str(ops), "--port", "0", "--store", store, "--max-retained-executions", "2",
        "--event-retention", "3", cwd=tmp_path,
    )  # fmt: skip
    async with hosts(host), AsyncOpHostClient(host.address) as client:
        for n in range(4):
            assert await client.call("add", {"a": n, "b": 0}) == {"result": n}

        async def kept() -> list[str]:
            return [e.id for e in await client.list_executions(op_name="add")]

        async def only_two_kept() -> bool:
            return len(await kept()) == 2

        await until(only_two_kept, "the oldest executions to be deleted", timeout=10)
        newest = await kept()
        for execution_id in newest:  # what is kept is whole
            events = events_of(await raw_events(host.address, execution_id))
            assert [e.sequence for e in events] == list(range(1, len(events) + 1))
            assert events[-1].HasField("execution_finished")

        running = await client.start("ticks", {"n": 200, "pause": 0.05})

        async def none_kept() -> bool:
            return not await kept()

        await until(none_kept, "retention to expire the finished ones", timeout=10)
        with pytest.raises(OpHostRpcError) as info:
            await client.get_execution(newest[0])
        assert info.value.code is grpc.StatusCode.NOT_FOUND
        # A running execution is never deleted, however old.
        assert (await client.get_execution(running.id)).state.name == "RUNNING"
        await client.cancel(running.id)
