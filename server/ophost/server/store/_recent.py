"""Executions this process finished a moment ago, still answered from memory.

A short execution often ends before its caller's stream asks for its events (the
``accepted`` answer is still on its way when the op returns). Without this, that stream
would find the execution gone from the running ones and read its few records back from
the database through a reader thread. What is kept here is final: a finished execution's
events and record never change again, and they were committed before they were kept.

Entries leave after ``seconds``, and the oldest leave first beyond ``max_count`` entries
or ``max_bytes`` of records. Retention may delete an execution from the database while it
is still here; the sweep of this process empties the cache, and ``seconds`` bounds how
long another process's sweep goes unnoticed.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["RecentlyFinished"]

T = TypeVar("T")


class RecentlyFinished(Generic[T]):
    """A small, time-bounded map of finished executions by id."""

    def __init__(
        self,
        *,
        seconds: float = 2.0,
        max_count: int = 256,
        max_bytes: int = 8 << 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.max_count = max_count
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, tuple[T, int, float]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, execution_id: str, value: T, size: int) -> None:
        """Keep ``value`` (whose records take ``size`` bytes) for a moment."""
        if size > self.max_bytes // 4 or self.max_count <= 0:
            return
        now = self._clock()
        entries = self._entries
        old = entries.pop(execution_id, None)
        if old is not None:
            self._bytes -= old[1]
        entries[execution_id] = (value, size, now)
        self._bytes += size
        self._expire(now)
        while len(entries) > self.max_count or self._bytes > self.max_bytes:
            _, (_, dropped, _) = entries.popitem(last=False)
            self._bytes -= dropped

    def get(self, execution_id: str) -> T | None:
        """The value kept for ``execution_id``, if it is still fresh."""
        entry = self._entries.get(execution_id)
        if entry is None:
            return None
        if self._clock() - entry[2] > self.seconds:
            self._expire(self._clock())
            return None
        return entry[0]

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def _expire(self, now: float) -> None:
        entries = self._entries
        while entries:
            _, (_, size, at) = next(iter(entries.items()))
            if now - at <= self.seconds:
                return
            entries.popitem(last=False)
            self._bytes -= size
