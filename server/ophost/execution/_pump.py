"""The hand-off from one worker thread to the event loop: ordered, bounded, coalesced.

The thread :meth:`Pump.put`\\ s events and finally :meth:`Pump.finish`\\ es with an
outcome; the loop :meth:`Pump.take`\\ s whatever is there, and :meth:`Pump.wait`\\ s
when nothing is. When the loop falls ``capacity`` events behind, the thread waits, so
a slow consumer slows the op instead of growing memory. Wake-ups are coalesced: a
fast thread hands over many events per loop iteration, with one cross-thread call.
"""

from __future__ import annotations

import asyncio
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
        self._lock = threading.Lock()
        self._events: list[_Event] = []
        self._outcome: _Outcome | None = None
        self._ended = False  # an outcome was given (by the thread, or by the loop)
        self._wake_pending = False
        self._space = threading.Event()
        self._space.set()
        self._stop = threading.Event()
        self._ready = asyncio.Event()

    # -- the worker thread's side ----------------------------------------------------------

    @property
    def stop_requested(self) -> bool:
        """Whether the loop asked the thread to stop (it checks at every event)."""
        return self._stop.is_set()

    def put(self, event: _Event) -> None:
        """Hand one event over; waits while ``capacity`` events are waiting already."""
        while True:
            with self._lock:
                if self._ended:
                    return  # the loop gave up on this thread: nothing is read any more
                if len(self._events) < self._capacity or self._stop.is_set():
                    self._events.append(event)
                    wake = not self._wake_pending
                    self._wake_pending = True
                    break
                self._space.clear()
            self._space.wait(0.1)
        if wake:
            self._loop.call_soon_threadsafe(self._ready.set)

    def finish(self, outcome: _Outcome) -> None:
        """Hand over the outcome, after every event; the first outcome given wins."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
            self._outcome = outcome
            wake = not self._wake_pending
            self._wake_pending = True
        if wake:
            self._loop.call_soon_threadsafe(self._ready.set)

    # -- the loop's side ---------------------------------------------------------------------

    def take(self) -> tuple[list[_Event], _Outcome | None]:
        """The events waiting now and, once given, the outcome (never blocks)."""
        with self._lock:
            events = self._events
            if events:
                self._events = []
                self._space.set()
            self._wake_pending = False
            return events, self._outcome

    def ready(self) -> bool:
        return bool(self._events) or self._outcome is not None

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until :meth:`take` has something; False when ``timeout`` passed first."""
        if self.ready():
            return True
        self._ready.clear()
        if self.ready():  # handed over between the check and the clear
            return True
        if timeout is None:
            await self._ready.wait()
            return True
        timer = self._loop.call_later(timeout, self._ready.set)
        try:
            await self._ready.wait()
        finally:
            timer.cancel()
        return self.ready()

    def stop(self) -> None:
        """Ask the thread to stop at its next event; wakes it if it waits for room."""
        self._stop.set()
        self._space.set()

    def end(self, outcome: _Outcome) -> None:
        """End from the loop's side (the thread is abandoned): later events are dropped."""
        self.finish(outcome)
        self._ready.set()
