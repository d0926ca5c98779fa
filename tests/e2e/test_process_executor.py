"""The process executor, end to end: real ``ophost serve`` hosts, real worker processes.

Op bodies that exit, segfault, exhaust their memory limit, overrun their time limit or
raise end only their own execution, with a failure whose source says which; the host
keeps answering and its pool returns to full size. Cancel reaches a cooperative body,
and one that ignores it is stopped by ending its worker. Resources are built once per
worker, and an op's ``ophost/executor`` tag keeps it in the host's threads.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ophost.definitions import (
    CancelOutcome,
    ErrorSource,
    ExecutionEvent,
    ExecutionFinished,
    ExecutionStatus,
    LogMessage,
    RetryScheduled,
    StepFailed,
)
from ophost_client import AsyncOpHostClient

from .host_processes import WAIT, HostProcess, hosts, start_host

pytestmark = pytest.mark.timeout(180)

OPS = """
import ctypes
import os
import time

from ophost import RetryPolicy, op

BUILT = []


class Counter:
    def __init__(self):
        BUILT.append(self)
        self.pid = os.getpid()
        self.builds = len(BUILT)


def ophost_resources():
    return {"counter": Counter()}


@op
def work(context, n: int) -> int:
    for i in range(3):
        context.log.info(f"work {n} step {i}")
    time.sleep(0.02)
    return n * 2


@op
def exit_hard(code: int) -> int:
    os._exit(code)


@op
def segfault() -> int:
    # An address no process can read (page 0 is readable on some sandboxes).
    return ctypes.string_at(0xFFFFFFFFFFFF0000, 8)[0]


@op
def hog(megabytes: int) -> int:
    held = []
    for _ in range(megabytes):
        held.append(bytearray(1 << 20))
    return len(held)


