"""The host's one wire layer: events and the responses that carry them, as bytes.

Events are serialized once, when recorded, and every stream sends batches that are
plain concatenations of those bytes. Everything written here by hand is what
``SerializeToString`` of the same message would write, byte for byte (fields in
number order, proto3 defaults left out); ``tests/unit/test_wire.py`` checks that
for every event kind, batch sizes and chunked values. Field numbers come from the
generated descriptors.

An event is written in two parts. The **tail** (attempt, timestamp, op name and the
event's kind) is written where the event is made, by an
:class:`~ophost.execution._tails.EventWriter` (the engine's events here, an op body's events
in the worker process running it). The **head** (execution id and sequence) is added
by the store, which alone numbers events, in :func:`event_record`. Because
``execution_id`` and ``sequence`` are the first two fields of ``Event``, head plus
tail is the whole event.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.message import Message

from ophost.codec.chunks import read_varint, varint
from ophost.execution._tails import EventWriter, Tail, chunk_tail
from ophost.v1 import event_pb2, op_host_service_pb2

__all__ = [
    "EventWriter",
    "Record",
    "Tail",
    "record_size",
    "chunk_tail",
    "event_head",
    "event_record",
    "execute_events_response",
    "joined",
    "serialize",
    "split_records",
    "stream_events_response",
]

# A whole event, framed as one event of a batch: bytes, or pieces that are joined only
# into the response that carries them (so a chunk's data is copied once, there).
Record = bytes | tuple[bytes | memoryview, ...]

_VARINT = 0
_LEN = 2


def _tag(number: int, wire_type: int) -> bytes:
    return varint((number << 3) | wire_type)


_Event = event_pb2.Event
_EXECUTION_ID = _tag(_Event.EXECUTION_ID_FIELD_NUMBER, _LEN)
_SEQUENCE = _tag(_Event.SEQUENCE_FIELD_NUMBER, _VARINT)

# An event inside a batch: EventBatch.events and StreamEventsResponse.events are both
# field 1, so one framing serves both responses.
_BATCH_ITEM = _tag(op_host_service_pb2.EventBatch.EVENTS_FIELD_NUMBER, _LEN)
assert (
    op_host_service_pb2.StreamEventsResponse.EVENTS_FIELD_NUMBER
    == op_host_service_pb2.EventBatch.EVENTS_FIELD_NUMBER
)
_EXECUTE_EVENTS = _tag(op_host_service_pb2.ExecuteResponse.EVENTS_FIELD_NUMBER, _LEN)


def _string(tag: bytes, text: str) -> bytes:
    data = text.encode()
    return b"".join((tag, varint(len(data)), data))


def _serialized(message: Message) -> bytes:
    # Deterministic: map entries in key order, so the same message is always the same bytes.
    data: bytes = message.SerializeToString(deterministic=True)
    return data


# -- the head: added by the store ------------------------------------------------------------


def event_head(execution_id: str) -> bytes:
    """The ``execution_id`` field every event of one execution starts with."""
    return _string(_EXECUTION_ID, execution_id) if execution_id else b""


def event_record(head: bytes, sequence: int, tail: Tail) -> Record:
    """A whole event (head, its sequence, tail), framed as one event of a batch.

    A tail in pieces gives a record in pieces. A piece that views a mutable buffer is
    copied here (the buffer may change later); a view of ``bytes`` is kept as it is.
    """
    number = varint(sequence)
    if isinstance(tail, bytes):
        size = len(head) + 1 + len(number) + len(tail)
        return b"".join((_BATCH_ITEM, varint(size), head, _SEQUENCE, number, tail))
    size = len(head) + 1 + len(number) + sum(len(part) for part in tail)
    first, *rest = tail
    prefix = b"".join((_BATCH_ITEM, varint(size), head, _SEQUENCE, number, first))
    return (prefix, *(_immutable(part) for part in rest))


def split_records(data: bytes, count: int) -> list[bytes]:
    """The ``count`` records whose concatenation is ``data`` (how a store keeps several
    in one row: :func:`joined`). Raises ValueError when ``data`` is not that."""
    if count == 1:
        return [data]
    records: list[bytes] = []
    tag = _BATCH_ITEM
    start = 0
    for _ in range(count):
        at = start + len(tag)
        if data[start:at] != tag:
            raise ValueError(f"no record starts at byte {start}")
        size, at = read_varint(data, at, len(data))
        end = at + size
        if size < 0 or end > len(data):
            raise ValueError("the records end early")
        records.append(data[start:end])
        start = end
    if start != len(data):
        raise ValueError(f"{len(data) - start} bytes follow the {count} records")
    return records


def _immutable(part: bytes | memoryview) -> bytes | memoryview:
    if isinstance(part, memoryview) and not isinstance(part.obj, bytes):
        return part.tobytes()
    return part


def record_size(record: Record) -> int:
    """How many bytes a record takes in a response."""
    if isinstance(record, bytes):
        return len(record)
    return sum(len(part) for part in record)


def joined(records: Sequence[Record]) -> bytes:
    """The records' bytes, one after the other."""
    return b"".join(_pieces(records))


def _pieces(records: Sequence[Record]) -> list[bytes | memoryview]:
    pieces: list[bytes | memoryview] = []
    for record in records:
        if isinstance(record, bytes):
            pieces.append(record)
        else:
            pieces.extend(record)
    return pieces


# -- responses --------------------------------------------------------------------------------


def stream_events_response(records: Sequence[Record]) -> bytes:
    """A ``StreamEventsResponse`` holding ``records`` (from :func:`event_record`)."""
    if len(records) == 1 and isinstance(records[0], bytes):
        return records[0]  # a batch of one event is the event's record itself
    return joined(records)


def execute_events_response(records: Sequence[Record]) -> bytes:
    """An ``ExecuteResponse`` whose ``events`` batch holds ``records``."""
    pieces = _pieces(records)
    size = sum(len(piece) for piece in pieces)
    return b"".join((_EXECUTE_EVENTS, varint(size), *pieces))


def serialize(response: bytes | Message) -> bytes:
    """The response serializer of every method: bytes pass through, messages are serialized."""
    if isinstance(response, bytes):
        return response
    return _serialized(response)
