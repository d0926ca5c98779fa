"""The ops the benchmarks run on an ``OpHostServer``, and a bare-stub client for them.

- ``add(a, b)``: the trivial op (latency and executions per second).
- ``many_events(n)``: a sync generator yielding ``n`` ``ExpectationResult``\\ s, then one
  output (events per second).
- ``big_bytes(size)``: returns ``size`` bytes, which travel as chunks (large outputs).
- ``byte_count(data)``: the length of a ``bytes`` input, uploaded in chunks (large inputs).
- ``spin(n)``: a pure-Python loop of ``n`` steps (CPU-bound executions).

The client uses the generated stub directly, with no client library in between, and
reads every ``Execute`` stream to its end (status OK).

Run ``python -m bench.ops`` to serve the ops (prints the port, stops when stdin closes).
The server has ophost's default settings and ``Limits``, and keeps executions in memory
unless ``OPHOST_BENCH_STORE`` names another store (the store benchmarks). It runs op
bodies in its threads unless ``OPHOST_BENCH_EXECUTOR`` is ``ray`` (Ray tasks on the
cluster at ``OPHOST_BENCH_RAY_ADDRESS``) or ``process`` (a pool of
``OPHOST_BENCH_POOL_SIZE`` worker processes, default 2: the executor benchmarks). With
``OPHOST_BENCH_SECURE_DIR`` (the security benchmark) it serves TLS with ``server.pem``
and ``server.key`` of that folder, lets in only the identities of its ``tokens.toml``,
and serves metrics on a free port, which it writes to ``metrics-port`` there; or only
the parts ``OPHOST_BENCH_SECURE_PARTS`` lists (``tls``, ``token``, ``metrics``).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from bench import serve_until_stdin_closes
from ophost import ExpectationResult, Output, op
from ophost.codec.chunks import split_value
from ophost.execution import ProcessExecutor, RayExecutor, python_workers
from ophost.server import AccessInterceptor, OpHostServer, TlsFiles
from ophost.v1 import (
    event_pb2,
    execution_pb2,
    op_host_service_pb2,
    op_host_service_pb2_grpc,
    value_pb2,
)

if TYPE_CHECKING:
    from ophost.v1.op_host_service_pb2_grpc import OpHostServiceAsyncStub

__all__ = [
    "OPS",
    "SECURE_ENV",
    "SECURE_PARTS",
    "SECURE_PARTS_ENV",
    "HTTP_PORT_FILE_ENV",
    "ExecuteResult",
    "OpHostClient",
    "add",
    "big_bytes",
    "byte_count",
    "main",
    "metrics_port_file",
    "many_events",
    "spin",
]


@op
def add(a: int, b: int) -> int:
    return a + b


@op
def many_events(n: int) -> Iterator[ExpectationResult | Output[int]]:
    for _ in range(n):
        yield ExpectationResult(success=True, label="row_ok")
    yield Output(n)


@op
def big_bytes(size: int) -> bytes:
    return b"x" * size


@op
def byte_count(data: bytes) -> int:
    return len(data)


@op
def spin(n: int) -> int:
    """CPU-bound: a pure-Python loop of ``n`` steps (holds the interpreter lock)."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


OPS = [add, many_events, big_bytes, byte_count, spin]

# A folder with server.pem, server.key and tokens.toml: serve TLS, tokens and metrics,
# or the parts of them listed in SECURE_PARTS_ENV.
SECURE_ENV = "OPHOST_BENCH_SECURE_DIR"
SECURE_PARTS_ENV = "OPHOST_BENCH_SECURE_PARTS"
SECURE_PARTS = ("tls", "token", "metrics")
# A file to write the browser door's port to: the server opens the door when it is set.
HTTP_PORT_FILE_ENV = "OPHOST_BENCH_HTTP_PORT_FILE"

_FINISHED = "execution_finished"


@dataclass(frozen=True)
class ExecuteResult:
    """What one ``Execute`` stream delivered."""

    messages: int  # responses, the acceptance included
    events: int
    chunk_bytes: int  # the bytes of every value_chunk event
    finished_after: float  # seconds from the call to the batch holding execution_finished
    batches: list[bytes]  # the event batches as received, when asked to keep them
    output: event_pb2.Event | None  # the last output event


