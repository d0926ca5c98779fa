"""Executions as the protocol shows them (``ophost.v1.Execution``)."""

from __future__ import annotations

from ophost.codec.events import seconds_to_nanos
from ophost.server.store import ExecutionRecord
from ophost.v1 import execution_pb2

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
