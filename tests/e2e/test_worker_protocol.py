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
    ErrorSource,
    ExecutionFinished,
    ExecutionStatus,
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

from ophost import RetryPolicy, op


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
