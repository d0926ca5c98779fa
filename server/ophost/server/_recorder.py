"""Recording an execution: the engine's event batches, written once, into the store.

:func:`record_run` drives an :class:`~ophost.execution.OpRun`: each batch it hands
over becomes event tails (the wire layer writes them) and one
:meth:`~ophost.server.store.ExecutionStore.append`, together with what the batch
changes about the execution (running, its attempt, its outputs, how it finished). An
output too large to travel inline is followed by its chunks, each appended as soon as
it is written. Texts long enough to come near the message size limit (a log line, a
stack frame) are cut first. If recording itself fails, the execution still ends, with
an ``UNEXPECTED`` failure saying why. The execution's watch (its observers) sees each
batch just before it is stored.
"""

from __future__ import annotations

import logging
import time

from ophost.codec import failures as failures_codec
from ophost.codec import values as values_codec
from ophost.definitions import (
    ErrorData,
    ErrorSource,
    ExecutionFinished,
    ExecutionStatus,
    OutputProduced,
    StepFailed,
    StepStarted,
)
from ophost.execution import EncodedEvent, EngineEvent, OpRun
from ophost.execution._tails import shortened
from ophost.server._observe import NO_OBSERVER, ExecutionWatch
from ophost.server._wire import EventWriter, Tail
from ophost.server._withhold import ErrorWithholder, ExecutionErrors
from ophost.server.store import ExecutionStore, ExecutionUpdate
from ophost.v1 import execution_pb2, value_pb2

__all__ = ["record_run"]

_log = logging.getLogger("ophost.server")

_FINAL_STATE = {
    ExecutionStatus.SUCCEEDED: execution_pb2.EXECUTION_STATE_SUCCEEDED,
    ExecutionStatus.FAILED: execution_pb2.EXECUTION_STATE_FAILED,
    ExecutionStatus.CANCELED: execution_pb2.EXECUTION_STATE_CANCELED,
}


async def record_run(
    store: ExecutionStore,
    execution_id: str,
    run: OpRun,
    watch: ExecutionWatch | None = None,
    *,
    withhold: ErrorWithholder | None = None,
) -> None:
    """Run ``run`` to its end, recording every event; it always ends with a terminal event.

    With ``withhold``, errors are recorded (and so sent) without their details.
    """
    writer = EventWriter(run.op_def.name)
    if watch is None:
        watch = NO_OBSERVER.execution(execution_id, run.op_def.name)
    errors = withhold.execution(execution_id, run.op_def.name) if withhold else None
    finished = False
    try:
        async for batch in run.batches():
            watch.events(batch)
            tails: list[Tail] = []
            outputs: list[value_pb2.NamedValue] = []
            running = False
            end: ExecutionFinished | None = None
            for event in batch:
                body = event.body
                kind = type(body)
                if kind is EncodedEvent:  # written by the worker that ran the body
                    assert isinstance(body, EncodedEvent)
                    tails.append(body.tail)
                    if body.output is not None:
                        assert isinstance(body.output, value_pb2.NamedValue)
                        outputs.append(body.output)
                    continue
                if kind is OutputProduced:
                    assert isinstance(body, OutputProduced)
                    encoded = event.encoded
                    value = (
                        encoded.message
                        if encoded is not None
                        else values_codec.to_proto(body.value, path=f"outputs.{body.output_name}")
                    )
                    outputs.append(value_pb2.NamedValue(name=body.output_name, value=value))
                    tails.append(writer.tail(event))
                    if encoded is not None and encoded.chunked:
                        await store.append(execution_id, tails, _update(event, running, outputs))
                        tails, outputs, running = [], [], False
                        for chunk, data in encoded.chunks:
                            await store.append(
                                execution_id, [writer.chunk_tail(event, chunk, data)]
                            )
                    continue
                if kind is StepStarted:
                    running = True
                    tails.append(writer.tail(event))
                    continue
                short = shortened(event)
                if errors is not None:
                    short = errors.event(short)
                if kind is ExecutionFinished:
                    assert isinstance(short.body, ExecutionFinished)
                    end = short.body
                tails.append(writer.tail(short))
            if tails:
                await store.append(execution_id, tails, _update(batch[-1], running, outputs, end))
                finished = end is not None
    except (Exception, KeyboardInterrupt, SystemExit) as exc:  # noqa: BLE001 - it must still end
        # KeyboardInterrupt and SystemExit raised by an op body stop an in-process run;
        # in a host they fail that execution only.
        if not finished:
            await _fail(store, execution_id, run, writer, exc, watch, errors)
        else:
            _log.exception("recording execution %s failed after it finished", execution_id)


def _update(
    last: EngineEvent,
    running: bool,
    outputs: list[value_pb2.NamedValue],
    end: ExecutionFinished | None = None,
) -> ExecutionUpdate:
    return ExecutionUpdate(
        attempt=last.attempt,
        running=running,
        outputs=tuple(outputs),
        finished=_FINAL_STATE[end.status] if end is not None else None,
        error=failures_codec.to_proto(end.error) if end is not None and end.error else None,
        at=last.timestamp,
    )


async def _fail(
    store: ExecutionStore,
    execution_id: str,
    run: OpRun,
    writer: EventWriter,
    exc: BaseException,
    watch: ExecutionWatch,
    errors: ExecutionErrors | None,
) -> None:
    """End the execution with an UNEXPECTED failure saying why recording failed."""
    _log.exception("recording execution %s failed", execution_id)
    run.request_cancel()  # the body must not run on unseen
    error = ErrorData(
        type_name=f"{type(exc).__module__}.{type(exc).__qualname__}",
        message=f"ophost could not record the execution's events: {exc}",
    )
    if errors is not None:
        error = errors.error(error)
    now = time.time()
    events = [
        EngineEvent(run.attempt, now, StepFailed(error=error, error_source=ErrorSource.UNEXPECTED)),
        EngineEvent(
            run.attempt,
            now,
            ExecutionFinished(
                ExecutionStatus.FAILED, error=error, cancel_requested=run.cancel_requested
            ),
        ),
    ]
    try:
        watch.events(events)
        await store.append(
            execution_id,
            [writer.tail(event) for event in events],
            ExecutionUpdate(
                attempt=run.attempt,
                finished=execution_pb2.EXECUTION_STATE_FAILED,
                error=failures_codec.to_proto(error),
                at=now,
            ),
        )
    except Exception:  # noqa: BLE001 - logged; the store itself is failing
        _log.exception("execution %s could not be marked failed", execution_id)
