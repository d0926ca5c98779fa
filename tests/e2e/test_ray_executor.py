"""The Ray executor against a real local Ray that this module starts (and stops).

Events stream back while the task runs; cancel reaches a cooperative body, and one
that ignores it is stopped by ending its Ray worker process; a task whose process
dies fails the attempt as crashed and the op's retry policy applies; resource tags
become Ray resource requests, which the body can read back; resources are built once
per Ray worker. Hosts run in process (as Ray drivers), as ``ophost serve`` connected
to this Ray's address, and through a Ray Client server (``ray://``, the way into a
KubeRay cluster).

Ray must be installed (``ophost[ray]``, in the dev dependencies): without it these
tests skip, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ophost.definitions import (
    CancelOutcome,
    ErrorSource,
    ExecutionEvent,
    ExecutionFinished,
    ExecutionStatus,
    LogMessage,
    OutputProduced,
    RetryScheduled,
    StepFailed,
)
from ophost.errors import OpHostError
from ophost.execution import RayExecutor
from ophost.execution._loader import load_ops
from ophost.server import OpHostServer
from ophost.server._limits import Limits
from ophost_client import AsyncOpHostClient

from .host_processes import hosts, start_host

pytestmark = pytest.mark.timeout(240)

OPS = """
import os
import time

from ophost import RetryPolicy, op

BUILT = []


class Counter:
    def __init__(self):
        BUILT.append(self)
        self.pid = os.getpid()


def ophost_resources():
    return {"counter": Counter()}


@op
def add(a: int, b: int) -> int:
    return a + b


@op
def log_sleep_log(context, seconds: float) -> int:
    context.log.info("before the pause")
    time.sleep(seconds)
    context.log.info("after the pause")
    return os.getpid()


@op
def cooperative(context) -> int:
    context.log.info(f"pid {os.getpid()}")
    while True:
        context.raise_if_cancel_requested()
        time.sleep(0.01)


@op
def stubborn(context) -> int:
    context.log.info(f"pid {os.getpid()}")
    time.sleep(600)
    return 0


@op
def exit_hard(code: int) -> int:
    os._exit(code)


@op(retry_policy=RetryPolicy(max_retries=1))
def crash_once(context) -> int:
    if context.retry_number == 0:
        os._exit(9)
    return context.retry_number


def _assigned():
    import ray

    return {
        name: float(amount)
        for name, amount in ray.get_runtime_context().get_assigned_resources().items()
    }


@op
def default_request() -> dict:
    return _assigned()


@op(tags={"ophost/ray/num_cpus": "2"})
def two_cpus() -> dict:
    return _assigned()


@op(tags={"ophost/ray/num_cpus": "0.5", "ophost/ray/memory": "64M"})
def half_cpu_and_memory() -> dict:
    return _assigned()


@op(tags={"ophost/ray/num_gpus": "1", "ophost/timeout": "2"})
def needs_a_gpu() -> int:
    return 1


@op(required_resource_keys={"counter"})
def where(context) -> list:
    return [os.getpid(), context.resources.counter.pid, len(BUILT)]
"""

# Makes the Ray this module starts listen on loopback only; read when Ray is imported.
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A local Ray for this module (2 CPUs, no dashboard); its GCS address."""
    os.environ.setdefault(LOOPBACK_ENV, "0")
    try:
        import ray
    except ImportError as exc:
        reason = f"Ray is not installed (pip install 'ophost[ray]'): {exc}"
        if os.environ.get("CI"):
            pytest.fail(f"the Ray executor's tests must run in CI: {reason}")
        print(f"skipping the Ray executor's tests: {reason}", file=sys.stderr)
        pytest.skip(reason)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def ops_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ray_ops") / "ray_ops.py"
    path.write_text(OPS, encoding="utf-8")
    return path


