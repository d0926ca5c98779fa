"""The execution layer: running ops, and the events an execution produces.

``execute_in_process(op, inputs=..., config=...)`` runs one op (with its retries)
and returns an :class:`ExecutionResult`. :class:`OpRun` is the engine the host runs
for each execution; it hands each attempt's user code to an :class:`Executor`
(:class:`ThreadExecutor` by default), the seam where other ways of running op bodies
plug in: :class:`ProcessExecutor` runs them in a pool of worker processes,
:class:`RayExecutor` as Ray tasks (Ray itself is imported only when one is made), and
:class:`RoutingExecutor` picks one per op from its ``ophost/executor`` tag; a
:class:`RunObserver` is told when each attempt starts. The event classes (defined with
the definitions) are re-exported here.
"""

from typing import TYPE_CHECKING

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
    EncodedEvent,
    EngineEvent,
    Executor,
    OutputEncoder,
)
from ophost.execution._attempt_rules import AttemptRules, ReportedFailure
from ophost.execution._engine import LostAttempt, OpRun
from ophost.execution._in_process import ExecutionResult, execute_in_process, numbered
from ophost.execution._observer import NO_RUN_OBSERVER, RunObserver
from ophost.execution._prepare import (
    InvalidInputsError,
    PreparedExecution,
    prepare_execution,
)
from ophost.execution._routing import EXECUTOR_TAG, RoutingExecutor, executor_names
from ophost.execution._thread_executor import ThreadExecutor

__all__ = [
    "EXECUTOR_TAG",
    "ProcessExecutor",
    "RayExecutor",
    "RayUnavailableError",
    "RoutingExecutor",
    "SessionTerms",
    "executor_names",
    "python_workers",
    "worker_command",
    "Attempt",
    "AttemptCanceled",
    "AttemptFailed",
    "AttemptOutcome",
    "AttemptRequest",
    "AttemptRules",
    "ReportedFailure",
    "AttemptSucceeded",
    "EncodedEvent",
    "EngineEvent",
    "Executor",
    "OutputEncoder",
    "NO_RUN_OBSERVER",
    "RunObserver",
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

if TYPE_CHECKING:
    from ophost.execution._process_executor import ProcessExecutor
    from ophost.execution._ray_executor import RayExecutor, RayUnavailableError
    from ophost.execution._worker_process import SessionTerms, python_workers, worker_command


def __getattr__(name: str) -> object:
    # The process executor speaks protobuf; load it (and protobuf) only when asked for,
    # so running ops in process never does.
    if name == "ProcessExecutor":
        from ophost.execution._process_executor import ProcessExecutor

        return ProcessExecutor
    if name in ("RayExecutor", "RayUnavailableError"):
        # Importing this module does not import Ray; making a RayExecutor does.
        from ophost.execution import _ray_executor

        return getattr(_ray_executor, name)
    if name in ("SessionTerms", "python_workers", "worker_command"):
        from ophost.execution import _worker_process

        return getattr(_worker_process, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
