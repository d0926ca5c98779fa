"""The bare gRPC baseline: a tiny echo service with no .proto file and no protobuf.

Every method moves raw bytes (no serializer and no deserializer: gRPC hands the bytes
through untouched), so the baseline measures gRPC itself (HTTP/2, grpcio's C core and
its asyncio glue) without any message encoding or application logic:

- ``Unary``: one request in, the same bytes back.
- ``Five``: bidi stream; for the first request, the same bytes back five times, then
  the stream ends with OK (the shape of an ophost ``Execute``: a few messages back).
- ``Chunks``: server stream; the request is ``<total bytes, chunk size>`` (two
  little-endian uint64) and the server sends ``total`` bytes in ``chunk size`` pieces,
  building the value first as an op returning ``bytes`` would.
- ``Load`` / ``Replay``: ``Load`` (client stream) keeps the messages it is sent, already
  encoded; ``Replay`` (server stream) sends them back, in order, as they are. The
  events benchmark loads the responses of one real ``many_events`` execution, so the
  baseline stream carries the same pre-encoded events in the same batch sizes.
- ``Upload``: client stream of chunks, joined into one value as a server receiving
  a large input must; the reply is its length (8 bytes, little-endian).

Run ``python -m bench.baseline`` to serve it (prints the port, stops when stdin closes).
"""

from __future__ import annotations

import struct
import time
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any

import grpc

from bench import serve_until_stdin_closes

__all__ = [
    "CHUNKS_REQUEST",
    "COUNT",
    "SERVICE",
    "BaselineClient",
    "BaselineServer",
    "handler",
    "main",
]

SERVICE = "ophostbench.Baseline"
CHUNKS_REQUEST = struct.Struct("<QQ")
COUNT = struct.Struct("<Q")
FIVE = 5
# The same message size limits as OpHostServer's default Limits.
MAX_MESSAGE_BYTES = 4 << 20

_Context = grpc.aio.ServicerContext[bytes, bytes]


async def _unary(request: bytes, context: _Context) -> bytes:
    return request


async def _five(requests: AsyncIterator[bytes], context: _Context) -> AsyncIterator[bytes]:
    async for request in requests:
        for _ in range(FIVE):
            yield request
        return


async def _chunks(request: bytes, context: _Context) -> AsyncIterator[bytes]:
    total, chunk_size = CHUNKS_REQUEST.unpack(request)
    value = b"x" * total
    view = memoryview(value)
    for offset in range(0, total, chunk_size):
        yield bytes(view[offset : offset + chunk_size])


_loaded: list[bytes] = []


async def _load(requests: AsyncIterator[bytes], context: _Context) -> bytes:
    _loaded.clear()
    async for message in requests:
        _loaded.append(message)
    return COUNT.pack(len(_loaded))


async def _replay(request: bytes, context: _Context) -> AsyncIterator[bytes]:
    for message in _loaded:
        yield message


async def _upload(requests: AsyncIterator[bytes], context: _Context) -> bytes:
    pieces = [chunk async for chunk in requests]
    value = b"".join(pieces)  # one buffer, as the value an op receives
    return COUNT.pack(len(value))


def handler() -> grpc.GenericRpcHandler:
    """The baseline service: bytes in, bytes out (``None`` serializers pass bytes through)."""
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Unary": grpc.unary_unary_rpc_method_handler(_unary),
            "Five": grpc.stream_stream_rpc_method_handler(_five),
            "Chunks": grpc.unary_stream_rpc_method_handler(_chunks),
            "Load": grpc.stream_unary_rpc_method_handler(_load),
            "Replay": grpc.unary_stream_rpc_method_handler(_replay),
            "Upload": grpc.stream_unary_rpc_method_handler(_upload),
        },
    )


class BaselineServer:
    """A ``grpc.aio`` server with only the baseline service; an async context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._requested_port = port
        self._server: grpc.aio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> BaselineServer:
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ]
        )
        server.add_generic_rpc_handlers((handler(),))
        self.port = server.add_insecure_port(f"{self._host}:{self._requested_port}")
        await server.start()
        self._server = server
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            await self._server.stop(1.0)
            self._server = None


class BaselineClient:
    """Calls the baseline service on ``channel``, reading every response to the end."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._unary: Any = channel.unary_unary(f"/{SERVICE}/Unary")
        self._five: Any = channel.stream_stream(f"/{SERVICE}/Five")
        self._chunks: Any = channel.unary_stream(f"/{SERVICE}/Chunks")
        self._load: Any = channel.stream_unary(f"/{SERVICE}/Load")
        self._replay: Any = channel.unary_stream(f"/{SERVICE}/Replay")
        self._upload: Any = channel.stream_unary(f"/{SERVICE}/Upload")

    async def unary(self, payload: bytes) -> int:
        """One unary echo; returns the number of bytes that came back."""
        reply: bytes = await self._unary(payload)
        return len(reply)

    async def five(self, payload: bytes) -> int:
        """One request on a bidi stream, read to the end; returns the messages received."""
        call = self._five()
        await call.write(payload)
        await call.done_writing()
        received = 0
        async for _ in call:
            received += 1
        if received != FIVE:
            raise RuntimeError(f"baseline Five sent {received} messages, expected {FIVE}")
        return received

    async def chunks(self, total: int, chunk_size: int) -> int:
        """A chunked transfer of ``total`` bytes, read to the end; returns the bytes received."""
        received = 0
        async for chunk in self._chunks(CHUNKS_REQUEST.pack(total, chunk_size)):
            received += len(chunk)
        if received != total:
            raise RuntimeError(f"baseline Chunks sent {received} bytes, expected {total}")
        return received

    async def load(self, messages: list[bytes]) -> None:
        """Keep ``messages`` on the server for :meth:`replay`."""
        reply: bytes = await self._load(iter(messages))
        (count,) = COUNT.unpack(reply)
        if count != len(messages):
            raise RuntimeError(f"baseline Load kept {count} messages, sent {len(messages)}")

    async def replay(self, parse: Callable[[bytes], int]) -> tuple[int, float]:
        """The loaded messages, each passed to ``parse`` (which counts its events).

        Returns the events counted and the seconds from the call to the last message.
        """
        began = time.perf_counter()
        events = 0
        async for message in self._replay(b""):
            events += parse(message)
        return events, time.perf_counter() - began

    async def upload(self, pieces: list[bytes]) -> int:
        """Send ``pieces`` on a client stream; returns the length the server joined."""
        reply: bytes = await self._upload(iter(pieces))
        (size,) = COUNT.unpack(reply)
        return int(size)


def main() -> None:
    serve_until_stdin_closes("baseline", BaselineServer)


if __name__ == "__main__":
    main()
