"""The host's wire layer writes exactly what protobuf writes, byte for byte.

Protobuf leaves the order of map entries open unless asked for a deterministic
encoding; the host always writes them in key order, so the comparisons here use
``SerializeToString(deterministic=True)`` (the same bytes for messages without maps).

Every event the host sends is written by hand (``ophost.server._wire``): a tail when
the engine emits it, a head when the store numbers it, then the framing of the
response that carries a batch. Each is compared here with ``SerializeToString`` of
the same message, built through the codec, for every event kind, for batches of 1 to
N events, and for the chunks of large values.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ophost.codec import events as events_codec
from ophost.codec.chunks import encode_value_pieces
from ophost.definitions import ExecutionEvent, OutputProduced, StepStarted
from ophost.execution import EngineEvent
from ophost.server import _wire
from ophost.v1 import event_pb2, op_host_service_pb2, value_pb2

from .strategies import bodies, names, nan_free_values, nanos_seconds

execution_ids = st.text(alphabet="0123456789abcdef", min_size=0, max_size=40)
sequences = st.integers(1, 2**64 - 1)
attempts = st.integers(0, 2**32 - 1)


def _expected(event: ExecutionEvent) -> bytes:
    """The event as protobuf writes it, framed as one event of a batch."""
    message = events_codec.to_proto(event)
    batch = op_host_service_pb2.StreamEventsResponse(events=[message])
    return batch.SerializeToString(deterministic=True)


def _record(event: ExecutionEvent, *, inline_encoding: bool) -> bytes:
    """The same event written by the wire layer: a tail, then the store's head."""
    encoded = None
    if inline_encoding and isinstance(event.body, OutputProduced):
        encoded = encode_value_pieces(
            event.body.value, path="p", inline_threshold=1 << 30, chunk_size=1, value_id="v"
        )
    tail = _wire.EventWriter(event.op_name).tail(
        EngineEvent(event.attempt, event.timestamp, event.body, encoded)
    )
    record = _wire.event_record(_wire.event_head(event.execution_id), event.sequence, tail)
    assert isinstance(record, bytes)
    return record


@settings(max_examples=400, deadline=None)
@given(
    execution_id=execution_ids,
    sequence=sequences,
    attempt=attempts,
    timestamp=nanos_seconds,
    op_name=names | st.just(""),
    body=bodies,
    inline_encoding=st.booleans(),
)
def test_every_event_kind_is_written_as_protobuf_writes_it(
    execution_id: str,
    sequence: int,
    attempt: int,
    timestamp: float,
    op_name: str,
    body: object,
    inline_encoding: bool,
) -> None:
    event = ExecutionEvent(execution_id, sequence, attempt, timestamp, op_name, body)  # type: ignore[arg-type]
    assert _record(event, inline_encoding=inline_encoding) == _expected(event)


@settings(max_examples=100, deadline=None)
@given(
    execution_id=execution_ids,
    first=st.integers(1, 2**40),
    batch=st.lists(st.tuples(attempts, nanos_seconds, bodies), min_size=1, max_size=12),
)
def test_batches_of_any_size_are_framed_as_protobuf_frames_them(
    execution_id: str, first: int, batch: list[tuple[int, float, object]]
) -> None:
    events = [
        ExecutionEvent(execution_id, first + i, attempt, ts, "op", body)  # type: ignore[arg-type]
        for i, (attempt, ts, body) in enumerate(batch)
    ]
    records = [_record(e, inline_encoding=False) for e in events]
    messages = [events_codec.to_proto(e) for e in events]
    batch_message = op_host_service_pb2.EventBatch(events=messages)
    assert _wire.execute_events_response(records) == (
        op_host_service_pb2.ExecuteResponse(events=batch_message).SerializeToString(
            deterministic=True
        )
    )
    assert _wire.stream_events_response(records) == (
        op_host_service_pb2.StreamEventsResponse(events=messages).SerializeToString(
            deterministic=True
        )
    )