class OpHostClient:
    """Runs ops on an ophost server through the bare generated stub."""

    def __init__(
        self, channel: grpc.aio.Channel, *, metadata: Sequence[tuple[str, str]] | None = None
    ) -> None:
        stub: OpHostServiceAsyncStub = op_host_service_pb2_grpc.OpHostServiceStub(channel)
        self._stub = stub
        self._metadata = tuple(metadata) if metadata else None  # sent on every Execute

    @staticmethod
    def request(op_name: str, **inputs: int) -> op_host_service_pb2.ExecuteRequest:
        """An ``ExecuteRequest`` starting ``op_name`` with integer inputs."""
        start = execution_pb2.ExecutionStart(op_name=op_name)
        for name, number in inputs.items():
            start.inputs.add(name=name).value.int_value = number
        return op_host_service_pb2.ExecuteRequest(start=start)

    async def execute(
        self,
        request: op_host_service_pb2.ExecuteRequest,
        *,
        count_chunks: bool = False,
        keep_batches: bool = False,
        chunks: Sequence[op_host_service_pb2.ExecuteRequest] = (),
    ) -> ExecuteResult:
        """Send ``request`` on ``Execute``, half-close, and read the stream to its end.

        Raises ``RuntimeError`` unless the execution succeeded. ``count_chunks`` sums
        the bytes of the ``value_chunk`` events (it touches every event); ``keep_batches``
        keeps every event batch as received (re-serialized); ``chunks`` are sent after
        the start (the chunks of its large inputs).
        """
        began = time.perf_counter()
        call = self._stub.Execute(metadata=self._metadata)
        await call.write(request)
        for chunk in chunks:
            await call.write(chunk)
        await call.done_writing()
        messages = events = chunk_bytes = 0
        finished_after = 0.0
        last: event_pb2.Event | None = None
        output: event_pb2.Event | None = None
        kept: list[bytes] = []
        async for response in call:
            messages += 1
            batch = response.events.events
            if not batch:
                continue
            if keep_batches:
                kept.append(response.SerializeToString())
            events += len(batch)
            last = batch[-1]
            for event in batch:
                if event.WhichOneof("kind") == "output":
                    output = event
            if count_chunks:
                chunk_bytes += sum(len(e.value_chunk.data) for e in batch)
            if last.WhichOneof("kind") == _FINISHED:
                finished_after = time.perf_counter() - began
        if last is None or last.WhichOneof("kind") != _FINISHED:
            raise RuntimeError(f"{request.start.op_name}: the stream ended before the last event")
        status = last.execution_finished.status
        if status != event_pb2.EXECUTION_STATUS_SUCCEEDED:
            raise RuntimeError(
                f"{request.start.op_name} finished with "
                f"{event_pb2.ExecutionStatus.Name(status)}: {last.execution_finished.error}"
            )
        return ExecuteResult(messages, events, chunk_bytes, finished_after, kept, output)

    @staticmethod
    def upload_request(
        op_name: str, input_name: str, data: bytes, *, inline_threshold: int, chunk_size: int
    ) -> tuple[op_host_service_pb2.ExecuteRequest, list[op_host_service_pb2.ExecuteRequest]]:
        """A start whose input ``input_name`` is ``data``, and the chunks that follow it."""
        value, chunks = split_value(
            value_pb2.Value(bytes_value=data),
            inline_threshold=inline_threshold,
            chunk_size=chunk_size,
            value_id="upload",
        )
        start = execution_pb2.ExecutionStart(op_name=op_name)
        start.inputs.add(name=input_name).value.CopyFrom(value)
        return (
            op_host_service_pb2.ExecuteRequest(start=start),
            [op_host_service_pb2.ExecuteRequest(chunk=chunk) for chunk in chunks],
        )

    async def limits(self) -> op_host_service_pb2.ServerLimits:
        """The server's ``ServerLimits``."""
        info = await self._stub.GetServerInfo(op_host_service_pb2.GetServerInfoRequest())
        return info.limits

    async def chunk_size_bytes(self) -> int:
        """The server's ``ServerLimits.chunk_size_bytes``."""
        info = await self._stub.GetServerInfo(op_host_service_pb2.GetServerInfoRequest())
        return info.limits.chunk_size_bytes


def _server() -> OpHostServer:
    # The store benchmarks run this server on SQLite or PostgreSQL (bench/stores.py).
    executor: ProcessExecutor | RayExecutor | None = None
    kind = os.environ.get("OPHOST_BENCH_EXECUTOR")
    if kind == "process":
        executor = ProcessExecutor(
            {o.name: o for o in OPS},
            python_workers(None, "bench.ops"),
            size=int(os.environ.get("OPHOST_BENCH_POOL_SIZE") or 2),
        )
    elif kind == "ray":
        executor = RayExecutor(
            {o.name: o for o in OPS},
            module="bench.ops",
            address=os.environ.get("OPHOST_BENCH_RAY_ADDRESS") or None,
        )
    secure = os.environ.get(SECURE_ENV)
    parts = _secure_parts()
    tls, interceptors = None, []
    if secure and "tls" in parts:
        folder = Path(secure)
        tls = TlsFiles(cert=folder / "server.pem", key=folder / "server.key")
    if secure and "token" in parts:
        interceptors.append(AccessInterceptor.from_file(Path(secure) / "tokens.toml"))
    return OpHostServer(
        OPS,
        host="127.0.0.1",
        port=0,
        store=os.environ.get("OPHOST_BENCH_STORE") or "memory",
        executor=executor,
        tls=tls,
        interceptors=interceptors,
        metrics_port=0 if secure and "metrics" in parts else None,
        http_port=0 if os.environ.get(HTTP_PORT_FILE_ENV) else None,
    )


def metrics_port_file(parts: str) -> str:
    """The file (in the secure folder) a server with ``parts`` writes its metrics port to."""
    return f"metrics-port-{parts}"


def _secure_parts() -> tuple[str, ...]:
    listed = os.environ.get(SECURE_PARTS_ENV)
    return SECURE_PARTS if not listed else tuple(p.strip() for p in listed.split(","))


@contextlib.asynccontextmanager
async def _served() -> AsyncIterator[OpHostServer]:
    async with _server() as server:
        secure = os.environ.get(SECURE_ENV)
        if secure and server.metrics_port is not None:
            name = metrics_port_file("+".join(_secure_parts()))
            (Path(secure) / name).write_text(str(server.metrics_port), "ascii")
        http_port_file = os.environ.get(HTTP_PORT_FILE_ENV)
        if http_port_file:
            (Path(http_port_file).parent / Path(http_port_file).name).write_text(
                str(server.http_port), "ascii"
            )
        yield server


def main() -> None:
    serve_until_stdin_closes("ophost", _served)


if __name__ == "__main__":
    main()
