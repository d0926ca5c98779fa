"""The Python worker: runs the attempts a host assigns, speaking the worker protocol.

A worker process loads the same ops as its host, says hello, registers their
definitions and then serves assignments. A sync body (a decorated function or
generator) runs in a thread of the worker that writes the attempt's events and
outcome to the host itself (:class:`~ophost.execution._worker_attempt.SyncAttempt`);
any other body runs in a :class:`~ophost.execution.ThreadExecutor` (async ones on the
worker's loop), exactly as attempts run in a host, its events forwarded by the loop.
Either way events go back as event tails, written here once and stored by the host as
they are, and wait for the host's acknowledgement beyond a window, so a slow host
slows the op, not the worker's memory. Resources are the ones the loaded module
built, once per worker.

The messages are ``ophost.v1`` worker messages (``protos/ophost/v1/worker.proto``);
:mod:`ophost.execution._frames` frames them and
:class:`~ophost.execution._frame_channel.FrameChannel` carries them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import resource
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError

from ophost._version import __version__
from ophost.codec import definitions as definitions_codec
from ophost.codec.chunks import ChunkAssembler
from ophost.definitions import (
    ErrorSource,
    StepFailed,
)
from ophost.errors import OpHostError
from ophost.execution._attempt import (
    Attempt,
    AttemptFailed,
    AttemptOutcome,
    AttemptRequest,
    EngineEvent,
)
from ophost.execution._error_data import error_data
from ophost.execution._frame_channel import FrameChannel
from ophost.execution._frames import PROTOCOL_VERSION, FrameError, frame
from ophost.execution._loader import LoadedOps
from ophost.execution._remote_attempt import (
    attempt_request,
    ends_worker,
    event_tails,
    finished_message,
    output_encoder,
    split_batches,
)
from ophost.execution._tails import EventWriter
from ophost.execution._thread_executor import ThreadExecutor, is_sync_body
from ophost.execution._worker_attempt import TICK_SECONDS, BodyThreads, SyncAttempt
from ophost.v1 import execution_pb2, worker_pb2

__all__ = ["NO_ATTEMPT_CONTEXT", "AttemptContext", "WorkerProtocolError", "run_worker"]

# The largest frame a worker reads before the host's welcome says otherwise.
_FIRST_FRAME_LIMIT = 64 * 1024 * 1024
# How long an attempt's acceptance may wait to leave with what the attempt sends next.
_HOLD_SECONDS = 0.005

_log = logging.getLogger("ophost.worker")


class WorkerProtocolError(OpHostError):
    """The host said something the worker cannot follow; the session ends."""


# Entered around the start of each attempt, given its execution id, op and attempt
# number: what it makes current is what the attempt's code runs in (log fields, say).
AttemptContext = Callable[[str, str, int], contextlib.AbstractContextManager[object]]


def _no_context(execution_id: str, op_name: str, attempt: int) -> contextlib.nullcontext[None]:
    return contextlib.nullcontext()


NO_ATTEMPT_CONTEXT: AttemptContext = _no_context


async def run_worker(
    sock: socket.socket,
    loaded: LoadedOps,
    attempt_context: AttemptContext = _no_context,
) -> None:
    """Serve one session with the host connected on ``sock`` until it closes the
    connection; the socket is closed at the end."""
    channel = FrameChannel(sock, asyncio.get_running_loop(), _FIRST_FRAME_LIMIT)
    try:
        await _Session(channel, loaded, attempt_context).run()
    finally:
        channel.close()


@dataclass
class _Running:
    """One attempt this worker runs."""

    attempt_id: str
    fence: int
    execution_id: str
    number: int
    start: execution_pb2.ExecutionStart
    memory_limit: int
    writer: EventWriter
    accepted: bytes = b""  # the acceptance frame, until it is sent
    attempt: Attempt | None = None
    sync: SyncAttempt | None = None  # a sync body, sending its own frames
    task: asyncio.Task[None] | None = None
    sent: int = 0
    acked: int = 0
    # The frames sent and not yet acknowledged: (count after the frame, its bytes).
    unacked: collections.deque[tuple[int, int]] = field(default_factory=collections.deque)
    unacked_bytes: int = 0
    acks: asyncio.Event = field(default_factory=asyncio.Event)
    revoked: bool = False
    chunks: ChunkAssembler | None = None
    waiting_for: set[str] = field(default_factory=set)


class _Session:
    def __init__(
        self,
        channel: FrameChannel,
        loaded: LoadedOps,
        attempt_context: AttemptContext = _no_context,
    ) -> None:
        self._attempt_context = attempt_context
        self._channel = channel
        self._loaded = loaded
        self._executor = ThreadExecutor()
        self._threads = BodyThreads()
        self._ticking: asyncio.TimerHandle | None = None  # while sync bodies run
        self._welcome = worker_pb2.WorkerWelcome()
        self._accepted: set[str] = set()
        self._running: dict[str, _Running] = {}
        self._last_sent = time.monotonic()
        self._outgoing: list[bytes] = []
        self._flush_soon = False  # a flush is scheduled for this turn of the loop
        self._held: asyncio.TimerHandle | None = None  # the flush of held messages

    # -- sending -------------------------------------------------------------------------

    def _send(self, message: worker_pb2.WorkerMessage) -> None:
        """Queue a message; what is queued in one turn of the loop leaves in one write."""
        self._outgoing.append(frame(message.SerializeToString()))
        if not self._flush_soon:
            self._flush_soon = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _hold(self, framed: bytes) -> None:
        """Queue a frame that can wait: it leaves with the next one sent, or after
        :data:`_HOLD_SECONDS` (a short attempt's acceptance goes with its outcome, in one
        write instead of two)."""
        self._outgoing.append(framed)
        if self._held is None and not self._flush_soon:
            self._held = asyncio.get_running_loop().call_later(_HOLD_SECONDS, self._flush)

    async def _drain(self) -> None:
        self._flush()
        await self._channel.drain()

    def _flush(self) -> None:
        self._flush_soon = False
        if self._held is not None:
            self._held.cancel()
            self._held = None
        if self._outgoing:
            self._channel.send(b"".join(self._outgoing))
            self._outgoing.clear()
            self._last_sent = time.monotonic()

    # -- the session ---------------------------------------------------------------------

    async def run(self) -> None:
        ops = self._loaded.ops
        self._send(
            worker_pb2.WorkerMessage(
                hello=worker_pb2.WorkerHello(
                    worker_id=uuid.uuid4().hex,
                    language="python",
                    sdk_version=__version__,
                    protocol_versions=[PROTOCOL_VERSION],
                    slots=1,
                    pid=os.getpid(),
                )
            )
        )
        self._send(
            worker_pb2.WorkerMessage(
                register=worker_pb2.WorkerRegister(
                    ops=[definitions_codec.to_proto(op) for op in ops.values()]
                )
            )
        )
        await self._drain()
        self._welcome = (await self._expect("welcome")).welcome
        self._channel.max_bytes = self._welcome.max_frame_bytes or _FIRST_FRAME_LIMIT
        registered = (await self._expect("registered")).registered
        for op in registered.ops:
            if op.accepted:
                self._accepted.add(op.name)
            else:
                _log.warning("the host refused op %s: %s", op.name, op.reason)
        pinger = asyncio.get_running_loop().create_task(self._ping())
        try:
            # Each message is handled as soon as its bytes are read, in that turn of the
            # loop. What waits to be written is bounded by the attempts' windows.
            await self._channel.listen(self._on_frame)
        except FrameError as exc:
            raise WorkerProtocolError(f"the host's stream is broken: {exc}") from None
        finally:
            pinger.cancel()
            if self._ticking is not None:
                self._ticking.cancel()
            for running in list(self._running.values()):
                if running.sync is not None:
                    running.sync.cancel(0.0)
                elif running.attempt is not None:
                    running.attempt.cancel(0.0)

    async def _read(self) -> worker_pb2.HostMessage | None:
        try:
            data = await self._channel.read()
        except FrameError as exc:
            raise WorkerProtocolError(f"the host's stream is broken: {exc}") from None
        if data is None:
            return None
        return _decoded(data)

    def _on_frame(self, data: bytes) -> None:
        self._handle(_decoded(data))

    async def _expect(self, kind: str) -> worker_pb2.HostMessage:
        message = await self._read()
        if message is None:
            raise WorkerProtocolError(f"the host closed the session before its {kind}")
        got = message.WhichOneof("kind")
        if got != kind:
            raise WorkerProtocolError(f"expected the host's {kind}, got {got or 'nothing'}")
        return message

    async def _ping(self) -> None:
        interval = _seconds(self._welcome.ping_interval) or 1.0
        while True:
            await asyncio.sleep(interval / 2)
            if time.monotonic() - self._last_sent >= interval / 2:
                self._send(worker_pb2.WorkerMessage(ping=worker_pb2.WorkerPing()))

    def _handle(self, message: worker_pb2.HostMessage) -> None:
        kind = message.WhichOneof("kind")
        if kind == "assign":
            self._assign(message.assign)
        elif kind == "input_chunk":
            self._input_chunk(message.input_chunk)
        elif kind == "ack":
            running = self._running.get(message.ack.attempt_id)
            if running is not None and running.sync is not None:
                running.sync.acknowledge(message.ack.count)
            elif running is not None and message.ack.count > running.acked:
                running.acked = message.ack.count
                running.acks.set()
        elif kind == "cancel":
            running = self._running.get(message.cancel.attempt_id)
            if running is not None and running.sync is not None:
                running.sync.cancel(_seconds(message.cancel.grace))
            elif running is not None and running.attempt is not None:
                running.attempt.cancel(_seconds(message.cancel.grace))
        elif kind == "revoke":
            running = self._running.pop(message.revoke.attempt_id, None)
            if running is not None:
                running.revoked = True
                running.acks.set()
                if running.sync is not None:
                    running.sync.revoke()
                elif running.attempt is not None:
                    running.attempt.cancel(0.0)
        elif kind in ("pong", "drain"):
            pass
        else:
            raise WorkerProtocolError(f"unexpected message from the host: {kind or 'empty'}")

    # -- attempts --------------------------------------------------------------------------

    def _assign(self, assign: worker_pb2.AttemptAssign) -> None:
        start = assign.start
        for attempt_id in [i for i, r in self._running.items() if r.sync and r.sync.done]:
            del self._running[attempt_id]  # sync bodies that sent their outcome
        running = _Running(
            attempt_id=assign.attempt_id,
            fence=assign.fence,
            execution_id=assign.execution_id,
            number=assign.attempt,
            start=start,
            memory_limit=assign.limits.memory_bytes,
            writer=EventWriter(start.op_name),
        )
        self._running[assign.attempt_id] = running
        running.accepted = frame(
            worker_pb2.WorkerMessage(
                accepted=worker_pb2.AttemptAccepted(
                    attempt_id=assign.attempt_id, fence=assign.fence
                )
            ).SerializeToString()
        )
        for named in start.inputs:
            if named.value.WhichOneof("kind") == "chunked_value":
                if running.chunks is None:
                    running.chunks = ChunkAssembler(max_total_bytes=1 << 62)
                ref = named.value.chunked_value
                running.chunks.expect(ref, path=f"inputs.{named.name}")
                running.waiting_for.add(ref.value_id)
        if running.waiting_for:
            self._hold(running.accepted)
            running.accepted = b""
        else:
            self._launch(running)

    def _input_chunk(self, message: worker_pb2.AttemptInputChunk) -> None:
        running = self._running.get(message.attempt_id)
        if running is None or running.chunks is None:
            raise WorkerProtocolError(f"an input chunk for unknown attempt {message.attempt_id}")
        running.chunks.add(message.chunk)
        value_id = message.chunk.value_id
        if running.chunks.complete(value_id):
            running.waiting_for.discard(value_id)
            if not running.waiting_for:
                self._launch(running)

    def _launch(self, running: _Running) -> None:
        """Start the attempt now, in this turn of the loop (a sync body's thread starts
        at once), and forward what it produces from a task."""
        failure: AttemptOutcome | None = None
        limited = False
        try:
            request = self._request(running)
            if running.memory_limit:
                limited = _limit_memory(running.memory_limit)
            with self._attempt_context(running.execution_id, running.start.op_name, running.number):
                if is_sync_body(request):
                    running.sync = self._sync_attempt(running, request, limited)
                    return
                running.attempt = self._executor.start(request)
        except WorkerProtocolError:
            if limited:
                _unlimit_memory()
            raise
        except Exception as exc:  # noqa: BLE001 - preparing the attempt failed: its outcome
            failure = AttemptFailed(
                StepFailed(error=error_data(exc), error_source=ErrorSource.FRAMEWORK), exc
            )
        if running.accepted:
            self._hold(running.accepted)
            running.accepted = b""
        running.task = asyncio.get_running_loop().create_task(
            self._run_attempt(running, failure, limited)
        )

    def _sync_attempt(
        self, running: _Running, request: AttemptRequest, limited: bool
    ) -> SyncAttempt:
        welcome = self._welcome
        accepted = running.accepted
        running.accepted = b""
        if self._ticking is None:
            self._ticking = asyncio.get_running_loop().call_later(TICK_SECONDS, self._tick)
        return SyncAttempt(
            request,
            attempt_id=running.attempt_id,
            fence=running.fence,
            channel=self._channel,
            writer=running.writer,
            window=welcome.max_unacked_events or 4096,
            window_bytes=welcome.max_unacked_bytes or 16 << 20,
            accepted=accepted,
            memory_limit=running.memory_limit,
            limited=limited,
            release=_unlimit_memory,
            retire=self._retire,
            threads=self._threads,
        )

    def _tick(self) -> None:
        """Have each running sync body send what waited too long; again while any runs."""
        self._ticking = None
        now = time.monotonic()
        running = [r.sync.tick(now) for r in self._running.values() if r.sync is not None]
        if any(running):
            self._ticking = asyncio.get_running_loop().call_later(TICK_SECONDS, self._tick)

    def _retire(self) -> None:
        """End this worker soon: it said it takes nothing more (a body given up on)."""
        self._flush()
        asyncio.get_running_loop().create_task(self._exit_after_drain())

    async def _exit_after_drain(self) -> None:
        await self._channel.drain()
        _exit_soon()

    async def _run_attempt(
        self, running: _Running, failure: AttemptOutcome | None, limited: bool
    ) -> None:
        outcome: AttemptOutcome
        try:
            if failure is not None:
                outcome = failure
            else:
                assert running.attempt is not None
                outcome = await self._forward(running, running.attempt)
        finally:
            if limited:
                _unlimit_memory()
        if running.revoked:
            return
        self._running.pop(running.attempt_id, None)
        message = _finished(running, outcome, memory_limited=limited)
        # A worker that must end says so first (no free slots), so the host assigns it
        # nothing more and starts another.
        retiring = ends_worker(outcome, message)
        if retiring:
            self._send(worker_pb2.WorkerMessage(capacity=worker_pb2.WorkerCapacity(free_slots=0)))
        self._send(worker_pb2.WorkerMessage(finished=message))
        await self._drain()
        if retiring:
            _exit_soon()

    def _request(self, running: _Running) -> AttemptRequest:
        start = running.start
        op_def = self._loaded.ops.get(start.op_name)
        if op_def is None or start.op_name not in self._accepted:
            raise WorkerProtocolError(f'the host assigned op "{start.op_name}", not registered')
        chunks = running.chunks
        welcome = self._welcome
        return attempt_request(
            op_def,
            start,
            self._loaded.resources,
            execution_id=running.execution_id,
            number=running.number,
            encode_output=output_encoder(
                running.execution_id,
                running.number,
                inline_threshold=welcome.inline_threshold_bytes or 1 << 20,
                chunk_size=welcome.chunk_size_bytes or 1 << 20,
            ),
            chunked=chunks.take_decoded if chunks is not None else None,
        )

    async def _forward(self, running: _Running, attempt: Attempt) -> AttemptOutcome:
        """Send the attempt's events as they come; returns its outcome."""
        while True:
            events, outcome = attempt.take()
            if events:
                await self._send_events(running, events)
            if outcome is not None:
                return outcome
            await attempt.wait()

    async def _send_events(self, running: _Running, events: list[EngineEvent]) -> None:
        tails = event_tails(running.writer, events)
        welcome = self._welcome
        window = welcome.max_unacked_events or 4096
        window_bytes = welcome.max_unacked_bytes or 16 << 20
        # Several frames when a batch is larger than the window allows at once.
        for first, last, size in split_batches(tails, window // 2, window_bytes // 2):
            await self._room(running, window, window_bytes)
            if running.revoked:
                return
            running.sent += last - first
            running.unacked.append((running.sent, size))
            running.unacked_bytes += size
            self._send(
                worker_pb2.WorkerMessage(
                    events=worker_pb2.AttemptEvents(
                        attempt_id=running.attempt_id,
                        fence=running.fence,
                        count=running.sent,
                        events=tails[first:last],
                    )
                )
            )
        if self._channel.backlog > 1 << 20:
            await self._drain()

    async def _room(self, running: _Running, window: int, window_bytes: int) -> None:
        """Wait while the host has not acknowledged enough of what was sent."""
        while not running.revoked:
            unacked = running.unacked
            while unacked and unacked[0][0] <= running.acked:
                running.unacked_bytes -= unacked.popleft()[1]
            if running.sent - running.acked < window and running.unacked_bytes < window_bytes:
                return
            running.acks.clear()
            await running.acks.wait()


def _decoded(data: bytes) -> worker_pb2.HostMessage:
    try:
        return worker_pb2.HostMessage.FromString(data)
    except DecodeError as exc:
        raise WorkerProtocolError(
            f"a message from the host ({len(data)} bytes) does not decode: {exc}"
        ) from None


def _finished(
    running: _Running, outcome: AttemptOutcome, *, memory_limited: bool
) -> worker_pb2.AttemptFinished:
    return finished_message(
        running.attempt_id,
        running.fence,
        running.sent,
        outcome,
        memory_limit=running.memory_limit,
        memory_limited=memory_limited,
    )


# -- the per-attempt memory limit -----------------------------------------------------------


def _limit_memory(limit: int) -> bool:
    """Let the process's address space grow by at most ``limit`` bytes from now on."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[0])
        used = pages * os.sysconf("SC_PAGE_SIZE")
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        wanted = used + limit
        if hard != resource.RLIM_INFINITY:
            wanted = min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
    except (OSError, ValueError):
        _log.warning("the memory limit cannot be set on this system", exc_info=True)
        return False
    return True


def _unlimit_memory() -> None:
    with contextlib.suppress(OSError, ValueError):
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def _exit_soon() -> None:
    """End this worker once what was written has had a moment to leave."""
    asyncio.get_running_loop().call_later(0.05, os._exit, 0)


def _seconds(duration: object) -> float:
    seconds = getattr(duration, "seconds", 0)
    nanos = getattr(duration, "nanos", 0)
    return float(seconds) + float(nanos) / 1e9