@settings(max_examples=150, deadline=None)
@given(
    value=nan_free_values | st.binary(min_size=0, max_size=3000),
    threshold=st.integers(0, 200),
    chunk_size=st.integers(1, 700),
    attempt=attempts,
    timestamp=nanos_seconds,
    sequence=st.integers(1, 2**64 - 1 - 4096),  # room for every chunk's sequence after it
)
def test_chunked_values_are_written_as_protobuf_writes_them(
    value: object, threshold: int, chunk_size: int, attempt: int, timestamp: float, sequence: int
) -> None:
    encoded = encode_value_pieces(
        value, path="p", inline_threshold=threshold, chunk_size=chunk_size, value_id="e1.out.1"
    )
    writer = _wire.EventWriter("big")
    event = EngineEvent(attempt, timestamp, StepStarted())
    head = _wire.event_head("e1")
    for offset, (description, data) in enumerate(encoded.chunks):
        pieces = writer.chunk_tail(event, description, data)
        assert isinstance(pieces, tuple)
        record = _wire.event_record(head, sequence + offset, b"".join(pieces))
        chunk = value_pb2.ValueChunk()
        chunk.CopyFrom(description)
        chunk.data = bytes(data)
        message = event_pb2.Event(
            execution_id="e1",
            sequence=sequence + offset,
            attempt=attempt,
            op_name="big",
            value_chunk=chunk,
        )
        message.timestamp.FromNanoseconds(events_codec.seconds_to_nanos(timestamp))
        expected = op_host_service_pb2.StreamEventsResponse(events=[message])
        assert record == expected.SerializeToString()
        # A tail in pieces gives a record in pieces: the same bytes once joined, in a
        # response of one event or of several.
        parts = _wire.event_record(head, sequence + offset, pieces)
        assert _wire.stream_events_response([parts]) == record
        assert _wire.stream_events_response([parts, parts]) == record + record
        expected_execute = op_host_service_pb2.ExecuteResponse(
            events=op_host_service_pb2.EventBatch(events=[message])
        ).SerializeToString()
        assert _wire.execute_events_response([parts]) == expected_execute


def test_small_varints_and_empty_fields() -> None:
    event = ExecutionEvent("", 1, 0, 0.0, "", StepStarted())
    assert _record(event, inline_encoding=False) == _expected(event)
    big = ExecutionEvent("x" * 300, 2**63, 2**32 - 1, 1.5, "n" * 200, StepStarted())
    assert _record(big, inline_encoding=False) == _expected(big)


# -- records kept several to a row -------------------------------------------------------------


def _log_record(sequence: int, text: str) -> bytes:
    from ophost.definitions import LogLevel, LogMessage

    tail = _wire.EventWriter("op").tail(EngineEvent(1, 1.5, LogMessage(LogLevel.INFO, text)))
    record = _wire.event_record(_wire.event_head("e1"), sequence, tail)
    assert isinstance(record, bytes)
    return record


@settings(max_examples=100, deadline=None)
@given(sizes=st.lists(st.sampled_from([0, 1, 100, 127, 128, 16_383, 16_384, 70_000]), min_size=1))
def test_records_concatenated_split_back_into_the_same_records(sizes: list[int]) -> None:
    records = [_log_record(n + 1, "x" * size) for n, size in enumerate(sizes)]
    assert _wire.split_records(b"".join(records), len(records)) == records


def test_a_damaged_row_of_records_is_refused_not_misread() -> None:
    records = [_log_record(1, "one"), _log_record(2, "two" * 100)]
    data = b"".join(records)
    for damaged, count in (
        (data[:-1], 2),  # ends early
        (data + b"\x00", 2),  # bytes after the last
        (data, 3),  # fewer records than said
        (b"\x07" + data[1:], 2),  # not a record's tag
    ):
        try:
            _wire.split_records(damaged, count)
        except ValueError:
            continue
        raise AssertionError(f"{count} records accepted from damaged bytes")


def test_rows_of_events_are_cut_by_count_and_by_bytes() -> None:
    from ophost.server.store._schema import ROW_EVENTS
    from ophost.server.store._sql_rows import event_rows

    small = [_log_record(n, "s") for n in range(1, 601)]
    rows = event_rows(0, small)
    assert [(first, count) for first, count, _ in rows] == [
        (1, ROW_EVENTS),
        (1 + ROW_EVENTS, ROW_EVENTS),
        (1 + 2 * ROW_EVENTS, 600 - 2 * ROW_EVENTS),
    ]
    assert b"".join(data for _, _, data in rows) == b"".join(small)
    large = [_log_record(n, "L" * 100_000) for n in range(11, 16)]
    rows = event_rows(10, large)
    assert [(first, count) for first, count, _ in rows] == [(11, 3), (14, 2)]
    pieces = (large[0][:10], memoryview(large[0])[10:])
    assert event_rows(0, [pieces, small[1]]) == [(1, 2, large[0] + small[1])]
