"""Prometheus metrics, scraped over HTTP after real runs: every count is the run's.

A host with ``metrics_port=0`` runs executions that succeed, fail, retry and are
canceled; one scrape of ``/metrics`` then shows exactly those counts, the calls by
method and code, and the events the clients received. ``ophost serve --metrics-port``
does the same from a process (one endpoint per worker with ``--workers``), and says
which extra to install when prometheus-client is missing.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from ophost import RetryPolicy, op
from ophost.execution import ExecutionFinished
from ophost.server import OpHostServer
from ophost_client import AsyncOpHostClient, OpFailedError, OpHostRpcError

from .observed import Scrape, get, scrape, serve_process, until

_attempts: dict[str, int] = {}
_release = threading.Event()


@op
def add(context, a: int, b: int) -> int:  # type: ignore[no-untyped-def]
    context.log.info("adding")
    return a + b


@op(retry_policy=RetryPolicy(max_retries=3))
def flaky(context, key: str) -> str:  # type: ignore[no-untyped-def]
    _attempts[key] = _attempts.get(key, 0) + 1
    if _attempts[key] == 1:
        raise ConnectionError("the first attempt fails")
    return key


@op
def fails() -> int:
    raise ValueError("always")


@op
def waits(context) -> int:  # type: ignore[no-untyped-def]
    while not _release.wait(0.01):
        context.raise_if_cancel_requested()
    return 1


OPS = [add, flaky, fails, waits]


async def test_a_scrape_after_a_run_shows_the_counts_of_that_run() -> None:
    _release.clear()
    async with (
        OpHostServer(OPS, metrics_port=0, max_concurrent_executions=7) as server,
        AsyncOpHostClient(server.address) as client,
    ):
        assert server.metrics_address is not None
        received = 0
        for a in range(3):
            async for _ in client.execute("add", {"a": a, "b": 1}):
                received += 1
        async for _ in client.execute("flaky", {"key": "k1"}):
            received += 1
        failing = client.execute("fails")
        async for _ in failing:
            received += 1
        with pytest.raises(OpFailedError):
            await failing.result()
        stream = client.execute("waits")
        async for event in stream:
            received += 1
            if type(event.body).__name__ == "StepStarted":
                await stream.cancel()
            if isinstance(event.body, ExecutionFinished):
                break
        with pytest.raises(OpHostRpcError):
            await client.get_op("nope")

        async def settled() -> bool:
            found = await scrape(server.metrics_address or "")
            return (
                found.value("grpc_server_handled_total", grpc_method="Execute") == 6
                and found.value("ophost_streams_in_flight") == 0
            )

        await until(settled, "every Execute stream to end")
        metrics = await scrape(server.metrics_address)

    def count(name: str, **labels: str) -> float:
        return metrics.value(name, **labels)

    # Executions, by op and outcome.
    assert count("ophost_executions_started_total") == 6
    assert count("ophost_executions_started_total", op="add") == 3
    assert count("ophost_executions_finished_total", op="add", outcome="succeeded") == 3
    assert count("ophost_executions_finished_total", op="flaky", outcome="succeeded") == 1
    assert count("ophost_executions_finished_total", op="fails", outcome="failed") == 1
    assert count("ophost_executions_finished_total", op="waits", outcome="canceled") == 1
    assert count("ophost_execution_duration_seconds_count", op="add") == 3
    assert count("ophost_execution_duration_seconds_count") == 6
    # Attempts and retries: flaky's first attempt failed, its retry succeeded.
    assert count("ophost_attempts_started_total", op="flaky") == 2
    assert count("ophost_attempts_finished_total", op="flaky", outcome="failed") == 1
    assert count("ophost_attempts_finished_total", op="flaky", outcome="succeeded") == 1
    assert count("ophost_attempts_finished_total", op="waits", outcome="canceled") == 1
    assert count("ophost_retries_total", op="flaky") == 1
    assert count("ophost_retries_total") == 1
    assert count("ophost_attempt_duration_seconds_count") == 7
    assert count("ophost_executor_start_seconds_count") == 7
    # Events: every one the clients received was recorded and streamed once.
    assert count("ophost_execution_events_total") == received
    assert count("ophost_streamed_events_total", grpc_method="Execute") == received
    assert count("ophost_streamed_bytes_total", grpc_method="Execute") > received * 10
    # Calls, by method and code.
    assert count("grpc_server_started_total", grpc_method="Execute") == 6
    assert count("grpc_server_handled_total", grpc_method="Execute", grpc_code="OK") == 6
    assert count("grpc_server_handled_total", grpc_method="GetOp", grpc_code="NOT_FOUND") == 1
    assert count("grpc_server_handling_seconds_count", grpc_type="bidi_stream") == 6
    # The store and the gauges.
    assert count("ophost_store_operation_seconds_count", operation="create") == 6
    assert count("ophost_store_operation_seconds_count", operation="append") >= 6
    assert count("ophost_executions_in_flight") == 0
    assert count("ophost_executions_limit") == 7
    assert count("ophost_executor_queued_attempts") == 0
    assert count("ophost_build_info") == 1


async def test_in_flight_executions_and_streams_are_counted_while_they_run() -> None:
    _release.clear()
    async with (
        OpHostServer(OPS, metrics_port=0) as server,
        AsyncOpHostClient(server.address) as client,
    ):
        address = server.metrics_address or ""
        streams = [client.execute("waits") for _ in range(2)]
        for stream in streams:
            await stream.accepted()

        async def running() -> bool:
            found = await scrape(address)
            return (
                found.value("ophost_executions_in_flight") == 2
                and found.value("ophost_streams_in_flight", grpc_method="Execute") == 2
            )

        await until(running, "two executions and two streams in flight")
        _release.set()
        for stream in streams:
            await stream.result()

        async def done() -> bool:
            found = await scrape(address)
            return (
                found.value("ophost_executions_in_flight") == 0
                and found.value("ophost_streams_in_flight") == 0
            )

        await until(done, "nothing in flight")


async def test_the_endpoint_speaks_prometheus_text_and_openmetrics() -> None:
    async with OpHostServer(OPS, metrics_port=0) as server:
        address = server.metrics_address
        status, content_type, body = await get(f"http://{address}/metrics")
        assert status == 200
        assert content_type.startswith("text/plain")
        assert "# TYPE ophost_executions_started_total counter" in body
        status, content_type, body = await get(f"http://{address}/")
        assert status == 200
        status, _, _ = await get(f"http://{address}/other")
        assert status == 404
        accept = "application/openmetrics-text; version=1.0.0"
        request = f"http://{address}/metrics"
        openmetrics = await asyncio.to_thread(_get_with_accept, request, accept)
        assert openmetrics[0].startswith("application/openmetrics-text")
        assert openmetrics[1].rstrip().endswith("# EOF")
    # Stopping the host stops the endpoint.
    with pytest.raises(OSError):  # refused, whatever the errno says
        await asyncio.to_thread(_get_with_accept, request, "")


def _get_with_accept(url: str, accept: str) -> tuple[str, str]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Content-Type"], response.read().decode()


async def test_without_metrics_there_is_no_endpoint() -> None:
    async with OpHostServer(OPS) as server:
        assert server.metrics_address is None
        assert server.metrics_port == 0


# -- ophost serve ---------------------------------------------------------------------------

OPS_FILE = """
from ophost import op


