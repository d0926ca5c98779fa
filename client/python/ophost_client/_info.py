"""What the server describes: itself (:class:`ServerInfo`) and its executions."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from google.protobuf import timestamp_pb2

from ophost.codec import failures, values
from ophost.definitions import ErrorData
from ophost.v1 import execution_pb2, op_host_service_pb2

__all__ = [
    "ChunkedOutput",
    "ExecutionInfo",
    "ExecutionState",
    "ServerInfo",
    "ServerLimits",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class ServerLimits:
    """The server's limits (``ServerLimits``); ``max_concurrent_executions`` 0 is no limit."""

    inline_threshold_bytes: int
    chunk_size_bytes: int
    max_message_bytes: int
    max_concurrent_executions: int
    event_retention: timedelta

    @classmethod
    def from_proto(cls, message: op_host_service_pb2.ServerLimits) -> ServerLimits:
        return cls(
            inline_threshold_bytes=message.inline_threshold_bytes,
            chunk_size_bytes=message.chunk_size_bytes,
            max_message_bytes=message.max_message_bytes,
            max_concurrent_executions=message.max_concurrent_executions,
            event_retention=message.event_retention.ToTimedelta(),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ServerInfo:
    """What ``GetServerInfo`` says. ``server_id`` changes whenever the server restarts."""

    protocol_version: str
    ophost_version: str
    server_id: str
    limits: ServerLimits
    capabilities: frozenset[str]

    @classmethod
    def from_proto(cls, message: op_host_service_pb2.GetServerInfoResponse) -> ServerInfo:
        return cls(
            protocol_version=message.protocol_version,
            ophost_version=message.ophost_version,
            server_id=message.server_id,
            limits=ServerLimits.from_proto(message.limits),
            capabilities=frozenset(message.capabilities),
        )


class ExecutionState(str, enum.Enum):
    """The state of an execution (``ExecutionState`` without its prefix)."""

    UNSPECIFIED = "UNSPECIFIED"  # also a state this client does not know
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @classmethod
    def from_proto(cls, state: execution_pb2.ExecutionState.ValueType) -> ExecutionState:
        try:
            name = execution_pb2.ExecutionState.Name(state)
        except ValueError:
            return cls.UNSPECIFIED
        return cls(name.removeprefix("EXECUTION_STATE_"))

    def to_proto(self) -> execution_pb2.ExecutionState.ValueType:
        return execution_pb2.ExecutionState.Value(f"EXECUTION_STATE_{self.value}")


_TERMINAL = frozenset({ExecutionState.SUCCEEDED, ExecutionState.FAILED, ExecutionState.CANCELED})


@dataclass(frozen=True, kw_only=True, slots=True)
class ChunkedOutput:
    """Stands in for an output too large to travel inline in an ``Execution``.

    The value itself travels as chunks on the event stream: read it with
    ``await client.attach(execution_id).result()`` (or from ``ExecutionStream.outputs``).
    """

    value_id: str
    total_size_bytes: int
    chunk_count: int


@dataclass(frozen=True, kw_only=True, slots=True)
class ExecutionInfo:
    """One execution as the server describes it (``Execution``).

    ``outputs`` maps each output produced so far to its value; an output too large to
    travel inline is a :class:`ChunkedOutput` marker. ``error`` is set when the
    execution failed. Times are UTC datetimes, ``None`` until they happen.
    """

    id: str
    op_name: str
    request_id: str
    state: ExecutionState
    attempt: int
    last_sequence: int
    outputs: dict[str, object] = field(default_factory=dict)
    error: ErrorData | None = None
    tags: dict[str, str] = field(default_factory=dict)
    create_time: datetime | None = None
    start_time: datetime | None = None
    finish_time: datetime | None = None

    @property
    def is_terminal(self) -> bool:
        return self.state.is_terminal

    @classmethod
    def from_proto(cls, message: execution_pb2.Execution) -> ExecutionInfo:
        outputs: dict[str, object] = {}
        for named in message.outputs:
            value = named.value
            if value.WhichOneof("kind") == "chunked_value":
                ref = value.chunked_value
                outputs[named.name] = ChunkedOutput(
                    value_id=ref.value_id,
                    total_size_bytes=ref.total_size_bytes,
                    chunk_count=ref.chunk_count,
                )
            else:
                outputs[named.name] = values.from_proto(value, path=f"outputs.{named.name}")
        return cls(
            id=message.id,
            op_name=message.op_name,
            request_id=message.request_id,
            state=ExecutionState.from_proto(message.state),
            attempt=message.attempt,
            last_sequence=message.last_sequence,
            outputs=outputs,
            error=failures.from_proto(message.error) if message.HasField("error") else None,
            tags=dict(message.tags),
            create_time=_time(message.create_time, message.HasField("create_time")),
            start_time=_time(message.start_time, message.HasField("start_time")),
            finish_time=_time(message.finish_time, message.HasField("finish_time")),
        )


def _time(stamp: timestamp_pb2.Timestamp, present: bool) -> datetime | None:
    return stamp.ToDatetime(tzinfo=timezone.utc) if present else None
