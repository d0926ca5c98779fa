"""Execution events (:class:`ExecutionEvent`) <-> ``ophost.v1.Event``.

Outputs are encoded inline here; splitting large values into chunks is the
transport's job, done around these functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any, TypeVar

from google.protobuf import timestamp_pb2

from ophost.codec import failures, values
from ophost.codec import metadata as metadata_codec
from ophost.definitions._execution_events import (
    CancelOutcome,
    ErrorSource,
    EventBody,
    ExecutionEvent,
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    InputChecked,
    LogLevel,
    LogMessage,
    OutputProduced,
    RetryScheduled,
    StepFailed,
    StepRestarted,
    StepStarted,
    StepSucceeded,
    UserFailure,
)
from ophost.definitions._metadata import MetadataEntry
from ophost.definitions._op_events import (
    AssetMaterialization,
    AssetObservation,
    ExpectationResult,
    TypeCheck,
)
from ophost.errors import CodecError, OpHostError
from ophost.v1 import event_pb2, value_pb2

__all__ = [
    "CANCEL_OUTCOME_NUMBERS",
    "ERROR_SOURCE_NUMBERS",
    "LOG_LEVEL_NUMBERS",
    "STATUS_NUMBERS",
    "body_to_proto",
    "from_proto",
    "seconds_from_nanos",
    "seconds_to_nanos",
    "to_proto",
    "type_check_from_proto",
    "type_check_to_proto",
]

_E = TypeVar("_E")

# The wire numbers of the enums events carry.
LOG_LEVEL_NUMBERS = {
    LogLevel.DEBUG: event_pb2.LOG_LEVEL_DEBUG,
    LogLevel.INFO: event_pb2.LOG_LEVEL_INFO,
    LogLevel.WARNING: event_pb2.LOG_LEVEL_WARNING,
    LogLevel.ERROR: event_pb2.LOG_LEVEL_ERROR,
    LogLevel.CRITICAL: event_pb2.LOG_LEVEL_CRITICAL,
}
ERROR_SOURCE_NUMBERS = {
    ErrorSource.USER_CODE: event_pb2.ERROR_SOURCE_USER_CODE,
    ErrorSource.FRAMEWORK: event_pb2.ERROR_SOURCE_FRAMEWORK,
    ErrorSource.INTERRUPT: event_pb2.ERROR_SOURCE_INTERRUPT,
    ErrorSource.UNEXPECTED: event_pb2.ERROR_SOURCE_UNEXPECTED,
    ErrorSource.HOST_LOST: event_pb2.ERROR_SOURCE_HOST_LOST,
    ErrorSource.WORKER_CRASHED: event_pb2.ERROR_SOURCE_WORKER_CRASHED,
    ErrorSource.WORKER_LOST: event_pb2.ERROR_SOURCE_WORKER_LOST,
    ErrorSource.MEMORY_LIMIT: event_pb2.ERROR_SOURCE_MEMORY_LIMIT,
    ErrorSource.TIMEOUT: event_pb2.ERROR_SOURCE_TIMEOUT,
}
STATUS_NUMBERS = {
    ExecutionStatus.SUCCEEDED: event_pb2.EXECUTION_STATUS_SUCCEEDED,
    ExecutionStatus.FAILED: event_pb2.EXECUTION_STATUS_FAILED,
    ExecutionStatus.CANCELED: event_pb2.EXECUTION_STATUS_CANCELED,
}
CANCEL_OUTCOME_NUMBERS = {
    CancelOutcome.NOT_STARTED: event_pb2.CANCEL_OUTCOME_NOT_STARTED,
    CancelOutcome.COOPERATIVE: event_pb2.CANCEL_OUTCOME_COOPERATIVE,
    CancelOutcome.FORCED: event_pb2.CANCEL_OUTCOME_FORCED,
    CancelOutcome.ABANDONED: event_pb2.CANCEL_OUTCOME_ABANDONED,
}


def seconds_to_nanos(seconds: float) -> int:
    """Nanoseconds of a float of seconds, such that :func:`seconds_from_nanos` gives it back.

    The quick product is exact for almost every value; when it would not read back
    as the same float, the exact rational product decides.
    """
    quick = round(seconds * 1_000_000_000)
    if quick / 1_000_000_000 == seconds:
        return quick
    return round(Fraction(seconds) * 1_000_000_000)


def seconds_from_nanos(nanos: int) -> float:
    """The float nearest to ``nanos`` nanoseconds; inverse of :func:`seconds_to_nanos`."""
    return nanos / 1_000_000_000


def type_check_to_proto(check: TypeCheck, *, path: str) -> event_pb2.TypeCheckResult:
    message = event_pb2.TypeCheckResult(success=check.success)
    if check.description is not None:
        message.description = check.description
    message.metadata.extend(metadata_codec.entries_to_proto(check.metadata_entries, path=path))
    return message


def type_check_from_proto(message: event_pb2.TypeCheckResult, *, path: str) -> TypeCheck:
    return TypeCheck(
        success=message.success,
        description=message.description if message.HasField("description") else None,
        metadata_entries=metadata_codec.entries_from_proto(message.metadata, path=path),
    )


def to_proto(
    event: ExecutionEvent, *, output_value: value_pb2.Value | None = None
) -> event_pb2.Event:
    """Encode one event with its envelope.

    ``output_value`` supplies an output's value already in wire form (for example a
    chunked reference), instead of encoding ``event.body.value`` here.
    """
    seconds, nanos = divmod(seconds_to_nanos(event.timestamp), 1_000_000_000)
    message = event_pb2.Event(
        execution_id=event.execution_id,
        sequence=event.sequence,
        attempt=event.attempt,
        op_name=event.op_name,
        timestamp=timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos),
    )
    body_to_proto(event.body, message, where=f"event {event.sequence}", output_value=output_value)
    return message


def body_to_proto(
    body: EventBody,
    message: event_pb2.Event,
    *,
    where: str,
    output_value: value_pb2.Value | None = None,
) -> None:
    """Set the event kind of ``message`` from ``body``; the envelope is left alone.

    ``where`` names the event in error messages (``event 7`` gives paths such as
    ``event 7.metadata.rows``); ``output_value`` is as in :func:`to_proto`.
    """
    encoder = _ENCODERS.get(type(body)) or _encoder_for_subclass(body, where)
    encoder(body, message, where, output_value)


# One encoder per event kind, looked up by the body's type. ``where`` only names the
# event in error messages (``event 7.metadata.rows``).
_Encoder = Callable[[Any, event_pb2.Event, str, "value_pb2.Value | None"], None]


def _entries(entries: Sequence[MetadataEntry], where: str, field: str) -> list[Any]:
    return metadata_codec.entries_to_proto(entries, path=f"{where}.{field}")


def _encode_started(body: ExecutionStarted, message: event_pb2.Event, *_: object) -> None:
    message.execution_started.request_id = body.request_id


def _encode_step_started(_body: StepStarted, message: event_pb2.Event, *_: object) -> None:
    message.step_started.SetInParent()


def _encode_restarted(_body: StepRestarted, message: event_pb2.Event, *_: object) -> None:
    message.step_restarted.SetInParent()


def _encode_input_checked(
    body: InputChecked, message: event_pb2.Event, where: str, _: object
) -> None:
    message.input_checked.input_name = body.input_name
    message.input_checked.type_check.CopyFrom(
        type_check_to_proto(body.type_check, path=f"{where}.type_check")
    )


def _encode_output(
    body: OutputProduced,
    message: event_pb2.Event,
    where: str,
    output_value: value_pb2.Value | None,
) -> None:
    out = message.output
    out.output_name = body.output_name
    out.value.CopyFrom(
        output_value
        if output_value is not None
        else values.to_proto(body.value, path=f"outputs.{body.output_name}")
    )
    if body.metadata_entries:
        out.metadata.extend(_entries(body.metadata_entries, where, "metadata"))
    out.type_check.CopyFrom(type_check_to_proto(body.type_check, path=f"{where}.type_check"))


def _encode_materialization(
    body: AssetMaterialization, message: event_pb2.Event, where: str, _: object
) -> None:
    _encode_asset_event(body, message.asset_materialization, where)


def _encode_observation(
    body: AssetObservation, message: event_pb2.Event, where: str, _: object
) -> None:
    _encode_asset_event(body, message.asset_observation, where)


def _encode_asset_event(
    body: AssetMaterialization | AssetObservation,
    asset: event_pb2.AssetMaterializationEvent | event_pb2.AssetObservationEvent,
    where: str,
) -> None:
    asset.asset_key.CopyFrom(metadata_codec.asset_key_to_proto(body.asset_key))
    if body.description is not None:
        asset.description = body.description
    if body.metadata_entries:
        asset.metadata.extend(_entries(body.metadata_entries, where, "metadata"))
    if body.partition is not None:
        asset.partition = body.partition
    asset.tags.update(body.tags or {})


def _encode_expectation(
    body: ExpectationResult, message: event_pb2.Event, where: str, _: object
) -> None:
    exp = message.expectation_result
    exp.success = body.success
    exp.label = body.label if body.label is not None else ""
    if body.description is not None:
        exp.description = body.description
    if body.metadata_entries:
        exp.metadata.extend(_entries(body.metadata_entries, where, "metadata"))


def _encode_log(body: LogMessage, message: event_pb2.Event, *_: object) -> None:
    message.log.level = LOG_LEVEL_NUMBERS[body.level]
    message.log.message = body.message
    message.log.logger_name = body.logger_name


def _encode_retry(body: RetryScheduled, message: event_pb2.Event, *_: object) -> None:
    retry = message.retry_scheduled
    retry.failed_attempt = body.failed_attempt
    retry.next_attempt = body.next_attempt
    retry.delay_seconds = body.delay_seconds
    retry.error.CopyFrom(failures.to_proto(body.error))


def _encode_failure(body: StepFailed, message: event_pb2.Event, where: str, _: object) -> None:
    failure = message.step_failure
    failure.error.CopyFrom(failures.to_proto(body.error))
    failure.error_source = ERROR_SOURCE_NUMBERS[body.error_source]
    failure.will_retry = body.will_retry
    if body.user_failure is not None:
        user = failure.user_failure
        user.SetInParent()
        if body.user_failure.description is not None:
            user.description = body.user_failure.description
        user.metadata.extend(_entries(body.user_failure.metadata_entries, where, "user_failure"))


def _encode_success(body: StepSucceeded, message: event_pb2.Event, *_: object) -> None:
    message.step_success.duration.FromNanoseconds(seconds_to_nanos(body.duration_seconds))


def _encode_finished(body: ExecutionFinished, message: event_pb2.Event, *_: object) -> None:
    finished = message.execution_finished
    finished.status = STATUS_NUMBERS[body.status]
    if body.error is not None:
        finished.error.CopyFrom(failures.to_proto(body.error))
    finished.cancel_requested = body.cancel_requested
    if body.cancel_outcome is not None:
        finished.cancel_outcome = CANCEL_OUTCOME_NUMBERS[body.cancel_outcome]


_ENCODERS: dict[type, _Encoder] = {
    ExecutionStarted: _encode_started,
    StepStarted: _encode_step_started,
    StepRestarted: _encode_restarted,
    InputChecked: _encode_input_checked,
    OutputProduced: _encode_output,
    AssetMaterialization: _encode_materialization,
    AssetObservation: _encode_observation,
    ExpectationResult: _encode_expectation,
    LogMessage: _encode_log,
    RetryScheduled: _encode_retry,
    StepFailed: _encode_failure,
    StepSucceeded: _encode_success,
    ExecutionFinished: _encode_finished,
}


def _encoder_for_subclass(body: object, where: str) -> _Encoder:
    for kind, encoder in _ENCODERS.items():
        if isinstance(body, kind):
            return encoder
    raise CodecError(where, f"{type(body).__name__} is not an event kind")


def from_proto(message: event_pb2.Event) -> ExecutionEvent:
    """Decode one event; an event kind this library does not know is a :class:`CodecError`."""
    path = f"event {message.sequence}"
    try:
        body = _body_from_proto(message, path)
    except CodecError:
        raise
    except OpHostError as exc:
        raise CodecError(path, str(exc)) from None
    return ExecutionEvent(
        execution_id=message.execution_id,
        sequence=message.sequence,
        attempt=message.attempt,
        timestamp=seconds_from_nanos(message.timestamp.ToNanoseconds()),
        op_name=message.op_name,
        body=body,
    )


def _body_from_proto(message: event_pb2.Event, path: str) -> EventBody:
    kind = message.WhichOneof("kind")
    decoder = _DECODERS.get(kind or "")
    if decoder is not None:
        return decoder(message, path)
    if kind == "value_chunk":
        raise CodecError(path, "value chunks are reassembled by the transport, not decoded alone")
    raise CodecError(path, f"unknown event kind {kind!r}")


def _back(table: Mapping[_E, int], wire: int, what: str, path: str) -> _E:
    """The member of ``table`` whose wire number is ``wire``."""
    for member, number in table.items():
        if number == wire:
            return member
    raise CodecError(path, f"unknown {what} {wire}")


def _decode_started(message: event_pb2.Event, _path: str) -> EventBody:
    return ExecutionStarted(request_id=message.execution_started.request_id)


def _decode_step_started(_message: event_pb2.Event, _path: str) -> EventBody:
    return StepStarted()


def _decode_restarted(_message: event_pb2.Event, _path: str) -> EventBody:
    return StepRestarted()


def _decode_input_checked(message: event_pb2.Event, path: str) -> EventBody:
    checked = message.input_checked
    return InputChecked(
        checked.input_name, type_check_from_proto(checked.type_check, path=f"{path}.type_check")
    )


def _decode_output(message: event_pb2.Event, path: str) -> EventBody:
    out = message.output
    return OutputProduced(
        output_name=out.output_name,
        value=values.from_proto(out.value, path=f"outputs.{out.output_name}"),
        metadata_entries=tuple(
            metadata_codec.entries_from_proto(out.metadata, path=f"{path}.metadata")
        ),
        type_check=type_check_from_proto(out.type_check, path=f"{path}.type_check"),
    )


def _decode_materialization(message: event_pb2.Event, path: str) -> EventBody:
    mat = message.asset_materialization
    return AssetMaterialization(
        asset_key=metadata_codec.asset_key_from_proto(mat.asset_key),
        description=mat.description if mat.HasField("description") else None,
        metadata_entries=metadata_codec.entries_from_proto(mat.metadata, path=f"{path}.metadata"),
        partition=mat.partition if mat.HasField("partition") else None,
        tags=dict(mat.tags),
    )


def _decode_observation(message: event_pb2.Event, path: str) -> EventBody:
    obs = message.asset_observation
    return AssetObservation(
        asset_key=metadata_codec.asset_key_from_proto(obs.asset_key),
        description=obs.description if obs.HasField("description") else None,
        metadata_entries=metadata_codec.entries_from_proto(obs.metadata, path=f"{path}.metadata"),
        partition=obs.partition if obs.HasField("partition") else None,
        tags=dict(obs.tags),
    )


def _decode_expectation(message: event_pb2.Event, path: str) -> EventBody:
    exp = message.expectation_result
    return ExpectationResult(
        success=exp.success,
        label=exp.label,
        description=exp.description if exp.HasField("description") else None,
        metadata_entries=metadata_codec.entries_from_proto(exp.metadata, path=f"{path}.metadata"),
    )


def _decode_log(message: event_pb2.Event, path: str) -> EventBody:
    return LogMessage(
        level=_back(LOG_LEVEL_NUMBERS, message.log.level, "log level", path),
        message=message.log.message,
        logger_name=message.log.logger_name,
    )


def _decode_retry(message: event_pb2.Event, _path: str) -> EventBody:
    retry = message.retry_scheduled
    return RetryScheduled(
        failed_attempt=retry.failed_attempt,
        next_attempt=retry.next_attempt,
        delay_seconds=retry.delay_seconds,
        error=failures.from_proto(retry.error),
    )


def _decode_failure(message: event_pb2.Event, path: str) -> EventBody:
    failure = message.step_failure
    user = None
    if failure.HasField("user_failure"):
        given = failure.user_failure
        user = UserFailure(
            description=given.description if given.HasField("description") else None,
            metadata_entries=tuple(
                metadata_codec.entries_from_proto(given.metadata, path=f"{path}.user_failure")
            ),
        )
    return StepFailed(
        error=failures.from_proto(failure.error),
        error_source=_back(ERROR_SOURCE_NUMBERS, failure.error_source, "error source", path),
        user_failure=user,
        will_retry=failure.will_retry,
    )


def _decode_success(message: event_pb2.Event, _path: str) -> EventBody:
    return StepSucceeded(
        duration_seconds=seconds_from_nanos(message.step_success.duration.ToNanoseconds())
    )


def _decode_finished(message: event_pb2.Event, path: str) -> EventBody:
    finished = message.execution_finished
    outcome = None
    if finished.cancel_outcome:
        outcome = _back(CANCEL_OUTCOME_NUMBERS, finished.cancel_outcome, "cancel outcome", path)
    return ExecutionFinished(
        status=_back(STATUS_NUMBERS, finished.status, "execution status", path),
        error=failures.from_proto(finished.error) if finished.HasField("error") else None,
        cancel_requested=finished.cancel_requested,
        cancel_outcome=outcome,
    )


# One decoder per event kind, by the name of the ``kind`` oneof's field.
_DECODERS: dict[str, Callable[[event_pb2.Event, str], EventBody]] = {
    "execution_started": _decode_started,
    "step_started": _decode_step_started,
    "step_restarted": _decode_restarted,
    "input_checked": _decode_input_checked,
    "output": _decode_output,
    "asset_materialization": _decode_materialization,
    "asset_observation": _decode_observation,
    "expectation_result": _decode_expectation,
    "log": _decode_log,
    "retry_scheduled": _decode_retry,
    "step_failure": _decode_failure,
    "step_success": _decode_success,
    "execution_finished": _decode_finished,
}
