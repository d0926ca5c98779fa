"""The hand-off from one worker thread to the event loop: ordered, bounded, coalesced.

The thread :meth:`Pump.put`\\ s events and finally :meth:`Pump.finish`\\ es with an
outcome; the loop :meth:`Pump.take`\\ s whatever is there, and :meth:`Pump.wait`\\ s
when nothing is. When the loop falls ``capacity`` events behind, the thread waits, so
a slow consumer slows the op instead of growing memory. Wake-ups are coalesced: a
fast thread hands over many events per loop iteration, with one cross-thread call.

Events go through a ``deque`` (appends and pops are atomic), so the common path takes
no lock. The order of two flags makes that safe: the loop clears "a wake-up is on its
way" *before* it empties the queue, and the thread checks it *after* it appends, so an
event that misses one emptying always schedules another.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from typing import Generic, TypeVar

__all__ = ["Pump"]

_Event = TypeVar("_Event")
_Outcome = TypeVar("_Outcome")


class Pump(Generic[_Event, _Outcome]):
    """Events and then one outcome, from a worker thread to the loop it was made on."""

    def __init__(self, loop: asyncio.AbstractEventLoop, capacity: int = 1024) -> None:
        self._loop = loop
        self._capacity = max(1, capacity)
        self._queue: collections.deque[_Event] = collections.deque()
        self._outcome: _Outcome | None = None
        self._ended = False  # an outcome was given (by the thread, or by the loop)
        self._wake_pending = False
        self._waiter: asyncio.Future[None] | None = None
        # Made when a thread first has to wait for room; guards _ended and _outcome too.
        self._lock = threading.Lock()
        self._room: threading.Condition | None = None
        #: Set by the loop: the thread stops at its next event (read without a lock).
        self.stop_requested = False

    # -- the worker thread's side ----------------------------------------------------------

    def put(self, event: _Event) -> None:
        """Hand one event over; waits while ``capacity`` events are waiting already."""
        if len(self._queue) >= self._capacity and not self.stop_requested:
            self._wait_for_room()
        if self._ended:
            return  # the loop gave up on this thread: nothing is read any more
        self._queue.append(event)
        if not self._wake_pending:
            self._wake_pending = True
            self._loop.call_soon_threadsafe(self._wake)

    def _wait_for_room(self) -> None:
        with self._lock:
            if self._room is None:
                self._room = threading.Condition(self._lock)
            while (
                len(self._queue) >= self._capacity and not self.stop_requested and not self._ended
            ):
                self._room.wait(0.1)

    def finish(self, outcome: _Outcome) -> None:
        """Hand over the outcome, after every event; the first outcome given wins."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
            self._outcome = outcome
        if not self._wake_pending:
            self._wake_pending = True
            self._loop.call_soon_threadsafe(self._wake)

    # -- the loop's side ---------------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take(self) -> tuple[list[_Event], _Outcome | None]:
        """The events waiting now and, once given, the outcome (never blocks)."""
        self._wake_pending = False
        # Read the outcome first: once it is there, every event is already queued.
        outcome = self._outcome
        queue = self._queue
        events = [queue.popleft() for _ in range(len(queue))]
        if self._room is not None and events:
            with self._lock:
                self._room.notify_all()
        return events, outcome

    def ready(self) -> bool:
        return bool(self._queue) or self._outcome is not None

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until :meth:`take` has something; False when ``timeout`` passed first."""
        if self.ready():
            return True
        waiter = self._waiter = self._loop.create_future()
        if self.ready():  # handed over while the future was being made
            return True
        if timeout is None:
            await waiter
            return True
        timer = self._loop.call_later(timeout, self._wake)
        try:
            await waiter
        finally:
            timer.cancel()
        return self.ready()

    def stop(self) -> None:
        """Ask the thread to stop at its next event; wakes it if it waits for room."""
        self.stop_requested = True
        with self._lock:
            if self._room is not None:
                self._room.notify_all()

    def end(self, outcome: _Outcome) -> None:
        """End from the loop's side (the thread is abandoned): later events are dropped."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
            self._outcome = outcome
            if self._room is not None:
                self._room.notify_all()
        self._wake()
