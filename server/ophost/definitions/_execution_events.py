"""The events of one execution, in the order the engine produces them."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field

from ophost.definitions._metadata import MetadataEntry
from ophost.definitions._op_events import (
    AssetMaterialization,
    AssetObservation,
    ExpectationResult,
    Output,
    TypeCheck,
)

__all__ = [
    "CancelOutcome",
    "ErrorData",
    "ErrorSource",
    "EventBody",
    "ExecutionEvent",
    "ExecutionFinished",
    "ExecutionStarted",
    "ExecutionStatus",
    "InputChecked",
    "LogLevel",
    "LogMessage",
    "OutputProduced",
    "RetryScheduled",
    "StepFailed",
    "StepRestarted",
    "StepStarted",
    "StepSucceeded",
    "UserFailure",
]


class LogLevel(enum.Enum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"

    @classmethod
    def from_logging(cls, level: int) -> LogLevel:
        if level >= logging.CRITICAL:
            return cls.CRITICAL
        if level >= logging.ERROR:
            return cls.ERROR
        if level >= logging.WARNING:
            return cls.WARNING
        if level >= logging.INFO:
            return cls.INFO
        return cls.DEBUG


class ErrorSource(enum.Enum):
    """Whose code raised: the op's (user code), ophost's checks (framework), a cancel
    (interrupt), something that should never happen (unexpected), or no code at all:
    the host process running the attempt was lost (host lost), the worker process
    running it crashed or stopped answering (worker crashed, worker lost), or the
    attempt hit its memory or wall-clock limit (memory limit, timeout)."""

    USER_CODE = "USER_CODE"
    FRAMEWORK = "FRAMEWORK"
    INTERRUPT = "INTERRUPT"
    UNEXPECTED = "UNEXPECTED"
    HOST_LOST = "HOST_LOST"
    WORKER_CRASHED = "WORKER_CRASHED"
    WORKER_LOST = "WORKER_LOST"
    MEMORY_LIMIT = "MEMORY_LIMIT"
    TIMEOUT = "TIMEOUT"


class CancelOutcome(enum.Enum):
    """How a requested cancel ended."""

    NOT_STARTED = "NOT_STARTED"
    COOPERATIVE = "COOPERATIVE"
    FORCED = "FORCED"
    ABANDONED = "ABANDONED"


class ExecutionStatus(enum.Enum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


@dataclass(frozen=True, slots=True)
class ErrorData:
    """An exception as data: qualified type name, message, stack and its causes.

    ``error_id`` is set when the host withheld the details from its clients: the
    message then only says so, and the host's log has the full error under that id.
    """

    type_name: str
    message: str
    stack: tuple[str, ...] = ()
    cause: ErrorData | None = None
    context: ErrorData | None = None
    error_id: str = ""


@dataclass(frozen=True, slots=True)
class UserFailure:
    """What a raised ``Failure`` said: its description and metadata."""

    description: str | None
    metadata_entries: tuple[MetadataEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class ExecutionStarted:
    """The execution was accepted and is about to run its first attempt.

    ``request_id`` is the caller's idempotency key, when it gave one.
    """

    request_id: str = ""


@dataclass(frozen=True, slots=True)
class StepStarted:
    """The first attempt of the op began."""


@dataclass(frozen=True, slots=True)
class StepRestarted:
    """A retry of the op began; the envelope's ``attempt`` is the retry number."""


@dataclass(frozen=True, slots=True)
class InputChecked:
    """An input value was checked against its declared type."""

    input_name: str
    type_check: TypeCheck


@dataclass(frozen=True, slots=True)
class OutputProduced:
    """The op produced an output; ``type_check`` is the result of its type check."""

    output_name: str
    value: object
    metadata_entries: tuple[MetadataEntry, ...] = ()
    type_check: TypeCheck = field(default_factory=lambda: TypeCheck(success=True))

    @property
    def output(self) -> Output[object]:
        return Output(self.value, self.output_name, metadata_entries=list(self.metadata_entries))


@dataclass(frozen=True, slots=True)
class LogMessage:
    level: LogLevel
    message: str
    logger_name: str = ""


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    """Attempt ``failed_attempt`` failed; attempt ``next_attempt`` runs after ``delay`` s."""

    failed_attempt: int
    next_attempt: int
    delay_seconds: float
    error: ErrorData


@dataclass(frozen=True, slots=True)
class StepFailed:
    error: ErrorData
    error_source: ErrorSource
    user_failure: UserFailure | None = None
    will_retry: bool = False


@dataclass(frozen=True, slots=True)
class StepSucceeded:
    duration_seconds: float


@dataclass(frozen=True, slots=True)
class ExecutionFinished:
    """The terminal event: always the last one of an execution."""

    status: ExecutionStatus
    error: ErrorData | None = None
    cancel_requested: bool = False
    cancel_outcome: CancelOutcome | None = None


EventBody = (
    ExecutionStarted
    | StepStarted
    | StepRestarted
    | InputChecked
    | OutputProduced
    | AssetMaterialization
    | AssetObservation
    | ExpectationResult
    | LogMessage
    | RetryScheduled
    | StepFailed
    | StepSucceeded
    | ExecutionFinished
)


@dataclass(frozen=True, slots=True)
class ExecutionEvent:
    """One event with its envelope: which execution, its place in the sequence, when."""

    execution_id: str
    sequence: int
    attempt: int
    timestamp: float
    op_name: str
    body: EventBody
