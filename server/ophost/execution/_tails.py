"""Event tails: an event's attempt, timestamp, op name and kind, written as bytes.

The tail is what an event is before its head (execution id and sequence), which only
the store adds. It is written where the event is made: by the host for the engine's
own events, and by a worker process for the events of the op body it runs, so the
bytes a worker hands over are stored as they are. Everything written here by hand is
what ``SerializeToString`` of the same message would write, byte for byte (fields in
number order, proto3 defaults left out); ``tests/unit/test_wire.py`` checks that for
every event kind. Field numbers come from the generated descriptors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.message import Message

from ophost.codec import events as events_codec
from ophost.codec import failures as failures_codec
from ophost.codec import metadata as metadata_codec
from ophost.codec import values as values_codec
from ophost.codec.chunks import varint
from ophost.definitions import (
    ErrorData,
    EventBody,
    ExecutionFinished,
    ExecutionStarted,
    ExpectationResult,
    InputChecked,
    LogMessage,
    OutputProduced,
    RetryScheduled,
    StepFailed,
    StepRestarted,
    StepStarted,
    StepSucceeded,
    TypeCheck,
)
from ophost.execution._attempt import EncodedEvent, EngineEvent
from ophost.v1 import event_pb2, value_pb2

__all__ = ["EventWriter", "Tail", "chunk_tail", "op_name_field", "shortened"]

# A tail as bytes, or as pieces to join (a chunk's data goes in as a view).
Tail = bytes | tuple[bytes | memoryview, ...]

_VARINT = 0
_LEN = 2


def _tag(number: int, wire_type: int) -> bytes:
    return varint((number << 3) | wire_type)


_Event = event_pb2.Event
_ATTEMPT = _tag(_Event.ATTEMPT_FIELD_NUMBER, _VARINT)
_TIMESTAMP = _tag(_Event.TIMESTAMP_FIELD_NUMBER, _LEN)
_OP_NAME = _tag(_Event.OP_NAME_FIELD_NUMBER, _LEN)
_SECONDS = _tag(timestamp_pb2.Timestamp.SECONDS_FIELD_NUMBER, _VARINT)
_NANOS = _tag(timestamp_pb2.Timestamp.NANOS_FIELD_NUMBER, _VARINT)
_DURATION_SECONDS = _tag(duration_pb2.Duration.SECONDS_FIELD_NUMBER, _VARINT)
_DURATION_NANOS = _tag(duration_pb2.Duration.NANOS_FIELD_NUMBER, _VARINT)
_VALUE_CHUNK = _tag(_Event.VALUE_CHUNK_FIELD_NUMBER, _LEN)
_CHUNK_DATA = _tag(value_pb2.ValueChunk.DATA_FIELD_NUMBER, _LEN)

_Started = event_pb2.ExecutionStartedEvent
_Checked = event_pb2.InputCheckedEvent
_Result = event_pb2.TypeCheckResult
_OutputEvent = event_pb2.OutputEvent
_Expectation = event_pb2.ExpectationResultEvent
_Log = event_pb2.LogEvent
_Finished = event_pb2.ExecutionFinishedEvent

_KIND = {
    ExecutionStarted: _tag(_Event.EXECUTION_STARTED_FIELD_NUMBER, _LEN),
    StepStarted: _tag(_Event.STEP_STARTED_FIELD_NUMBER, _LEN),
    StepRestarted: _tag(_Event.STEP_RESTARTED_FIELD_NUMBER, _LEN),
    InputChecked: _tag(_Event.INPUT_CHECKED_FIELD_NUMBER, _LEN),
    OutputProduced: _tag(_Event.OUTPUT_FIELD_NUMBER, _LEN),
    ExpectationResult: _tag(_Event.EXPECTATION_RESULT_FIELD_NUMBER, _LEN),
    LogMessage: _tag(_Event.LOG_FIELD_NUMBER, _LEN),
    StepSucceeded: _tag(_Event.STEP_SUCCESS_FIELD_NUMBER, _LEN),
    ExecutionFinished: _tag(_Event.EXECUTION_FINISHED_FIELD_NUMBER, _LEN),
}
_REQUEST_ID = _tag(_Started.REQUEST_ID_FIELD_NUMBER, _LEN)
_INPUT_NAME = _tag(_Checked.INPUT_NAME_FIELD_NUMBER, _LEN)
_INPUT_TYPE_CHECK = _tag(_Checked.TYPE_CHECK_FIELD_NUMBER, _LEN)
_CHECK_SUCCESS = _tag(_Result.SUCCESS_FIELD_NUMBER, _VARINT)
_OUTPUT_NAME = _tag(_OutputEvent.OUTPUT_NAME_FIELD_NUMBER, _LEN)
_OUTPUT_VALUE = _tag(_OutputEvent.VALUE_FIELD_NUMBER, _LEN)
_OUTPUT_METADATA = _tag(_OutputEvent.METADATA_FIELD_NUMBER, _LEN)
_OUTPUT_TYPE_CHECK = _tag(_OutputEvent.TYPE_CHECK_FIELD_NUMBER, _LEN)
_EXPECT_SUCCESS = _tag(_Expectation.SUCCESS_FIELD_NUMBER, _VARINT)
_EXPECT_LABEL = _tag(_Expectation.LABEL_FIELD_NUMBER, _LEN)
_EXPECT_DESCRIPTION = _tag(_Expectation.DESCRIPTION_FIELD_NUMBER, _LEN)
_EXPECT_METADATA = _tag(_Expectation.METADATA_FIELD_NUMBER, _LEN)
_LOG_LEVEL = _tag(_Log.LEVEL_FIELD_NUMBER, _VARINT)
_LOG_MESSAGE = _tag(_Log.MESSAGE_FIELD_NUMBER, _LEN)
_LOG_LOGGER = _tag(_Log.LOGGER_NAME_FIELD_NUMBER, _LEN)
_FINISHED_STATUS = _tag(_Finished.STATUS_FIELD_NUMBER, _VARINT)
_FINISHED_ERROR = _tag(_Finished.ERROR_FIELD_NUMBER, _LEN)
_FINISHED_CANCEL_REQUESTED = _tag(_Finished.CANCEL_REQUESTED_FIELD_NUMBER, _VARINT)
_FINISHED_CANCEL_OUTCOME = _tag(_Finished.CANCEL_OUTCOME_FIELD_NUMBER, _VARINT)
_TRUE = b"\x01"

_PASSED = _CHECK_SUCCESS + _TRUE  # TypeCheckResult(success=True), the common result


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, varint length, payload."""
    return b"".join((tag, varint(len(payload)), payload))


