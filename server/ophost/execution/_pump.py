"""Running a synchronous op body in a worker thread, off the event loop.

The thread calls the body and, for a generator, iterates it, handing every yielded
item (and every log line or logged event the body records meanwhile) to the event
loop in order. The hand-off is bounded: when the loop falls behind by ``capacity``
items, the thread waits, so a slow consumer slows the op instead of growing memory.
Wake-ups are coalesced, so a fast op hands over many items per loop iteration.

A cancel request is seen by the thread at every yield: the generator is closed
there (``GeneratorExit`` at the ``yield``), and nothing more is taken from it.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any as TypingAny

__all__ = ["Item", "Pump", "PumpCanceled", "Record", "Returned"]


@dataclass(frozen=True, slots=True)
class Item:
    """Something the body yielded."""

    value: object


@dataclass(frozen=True, slots=True)
class Returned:
    """What a non-generator body returned (handled by the loop's return rules)."""

    value: object


@dataclass(frozen=True, slots=True)
class Record:
    """A side effect recorded by the body in the thread (a log line, a logged event)."""

    apply: Callable[[], None]


class PumpCanceled(Exception):
    """The body was stopped at a yield after a cancel request."""


class _Raised:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


def _should_iterate(result: object, iterate_results: bool) -> bool:
    """Generators are always driven here; other iterables only for hand-built bodies."""
    if inspect.isgenerator(result):
        return True
    if not iterate_results or isinstance(result, (str, bytes, dict)):
        return False
    return hasattr(result, "__iter__") and not hasattr(result, "__aiter__")


class Pump:
    """One synchronous body running in a worker thread; iterate it with :meth:`items`."""

    def __init__(
        self,
        call: Callable[[], object],
        *,
        loop: asyncio.AbstractEventLoop,
        executor: Executor | None,
        capacity: int = 1024,
        on_item: Callable[[object], None] | None = None,
    ) -> None:
        self._call = call
        self._on_item = on_item
        self._loop = loop
        self._executor = executor
        self._queue: collections.deque[object] = collections.deque()
        self._capacity = max(1, capacity)
        self._space = threading.Event()
        self._ready = asyncio.Event()
        self._wake_pending = False
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread_id: int | None = None
        self._iterate_results = False
        self.future: asyncio.Future[None] | None = None

    # -- thread side ---------------------------------------------------------------------

    @property
    def in_thread(self) -> bool:
        """Whether the caller is the pump's worker thread."""
        return threading.get_ident() == self._thread_id

    def put(self, entry: object) -> None:
        """Hand one entry to the loop (from the worker thread); waits while the loop lags."""
        queue = self._queue
        while len(queue) >= self._capacity and not self._cancel.is_set():
            self._space.clear()
            if len(queue) < self._capacity:  # drained between the check and the clear
                break
            self._space.wait(0.1)
        queue.append(entry)
        with self._lock:
            if self._wake_pending:
                return
            self._wake_pending = True
        self._loop.call_soon_threadsafe(self._ready.set)

    def _run(self) -> None:
        self._thread_id = threading.get_ident()
        try:
            result = self._call()
            if _should_iterate(result, self._iterate_results):
                self._drive(iter(result))  # type: ignore[call-overload]
            else:
                self.put(Returned(result))
        except BaseException as exc:  # noqa: BLE001 - every outcome goes back to the loop
            self.put(_Raised(exc))
            return
        self.put(_DONE)

    def _drive(self, iterator: Iterator[object]) -> None:
        for value in iterator:
            if self._on_item is not None:
                # In the body's own thread, before the body resumes: state that the body
                # can observe (an output counted as emitted) changes at the yield.
                self._on_item(value)
            self.put(Item(value))
            if self._cancel.is_set():
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
                raise PumpCanceled

    # -- loop side -----------------------------------------------------------------------

    def start(self, *, iterate_results: bool) -> None:
        """Start the body; ``iterate_results`` also iterates a returned plain iterable."""
        self._iterate_results = iterate_results
        self.future = self._loop.run_in_executor(self._executor, self._run)

    @property
    def buffered(self) -> bool:
        """Whether more entries are already waiting (the loop can take them without waiting)."""
        return bool(self._queue)

    def request_cancel(self) -> None:
        """Stop at the next yield (call from the loop's thread)."""
        self._cancel.set()
        self._ready.set()

    async def entries(self) -> TypingAny:
        """Yield :class:`Item`, :class:`Returned` and :class:`Record` entries in order.

        Raises what the body raised, or :class:`PumpCanceled` when it stopped at a yield.
        """
        while True:
            while not self._queue:
                if self._cancel.is_set():
                    return
                await self._ready.wait()
                self._ready.clear()
                with self._lock:
                    self._wake_pending = False
            half = self._capacity // 2
            while self._queue:
                entry = self._queue.popleft()
                if len(self._queue) <= half and not self._space.is_set():
                    # Let a waiting body thread go on while the loop works through the
                    # rest, so the two overlap instead of taking turns.
                    self._space.set()
                if entry is _DONE:
                    return
                if isinstance(entry, _Raised):
                    raise entry.exc
                yield entry
