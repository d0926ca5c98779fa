"""The ops the benchmarks run on an ``OpHostServer``, and a bare-stub client for them.

- ``add(a, b)``: the trivial op (latency and executions per second).
- ``many_events(n)``: a sync generator yielding ``n`` ``ExpectationResult``\\ s, then one
  output (events per second).
- ``big_bytes(size)``: returns ``size`` bytes, which travel as chunks (large outputs).

The client uses the generated stub directly, with no client library in between, and
reads every ``Execute`` stream to its end (status OK).

Run ``python -m bench.ops`` to serve the ops (prints the port, stops when stdin closes).
The server has ophost's default settings and ``Limits``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc

from bench import serve_until_stdin_closes
from ophost import ExpectationResult, Output, op
from ophost.server import OpHostServer
from ophost.v1 import event_pb2, execution_pb2, op_host_service_pb2, op_host_service_pb2_grpc

if TYPE_CHECKING:
    from ophost.v1.op_host_service_pb2_grpc import OpHostServiceAsyncStub

__all__ = ["OPS", "ExecuteResult", "OpHostClient", "add", "big_bytes", "main", "many_events"]


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


OPS = [add, many_events, big_bytes]

_FINISHED = "execution_finished"


@dataclass(frozen=True)
class ExecuteResult:
    """What one ``Execute`` stream delivered."""

    messages: int  # responses, the acceptance included
    events: int
    chunk_bytes: int  # the bytes of every value_chunk event
    finished_after: float  # seconds from the call to the batch holding execution_finished


class OpHostClient:
    """Runs ops on an ophost server through the bare generated stub."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        stub: OpHostServiceAsyncStub = op_host_service_pb2_grpc.OpHostServiceStub(channel)
        self._stub = stub

    @staticmethod
    def request(op_name: str, **inputs: int) -> op_host_service_pb2.ExecuteRequest:
        """An ``ExecuteRequest`` starting ``op_name`` with integer inputs."""
        start = execution_pb2.ExecutionStart(op_name=op_name)
        for name, number in inputs.items():
            start.inputs.add(name=name).value.int_value = number
        return op_host_service_pb2.ExecuteRequest(start=start)

    async def execute(
        self, request: op_host_service_pb2.ExecuteRequest, *, count_chunks: bool = False
    ) -> ExecuteResult:
        """Send ``request`` on ``Execute``, half-close, and read the stream to its end.

        Raises ``RuntimeError`` unless the execution succeeded. ``count_chunks`` sums
        the bytes of the ``value_chunk`` events (it touches every event).
        """
        began = time.perf_counter()
        call = self._stub.Execute()
        await call.write(request)
        await call.done_writing()
        messages = events = chunk_bytes = 0
        finished_after = 0.0
        last: event_pb2.Event | None = None
        async for response in call:
            messages += 1
            batch = response.events.events
            if not batch:
                continue
            events += len(batch)
            last = batch[-1]
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
        return ExecuteResult(messages, events, chunk_bytes, finished_after)

    async def chunk_size_bytes(self) -> int:
        """The server's ``ServerLimits.chunk_size_bytes``."""
        info = await self._stub.GetServerInfo(op_host_service_pb2.GetServerInfoRequest())
        return info.limits.chunk_size_bytes


def _server() -> OpHostServer:
    return OpHostServer(OPS, host="127.0.0.1", port=0)


def main() -> None:
    serve_until_stdin_closes("ophost", _server)


if __name__ == "__main__":
    main()
