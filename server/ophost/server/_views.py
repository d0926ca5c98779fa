"""Executions as the protocol shows them (``ophost.v1.Execution``)."""

from __future__ import annotations

from ophost.codec.events import seconds_to_nanos
from ophost.server.store import ExecutionRecord
from ophost.v1 import execution_pb2, value_pb2

__all__ = ["execution_to_proto"]


def execution_to_proto(record: ExecutionRecord) -> execution_pb2.Execution:
    message = execution_pb2.Execution(
        id=record.id,
        op_name=record.op_name,
        request_id=record.request_id,
        state=record.state,
        attempt=record.attempt,
        last_sequence=record.last_sequence,
        outputs=record.outputs,
        tags=record.tags,
    )
    if record.error is not None:
        message.error.CopyFrom(record.error)
    message.create_time.FromNanoseconds(seconds_to_nanos(record.created_at))
    if record.started_at is not None:
        message.start_time.FromNanoseconds(seconds_to_nanos(record.started_at))
    if record.finished_at is not None:
        message.finish_time.FromNanoseconds(seconds_to_nanos(record.finished_at))
    return message


def start_to_proto(
    data: bytes, *, inline_threshold: int, chunk_size: int
) -> execution_pb2.ExecutionStart:
    """A kept start request as ``GetExecution`` returns it: a value longer than the
    inline threshold (one that was uploaded in chunks) appears as a reference only."""
    start = execution_pb2.ExecutionStart.FromString(data)
    for named in start.inputs:
        _referenced(named.value, f"inputs.{named.name}", inline_threshold, chunk_size)
    if start.HasField("config"):
        _referenced(start.config, "config", inline_threshold, chunk_size)
    return start


def _referenced(value: value_pb2.Value, value_id: str, threshold: int, chunk_size: int) -> None:
    size = value.ByteSize()
    if size <= threshold:
        return
    value.Clear()
    reference = value.chunked_value
    reference.value_id = value_id
    reference.total_size_bytes = size
    reference.chunk_count = max(1, -(-size // max(1, chunk_size)))
