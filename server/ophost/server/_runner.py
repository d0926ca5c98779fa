"""Starting executions and recording their events, encoded, into the store."""

from __future__ import annotations

import hashlib
import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, replace

from ophost.codec import events as events_codec
from ophost.codec import failures as failures_codec
from ophost.codec.chunks import ChunkPiece, encode_value_pieces
from ophost.execution import (
    ErrorData,
    EventBody,
    ExecutionEvent,
    ExecutionFinished,
    LogMessage,
    OpRun,
    OutputProduced,
    PreparedExecution,
    RetryScheduled,
    StepFailed,
)
from ophost.server._store import Execution
from ophost.v1 import event_pb2, execution_pb2, value_pb2

__all__ = ["Limits", "fingerprint", "new_execution", "record_events"]

# Execution ids: random per process, then a counter (cheaper than a uuid per start).
_IDS = (f"{uuid.uuid4().hex[:16]}{n:08x}" for n in itertools.count(1))

# At most this many stack frames are kept per error (the innermost ones).
_MAX_FRAMES = 200

# A single log line or stack trace is cut to this many characters so that no event
# comes near the message size limit.
_MAX_TEXT = 256 * 1024


@dataclass(frozen=True)
class Limits:
    """The server's limits that shape executions and their streams."""

    inline_threshold_bytes: int = 1 << 20
    chunk_size_bytes: int = 1 << 20
    max_message_bytes: int = 4 << 20
    max_batch_bytes: int = 1 << 20
    stream_window_events: int = 4096
    handoff_capacity: int = 1024
    cancel_grace_seconds: float = 5.0
    max_upload_bytes: int = 256 << 20


def fingerprint(start: execution_pb2.ExecutionStart) -> bytes:
    """A digest of what a start asks for, to tell a retry from a conflicting reuse."""
    copy = execution_pb2.ExecutionStart()
    copy.CopyFrom(start)
    copy.request_id = ""
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).digest()


def new_execution(
    prepared: PreparedExecution,
    *,
    start: execution_pb2.ExecutionStart,
    limits: Limits,
    executor: Executor | None,
) -> Execution:
    """Create the execution record and its engine run (not started yet)."""
    execution_id = next(_IDS)
    counter = iter(range(1, 1 << 62))

    def encode_output(name: str, value: object) -> tuple[value_pb2.Value, Iterator[ChunkPiece]]:
        return encode_value_pieces(
            value,
            path=f"outputs.{name}",
            inline_threshold=limits.inline_threshold_bytes,
            chunk_size=limits.chunk_size_bytes,
            value_id=f"{execution_id}.{name}.{next(counter)}",
        )

    run = OpRun(
        prepared,
        run_id=execution_id,
        request_id=start.request_id,
        tags=dict(start.tags),
        executor=executor,
        handoff_capacity=limits.handoff_capacity,
        cancel_grace=limits.cancel_grace_seconds,
        encode_output=encode_output,
        keep_outputs=False,  # values live on as encoded events only
    )
    return Execution(
        id=execution_id,
        op_name=prepared.op_def.name,
        request_id=start.request_id,
        fingerprint=fingerprint(start) if start.request_id else b"",
        tags=dict(start.tags),
        run=run,
    )


def _cut(text: str) -> str:
    if len(text) <= _MAX_TEXT:
        return text
    return text[:_MAX_TEXT] + f"... [{len(text) - _MAX_TEXT} characters cut]"


def _cut_error(error: ErrorData | None) -> ErrorData | None:
    """An error with its message and stack cut to size (causes are 16 deep at most)."""
    if error is None:
        return None
    stack = error.stack[-_MAX_FRAMES:]
    if (
        len(error.message) <= _MAX_TEXT
        and len(error.stack) <= _MAX_FRAMES
        and all(len(frame) <= _MAX_TEXT for frame in stack)
        and error.cause is _cut_error(error.cause)
        and error.context is _cut_error(error.context)
    ):
        return error
    return replace(
        error,
        message=_cut(error.message),
        stack=tuple(_cut(frame) for frame in stack),
        cause=_cut_error(error.cause),
        context=_cut_error(error.context),
    )


def _shorten(event: ExecutionEvent) -> ExecutionEvent:
    """Keep one event well below the message size limit: cut very long texts."""
    body = event.body
    shorter: EventBody = body
    if isinstance(body, LogMessage) and len(body.message) > _MAX_TEXT:
        shorter = LogMessage(body.level, _cut(body.message), body.logger_name)
    elif isinstance(body, (StepFailed, RetryScheduled, ExecutionFinished)):
        error = _cut_error(body.error)
        if error is not None and error is not body.error:
            shorter = replace(body, error=error)
    if shorter is body:
        return event
    return replace(event, body=shorter)


async def record_events(
    execution: Execution, limits: Limits, on_finished: Callable[[Execution], None]
) -> None:
    """Run the execution's op and record every event; always ends with a terminal event."""
    run = execution.run
    try:
        async for event in run.events():
            await execution.wait_for_room(limits.stream_window_events)
            body = event.body
            if isinstance(body, OutputProduced) and isinstance(body.wire, tuple):
                value, chunks = body.wire
                execution.append(events_codec.to_proto(event, output_value=value))
                execution.outputs.append(value_pb2.NamedValue(name=body.output_name, value=value))
                for meta, data in chunks:
                    await execution.wait_for_room(limits.stream_window_events)
                    execution.append_chunk(_chunk_event(event, meta), data)
            else:
                execution.append(events_codec.to_proto(_shorten(event)))
    except Exception as exc:  # noqa: BLE001 - the execution must still end, and say why
        if not execution.finished:
            _fail(execution, run, exc)
    finally:
        on_finished(execution)


def _chunk_event(event: ExecutionEvent, chunk: value_pb2.ValueChunk) -> event_pb2.Event:
    message = event_pb2.Event(
        execution_id=event.execution_id,
        attempt=event.attempt,
        op_name=event.op_name,
        value_chunk=chunk,
    )
    message.timestamp.FromNanoseconds(events_codec.seconds_to_nanos(event.timestamp))
    return message


def _fail(execution: Execution, run: OpRun, exc: BaseException) -> None:
    error = failures_codec.to_proto(
        ErrorData(
            type_name=f"{type(exc).__module__}.{type(exc).__qualname__}",
            message=f"ophost could not record the execution's events: {exc}",
        )
    )
    now = time.time()
    failure = event_pb2.Event(
        execution_id=execution.id, attempt=execution.attempt, op_name=execution.op_name
    )
    failure.timestamp.FromNanoseconds(events_codec.seconds_to_nanos(now))
    failure.step_failure.error.CopyFrom(error)
    failure.step_failure.error_source = event_pb2.ERROR_SOURCE_UNEXPECTED
    execution.append(failure)
    finished = event_pb2.Event(
        execution_id=execution.id, attempt=execution.attempt, op_name=execution.op_name
    )
    finished.timestamp.FromNanoseconds(events_codec.seconds_to_nanos(now))
    finished.execution_finished.status = event_pb2.EXECUTION_STATUS_FAILED
    finished.execution_finished.error.CopyFrom(error)
    finished.execution_finished.cancel_requested = run.cancel_requested
    execution.append(finished)