@op(tags={"ophost/timeout": "1"})
def sleepy(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@op
def raises() -> int:
    raise ValueError("an ordinary failure")


@op
def cooperative(context) -> int:
    while True:
        context.raise_if_cancel_requested()
        time.sleep(0.01)


@op
def stubborn() -> int:
    time.sleep(600)
    return 0


@op(retry_policy=RetryPolicy(max_retries=1))
def crash_once(context) -> int:
    if context.retry_number == 0:
        os._exit(9)
    return os.getpid()


@op(required_resource_keys={"counter"})
def where(context) -> list:
    counter = context.resources.counter
    return [os.getpid(), counter.pid, counter.builds]


@op
def held(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


@op(tags={"ophost/executor": "thread"})
def in_host() -> int:
    return os.getpid()
"""


def _write_ops(folder: Path) -> Path:
    path = folder / "contained_ops.py"
    path.write_text(OPS, encoding="utf-8")
    return path


async def _host(tmp_path: Path, *extra: str) -> HostProcess:
    ops = _write_ops(tmp_path)
    return await start_host(
        "-f", str(ops), "--port", "0", "--store", "memory", *extra, cwd=tmp_path
    )


async def _printed(host: HostProcess, text: str) -> bool:
    """Whether the host printed a line containing ``text`` (waiting for it a while)."""
    deadline = time.monotonic() + 10
    while not any(text in line for line in host.lines):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def _children() -> dict[int, list[tuple[int, bytes]]]:
    """Every process's children, with their command lines, by parent pid."""
    children: dict[int, list[tuple[int, bytes]]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read()
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append((int(entry), command))
    return children


def _workers(host: HostProcess) -> set[int]:
    """The host's worker processes: the children of its fork server."""
    children = _children()
    found: set[int] = set()
    for pid, command in children.get(host.pid, []):
        if b"--fork-server" in command:
            found.update(child for child, _ in children.get(pid, []))
        elif b"ophost.worker" in command:
            found.add(pid)
    return found


async def _pool_size(
    host: HostProcess,
    expected: int,
    replacing: int = 0,
    before: set[int] | None = None,
    gone: set[int] | None = None,
) -> set[int]:
    """The host's workers once there are ``expected`` of them, ``replacing`` of them not
    in ``before`` and none of them in ``gone``."""
    before = before or set()
    gone = gone or set()
    deadline = time.monotonic() + WAIT
    while True:
        workers = _workers(host)
        fresh = len(workers - before)
        settled = len(workers) == expected and fresh >= replacing and not workers & gone
        if settled or time.monotonic() > deadline:
            return workers
        await asyncio.sleep(0.05)


def _pid(message: str) -> int:
    """The worker's pid in a WORKER_CRASHED message ("the worker process (pid N) ...")."""
    found = re.search(r"\(pid (\d+)\)", message)
    assert found, message
    return int(found.group(1))


async def _events(client: AsyncOpHostClient, op: str, inputs: dict[str, Any]) -> list[Any]:
    async with client.execute(op, inputs) as stream:
        return [event async for event in stream]


def _finished(events: list[ExecutionEvent]) -> ExecutionFinished:
    body = events[-1].body
    assert isinstance(body, ExecutionFinished)
    return body


def _failure(events: list[ExecutionEvent]) -> StepFailed:
    failures = [e.body for e in events if isinstance(e.body, StepFailed)]
    assert failures, events
    return failures[-1]


def _triple(value: object) -> tuple[int, int, int]:
    assert isinstance(value, list)
    assert len(value) == 3
    return int(value[0]), int(value[1]), int(value[2])


async def _serving(address: str) -> bool:
    async with grpc.aio.insecure_channel(address) as channel:
        health: Any = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


async def test_five_crashes_among_fifty_executions_end_only_themselves(tmp_path: Path) -> None:
    host = await _host(
        tmp_path,
        "--pool-size",
        "4",
        "--max-concurrent-executions",
        "64",
        "--execution-memory-limit",
        "300M",
    )
    async with hosts(host), AsyncOpHostClient(host.address) as client:
        assert await _printed(host, "ophost: op bodies run in 4 worker processes")
        first_pool = await _pool_size(host, 4)
        assert len(first_pool) == 4
        bad: dict[str, dict[str, Any]] = {
            "exit_hard": {"code": 3},
            "segfault": {},
            "hog": {"megabytes": 2000},
            "sleepy": {"seconds": 30.0},
            "raises": {},
        }
        calls = [_events(client, "work", {"n": n}) for n in range(45)]
        calls += [_events(client, op, inputs) for op, inputs in bad.items()]
        running = asyncio.gather(*calls)
        healthy = []
        while not running.done():
            healthy.append(await _serving(host.address))
            await asyncio.sleep(0.1)
        results = await running
        assert healthy
        assert all(healthy)

        for n, events in enumerate(results[:45]):
            assert _finished(events).status is ExecutionStatus.SUCCEEDED
            logs = [e.body.message for e in events if isinstance(e.body, LogMessage)]
            assert logs == [f"work {n} step {i}" for i in range(3)]
            assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        outcomes = dict(zip(bad, results[45:], strict=True))
        for op, events in outcomes.items():
            assert _finished(events).status is ExecutionStatus.FAILED, (op, events)
        exited = _failure(outcomes["exit_hard"])
        assert exited.error_source is ErrorSource.WORKER_CRASHED
        assert "exited with code 3" in exited.error.message
        crashed = _failure(outcomes["segfault"])
        assert crashed.error_source is ErrorSource.WORKER_CRASHED
        assert "SIGSEGV" in crashed.error.message
        hogged = _failure(outcomes["hog"])
        assert hogged.error_source is ErrorSource.MEMORY_LIMIT, hogged
        assert "memory limit" in hogged.error.message
        slept = _failure(outcomes["sleepy"])
        assert slept.error_source is ErrorSource.TIMEOUT
        assert "limit of 1s" in slept.error.message
        raised = _failure(outcomes["raises"])
        assert raised.error_source is ErrorSource.USER_CODE
        assert raised.error.message == "an ordinary failure"

        # The host still takes new work, and its pool is back to full size without the
        # workers that crashed. (Which workers those were depends on the order attempts
        # were assigned in: a worker started to replace one may be the next to crash.)
        assert await client.call("work", {"n": 100}) == {"result": 200}
        dead = {_pid(exited.error.message), _pid(crashed.error.message)}
        pool = await _pool_size(host, 4, gone=dead)
        assert len(pool) == 4
        assert not pool & dead, (pool, dead)
        assert pool - first_pool  # replacements among them
        assert host.process.returncode is None


async def test_cancel_reaches_a_cooperative_body_and_stops_a_stubborn_one(tmp_path: Path) -> None:
    host = await _host(tmp_path, "--pool-size", "2")
    async with hosts(host), AsyncOpHostClient(host.address) as client:
        pool = await _pool_size(host, 2)
        for op, outcome in (
            ("cooperative", CancelOutcome.COOPERATIVE),
            ("stubborn", CancelOutcome.FORCED),
        ):
            async with client.execute(op, {}) as stream:
                await stream.accepted()
                await asyncio.sleep(0.3)
                started = time.monotonic()
                await stream.cancel()
                events = [event async for event in stream]
            finished = _finished(events)
            assert finished.status is ExecutionStatus.CANCELED
            assert finished.cancel_outcome is outcome
            if op == "stubborn":
                # The default grace is 5 s: the worker was ended after it, not before.
                assert time.monotonic() - started >= 4.5
        after = await _pool_size(host, 2, replacing=1, before=pool)
        assert len(after) == 2
        assert len(after & pool) == 1  # only the stubborn body's worker was replaced


async def test_a_crash_is_retried_by_the_ops_policy(tmp_path: Path) -> None:
    host = await _host(tmp_path, "--pool-size", "1")
    async with hosts(host), AsyncOpHostClient(host.address) as client:
        events = await _events(client, "crash_once", {})
        assert _finished(events).status is ExecutionStatus.SUCCEEDED
        first = _failure(events)
        assert first.error_source is ErrorSource.WORKER_CRASHED
        assert first.will_retry
        assert any(isinstance(e.body, RetryScheduled) for e in events)


async def test_resources_are_built_per_worker_and_the_tag_keeps_an_op_in_the_host(
    tmp_path: Path,
) -> None:
    host = await _host(tmp_path, "--pool-size", "2")
    async with hosts(host), AsyncOpHostClient(host.address) as client:
        pool = await _pool_size(host, 2)
        seen = {}
        for _ in range(20):
            pid, built_in, builds = _triple((await client.call("where", {}))["result"])
            assert pid == built_in
            assert pid in pool
            assert builds == 1  # built once in that worker, and reused
            seen[pid] = builds
        # One call at a time goes to the worker freed last, still warm.
        assert len(seen) == 1
        # Two at once take both workers.
        both = await asyncio.gather(*(client.call("held", {"seconds": 0.5}) for _ in range(2)))
        assert {r["result"] for r in both} == pool
        assert (await client.call("in_host", {}))["result"] == host.pid
        assert await _printed(host, "threads of this process for ops tagged")


async def test_thread_executor_runs_bodies_in_the_host(tmp_path: Path) -> None:
    host = await _host(tmp_path, "--executor", "thread")
    async with hosts(host), AsyncOpHostClient(host.address) as client:
        assert await _printed(host, "ophost: op bodies run in threads of this process")
        assert _workers(host) == set()
        pid, built_in, _ = _triple((await client.call("where", {}))["result"])
        assert pid == built_in == host.pid