@op
def add(a: int, b: int) -> int:
    return a + b
"""


async def test_ophost_serve_metrics_port(tmp_path: Path) -> None:
    (tmp_path / "ops.py").write_text(OPS_FILE, encoding="utf-8")
    args = ("-f", "ops.py", "--port", "0", "--store", "memory", "--metrics-port", "0")
    async with serve_process(*args, cwd=tmp_path, metrics_lines=1) as served:
        async with AsyncOpHostClient(served.address) as client:
            for a in range(4):
                assert await client.call("add", {"a": a, "b": 1}) == {"result": a + 1}
        metrics = await scrape(served.metrics[0])
        assert metrics.value("ophost_executions_finished_total", outcome="succeeded") == 4
        assert metrics.value("ophost_executions_started_total", op="add") == 4
        assert metrics.value("process_cpu_seconds_total") > 0
        # ophost serve runs op bodies in worker processes by default.
        assert metrics.value("ophost_executor_worker_processes") >= 1
        assert metrics.value("ophost_executor_queued_attempts") == 0
        assert await served.stop() == 0


async def test_ophost_serve_workers_each_serve_their_own_metrics(tmp_path: Path) -> None:
    (tmp_path / "ops.py").write_text(OPS_FILE, encoding="utf-8")
    args = (
        *("-f", "ops.py", "--port", "0", "--workers", "2"),
        *("--store", f"sqlite:///{tmp_path / 'ops.db'}", "--metrics-port", "0"),
    )
    async with serve_process(*args, cwd=tmp_path, metrics_lines=2) as served:
        assert sorted(served.metrics) == [1, 2]
        assert served.metrics[1] != served.metrics[2]
        calls = 8
        for _ in range(calls):  # a connection each, so the kernel may pick either worker
            async with AsyncOpHostClient(served.address) as client:
                assert await client.call("add", {"a": 1, "b": 2}) == {"result": 3}
        scrapes: list[Scrape] = [await scrape(served.metrics[n]) for n in (1, 2)]
        started = [s.value("ophost_executions_started_total") for s in scrapes]
        assert sum(started) == calls, started
        assert await served.stop() == 0


async def test_a_metrics_port_in_use_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "ops.py").write_text(OPS_FILE, encoding="utf-8")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        process = await asyncio.create_subprocess_exec(
            *_python_ophost("serve", "-f", "ops.py", "--port", "0", "--store", "memory"),
            *("--metrics-port", port),
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1, (out, err)
    assert f"could not serve metrics on 127.0.0.1:{port}" in err.decode()
    assert b"serving" not in out


@pytest.mark.parametrize(
    ("flag", "module", "extra"),
    [
        (("--metrics-port", "0"), "prometheus_client", "metrics"),
        (("--tracing",), "opentelemetry", "tracing"),
    ],
    ids=["metrics", "tracing"],
)
async def test_a_missing_extra_is_a_clear_error(
    tmp_path: Path, flag: tuple[str, ...], module: str, extra: str
) -> None:
    (tmp_path / "ops.py").write_text(OPS_FILE, encoding="utf-8")
    # A package of that name that cannot be imported hides the installed one.
    hidden = tmp_path / "hidden" / module
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text(
        f"raise ImportError('{module} is not installed here')\n", encoding="utf-8"
    )
    process = await asyncio.create_subprocess_exec(
        *_python_ophost("serve", "-f", "ops.py", "--port", "0", "--store", "memory", *flag),
        cwd=tmp_path,
        env=_with_pythonpath(tmp_path / "hidden"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1, (out, err)
    message = err.decode()
    assert f"pip install 'ophost[{extra}]'" in message
    assert message.startswith("ophost: ")
    assert "Traceback" not in message


def _python_ophost(*args: str) -> list[str]:
    return [sys.executable, "-m", "ophost", *args]


def _with_pythonpath(folder: Path) -> dict[str, str]:
    paths = [str(folder), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
