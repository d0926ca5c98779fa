"""A TCP proxy whose connections a test can reset, as a broken network would."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType


class CuttableProxy:
    """Forwards TCP connections to ``upstream``; :meth:`cut` resets all of them.

    With ``cut_after_bytes``, the first connection is cut as soon as that many bytes
    went from the server to the client. With ``cut_each_after_bytes``, every
    connection is reset once it alone carried that many bytes from the server, up
    to ``max_cuts`` resets in all. :meth:`refuse` stops accepting connections.
    """

    def __init__(
        self,
        upstream: str,
        *,
        cut_after_bytes: int | None = None,
        cut_each_after_bytes: int | None = None,
        max_cuts: int = 0,
    ) -> None:
        host, _, port = upstream.rpartition(":")
        self._upstream = (host, int(port))
        self.cut_after_bytes = cut_after_bytes
        self.cut_each_after_bytes = cut_each_after_bytes
        self.max_cuts = max_cuts
        self.connections = 0
        self.cuts = 0
        self.downstream_bytes = 0
        self.address = ""
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> CuttableProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.address = f"127.0.0.1:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.refuse()
        self.cut()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        assert self._server is not None
        await self._server.wait_closed()

    def refuse(self) -> None:
        assert self._server is not None
        self._server.close()

    def cut(self) -> None:
        """Reset every open connection (both sides), as a broken network would."""
        self.cuts += 1
        for writer in list(self._writers):
            writer.transport.abort()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.transport.abort()
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer),
                self._pipe(up_reader, writer, connection=(writer, up_writer)),
            )
        finally:
            for w in (writer, up_writer):
                w.transport.abort()
                self._writers.discard(w)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        connection: tuple[asyncio.StreamWriter, asyncio.StreamWriter] | None = None,
    ) -> None:
        """Copy ``reader`` to ``writer``; ``connection`` (both ends) is given downstream."""
        carried = 0
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(64 * 1024):
                writer.write(data)
                await writer.drain()
                if connection is not None:
                    carried += len(data)
                    self.downstream_bytes += len(data)
                    each = self.cut_each_after_bytes
                    if each is not None and carried >= each and self.cuts < self.max_cuts:
                        self.cuts += 1
                        for end in connection:
                            end.transport.abort()
                        break
                    limit = self.cut_after_bytes
                    if limit is not None and self.downstream_bytes >= limit:
                        self.cut_after_bytes = None
                        self.cut()
        # One side ended: end the other too.
        writer.transport.abort()