def _string(tag: bytes, text: str) -> bytes:
    return _field(tag, text.encode())


def _serialized(message: Message) -> bytes:
    # Deterministic: map entries in key order, so the same event is always the same bytes.
    data: bytes = message.SerializeToString(deterministic=True)
    return data


# -- the tail: written when the engine emits an event -------------------------------------------


def _nanos(seconds: float) -> int:
    """Nanoseconds of a float of seconds that read back as the same float."""
    quick = round(seconds * 1_000_000_000)
    if quick / 1_000_000_000 == seconds:
        return quick
    return events_codec.seconds_to_nanos(seconds)


def _timestamp(seconds: float) -> bytes:
    whole, nanos = divmod(_nanos(seconds), 1_000_000_000)
    inner = _SECONDS + varint(whole) if whole else b""
    if nanos:
        inner += _NANOS + varint(nanos)
    return _TIMESTAMP + varint(len(inner)) + inner


def _type_check(check: TypeCheck, number: int) -> bytes:
    """A ``TypeCheckResult``'s fields (without its own tag)."""
    if check.description is None and not check.metadata_entries:
        return _PASSED if check.success else b""
    return _serialized(events_codec.type_check_to_proto(check, path=f"event {number}.type_check"))


def _entries(entries: Sequence[Any], tag: bytes, number: int) -> bytes:
    if not entries:
        return b""
    messages = metadata_codec.entries_to_proto(entries, path=f"event {number}.metadata")
    return b"".join(_field(tag, _serialized(m)) for m in messages)


_Body = Callable[[Any, EngineEvent, "EventWriter"], bytes]
_CACHED_TEXTS = 512  # per execution: names and labels that repeat are written once


