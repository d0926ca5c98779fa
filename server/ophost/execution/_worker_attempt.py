"""A sync body's attempt in a worker process, writing its own frames from its thread.

In a worker, a sync body (a decorated function or generator) runs from start to end in
one thread, as in a host. Its events do not go back through the worker's event loop:
the thread writes them to the host itself (:class:`~ophost.execution._frame_channel.
FrameChannel` is thread-safe), so a short attempt costs the worker one wake-up (the
assignment) and one write (its acceptance, events and outcome together). Events are
sent in batches: a batch leaves once it is :data:`FLUSH_SECONDS` old when the next
event comes, when it is as large as half the acknowledgement window, when the body
ends, or from the loop's tick (every :data:`TICK_SECONDS` while a body runs) when the
body is busy with something else; so they stream live. The thread waits while the host has not
acknowledged a window's worth, so a slow host slows the op.

The loop keeps the rest: acknowledgements, cancels (the body sees the request at its
next event or ``yield``; after the grace the attempt is reported as forced and the
worker retires, since a thread cannot be stopped) and revocations (nothing more is
sent). Exactly one outcome is ever sent, whichever side gets there first.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import logging
import queue
import threading
import time
from collections.abc import Callable

from ophost.definitions import CancelOutcome, ErrorSource
from ophost.execution._attempt import (
    AttemptCanceled,
    AttemptFailed,
    AttemptOutcome,
    AttemptRequest,
    AttemptSucceeded,
    EngineEvent,
)
from ophost.execution._attempt_reports import synthetic_failure
from ophost.execution._attempt_rules import AttemptRules
from ophost.execution._frame_channel import FrameChannel
from ophost.execution._frames import frame
from ophost.execution._remote_attempt import (
    ends_worker,
    event_tails,
    finished_message,
    split_batches,
)
from ophost.execution._tails import EventWriter
from ophost.execution._thread_executor import run_sync_body
from ophost.v1 import worker_pb2

__all__ = ["FLUSH_SECONDS", "TICK_SECONDS", "BodyThreads", "SyncAttempt"]

_log = logging.getLogger("ophost.worker")

# How long an event of a running body (or its acceptance) may wait to go with more.
FLUSH_SECONDS = 0.005
# How often the worker's loop looks for what waited that long, while a sync body runs:
# nothing waits much more than FLUSH_SECONDS + TICK_SECONDS.
TICK_SECONDS = FLUSH_SECONDS / 2

_RETIRE = frame(
    worker_pb2.WorkerMessage(capacity=worker_pb2.WorkerCapacity(free_slots=0)).SerializeToString()
)


class BodyThreads:
    """The threads sync bodies run in: an idle one takes the next body, else a new one
    starts. They are daemon threads: a body given up on does not hold the process."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._started = 0

    def submit(self, job: Callable[[], object]) -> None:
        with self._lock:
            start = self._idle == 0
            if start:
                self._started += 1
            else:
                self._idle -= 1
        self._jobs.put(job)
        if start:
            threading.Thread(
                target=self._serve, name=f"ophost-op_{self._started}", daemon=True
            ).start()

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:  # noqa: BLE001 - a fault of the worker: logged, the thread goes on
                _log.exception("a body's thread failed")
            with self._lock:
                self._idle += 1


