"""Running ops in this process, and the events an execution produces.

``execute_in_process(op, inputs=..., config=...)`` runs one op (with its retries)
and returns an :class:`ExecutionResult`. The event classes here are what the server
streams and what clients decode.
"""

from ophost.definitions._execution_events import (
    CancelOutcome,
    ErrorData,
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
from ophost.execution._engine import OpRun
from ophost.execution._in_process import ExecutionResult, execute_in_process
from ophost.execution._prepare import (
    InvalidInputsError,
    PreparedExecution,
    prepare_execution,
)

__all__ = [
    "CancelOutcome",
    "ErrorData",
    "ErrorSource",
    "EventBody",
    "ExecutionEvent",
    "ExecutionFinished",
    "ExecutionResult",
    "ExecutionStarted",
    "ExecutionStatus",
    "InputChecked",
    "InvalidInputsError",
    "LogLevel",
    "LogMessage",
    "OpRun",
    "OutputProduced",
    "PreparedExecution",
    "RetryScheduled",
    "StepFailed",
    "StepRestarted",
    "StepStarted",
    "StepSucceeded",
    "UserFailure",
    "execute_in_process",
    "prepare_execution",
]