class EventWriter:
    """Writes the tails of one execution's events.

    What repeats from event to event is written once: the op name, the seconds of the
    timestamp, and short texts such as input and output names and expectation labels.
    """

    def __init__(self, op_name: str) -> None:
        self._op_name = _string(_OP_NAME, op_name) if op_name else b""
        #: How many tails were written: the number of the event being written, in errors.
        self.count = 0
        self._second = -1
        self._seconds = b""
        self._texts: dict[tuple[bytes, str], bytes] = {}

    def _timestamp(self, seconds: float) -> bytes:
        whole, nanos = divmod(_nanos(seconds), 1_000_000_000)
        if whole != self._second:
            self._second = whole
            self._seconds = _SECONDS + varint(whole) if whole else b""
        inner = self._seconds + _NANOS + varint(nanos) if nanos else self._seconds
        return _TIMESTAMP + varint(len(inner)) + inner

    def text(self, tag: bytes, text: str) -> bytes:
        """A string field, from the cache when the same text came before."""
        key = (tag, text)
        field = self._texts.get(key)
        if field is None:
            field = _string(tag, text)
            if len(self._texts) < _CACHED_TEXTS and len(text) <= 64:
                self._texts[key] = field
        return field

    def tail(self, event: EngineEvent) -> bytes:
        """The event without its head. Raises ``CodecError`` for a body with no wire form."""
        self.count += 1
        body = event.body
        if isinstance(body, EncodedEvent):
            return body.tail  # written already, by the worker that ran the body
        write = _BODIES.get(type(body))
        if write is not None:
            payload = write(body, event, self)
        else:
            message = event_pb2.Event()
            events_codec.body_to_proto(body, message, where=f"event {self.count}")
            payload = _serialized(message)  # only the kind is set: exactly its field
        attempt = event.attempt
        if attempt:
            return b"".join(
                (
                    _ATTEMPT,
                    varint(attempt),
                    self._timestamp(event.timestamp),
                    self._op_name,
                    payload,
                )
            )
        return b"".join((self._timestamp(event.timestamp), self._op_name, payload))

    def chunk_tail(
        self, event: EngineEvent, chunk: value_pb2.ValueChunk, data: bytes | memoryview
    ) -> Tail:
        """A ``value_chunk`` event's tail: ``chunk`` describes it (its own ``data`` is
        ignored) and ``data`` is its bytes, which go in as a view and are copied once,
        when the store joins the event."""
        return chunk_tail(event.attempt, event.timestamp, self._op_name, chunk, data)


def _started(body: ExecutionStarted, _event: EngineEvent, writer: EventWriter) -> bytes:
    if not body.request_id:
        return _NO_FIELDS[ExecutionStarted]
    return _field(_KIND[ExecutionStarted], _string(_REQUEST_ID, body.request_id))


def _empty(body: object, _event: EngineEvent, _writer: EventWriter) -> bytes:
    return _NO_FIELDS[type(body)]


def _input_checked(body: InputChecked, _event: EngineEvent, writer: EventWriter) -> bytes:
    name = writer.text(_INPUT_NAME, body.input_name) if body.input_name else b""
    check = _type_check(body.type_check, writer.count)
    return _field(_KIND[InputChecked], name + _INPUT_TYPE_CHECK + varint(len(check)) + check)


def _output(body: OutputProduced, event: EngineEvent, writer: EventWriter) -> bytes:
    name = body.output_name
    encoded = event.encoded
    value = (
        encoded.message
        if encoded is not None
        else values_codec.to_proto(body.value, path=f"outputs.{name}")
    )
    check = _type_check(body.type_check, writer.count)
    return _field(
        _KIND[OutputProduced],
        b"".join(
            (
                writer.text(_OUTPUT_NAME, name) if name else b"",
                _field(_OUTPUT_VALUE, _serialized(value)),
                _entries(body.metadata_entries, _OUTPUT_METADATA, writer.count),
                _OUTPUT_TYPE_CHECK,
                varint(len(check)),
                check,
            )
        ),
    )


def _expectation(body: ExpectationResult, _event: EngineEvent, writer: EventWriter) -> bytes:
    parts = _EXPECT_SUCCESS + _TRUE if body.success else b""
    if body.label:
        parts += writer.text(_EXPECT_LABEL, body.label)
    if body.description is not None:
        parts += _string(_EXPECT_DESCRIPTION, body.description)
    if body.metadata_entries:
        parts += _entries(body.metadata_entries, _EXPECT_METADATA, writer.count)
    return _field(_KIND[ExpectationResult], parts)


_LEVELS = {
    level: _LOG_LEVEL + varint(number) for level, number in events_codec.LOG_LEVEL_NUMBERS.items()
}


def _log(body: LogMessage, _event: EngineEvent, writer: EventWriter) -> bytes:
    parts = _LEVELS[body.level]
    if body.message:
        parts += _string(_LOG_MESSAGE, body.message)
    if body.logger_name:
        parts += writer.text(_LOG_LOGGER, body.logger_name)
    return _field(_KIND[LogMessage], parts)


_STEP_DURATION = _tag(event_pb2.StepSuccessEvent.DURATION_FIELD_NUMBER, _LEN)


def _succeeded(body: StepSucceeded, _event: EngineEvent, _writer: EventWriter) -> bytes:
    whole, nanos = divmod(_nanos(body.duration_seconds), 1_000_000_000)
    parts = _DURATION_SECONDS + varint(whole) if whole else b""
    if nanos:
        parts += _DURATION_NANOS + varint(nanos)
    return _field(_KIND[StepSucceeded], _STEP_DURATION + varint(len(parts)) + parts)


