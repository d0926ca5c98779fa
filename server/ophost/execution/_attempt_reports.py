"""What the host makes of an attempt's reports from where its user code ran.

A worker process and a Ray task both send an attempt's events as tails they wrote
and its end as an ``ophost.v1.AttemptFinished``. Every executor that runs bodies
outside the host reads them with the same rules, here: a tail must decode, be of a
kind user code produces, carry this attempt's number and op and no head of its own
(the store adds execution id and sequence); it becomes an
:class:`~ophost.execution.EncodedEvent`, stored as sent. A failure report becomes an
:class:`~ophost.execution.AttemptFailed`, with the retry the op asked for or its
policy offers; a failure the host itself observes (a process or a node gone, a time
limit) is a "synthetic" one, retried by the policy unless it is the framework's or
an interruption.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from google.protobuf.message import DecodeError

from ophost.codec import events as events_codec
from ophost.definitions import (
    CancelOutcome,
    ErrorData,
    ErrorSource,
    RetryRequested,
    StepFailed,
)
from ophost.execution._attempt import (
    AttemptFailed,
    AttemptRequest,
    EncodedEvent,
    EngineEvent,
)
from ophost.execution._attempt_rules import policy_retry
from ophost.v1 import event_pb2, value_pb2, worker_pb2

__all__ = [
    "CANCEL_OUTCOMES",
    "USER_KINDS",
    "TailBatch",
    "cancel_outcome",
    "failed_outcome",
    "read_tails",
    "synthetic_failure",
]

# The event kinds an attempt's user code produces; a worker may send only these.
USER_KINDS = frozenset(
    {
        "input_checked",
        "output",
        "asset_materialization",
        "asset_observation",
        "expectation_result",
        "log",
        "value_chunk",
    }
)
# ``ophost.v1.CancelOutcome`` numbers to the definitions' enum.
CANCEL_OUTCOMES: dict[int, CancelOutcome] = {
    int(number): outcome for outcome, number in events_codec.CANCEL_OUTCOME_NUMBERS.items()
}


class TailBatch:
    """What :func:`read_tails` made of a batch: its events, their bytes, or a problem."""

    __slots__ = ("events", "problem", "size")

    def __init__(self) -> None:
        self.events: list[EngineEvent] = []
        self.size = 0
        self.problem = ""


def read_tails(tails: Sequence[bytes], number: int, op_name: str) -> TailBatch:
    """Check a batch of tails of attempt ``number`` of ``op_name``.

    On the first tail that breaks a rule, stops with ``problem`` saying which (as
    "it sent ...", the subject being whatever ran the attempt).
    """
    batch = TailBatch()
    now = time.time()
    parse = event_pb2.Event.FromString
    events = batch.events
    for tail in tails:
        try:
            event = parse(tail)
        except DecodeError:
            batch.problem = f"it sent an event of attempt {number} that does not decode"
            return batch
        kind = event.WhichOneof("kind")
        if kind not in USER_KINDS:
            batch.problem = (
                f"it sent an event of kind {kind or 'none'}, which user code cannot produce"
            )
            return batch
        if event.attempt != number or event.op_name != op_name:
            batch.problem = "it sent an event of another attempt or op"
            return batch
        if event.execution_id or event.sequence:
            batch.problem = "it sent an event with an execution id or a sequence of its own"
            return batch
        output = None
        if kind == "output":
            produced = event.output
            output = value_pb2.NamedValue(name=produced.output_name, value=produced.value)
        events.append(EngineEvent(number, now, EncodedEvent(tail, kind, output)))
        batch.size += len(tail)
    return batch


def failed_outcome(
    failed: worker_pb2.AttemptFailedOutcome, request: AttemptRequest
) -> AttemptFailed:
    """The outcome a reported failure stands for, with the retry that applies."""
    event = event_pb2.Event()
    step = event.step_failure
    step.error.CopyFrom(failed.error)
    step.error_source = failed.error_source
    if failed.HasField("user_failure"):
        step.user_failure.CopyFrom(failed.user_failure)
    body = events_codec.from_proto(event).body
    assert isinstance(body, StepFailed)
    retry: RetryRequested | None = None
    if failed.HasField("retry_requested"):
        retry = RetryRequested(
            max_retries=failed.retry_requested.max_retries,
            seconds_to_wait=failed.retry_requested.seconds_to_wait,
        )
    elif not failed.retries_forbidden:
        retry = policy_retry(request.prepared.op_def, request.attempt)
    return AttemptFailed(body, None, retry)


def synthetic_failure(
    request: AttemptRequest, source: ErrorSource, type_name: str, message: str
) -> AttemptFailed:
    """A failure the host observed; the op's retry policy applies, except to the
    framework's own failures and to interruptions."""
    failure = StepFailed(error=ErrorData(type_name=type_name, message=message), error_source=source)
    retry = None
    if source not in (ErrorSource.FRAMEWORK, ErrorSource.INTERRUPT):
        retry = policy_retry(request.prepared.op_def, request.attempt)
    return AttemptFailed(failure, None, retry)


def cancel_outcome(number: int) -> CancelOutcome:
    """A reported ``ophost.v1.CancelOutcome`` (cooperative when unknown)."""
    return CANCEL_OUTCOMES.get(number, CancelOutcome.COOPERATIVE)
