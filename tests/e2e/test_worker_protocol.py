"""The worker protocol's own cases, with real worker processes behind a real host.

A worker whose registered definition differs from the host's is refused; a worker
that sends bytes that do not decode, stops answering (SIGSTOP) or is killed while it
holds an attempt ends that attempt with a failure that says so, the op's retry policy
applies, and the host goes on serving.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ophost.definitions import (
    CancelOutcome,
    ErrorSource,
    ExecutionFinished,
    ExecutionStatus,
    ExpectationResult,
    OutputProduced,
    StepFailed,
)
from ophost.execution import ProcessExecutor, SessionTerms, worker_command
from ophost.execution._loader import load_ops
from ophost.server import OpHostServer
from ophost_client import AsyncOpHostClient

pytestmark = pytest.mark.timeout(120)

OPS = """
import os
import sys
import time

from typing import Any, Iterator

from ophost import ExpectationResult, Output, RetryPolicy, op


@op
def add(a: int, b: int) -> int:
    return a + b


@op
def pid() -> int:
    return os.getpid()


@op(retry_policy=RetryPolicy(max_retries=1))
def garble(context) -> str:
    if context.retry_number == 0:
        # Write a frame that is no worker message to the worker's own connection.
        fd = int(sys.argv[sys.argv.index("--fd") + 1])
        os.write(fd, b"\\x00\\x00\\x00\\x04\\xff\\xff\\xff\\xff")
        time.sleep(30)
    return "second attempt"


@op
def hold(context, seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


@op
def gated(context, gate: str) -> Iterator[Any]:
    # One event, then nothing until the test has seen it and opens the gate.
    yield ExpectationResult(success=True, label="before the gate")
    deadline = time.monotonic() + 30
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)
    yield Output(os.path.exists(gate))


@op
def numbered(context, n: int) -> Iterator[Any]:
    for i in range(n):
        yield ExpectationResult(success=True, label=f"row {i}")
    yield Output(n)


@op
def stops_at_a_yield(context) -> Iterator[Any]:
    while True:
        yield ExpectationResult(success=True, label="tick")
        time.sleep(0.01)
