"""One end of a worker's socket: frames read on the loop, written from any thread.

Both ends of a worker session use it. Frames are read on the event loop, either one at
a time (:meth:`FrameChannel.read`, for a handshake) or handed to a callback as they
arrive, in the same turn of the loop (:meth:`FrameChannel.listen`: no task wakes up
per message). A worker writes from its loop (pings, acceptances, the outcomes of async
bodies) and from the thread running a sync body (that body's events and outcome, as
they are made, without waiting for the loop): :meth:`FrameChannel.send` is
thread-safe and never blocks. What the socket does not take at once waits, in order,
until the loop sees the socket writable again; every later write queues behind it.
How much can wait is bounded by the acknowledgement window of each attempt.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import threading
from collections.abc import Callable

from ophost.execution._frames import LENGTH, FrameError

__all__ = ["FrameChannel"]

_READ_SIZE = 256 * 1024


class FrameChannel:
    """Frames over ``sock`` (made non-blocking); frames above ``max_bytes`` are refused."""

    def __init__(
        self, sock: socket.socket, loop: asyncio.AbstractEventLoop, max_bytes: int
    ) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._fd = sock.fileno()
        self._loop = loop
        self.max_bytes = max_bytes
        # -- reading (on the loop)
        self._inbox = bytearray()
        self._frames: collections.deque[bytes] = collections.deque()
        self._ended = False  # the host closed its end (or the stream broke)
        self._problem: FrameError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._on_frame: Callable[[bytes], None] | None = None
        self._listening: asyncio.Future[None] | None = None
        # -- writing (any thread)
        self._lock = threading.Lock()
        self._backlog = bytearray()  # what the socket did not take yet
        self._watching = False  # the loop waits for the socket to be writable
        self._emptied = asyncio.Event()  # set by the loop when the backlog empties
        self._closed = False
        loop.add_reader(self._fd, self._readable)

    # -- reading ------------------------------------------------------------------------------

    def _readable(self) -> None:
        try:
            data = self._sock.recv(_READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            if self._inbox:
                self._problem = FrameError(
                    f"the stream ended inside a frame ({len(self._inbox)} bytes of it came)"
                )
            self._stop_reading()
            return
        inbox = self._inbox
        inbox += data
        start = 0
        size = len(inbox)
        problem = None
        with memoryview(inbox) as view:
            while size - start >= 4:
                (length,) = LENGTH.unpack_from(view, start)
                if length > self.max_bytes:
                    problem = FrameError(
                        f"a frame of {length} bytes is above the limit of {self.max_bytes}"
                    )
                    break
                if size - start - 4 < length:
                    break
                self._frames.append(bytes(view[start + 4 : start + 4 + length]))
                start += 4 + length
        if problem is not None:
            if self._on_frame is not None:
                self._deliver()  # what came whole before the bad frame
            self._problem = problem
            self._stop_reading()
            return
        if start:
            del inbox[:start]
        if self._on_frame is not None:
            self._deliver()
        elif self._frames:
            self._wake()

    def _deliver(self) -> None:
        on_frame = self._on_frame
        assert on_frame is not None
        frames = self._frames
        try:
            while frames:
                on_frame(frames.popleft())
        except BaseException as exc:  # noqa: BLE001 - the listener's own error ends it
            self._stop_listening(exc)

    def _stop_reading(self) -> None:
        if not self._ended:
            self._ended = True
            self._loop.remove_reader(self._fd)
        self._wake()
        if self._on_frame is not None:
            self._stop_listening(self._problem)

    def _stop_listening(self, exc: BaseException | None) -> None:
        self._on_frame = None
        if not self._ended:
            self._ended = True
            self._loop.remove_reader(self._fd)
        done = self._listening
        if done is not None and not done.done():
            if exc is None:
                done.set_result(None)
            else:
                done.set_exception(exc)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def read(self) -> bytes | None:
        """The next frame; None once the host closed its end between frames. Raises
        :class:`FrameError` when the stream broke inside a frame or a frame is too long."""
        while not self._frames:
            if self._problem is not None:
                raise self._problem
            if self._ended:
                return None
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._frames.popleft()

    async def listen(self, on_frame: Callable[[bytes], None]) -> None:
        """Hand each frame to ``on_frame`` as it arrives, until the peer closes its end.

        Raises :class:`FrameError` when the stream breaks, or what ``on_frame`` raised
        (no frame is read after that).
        """
        self._listening = self._loop.create_future()
        self._on_frame = on_frame
        self._deliver()
        if self._ended and self._on_frame is not None:
            self._stop_listening(self._problem)
        await self._listening

    # -- writing ------------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Write ``data`` (whole frames) after everything sent before it; from any thread."""
        with self._lock:
            if self._closed:
                return
            if self._backlog:
                self._backlog += data
                return
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self._closed = True  # the host is gone; the reader sees the end
                return
            if sent < len(data):
                self._backlog += memoryview(data)[sent:]
                self._watching = True
                with contextlib.suppress(RuntimeError):  # the loop is closed: the end
                    self._loop.call_soon_threadsafe(self._watch)

    def _watch(self) -> None:
        with self._lock:
            if self._closed or not self._backlog:
                return
        self._loop.add_writer(self._fd, self._writable)

    def _writable(self) -> None:
        with self._lock:
            try:
                sent = self._sock.send(self._backlog)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._closed = True
                sent = len(self._backlog)
            del self._backlog[:sent]
            if self._backlog:
                return
            self._watching = False
        self._loop.remove_writer(self._fd)
        self._emptied.set()

    @property
    def closed(self) -> bool:
        """True once closed, or once the peer's end is gone for writing."""
        return self._closed

    @property
    def backlog(self) -> int:
        """How many bytes wait for the socket."""
        return len(self._backlog)

    async def drain(self) -> None:
        """Wait until everything sent so far has left (or the connection is gone)."""
        while True:
            with self._lock:
                if self._closed or not self._backlog:
                    return
            self._emptied.clear()
            await self._emptied.wait()

    def close(self) -> None:
        """Stop reading and writing, and close the socket."""
        with self._lock:
            self._closed = True
            watching = self._watching
            self._backlog.clear()
        if watching:
            self._loop.remove_writer(self._fd)
        if not self._ended:
            self._ended = True
            self._loop.remove_reader(self._fd)
        self._emptied.set()
        done = self._listening
        if done is not None and not done.done():
            done.set_result(None)
        self._sock.close()