def _finished(body: ExecutionFinished, _event: EngineEvent, _writer: EventWriter) -> bytes:
    parts = _STATUSES[body.status]
    if body.error is not None:
        parts += _field(_FINISHED_ERROR, _serialized(failures_codec.to_proto(body.error)))
    if body.cancel_requested:
        parts += _FINISHED_CANCEL_REQUESTED + _TRUE
    if body.cancel_outcome is not None:
        parts += _OUTCOMES[body.cancel_outcome]
    return _field(_KIND[ExecutionFinished], parts)


_STATUSES = {
    status: _FINISHED_STATUS + varint(number)
    for status, number in events_codec.STATUS_NUMBERS.items()
}
_OUTCOMES = {
    outcome: _FINISHED_CANCEL_OUTCOME + varint(number)
    for outcome, number in events_codec.CANCEL_OUTCOME_NUMBERS.items()
}
# The kinds whose message can be empty: the kind's field with length 0.
_NO_FIELDS: dict[type, bytes] = {
    kind: _KIND[kind] + b"\x00" for kind in (ExecutionStarted, StepStarted, StepRestarted)
}

# The event kinds written here; the others go through the codec's messages.
_BODIES: dict[type, _Body] = {
    ExecutionStarted: _started,
    StepStarted: _empty,
    StepRestarted: _empty,
    InputChecked: _input_checked,
    OutputProduced: _output,
    ExpectationResult: _expectation,
    LogMessage: _log,
    StepSucceeded: _succeeded,
    ExecutionFinished: _finished,
}


_Chunk = value_pb2.ValueChunk
_CHUNK_VALUE_ID = _tag(_Chunk.VALUE_ID_FIELD_NUMBER, _LEN)
_CHUNK_INDEX = _tag(_Chunk.INDEX_FIELD_NUMBER, _VARINT)
_CHUNK_OFFSET = _tag(_Chunk.OFFSET_FIELD_NUMBER, _VARINT)
_CHUNK_LAST = _tag(_Chunk.LAST_FIELD_NUMBER, _VARINT)
assert (
    _Chunk.VALUE_ID_FIELD_NUMBER
    < _Chunk.INDEX_FIELD_NUMBER
    < _Chunk.OFFSET_FIELD_NUMBER
    < _Chunk.DATA_FIELD_NUMBER
    < _Chunk.LAST_FIELD_NUMBER
)


def chunk_tail(
    attempt: int,
    timestamp: float,
    op_name_field: bytes,
    chunk: value_pb2.ValueChunk,
    data: bytes | memoryview,
) -> Tail:
    """See :meth:`EventWriter.chunk_tail`."""
    before = _string(_CHUNK_VALUE_ID, chunk.value_id) if chunk.value_id else b""
    if chunk.index:
        before += _CHUNK_INDEX + varint(chunk.index)
    if chunk.offset:
        before += _CHUNK_OFFSET + varint(chunk.offset)
    if len(data):
        before += _CHUNK_DATA + varint(len(data))
    after = _CHUNK_LAST + _TRUE if chunk.last else b""
    size = len(before) + len(data) + len(after)
    head = b"".join(
        (
            _ATTEMPT + varint(attempt) if attempt else b"",
            _timestamp(timestamp),
            op_name_field,
            _VALUE_CHUNK,
            varint(size),
            before,
        )
    )
    return (head, data, after) if after else (head, data)


def op_name_field(op_name: str) -> bytes:
    """The ``op_name`` field of an event tail (empty for an empty name)."""
    return _string(_OP_NAME, op_name) if op_name else b""


# At most this many stack frames are kept per error (the innermost ones).
_MAX_FRAMES = 200
# A single log line or stack frame is cut to this many characters so that no event
# comes near the message size limit.
_MAX_TEXT = 256 * 1024


# -- keeping every event well below the message size limit ---------------------------------


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


def shortened(event: EngineEvent) -> EngineEvent:
    """The event with very long texts cut (the same event when nothing is too long)."""
    body = event.body
    if isinstance(body, EncodedEvent):
        return event  # the worker that wrote it cut it already
    shorter: EventBody = body
    if isinstance(body, LogMessage):
        if len(body.message) > _MAX_TEXT:
            shorter = LogMessage(body.level, _cut(body.message), body.logger_name)
    elif isinstance(body, (StepFailed, RetryScheduled, ExecutionFinished)):
        error = _cut_error(body.error)
        if error is not None and error is not body.error:
            shorter = replace(body, error=error)
    if shorter is body:
        return event
    return EngineEvent(event.attempt, event.timestamp, shorter, event.encoded)