"""

# The same ops, except that add takes strings: a definition the host does not serve.
DIFFERENT = OPS.replace("def add(a: int, b: int) -> int:", "def add(a: str, b: str) -> str:")


def _write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(source, encoding="utf-8")
    return path


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[OpHostServer, ProcessExecutor]]:
    ops = _write(tmp_path, "protocol_ops.py", OPS)
    loaded = load_ops(file=str(ops))
    executor = ProcessExecutor(
        loaded.ops,
        worker_command(str(ops), None),
        size=1,
        terms=SessionTerms(ping_interval=0.2, lease_timeout=1.5),
    )
    async with OpHostServer(loaded.ops, executor=executor) as server:
        yield server, executor


async def _events(client: AsyncOpHostClient, op: str, inputs: dict[str, Any]) -> list[Any]:
    async with client.execute(op, inputs) as stream:
        return [event async for event in stream]


def _failures(events: list[Any]) -> list[StepFailed]:
    return [e.body for e in events if isinstance(e.body, StepFailed)]


def _status(events: list[Any]) -> ExecutionStatus:
    body = events[-1].body
    assert isinstance(body, ExecutionFinished)
    return body.status


async def test_a_worker_whose_definition_differs_is_refused(tmp_path: Path) -> None:
    host_ops = load_ops(file=str(_write(tmp_path, "host_ops.py", OPS)))
    other = _write(tmp_path, "worker_ops.py", DIFFERENT)
    executor = ProcessExecutor(host_ops.ops, worker_command(str(other), None), size=1)
    async with (
        OpHostServer(host_ops.ops, executor=executor) as server,
        AsyncOpHostClient(server.address) as client,
    ):
        events = await _events(client, "add", {"a": 1, "b": 2})
        assert _status(events) is ExecutionStatus.FAILED
        [failure] = _failures(events)
        assert failure.error_source is ErrorSource.FRAMEWORK
        assert 'op "add" cannot run in the worker processes' in failure.error.message
        assert "differs from the host's (field inputs)" in failure.error.message
        # The ops whose definitions match still run in that worker.
        assert (await client.call("pid", {}))["result"] in executor.worker_pids()


async def test_an_undecodable_message_ends_the_attempt_and_the_policy_retries(
    served: tuple[OpHostServer, ProcessExecutor],
) -> None:
    server, _executor = served
    async with AsyncOpHostClient(server.address) as client:
        events = await _events(client, "garble", {})
        assert _status(events) is ExecutionStatus.SUCCEEDED
        [failure] = _failures(events)
        assert failure.error_source is ErrorSource.WORKER_LOST
        assert "does not decode" in failure.error.message
        assert failure.will_retry
        assert events[-3].body.value == "second attempt"  # the retry's output
        assert (await client.call("add", {"a": 2, "b": 3}))["result"] == 5


async def test_a_worker_that_stops_answering_loses_its_attempt(
    served: tuple[OpHostServer, ProcessExecutor],
) -> None:
    server, executor = served
    async with AsyncOpHostClient(server.address) as client:
        [worker] = executor.worker_pids()
        async with client.execute("hold", {"seconds": 5.0}) as stream:
            await stream.accepted()
            await asyncio.sleep(0.3)
            os.kill(worker, signal.SIGSTOP)
            events = [event async for event in stream]
        assert _status(events) is ExecutionStatus.FAILED
        [failure] = _failures(events)
        assert failure.error_source is ErrorSource.WORKER_LOST
        assert "sent nothing for more than its lease of 1.5s" in failure.error.message
        assert (await client.call("add", {"a": 1, "b": 1}))["result"] == 2
        assert worker not in executor.worker_pids()


async def test_a_worker_killed_holding_an_attempt_fails_it_clearly(
    served: tuple[OpHostServer, ProcessExecutor],
) -> None:
    server, executor = served
    async with AsyncOpHostClient(server.address) as client:
        [worker] = executor.worker_pids()
        async with client.execute("hold", {"seconds": 5.0}) as stream:
            await stream.accepted()
            await asyncio.sleep(0.3)
            os.kill(worker, signal.SIGKILL)
            events = [event async for event in stream]
        assert _status(events) is ExecutionStatus.FAILED
        [failure] = _failures(events)
        assert failure.error_source is ErrorSource.WORKER_CRASHED
        assert f"(pid {worker})" in failure.error.message
        assert "killed by SIGKILL (9)" in failure.error.message
        assert (await client.call("add", {"a": 1, "b": 1}))["result"] == 2


async def test_a_sync_bodys_events_reach_the_client_while_it_runs(
    served: tuple[OpHostServer, ProcessExecutor], tmp_path: Path
) -> None:
    server, _executor = served
    gate = tmp_path / "gate"
    async with AsyncOpHostClient(server.address) as client:
        async with client.execute("gated", {"gate": str(gate)}) as stream:
            events = []
            async for event in stream:
                events.append(event)
                if isinstance(event.body, ExpectationResult):
                    # The body waits for this file: the event came while it ran.
                    gate.touch()
        assert _status(events) is ExecutionStatus.SUCCEEDED
        [output] = [e.body for e in events if isinstance(e.body, OutputProduced)]
        assert output.value is True


async def test_events_beyond_the_acknowledgement_window_all_arrive_in_order(
    tmp_path: Path,
) -> None:
    ops = _write(tmp_path, "window_ops.py", OPS)
    loaded = load_ops(file=str(ops))
    # A window of 8 events: the body's thread waits for the host's acknowledgements
    # many times over.
    executor = ProcessExecutor(
        loaded.ops,
        worker_command(str(ops), None),
        size=1,
        terms=SessionTerms(max_unacked_events=8),
    )
    async with (
        OpHostServer(loaded.ops, executor=executor) as server,
        AsyncOpHostClient(server.address) as client,
    ):
        events = await _events(client, "numbered", {"n": 500})
        assert _status(events) is ExecutionStatus.SUCCEEDED
        labels = [e.body.label for e in events if isinstance(e.body, ExpectationResult)]
        assert labels == [f"row {i}" for i in range(500)]
        sequences = [e.sequence for e in events]
        assert sequences == sorted(sequences)


async def test_a_cancel_stops_a_sync_generator_at_its_next_yield(
    served: tuple[OpHostServer, ProcessExecutor],
) -> None:
    server, executor = served
    async with AsyncOpHostClient(server.address) as client:
        [worker] = executor.worker_pids()
        async with client.execute("stops_at_a_yield", {}) as stream:
            seen = 0
            async for event in stream:
                if isinstance(event.body, ExpectationResult):
                    seen += 1
                    if seen == 3:
                        await stream.cancel()
                if isinstance(event.body, ExecutionFinished):
                    finished = event.body
        assert finished.status is ExecutionStatus.CANCELED
        assert finished.cancel_outcome is CancelOutcome.COOPERATIVE
        # The body stopped in time: its worker was kept, and serves the next call.
        assert executor.worker_pids() == [worker]
        assert (await client.call("add", {"a": 1, "b": 1}))["result"] == 2
