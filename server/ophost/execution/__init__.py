"""The execution layer: running ops, and the events an execution produces.

``execute_in_process(op, inputs=..., config=...)`` runs one op (with its retries)
and returns an :class:`ExecutionResult`. :class:`OpRun` is the engine the host runs
for each execution; it hands each attempt's user code to an :class:`Executor`
(:class:`ThreadExecutor` by default), the seam where other ways of running op bodies
plug in. The event classes (defined with the definitions) are re-exported here.
"""

from ophost.definitions import (
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
from ophost.execution._attempt import (
    Attempt,
    AttemptCanceled,
    AttemptFailed,
    AttemptOutcome,
    AttemptRequest,
    AttemptSucceeded,
    EngineEvent,
    Executor,
    OutputEncoder,
)
from ophost.execution._attempt_rules import AttemptRules
from ophost.execution._engine import LostAttempt, OpRun
from ophost.execution._in_process import ExecutionResult, execute_in_process, numbered
from ophost.execution._prepare import (
    InvalidInputsError,
    PreparedExecution,
    prepare_execution,
)
from ophost.execution._thread_executor import ThreadExecutor

__all__ = [
    "Attempt",
    "AttemptCanceled",
    "AttemptFailed",
    "AttemptOutcome",
    "AttemptRequest",
    "AttemptRules",
    "AttemptSucceeded",
    "EngineEvent",
    "Executor",
    "OutputEncoder",
    "ThreadExecutor",
    "numbered",
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
    "LostAttempt",
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
