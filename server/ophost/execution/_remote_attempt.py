"""Running one attempt from its wire form, wherever user code runs outside the host.

A worker process (:mod:`ophost.execution._worker_runtime`) and a Ray task
(:mod:`ophost.execution._ray_task`) both get an attempt as ``ophost.v1`` messages (an
``ExecutionStart`` with its inputs and config, the execution id and the attempt
number) and hand back event tails and an ``AttemptFinished``. What they share is
here: the :class:`~ophost.execution.AttemptRequest` built from the start message,
the output encoder, the tails of a batch of events, how batches are cut, and the
``AttemptFinished`` an outcome stands for.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence

from ophost.codec import events as events_codec
from ophost.codec import values as values_codec
from ophost.codec.chunks import EncodedValue, encode_value_pieces
from ophost.definitions import (
    CancelOutcome,
    ErrorData,
    ErrorSource,
    OutputProduced,
    RetryRequested,
    StepFailed,
)
from ophost.definitions._op import OpDefinition
from ophost.execution._attempt import (
    AttemptCanceled,
    AttemptFailed,
    AttemptOutcome,
    AttemptRequest,
    EngineEvent,
)
from ophost.execution._prepare import prepare_execution
from ophost.execution._tails import EventWriter, shortened
from ophost.v1 import event_pb2, execution_pb2, worker_pb2

__all__ = [
    "attempt_request",
    "ends_worker",
    "event_tails",
    "finished_message",
    "output_encoder",
    "split_batches",
]


def attempt_request(
    op_def: OpDefinition,
    start: execution_pb2.ExecutionStart,
    resources: Mapping[str, object],
    *,
    execution_id: str,
    number: int,
    encode_output: Callable[[str, object], EncodedValue],
    chunked: Callable[[str], object] | None = None,
) -> AttemptRequest:
    """The request to run attempt ``number`` of ``start`` with this process's ``op_def``.

    Inputs and config are decoded here, from their wire form (nothing pickled);
    ``chunked`` returns an input that arrived in chunks, by its value id. Raises what
    decoding or preparing raises (a failure of the framework, not of user code).
    """
    inputs: dict[str, object] = {}
    for named in start.inputs:
        path = f"inputs.{named.name}"
        if named.value.WhichOneof("kind") == "chunked_value":
            if chunked is None:
                raise ValueError(f"{path} is a chunked value and no chunks were sent")
            inputs[named.name] = chunked(named.value.chunked_value.value_id)
        else:
            inputs[named.name] = values_codec.from_proto(named.value, path=path)
    config = (
        values_codec.from_proto(start.config, path="config") if start.HasField("config") else None
    )
    prepared = prepare_execution(op_def, inputs, config, dict(resources))
    return AttemptRequest(
        prepared=prepared,
        run_id=execution_id,
        attempt=number,
        tags=dict(start.tags),
        encode_output=encode_output,
        keep_outputs=False,
    )


def output_encoder(
    execution_id: str, number: int, *, inline_threshold: int, chunk_size: int
) -> Callable[[str, object], EncodedValue]:
    """Puts an output's value in wire form: inline, or a reference and its chunks."""
    counter = itertools.count(1)

    def encode(name: str, value: object) -> EncodedValue:
        return encode_value_pieces(
            value,
            path=f"outputs.{name}",
            inline_threshold=inline_threshold,
            chunk_size=chunk_size,
            value_id=f"{execution_id}.{number}.{name}.{next(counter)}",
        )

    return encode


def event_tails(writer: EventWriter, events: Sequence[EngineEvent]) -> list[bytes]:
    """The tails of ``events``, an output's chunks following it as events of their own."""
    tails: list[bytes] = []
    for event in events:
        tails.append(writer.tail(shortened(event)))
        body = event.body
        encoded = event.encoded
        if type(body) is OutputProduced and encoded is not None and encoded.chunked:
            for chunk, data in encoded.chunks:
                piece = writer.chunk_tail(event, chunk, data)
                tails.append(piece if isinstance(piece, bytes) else b"".join(piece))
    return tails


def split_batches(
    tails: Sequence[bytes], max_events: int, max_bytes: int
) -> Iterator[tuple[int, int, int]]:
    """Cut ``tails`` into batches: ``(first, last, size)`` slices, each of at least one
    tail, at most ``max_events`` tails, and stopping once ``max_bytes`` is reached."""
    first = 0
    while first < len(tails):
        last = first
        size = 0
        while last < len(tails) and (last == first or last - first < max_events):
            size += len(tails[last])
            last += 1
            if size >= max_bytes:
                break
        yield first, last, size
        first = last


def finished_message(
    attempt_id: str,
    fence: int,
    count: int,
    outcome: AttemptOutcome,
    *,
    memory_limit: int = 0,
    memory_limited: bool = False,
) -> worker_pb2.AttemptFinished:
    """The ``AttemptFinished`` that reports ``outcome`` after ``count`` events.

    A body given up on after a cancel (abandoned) is reported as forced: the process
    it runs in is ended. A ``MemoryError`` under a memory limit is the limit's failure.
    """
    message = worker_pb2.AttemptFinished(attempt_id=attempt_id, fence=fence, count=count)
    if isinstance(outcome, AttemptCanceled):
        how = outcome.outcome
        if how is CancelOutcome.ABANDONED:
            how = CancelOutcome.FORCED  # the process ends, and the body with it
        message.canceled.outcome = events_codec.CANCEL_OUTCOME_NUMBERS[how]
        return message
    if not isinstance(outcome, AttemptFailed):
        message.succeeded.SetInParent()
        return message
    failure = outcome.failure
    raised = outcome.raised
    if memory_limited and isinstance(raised, MemoryError):
        failure = StepFailed(
            error=ErrorData(
                type_name="ophost.MemoryLimitExceeded",
                message=f"the attempt reached its memory limit of {memory_limit} bytes",
                cause=failure.error,
            ),
            error_source=ErrorSource.MEMORY_LIMIT,
        )
    event = event_pb2.Event()
    events_codec.body_to_proto(failure, event, where="the attempt's failure")
    failed = message.failed
    failed.error.CopyFrom(event.step_failure.error)
    failed.error_source = event.step_failure.error_source
    if event.step_failure.HasField("user_failure"):
        failed.user_failure.CopyFrom(event.step_failure.user_failure)
    if isinstance(raised, RetryRequested):
        failed.retry_requested.max_retries = raised.max_retries
        failed.retry_requested.seconds_to_wait = float(raised.seconds_to_wait or 0)
    elif outcome.retry is None:
        # A framework error, or Failure(allow_retries=False): no policy retry applies.
        failed.retries_forbidden = True
    return message


def ends_worker(outcome: AttemptOutcome, message: worker_pb2.AttemptFinished) -> bool:
    """Whether the worker process that ran the attempt must end after reporting it.

    A body given up on after a cancel still runs in a thread, and one that hit the
    memory limit may have left the process damaged: only ending the process helps.
    """
    abandoned = isinstance(outcome, AttemptCanceled) and outcome.outcome is CancelOutcome.ABANDONED
    return abandoned or message.failed.error_source == event_pb2.ERROR_SOURCE_MEMORY_LIMIT
