"""Executions the server knows: their event logs, followers and retention.

An :class:`Execution` owns the encoded events of one run, numbered from 1 without
gaps. Streams follow it (:meth:`Execution.follow`): they replay what is recorded,
then wait for more, and get events in batches. While streams follow, the producer
waits (:meth:`Execution.wait_for_room`) whenever the slowest of them is more than a
window behind, so a slow client slows its own op instead of growing memory.
:class:`ExecutionStore` finds executions by id and request id and drops finished ones
after the retention period.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass, field

from ophost.codec.chunks import varint
from ophost.codec.events import seconds_to_nanos
from ophost.execution import OpRun
from ophost.v1 import error_pb2, event_pb2, execution_pb2, value_pb2

__all__ = ["Execution", "ExecutionStore", "TERMINAL_STATES", "frame"]

State = execution_pb2.ExecutionState
TERMINAL_STATES = frozenset(
    {
        execution_pb2.EXECUTION_STATE_SUCCEEDED,
        execution_pb2.EXECUTION_STATE_FAILED,
        execution_pb2.EXECUTION_STATE_CANCELED,
    }
)
_FINAL_STATE = {
    event_pb2.EXECUTION_STATUS_SUCCEEDED: execution_pb2.EXECUTION_STATE_SUCCEEDED,
    event_pb2.EXECUTION_STATUS_FAILED: execution_pb2.EXECUTION_STATE_FAILED,
    event_pb2.EXECUTION_STATUS_CANCELED: execution_pb2.EXECUTION_STATE_CANCELED,
}


_EVENT_TAG = varint((1 << 3) | 2)  # EventBatch.events / StreamEventsResponse.events
_VALUE_CHUNK_TAG = varint((event_pb2.Event.VALUE_CHUNK_FIELD_NUMBER << 3) | 2)
_CHUNK_DATA_TAG = varint((value_pb2.ValueChunk.DATA_FIELD_NUMBER << 3) | 2)


def frame(field_number: int, payload: bytes) -> bytes:
    """``payload`` as a length-delimited protobuf field: tag, varint length, bytes."""
    return b"".join((varint((field_number << 3) | 2), varint(len(payload)), payload))


@dataclass
class _Follower:
    cursor: int = 0  # events[:cursor] have been handed to the stream


@dataclass
class Execution:
    """One execution: identity, state, and its retained, encoded events."""

    id: str
    op_name: str
    request_id: str
    fingerprint: bytes
    tags: dict[str, str]
    run: OpRun
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    state: State.ValueType = execution_pb2.EXECUTION_STATE_PENDING
    attempt: int = 0
    outputs: list[value_pb2.NamedValue] = field(default_factory=list)
    error: error_pb2.ErrorData | None = None
    # Each event serialized once, already framed as field 1 of a batch message
    # (EventBatch / StreamEventsResponse), so a batch is a plain concatenation.
    encoded: list[bytes] = field(default_factory=list)
    _room_checked: int = 0
    task: asyncio.Task[None] | None = None
    _changed: asyncio.Future[None] | None = None
    _progress: asyncio.Future[None] | None = None
    _cursors: dict[int, _Follower] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    # -- recording -----------------------------------------------------------------------

    @property
    def last_sequence(self) -> int:
        return len(self.encoded)

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES

    def append(self, event: event_pb2.Event) -> None:
        """Record one event (its sequence is set here) and wake the followers."""
        event.sequence = len(self.encoded) + 1
        self.encoded.append(frame(1, event.SerializeToString()))
        self.attempt = event.attempt
        kind = event.WhichOneof("kind")
        if kind == "step_started" and self.state == execution_pb2.EXECUTION_STATE_PENDING:
            self.state = execution_pb2.EXECUTION_STATE_RUNNING
            self.started_at = time.time()
        elif kind == "execution_finished":
            finished = event.execution_finished
            self.state = _FINAL_STATE.get(finished.status, execution_pb2.EXECUTION_STATE_FAILED)
            self.finished_at = time.time()
            if finished.HasField("error"):
                self.error = finished.error
        self._notify()

    def append_chunk(self, envelope: event_pb2.Event, data: bytes | memoryview) -> None:
        """Record a ``value_chunk`` event whose data is written straight from ``data``.

        ``envelope`` carries the chunk's description without its data; the data goes
        in as a second occurrence of the same message field, which protobuf merges, so
        the chunk's bytes are copied once, into the recorded event.
        """
        envelope.sequence = len(self.encoded) + 1
        head = envelope.SerializeToString()
        data_field = _CHUNK_DATA_TAG + varint(len(data))
        chunk_tail = _VALUE_CHUNK_TAG + varint(len(data_field) + len(data))
        size = len(head) + len(chunk_tail) + len(data_field) + len(data)
        self.encoded.append(
            b"".join((_EVENT_TAG, varint(size), head, chunk_tail, data_field, data))
        )
        self._notify()

    def mark_cancel_requested(self) -> None:
        if not self.finished:
            self.state = execution_pb2.EXECUTION_STATE_CANCEL_REQUESTED

    def _notify(self) -> None:
        changed = self._changed
        if changed is not None and not changed.done():
            changed.set_result(None)
        self._changed = None

    def _changed_future(self) -> asyncio.Future[None]:
        if self._changed is None:
            self._changed = asyncio.get_running_loop().create_future()
        return self._changed

    # -- backpressure --------------------------------------------------------------------

    async def wait_for_room(self, window: int) -> None:
        """Wait while the slowest follower is more than ``window`` events behind.

        The followers are looked at every ``window // 8`` events, so a stream can fall
        at most that much further behind than the window.
        """
        if not self._cursors:
            return
        produced = len(self.encoded)
        if produced - self._room_checked < max(1, window // 8):
            return
        self._room_checked = produced
        while self._cursors:
            slowest = min(f.cursor for f in self._cursors.values())
            if len(self.encoded) - slowest < window:
                return
            if self._progress is None or self._progress.done():
                self._progress = asyncio.get_running_loop().create_future()
            await self._progress

    def _advanced(self) -> None:
        progress = self._progress
        if progress is not None and not progress.done():
            progress.set_result(None)

    # -- following -----------------------------------------------------------------------

    def wake(self) -> None:
        """Wake the streams waiting for events (to let them see a stop request)."""
        self._notify()

    async def follow(
        self,
        after: int,
        *,
        max_batch_bytes: int,
        max_batch_events: int = 10_000,
        stop: Callable[[], bool] | None = None,
        wrap_field: int | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """Batches of the events after sequence ``after``: replayed, then live, to the end.

        A batch is the serialized body of an ``EventBatch`` (or ``StreamEventsResponse``):
        its events as repeated field 1. ``stop`` is checked whenever the stream wakes;
        when it returns true the stream ends early (call :meth:`wake` after making it
        true). With ``wrap_field``, each batch comes framed as that field of an outer
        message (``ExecuteResponse.events``), built in the same single copy.
        """
        token = next(self._ids)
        follower = _Follower(cursor=after)
        self._cursors[token] = follower
        try:
            while True:
                if stop is not None and stop():
                    return
                encoded = self.encoded
                if follower.cursor < len(encoded):
                    end = follower.cursor
                    size = 0
                    limit = min(len(encoded), follower.cursor + max_batch_events)
                    while end < limit and (
                        end == follower.cursor or size + len(encoded[end]) <= max_batch_bytes
                    ):
                        size += len(encoded[end])
                        end += 1
                    parts = encoded[follower.cursor : end]
                    if wrap_field is not None:
                        parts = [varint((wrap_field << 3) | 2), varint(size), *parts]
                    yield b"".join(parts)
                    follower.cursor = end
                    self._advanced()
                    continue
                if self.finished:
                    return
                # Shielded: every stream of this execution waits on the same future, and
                # cancelling one stream (its client went away) must not cancel the others'.
                await asyncio.shield(self._changed_future())
        finally:
            del self._cursors[token]
            self._advanced()

    # -- views ---------------------------------------------------------------------------

    def to_proto(self) -> execution_pb2.Execution:
        message = execution_pb2.Execution(
            id=self.id,
            op_name=self.op_name,
            request_id=self.request_id,
            state=self.state,
            attempt=self.attempt,
            last_sequence=self.last_sequence,
            outputs=self.outputs,
            tags=self.tags,
        )
        if self.error is not None:
            message.error.CopyFrom(self.error)
        message.create_time.FromNanoseconds(seconds_to_nanos(self.created_at))
        if self.started_at is not None:
            message.start_time.FromNanoseconds(seconds_to_nanos(self.started_at))
        if self.finished_at is not None:
            message.finish_time.FromNanoseconds(seconds_to_nanos(self.finished_at))
        return message


class ExecutionStore:
    """The executions of one server process, by id and by request id."""

    def __init__(self, *, retention_seconds: float, max_retained: int) -> None:
        self.retention_seconds = retention_seconds
        self.max_retained = max_retained
        self._by_id: dict[str, Execution] = {}
        self._by_request: dict[str, str] = {}
        self._running = 0
        self._finished: collections.deque[Execution] = collections.deque()

    def add(self, execution: Execution) -> None:
        self.evict(room=1)
        self._by_id[execution.id] = execution
        self._running += 1
        if execution.request_id:
            self._by_request[execution.request_id] = execution.id

    def finished(self, execution: Execution) -> None:
        """Called once when an execution ends: it now counts for retention only."""
        self._running -= 1
        self._finished.append(execution)

    def get(self, execution_id: str) -> Execution | None:
        return self._by_id.get(execution_id)

    def by_request_id(self, request_id: str) -> Execution | None:
        found = self._by_request.get(request_id)
        return self._by_id.get(found) if found is not None else None

    def running_count(self) -> int:
        return self._running

    def unfinished(self) -> list[Execution]:
        return [e for e in self._by_id.values() if not e.finished]

    def newest_first(self) -> Iterable[Execution]:
        return sorted(self._by_id.values(), key=lambda e: e.created_at, reverse=True)

    def evict(self, now: float | None = None, *, room: int = 0) -> None:
        """Forget finished executions past retention, and the oldest beyond the cap.

        ``room`` is how many executions are about to be added.
        """
        now = time.time() if now is None else now
        finished = self._finished
        while finished and (
            len(self._by_id) + room > self.max_retained
            or now - (finished[0].finished_at or now) > self.retention_seconds
        ):
            self._forget(finished.popleft())

    def _forget(self, execution: Execution) -> None:
        self._by_id.pop(execution.id, None)
        if execution.request_id and self._by_request.get(execution.request_id) == execution.id:
            del self._by_request[execution.request_id]