class SyncAttempt:
    """One attempt of a sync body, run in one of ``threads``.

    ``accepted`` is the acceptance frame, sent with the first frame the attempt sends
    (or from the first tick). ``finish`` is called in the loop's thread or the body's,
    once, with the outcome about to be sent; it returns the frames to send before it
    (a retirement notice) and whether the worker must then end. ``retire`` is called
    on the loop when the worker must end (after an abandoned body).
    """

    def __init__(
        self,
        request: AttemptRequest,
        *,
        attempt_id: str,
        fence: int,
        channel: FrameChannel,
        writer: EventWriter,
        window: int,
        window_bytes: int,
        accepted: bytes,
        memory_limit: int,
        limited: bool,
        release: Callable[[], None],
        retire: Callable[[], None],
        threads: BodyThreads,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.attempt_id = attempt_id
        self._fence = fence
        self._channel = channel
        self._writer = writer
        self._window = window
        self._window_bytes = window_bytes
        self._memory_limit = memory_limit
        self._limited = limited
        self._release = release  # lifts the memory limit, in the body's thread
        self._retire = retire
        # Guarded by _room's lock: what waits to be sent, and the window's state.
        self._room = threading.Condition(threading.Lock())
        self._prefix = accepted
        # Events the body made, not yet written as tails: appended without the lock
        # (atomic), taken from the left under it, so none is lost to a race.
        self._made: collections.deque[EngineEvent] = collections.deque()
        self._since = 0.0  # when the oldest event not sent yet was made
        self._pending: list[bytes] = []  # tails not sent yet
        self._sent = 0
        self._acked = 0
        self._unacked: collections.deque[tuple[int, int]] = collections.deque()
        self._unacked_bytes = 0
        self._closed = False  # the outcome was sent, or the attempt was taken back
        self._stop = False
        self._grace: asyncio.TimerHandle | None = None
        self._began = time.monotonic()
        self._rules = AttemptRules(request, self._emit, self._stop_requested)
        # The thread runs in a copy of the current context: what the worker made current
        # for the attempt (its log fields) is current there.
        context = contextvars.copy_context()
        threads.submit(lambda: context.run(self._run))

    @property
    def done(self) -> bool:
        return self._closed

    def _stop_requested(self) -> bool:
        return self._stop

    # -- in the body's thread -----------------------------------------------------------------

    def _run(self) -> None:
        outcome = run_sync_body(self._rules, self._stop_requested)
        if self._limited:
            self._release()
        if not isinstance(outcome, (AttemptSucceeded, AttemptFailed, AttemptCanceled)):
            # Only a hand-built body continues on a loop; those do not run here.
            outcome = synthetic_failure(
                self._rules.request,
                ErrorSource.FRAMEWORK,
                "ophost.WorkerError",
                "the body asked to continue on the event loop",
            )
        self._end(outcome)

    def _emit(self, event: EngineEvent) -> None:
        if self._closed:
            return  # taken back, or given up on: nothing more is sent
        made = self._made
        made.append(event)
        waiting = len(made)
        if waiting == 1:
            self._since = time.monotonic()
        if waiting < self._window // 2 and time.monotonic() - self._since < FLUSH_SECONDS:
            return
        with self._room:
            if not self._closed:
                self._send(self._push(wait=True))

    def _end(self, outcome: AttemptOutcome) -> None:
        with self._room:
            if self._closed:
                return
            parts = self._push(wait=True)
            if not self.done:  # not taken back while it waited for the window
                self._close_with(outcome, parts)

    # -- either thread, holding _room's lock ------------------------------------------------------

    def _send(self, parts: list[bytes]) -> None:
        if parts:
            self._channel.send(b"".join(parts))

    def _push(self, *, wait: bool) -> list[bytes]:
        """Frame the pending tails as far as the window allows, and the held acceptance;
        returns the frames for the caller to send (with what it sends next). With
        ``wait``, frames are sent and acknowledgements awaited until every pending tail
        is framed (or the attempt is closed)."""
        parts: list[bytes] = [self._prefix] if self._prefix else []
        self._prefix = b""
        made = self._made
        pending = self._pending
        if made:
            pending.extend(event_tails(self._writer, [made.popleft() for _ in range(len(made))]))
        while pending and not self._closed:
            for first, last, size in split_batches(
                pending, self._window // 2, self._window_bytes // 2
            ):
                self._settle()
                if (
                    self._sent - self._acked >= self._window
                    or self._unacked_bytes >= self._window_bytes
                ):
                    del pending[:first]
                    break
                self._sent += last - first
                self._unacked.append((self._sent, size))
                self._unacked_bytes += size
                parts.append(self._events_frame(pending[first:last]))
            else:
                pending.clear()
                break
            if not wait:
                return parts
            self._send(parts)
            parts = []
            self._room.wait()
        return parts

    def _settle(self) -> None:
        unacked = self._unacked
        while unacked and unacked[0][0] <= self._acked:
            self._unacked_bytes -= unacked.popleft()[1]

    def _events_frame(self, tails: list[bytes]) -> bytes:
        return frame(
            worker_pb2.WorkerMessage(
                events=worker_pb2.AttemptEvents(
                    attempt_id=self.attempt_id, fence=self._fence, count=self._sent, events=tails
                )
            ).SerializeToString()
        )

    def _close_with(self, outcome: AttemptOutcome, parts: list[bytes] | None = None) -> None:
        """Send ``parts`` then the outcome (after the acceptance, if still held); once."""
        self._closed = True
        limited = self._limited and self._memory_limit > 0
        message = finished_message(
            self.attempt_id,
            self._fence,
            self._sent,
            outcome,
            memory_limit=self._memory_limit,
            memory_limited=limited,
        )
        retiring = ends_worker(outcome, message)  # then it says it takes nothing more
        finished = frame(worker_pb2.WorkerMessage(finished=message).SerializeToString())
        self._channel.send(
            b"".join((self._prefix, *(parts or ()), _RETIRE if retiring else b"", finished))
        )
        self._prefix = b""
        self._pending.clear()
        self._room.notify_all()
        if retiring:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the end
                self._loop.call_soon_threadsafe(self._retire)

    # -- on the loop ----------------------------------------------------------------------------

    def tick(self, now: float) -> bool:
        """Send what waited :data:`FLUSH_SECONDS` while the body is busy elsewhere (or
        blocked): events, and the held acceptance. False once the attempt is done.

        The worker's loop calls it every :data:`TICK_SECONDS` while a sync body runs.
        """
        with self._room:
            if self._closed:
                return False
            held = self._prefix and now - self._began >= FLUSH_SECONDS
            stale = (self._made or self._pending) and now - self._since >= FLUSH_SECONDS
            if held or stale:
                self._send(self._push(wait=False))
        return True

    def acknowledge(self, count: int) -> None:
        with self._room:
            if count > self._acked:
                self._acked = count
                self._room.notify_all()

    def cancel(self, grace: float) -> None:
        """Ask the body to stop; after ``grace`` seconds it is given up on."""
        if self._stop:
            return
        self._stop = True
        self._grace = self._loop.call_later(grace, self._abandon)

    def _abandon(self) -> None:
        with self._room:
            if self._closed:
                return
            self._made.clear()
            self._pending.clear()
            self._close_with(AttemptCanceled(CancelOutcome.ABANDONED))

    def revoke(self) -> None:
        """The attempt is no longer this worker's: stop the body, send nothing more."""
        self._stop = True
        with self._room:
            self._closed = True
            self._made.clear()
            self._pending.clear()
            self._room.notify_all()
        if self._grace is not None:
            self._grace.cancel()