@pytest.fixture
async def client(ray_address: str, ops_file: Path) -> AsyncIterator[AsyncOpHostClient]:
    """A client of an in-process host whose op bodies run in this module's Ray."""
    loaded = load_ops(file=str(ops_file), resources=False)
    executor = RayExecutor(loaded.ops, file=str(ops_file))
    server = OpHostServer(
        loaded.ops,
        executor=executor,
        check_resources=False,
        limits=Limits(cancel_grace_seconds=2.0),
    )
    async with server, AsyncOpHostClient(server.address) as connected:
        yield connected


async def _events(client: AsyncOpHostClient, op: str, inputs: dict[str, Any]) -> list[Any]:
    async with client.execute(op, inputs) as stream:
        return [event async for event in stream]


def _finished(events: list[ExecutionEvent]) -> ExecutionFinished:
    body = events[-1].body
    assert isinstance(body, ExecutionFinished), events
    return body


def _failures(events: list[ExecutionEvent]) -> list[StepFailed]:
    return [e.body for e in events if isinstance(e.body, StepFailed)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def _timed_events(
    client: AsyncOpHostClient, op: str, inputs: dict[str, Any]
) -> list[tuple[float, ExecutionEvent]]:
    """The execution's events, each with when it arrived here (monotonic seconds)."""
    arrived = []
    async with client.execute(op, inputs) as stream:
        async for event in stream:
            arrived.append((time.monotonic(), event))
    return arrived


def _assert_streamed_live(arrived: list[tuple[float, ExecutionEvent]], pause: float) -> None:
    logs = [(when, e.body.message) for when, e in arrived if isinstance(e.body, LogMessage)]
    assert [message for _, message in logs] == ["before the pause", "after the pause"]
    finished_at, last = arrived[-1]
    assert isinstance(last.body, ExecutionFinished)
    assert last.body.status is ExecutionStatus.SUCCEEDED
    # The first log arrived while the body was still sleeping, not with its end.
    assert logs[1][0] - logs[0][0] >= pause * 0.8
    assert finished_at - logs[0][0] >= pause * 0.8


# -- in-process hosts (Ray drivers) --------------------------------------------------------


async def test_events_stream_back_while_the_task_runs(client: AsyncOpHostClient) -> None:
    assert await client.call("add", {"a": 2, "b": 3}) == {"result": 5}
    arrived = await _timed_events(client, "log_sleep_log", {"seconds": 1.5})
    _assert_streamed_live(arrived, 1.5)
    assert [e.sequence for _, e in arrived] == list(range(1, len(arrived) + 1))
    [pid] = [e.body.value for _, e in arrived if isinstance(e.body, OutputProduced)]
    assert pid != os.getpid()  # the body ran in a Ray worker, not here


async def test_cancel_reaches_a_cooperative_body(client: AsyncOpHostClient) -> None:
    async with client.execute("cooperative", {}) as stream:
        events: list[ExecutionEvent] = []
        async for event in stream:
            events.append(event)
            if isinstance(event.body, LogMessage):
                break  # the body runs
        started = time.monotonic()
        await stream.cancel()
        events += [event async for event in stream]
    finished = _finished(events)
    assert finished.status is ExecutionStatus.CANCELED
    assert finished.cancel_outcome is CancelOutcome.COOPERATIVE
    assert time.monotonic() - started < 2.0  # within the grace: it stopped by itself
    pid = int(next(e.body.message for e in events if isinstance(e.body, LogMessage)).split()[1])
    assert _alive(pid)  # its Ray worker process lives on for other tasks


async def test_a_body_that_ignores_cancel_is_stopped_with_its_worker(
    client: AsyncOpHostClient,
) -> None:
    async with client.execute("stubborn", {}) as stream:
        events: list[ExecutionEvent] = []
        async for event in stream:
            events.append(event)
            if isinstance(event.body, LogMessage):
                break
        started = time.monotonic()
        await stream.cancel()
        events += [event async for event in stream]
    finished = _finished(events)
    assert finished.status is ExecutionStatus.CANCELED
    assert finished.cancel_outcome is CancelOutcome.FORCED
    assert time.monotonic() - started >= 1.9  # the grace (2 s) ran out first
    pid = int(next(e.body.message for e in events if isinstance(e.body, LogMessage)).split()[1])
    # Ended by the host's ray.cancel(force=True) at the end of the grace, not later by
    # the task's own fallback (which gives the body 2 s more).
    assert await _gone(pid, 1.0), "ray.cancel(force=True) did not end the Ray worker process"
    # The host goes on; Ray starts other workers.
    assert await client.call("add", {"a": 1, "b": 1}) == {"result": 2}


async def test_a_task_whose_process_dies_fails_as_crashed(client: AsyncOpHostClient) -> None:
    events = await _events(client, "exit_hard", {"code": 3})
    assert _finished(events).status is ExecutionStatus.FAILED
    [failure] = _failures(events)
    assert failure.error_source is ErrorSource.WORKER_CRASHED
    assert "Ray worker process running the attempt died" in failure.error.message
    assert "WorkerCrashedError" in failure.error.message  # what Ray said
    assert not failure.will_retry  # no retry policy, and Ray's own retries are off

    events = await _events(client, "crash_once", {})
    assert _finished(events).status is ExecutionStatus.SUCCEEDED
    [first] = _failures(events)
    assert first.error_source is ErrorSource.WORKER_CRASHED
    assert first.will_retry
    assert any(isinstance(e.body, RetryScheduled) for e in events)
    assert await client.call("crash_once", {}) == {"result": 1}  # every call: 2 attempts


async def test_resource_tags_become_ray_requests(client: AsyncOpHostClient) -> None:
    assert (await client.call("default_request", {}))["result"] == {"CPU": 1.0}
    assert (await client.call("two_cpus", {}))["result"] == {"CPU": 2.0}
    assigned = (await client.call("half_cpu_and_memory", {}))["result"]
    assert assigned == {"CPU": 0.5, "memory": 64.0 * 1024 * 1024}
    # No node has a GPU: the task waits in Ray's queue until the op's time limit.
    events = await _events(client, "needs_a_gpu", {})
    [failure] = _failures(events)
    assert failure.error_source is ErrorSource.TIMEOUT
    assert "limit of 2s" in failure.error.message


async def test_canceling_a_queued_task_ends_it_at_once(client: AsyncOpHostClient) -> None:
    async with client.execute("needs_a_gpu", {}) as stream:
        await stream.accepted()
        await asyncio.sleep(0.3)
        started = time.monotonic()
        await stream.cancel()
        events = [event async for event in stream]
    finished = _finished(events)
    assert finished.status is ExecutionStatus.CANCELED
    assert finished.cancel_outcome is CancelOutcome.COOPERATIVE  # its body never started
    assert time.monotonic() - started < 1.5  # removed from Ray's queue, not after the grace


async def test_resources_are_built_once_per_ray_worker(client: AsyncOpHostClient) -> None:
    seen: dict[int, int] = {}
    for _ in range(8):
        result = (await client.call("where", {}))["result"]
        assert isinstance(result, list)
        pid, built_in, builds = (int(n) for n in result)
        assert pid == built_in
        assert pid != os.getpid()
        assert builds == 1  # built once in that Ray worker, then reused
        seen[pid] = builds
    assert seen


async def test_ops_defined_differently_in_ray_are_refused(
    ray_address: str, ops_file: Path, tmp_path: Path
) -> None:
    different = tmp_path / "different_ops.py"
    different.write_text(
        OPS.replace("def add(a: int, b: int) -> int:", "def add(a: str, b: str) -> str:"),
        encoding="utf-8",
    )
    host_ops = load_ops(file=str(ops_file), resources=False).ops
    executor = RayExecutor(host_ops, file=str(different))
    server = OpHostServer(host_ops, executor=executor, check_resources=False)
    async with server, AsyncOpHostClient(server.address) as connected:
        assert "add" in executor.refused
        events = await _events(connected, "add", {"a": 1, "b": 2})
        [failure] = _failures(events)
        assert failure.error_source is ErrorSource.FRAMEWORK
        assert 'op "add" cannot run in Ray' in failure.error.message
        assert "differs" in failure.error.message
        assert await connected.call("two_cpus", {}) == {"result": {"CPU": 2.0}}


def test_a_bad_resource_tag_is_refused_up_front(ray_address: str, tmp_path: Path) -> None:
    path = tmp_path / "bad_tag_ops.py"
    path.write_text(
        'from ophost import op\n\n@op(tags={"ophost/ray/num_cpus": "many"})\ndef f() -> int:\n'
        "    return 1\n",
        encoding="utf-8",
    )
    ops = load_ops(file=str(path), resources=False).ops
    with pytest.raises(OpHostError, match='tag ophost/ray/num_cpus is "many"'):
        RayExecutor(ops, file=str(path))


# -- ophost serve, as a driver of this Ray and through a Ray Client server -----------------


async def test_serve_runs_ops_on_a_ray_cluster_and_drains(
    ray_address: str, ops_file: Path, tmp_path: Path
) -> None:
    host = await start_host(
        *("-f", str(ops_file), "--port", "0", "--store", "memory"),
        *("--executor", "ray", "--ray-address", ray_address),
        cwd=tmp_path,
    )
    async with hosts(host), AsyncOpHostClient(host.address) as connected:
        assert await _printed(host, f"ophost: op bodies run in Ray tasks on {ray_address}")
        arrived = await _timed_events(connected, "log_sleep_log", {"seconds": 1.0})
        _assert_streamed_live(arrived, 1.0)
        assert await host.stop() == 0
    assert any("SIGTERM received; draining" in line for line in host.lines)
    assert host.lines[-1] == "ophost: stopped"
    import ray

    assert ray.is_initialized()  # the host left the cluster it joined running
    assert ray.get(ray.remote(lambda: 7).remote()) == 7


async def test_serve_through_a_ray_client_address(
    ray_address: str, ops_file: Path, tmp_path: Path
) -> None:
    port = _free_port()
    # A Ray Client server in front of this module's Ray: what a KubeRay head service
    # offers on its client port (10001).
    proxy = subprocess.Popen(  # noqa: ASYNC220 - started once, ended below by its pid
        [
            sys.executable,
            "-m",
            "ray.util.client.server",
            f"--address={ray_address}",
            "--host=127.0.0.1",
            f"--port={port}",
            "--mode=legacy",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        await _listening(port, 60.0)
        host = await start_host(
            *("-f", str(ops_file), "--port", "0", "--store", "memory"),
            *("--executor", "ray", "--ray-address", f"ray://127.0.0.1:{port}"),
            cwd=tmp_path,
        )
        async with hosts(host), AsyncOpHostClient(host.address) as connected:
            arrived = await _timed_events(connected, "log_sleep_log", {"seconds": 1.0})
            _assert_streamed_live(arrived, 1.0)
            assert (await connected.call("two_cpus", {}))["result"] == {"CPU": 2.0}
            events = await _events(connected, "exit_hard", {"code": 3})
            [failure] = _failures(events)
            assert failure.error_source is ErrorSource.WORKER_CRASHED
            assert await host.stop() == 0
    finally:
        os.killpg(proxy.pid, signal.SIGTERM)
        try:
            proxy.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proxy.pid, signal.SIGKILL)
            proxy.wait(10)


async def _printed(host: Any, text: str) -> bool:
    deadline = time.monotonic() + 10
    while not any(text in line for line in host.lines):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _listening(port: int, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on port {port}") from None
            await asyncio.sleep(0.2)
        else:
            writer.close()
            await writer.wait_closed()
            return
