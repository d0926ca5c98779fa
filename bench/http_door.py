"""The browser door beside the gRPC port: a trivial op's round trip through each.

One ``bench.ops`` subprocess serves both doors (``OPHOST_BENCH_HTTP_PORT_FILE`` opens
its browser door), so every side reaches the same engine and store. Each call is the
path a browser takes: ``StartExecution(add(1, 2))``, then ``StreamEvents`` read to its
end (the last event is ``execution_finished``, whose status is checked). The sides:

- ``grpc``: those two calls on the gRPC port, through the bare generated grpcio stubs;
- ``connect``: the same over the Connect protocol, binary protobuf, with the
  ``connectrpc`` package's client (over pyqwest, HTTP/1.1 with keep-alive);
- ``connect_json``: Connect with JSON bodies (connect-web's default in browsers);
- ``grpc_web``: gRPC-Web, binary, the same client;
- ``execute``: the gRPC port's ``Execute`` stream, for information (what the clients
  use).

Figures, the sides interleaved: the round trip's p50 and p99, and the server's CPU time
per call. The rows are each door's p50 against ``grpc`` of the same run.
"""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from connectrpc.codec import Codec
from connectrpc.compat import google_protobuf_binary_codec, google_protobuf_json_codec
from connectrpc.protocol import ProtocolType

from bench.measure import Clients, ServerProcess, Settings, latency_sides
from bench.ops import HTTP_PORT_FILE_ENV, OpHostClient
from ophost.v1 import event_pb2, execution_pb2
from ophost.v1 import op_host_service_pb2 as pb
from ophost.v1.op_host_service_connect import OpHostServiceClient

__all__ = ["SIDES", "bench_http_door"]

SIDES = ("grpc", "connect", "connect_json", "grpc_web", "execute")
_SERVICE = "/ophost.v1.OpHostService"


def _start_request() -> pb.StartExecutionRequest:
    start = execution_pb2.ExecutionStart(op_name="add")
    start.inputs.add(name="a").value.int_value = 1
    start.inputs.add(name="b").value.int_value = 2
    return pb.StartExecutionRequest(start=start)


def _check_finished(last: event_pb2.Event | None) -> None:
    if last is None or last.WhichOneof("kind") != "execution_finished":
        raise RuntimeError(f"the stream ended without execution_finished: {last}")
    if last.execution_finished.status != event_pb2.EXECUTION_STATUS_SUCCEEDED:
        raise RuntimeError(f"add did not succeed: {last}")


def _grpc_caller(channel: grpc.aio.Channel) -> Callable[[], Awaitable[object]]:
    start = channel.unary_unary(
        f"{_SERVICE}/StartExecution",
        request_serializer=pb.StartExecutionRequest.SerializeToString,
        response_deserializer=pb.StartExecutionResponse.FromString,
    )
    events = channel.unary_stream(
        f"{_SERVICE}/StreamEvents",
        request_serializer=pb.StreamEventsRequest.SerializeToString,
        response_deserializer=pb.StreamEventsResponse.FromString,
    )
    request = _start_request()

    async def call() -> None:
        started = await start(request)
        last = None
        async for batch in events(pb.StreamEventsRequest(execution_id=started.execution.id)):
            last = batch.events[-1]
        _check_finished(last)

    return call


def _connect_caller(client: OpHostServiceClient) -> Callable[[], Awaitable[object]]:
    request = _start_request()

    async def call() -> None:
        started = await client.start_execution(request)
        last = None
        async for batch in client.stream_events(
            pb.StreamEventsRequest(execution_id=started.execution.id)
        ):
            last = batch.events[-1]
        _check_finished(last)

    return call


def _execute_caller(channel: grpc.aio.Channel) -> Callable[[], Awaitable[object]]:
    client = OpHostClient(channel)
    request = OpHostClient.request("add", a=1, b=2)
    return lambda: client.execute(request)


async def bench_http_door(c: Clients, s: Settings) -> dict[str, Any]:
    del c  # this benchmark starts a server of its own, with its door open
    with tempfile.TemporaryDirectory(prefix="ophost-bench-http-") as folder:
        port_file = Path(folder) / "http-port"
        env = {HTTP_PORT_FILE_ENV: str(port_file)}
        server = ServerProcess("bench.ops", profile_dir=None, env=env)
        try:
            base = f"http://127.0.0.1:{int(port_file.read_text(encoding='ascii'))}"
            async with grpc.aio.insecure_channel(server.address) as channel:
                clients: dict[str, OpHostServiceClient] = {}
                codecs: dict[str, Codec] = {
                    "connect": google_protobuf_binary_codec(),
                    "connect_json": google_protobuf_json_codec(),
                    "grpc_web": google_protobuf_binary_codec(),
                }
                for name, codec in codecs.items():
                    protocol = ProtocolType.GRPC_WEB if name == "grpc_web" else ProtocolType.CONNECT
                    clients[name] = OpHostServiceClient(base, codec=codec, protocol=protocol)
                try:
                    calls: dict[str, Callable[[], Awaitable[object]]] = {
                        "grpc": _grpc_caller(channel),
                        **{name: _connect_caller(client) for name, client in clients.items()},
                        "execute": _execute_caller(channel),
                    }
                    result = await latency_sides(calls, dict.fromkeys(calls, server), s)
                finally:
                    for client in clients.values():
                        await client.close()
        finally:
            server.stop()
    result["sides"] = list(SIDES)
    result["door"] = "hypercorn on the host's asyncio loop, same process as the gRPC port"
    return result
