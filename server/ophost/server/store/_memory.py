"""The in-memory execution store: one process's executions, kept for a retention period.

Each execution keeps its records in a list (a record's sequence is its position + 1),
so a stream reads any range by slicing. Streams of an execution wait on futures that
:meth:`MemoryExecutionStore.append` resolves once per batch. While streams follow
an execution, ``append`` waits whenever the slowest of them is more than
``follow_window`` events behind, so a slow client slows its own op instead of letting
it run ahead without bound.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from ophost.server._wire import Record, Tail, event_head, event_record, record_size
from ophost.server.store._interface import (
    CANCEL_REQUESTED,
    PENDING,
    RUNNING,
    TERMINAL_STATES,
    ExecutionQuery,
    ExecutionRecord,
    ExecutionStore,
    ExecutionUpdate,
    NewExecution,
    PageKey,
    RequestIdConflictError,
    State,
)
from ophost.v1 import error_pb2, value_pb2

__all__ = ["MemoryExecutionStore"]


@dataclass(eq=False)
class _Execution:
    new: NewExecution
    head: bytes
    state: State = PENDING
    attempt: int = 0
    outputs: list[value_pb2.NamedValue] = field(default_factory=list)
    error: error_pb2.ErrorData | None = None
    started_at: float | None = None
    finished_at: float | None = None
    cancel_requested: bool = False
    records: list[Record] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    cursors: dict[int, int] = field(default_factory=dict)
    progress: asyncio.Future[None] | None = None
    room_checked: int = 0
    size: int = 0
    cancel_callbacks: list[Callable[[], None]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES

    def record(self) -> ExecutionRecord:
        new = self.new
        return ExecutionRecord(
            id=new.execution_id,
            op_name=new.op_name,
            request_id=new.request_id,
            fingerprint=new.fingerprint,
            tags=new.tags,
            state=self.state,
            attempt=self.attempt,
            last_sequence=len(self.records),
            outputs=tuple(self.outputs),
            error=self.error,
            created_at=new.created_at,
            started_at=self.started_at,
            finished_at=self.finished_at,
            cancel_requested=self.cancel_requested,
            principal=new.principal,
        )

    def notify(self) -> None:
        waiters = self.waiters
        if waiters:
            self.waiters = []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def advanced(self) -> None:
        progress = self.progress
        if progress is not None and not progress.done():
            progress.set_result(None)


class MemoryExecutionStore(ExecutionStore):
    """Executions in this process's memory; gone when it stops.

    Finished executions are forgotten ``retention_seconds`` after they finished, and
    the oldest finished ones as soon as more than ``max_retained`` are kept or their
    events take more than ``max_retained_bytes`` (None: no limit).
    """

    sweep_interval = 1.0

    def __init__(
        self,
        *,
        retention_seconds: float = 600.0,
        max_retained: int = 1000,
        max_retained_bytes: int | None = None,
        follow_window: int = 4096,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.retention_seconds = retention_seconds
        self.max_retained = max_retained
        self.max_retained_bytes = max_retained_bytes
        self._bytes = 0
        self.follow_window = max(1, follow_window)
        self._clock = clock
        self._by_id: dict[str, _Execution] = {}
        self._by_request: dict[str, _Execution] = {}
        self._finished: collections.deque[_Execution] = collections.deque()
        self._follower_ids = itertools.count()

    # -- creating and recording ----------------------------------------------------------------

    async def create(self, new: NewExecution) -> tuple[ExecutionRecord, bool]:
        if new.request_id:
            existing = self._by_request.get(new.request_id)
            if existing is not None:
                record = existing.record()
                if existing.new.fingerprint != new.fingerprint:
                    raise RequestIdConflictError(new.request_id, record)
                return record, False
        self._evict(room=1)
        execution = _Execution(new=new, head=event_head(new.execution_id), size=len(new.start))
        self._bytes += execution.size
        self._by_id[new.execution_id] = execution
        if new.request_id:
            self._by_request[new.request_id] = execution
        return execution.record(), True

    async def find_request(self, request_id: str) -> ExecutionRecord | None:
        found = self._by_request.get(request_id)
        return found.record() if found is not None else None

    async def append(
        self, execution_id: str, tails: Sequence[Tail], update: ExecutionUpdate | None = None
    ) -> int:
        execution = self._by_id[execution_id]
        records = execution.records
        head = execution.head
        sequence = len(records)
        size = 0
        for tail in tails:
            sequence += 1
            record = event_record(head, sequence, tail)
            size += record_size(record)
            records.append(record)
        execution.size += size
        self._bytes += size
        if update is not None:
            self._apply(execution, update)
        execution.notify()
        if execution.cursors:
            await self._wait_for_room(execution)
        return sequence

    def _apply(self, execution: _Execution, update: ExecutionUpdate) -> None:
        if update.attempt is not None:
            execution.attempt = update.attempt
        if update.running and execution.state == PENDING:
            execution.state = RUNNING
            execution.started_at = update.at
        if update.outputs:
            execution.outputs.extend(update.outputs)
        if update.finished is not None and not execution.finished:
            execution.state = update.finished
            execution.finished_at = update.at
            if update.error is not None:
                execution.error = update.error
            execution.cancel_callbacks.clear()
            self._finished.append(execution)

    async def _wait_for_room(self, execution: _Execution) -> None:
        """Wait while the slowest stream is a window or more behind.

        The streams are looked at every ``follow_window // 8`` events, so one can fall
        at most that much further behind than the window.
        """
        window = self.follow_window
        produced = len(execution.records)
        if produced - execution.room_checked < max(1, window // 8):
            return
        execution.room_checked = produced
        while execution.cursors:
            slowest = min(execution.cursors.values())
            if len(execution.records) - slowest < window:
                return
            if execution.progress is None or execution.progress.done():
                execution.progress = asyncio.get_running_loop().create_future()
            await execution.progress

    # -- reading ---------------------------------------------------------------------------------

    async def get(self, execution_id: str) -> ExecutionRecord | None:
        found = self._by_id.get(execution_id)
        return found.record() if found is not None else None

    async def start_request(self, execution_id: str) -> bytes | None:
        found = self._by_id.get(execution_id)
        return found.new.start if found is not None else None

    async def executions(
        self,
        query: ExecutionQuery = ExecutionQuery(),  # noqa: B008 - frozen, so shared safely
        *,
        before: PageKey | None = None,
        limit: int | None = None,
    ) -> list[ExecutionRecord]:
        self._evict()
        # Filter the executions themselves, with the query's fields read once, and make
        # records of the page only: this runs on the event loop, over every execution
        # retained.
        op_name = query.op_name
        states = query.states
        after = query.created_after
        until = query.created_before
        principals = query.principals
        op_names = query.op_names
        end = (before.created_at, before.id) if before is not None else None
        matching = []
        for execution in self._by_id.values():
            new = execution.new
            if (
                (op_name and new.op_name != op_name)
                or (states and execution.state not in states)
                or (after is not None and new.created_at < after)
                or (until is not None and new.created_at >= until)
                or (principals is not None and new.principal not in principals)
                or (op_names is not None and new.op_name not in op_names)
                or (end is not None and (new.created_at, new.execution_id) >= end)
            ):
                continue
            matching.append(execution)
        if limit is None:
            matching.sort(key=_newest_first, reverse=True)
        else:
            matching = heapq.nlargest(limit, matching, key=_newest_first)
        return [execution.record() for execution in matching]

    async def unfinished(self) -> list[ExecutionRecord]:
        return [e.record() for e in self._by_id.values() if not e.finished]

    async def follow(
        self,
        execution_id: str,
        after: int,
        *,
        max_batch_bytes: int,
        max_batch_events: int = 10_000,
        stop: Callable[[], bool] | None = None,
    ) -> AsyncIterator[list[Record]]:
        execution = self._by_id.get(execution_id)
        if execution is None:
            return
        token = next(self._follower_ids)
        cursors = execution.cursors
        cursors[token] = cursor = after
        loop = asyncio.get_running_loop()
        try:
            while True:
                if stop is not None and stop():
                    return
                records = execution.records
                available = len(records)
                if cursor < available:
                    end = cursor + 1
                    size = record_size(records[cursor])
                    limit = min(available, cursor + max_batch_events)
                    while end < limit:
                        size += record_size(records[end])
                        if size > max_batch_bytes:
                            break
                        end += 1
                    yield records[cursor:end]
                    cursors[token] = cursor = end
                    execution.advanced()
                    continue
                if execution.finished:
                    return
                waiter = loop.create_future()
                execution.waiters.append(waiter)
                await waiter
        finally:
            del cursors[token]
            execution.advanced()

    def wake(self, execution_id: str) -> None:
        execution = self._by_id.get(execution_id)
        if execution is not None:
            execution.notify()

    # -- cancellation ----------------------------------------------------------------------------

    async def request_cancel(self, execution_id: str) -> ExecutionRecord | None:
        execution = self._by_id.get(execution_id)
        if execution is None:
            return None
        if not execution.finished:
            execution.cancel_requested = True
            execution.state = CANCEL_REQUESTED
            callbacks, execution.cancel_callbacks = execution.cancel_callbacks, []
            for callback in callbacks:
                callback()
        return execution.record()

    def on_cancel(self, execution_id: str, callback: Callable[[], None]) -> Callable[[], None]:
        execution = self._by_id[execution_id]
        if execution.cancel_requested and not execution.finished:
            callback()
            return _nothing
        execution.cancel_callbacks.append(callback)

        def undo() -> None:
            if callback in execution.cancel_callbacks:
                execution.cancel_callbacks.remove(callback)

        return undo

    # -- retention -------------------------------------------------------------------------------

    async def sweep(self) -> int:
        before = len(self._by_id)
        self._evict()
        return before - len(self._by_id)

    def _evict(self, *, room: int = 0) -> None:
        """Forget finished executions past retention, and the oldest beyond the cap.

        ``room`` is how many executions are about to be added.
        """
        now = self._clock()
        finished = self._finished
        while finished and (
            len(self._by_id) + room > self.max_retained
            or (self.max_retained_bytes is not None and self._bytes > self.max_retained_bytes)
            or now - (finished[0].finished_at or now) > self.retention_seconds
        ):
            self._forget(finished.popleft())

    def _forget(self, execution: _Execution) -> None:
        new = execution.new
        if self._by_id.pop(new.execution_id, None) is not None:
            self._bytes -= execution.size
        if new.request_id and self._by_request.get(new.request_id) is execution:
            del self._by_request[new.request_id]


def _newest_first(execution: _Execution) -> tuple[float, str]:
    """The sort key of ``ExecutionRecord.page_key``, largest first."""
    return execution.new.created_at, execution.new.execution_id


def _nothing() -> None:
    """Nothing to undo."""
