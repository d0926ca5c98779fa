"""Executions that outlive their host process: kill -9, restart, take-over, shared stores.

Every test runs real ``ophost serve`` processes on a real store: a SQLite file, and a
PostgreSQL database (a throwaway server the tests start; see tests/postgres.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from ophost import codec
from ophost.definitions import ExecutionFinished, ExecutionStatus, RetryScheduled, StepFailed
from ophost.v1 import event_pb2, execution_pb2, op_host_service_pb2_grpc
from ophost.v1 import op_host_service_pb2 as pb
from ophost_client import AsyncOpHostClient

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
            stub = op_host_service_pb2_grpc.OpHostServiceStub(channel)
            done = (await stub.StartExecution(start_request("add", a=1, b=2))).execution
            await until(
                lambda: _state_is(stub, done.id, SUCCEEDED), "the first execution to finish"
            )
            before = await raw_events(address, done.id)
            plain = (
                await stub.StartExecution(start_request("ticks", "plain-1", n=200))
            ).execution
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
                record = (await stub.GetExecution(pb.GetExecutionRequest(execution_id=plain.id)))
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


async def _state_is(stub: op_host_service_pb2_grpc.OpHostServiceStub, execution_id: str,
                    state: int) -> bool:  # fmt: skip
    response = await stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
    return response.execution.state == state


async def _last_sequence_at_least(stub: op_host_service_pb2_grpc.OpHostServiceStub,
                                  execution_id: str, sequence: int) -> bool:  # fmt: skip
    response = await stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
    return response.execution.last_sequence >= sequence
