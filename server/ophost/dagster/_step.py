"""Running one attempt of a Dagster op with Dagster's own machinery, streaming its events.

Each attempt is one step of a one-op Dagster job, run the way Dagster's step workers
run a step: an execution plan built with the attempt's known retry count, executed by
``execute_plan_iterator`` in the calling thread with deferred retries, against an
ephemeral instance (as ``execute_in_process`` uses). So config validation, type
checks, resources, retry decisions and the op's context are Dagster's; ophost's engine
only waits and starts the next attempt when Dagster asks for one. Dagster's events are
turned into ophost events as they are yielded; the op's log lines reach ophost through
a logger given to the job; outputs are caught by an IO manager that keeps the values.

A cancel raises ``DagsterExecutionInterruptedError`` in the thread running the step,
as Dagster's own termination does in the process running a step: the op sees it at its
next Python instruction (a body blocked inside one long C call sees it when that call
returns).
"""

from __future__ import annotations

import builtins
import ctypes
import gc
import logging
import threading
import uuid
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any as TypingAny

import dagster
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.execution.api import create_execution_plan, execute_plan_iterator
from dagster._core.execution.plan.state import KnownExecutionState
from dagster._core.execution.retries import RetryMode
from dagster_shared.error import SerializableErrorInfo

from ophost.dagster._describe import metadata_entries
from ophost.definitions import (
    AssetMaterialization,
    AssetObservation,
    ErrorData,
    ErrorSource,
    ExpectationResult,
    OpExecutionContext,
    Output,
    RetryRequested,
    StepFailed,
    UserFailure,
)
from ophost.execution import ReportedFailure

__all__ = ["EXECUTION_TAG", "DagsterStep"]

_LOGGER_KEY = "ophost"
# The Dagster run's tag holding the ophost execution's id.
EXECUTION_TAG = "ophost/execution_id"
# Dagster's error wrapping the exception an op raised (the cause says what happened).
_STEP_ERROR = "DagsterExecutionStepExecutionError"
# The retry a retry policy asks for: named for the retry request it stands for.
_POLICY_RETRY = "RetryRequestedFromPolicy"
_SOURCES = {
    "USER_CODE_ERROR": ErrorSource.USER_CODE,
    "FRAMEWORK_ERROR": ErrorSource.FRAMEWORK,
    "INTERRUPT": ErrorSource.INTERRUPT,
    "UNEXPECTED_ERROR": ErrorSource.UNEXPECTED,
}


class DagsterStep:
    """The body of the ophost op standing for the Dagster op ``op_def``.

    Called as ``fn(context, inputs)`` by ophost's executor, it runs one attempt and
    yields ophost events; ``resources`` are the Dagster resources the op may use.
    """

    def __init__(self, op_def: dagster.OpDefinition, resources: Mapping[str, object]) -> None:
        self.op_def = op_def
        self.resources = dict(resources)
        inputs = [d for d in op_def.input_defs if not d.dagster_type.is_nothing]
        self._graph = dagster.GraphDefinition(
            name=f"ophost__{op_def.name}",
            node_defs=[op_def],
            input_mappings=[
                dagster.InputMapping(
                    graph_input_name=d.name,
                    mapped_node_name=op_def.name,
                    mapped_node_input_name=d.name,
                )
                for d in inputs
            ],
        )
        self._io_keys = sorted({d.io_manager_key for d in op_def.output_defs})

    def __call__(self, context: OpExecutionContext, inputs: dict[str, object]) -> Iterator[object]:
        return self._attempt(context, inputs)

    def _attempt(self, context: OpExecutionContext, inputs: dict[str, object]) -> Iterator[object]:
        values: dict[str, object] = {}
        keeper = _KeepOutputs(values)
        resource_defs: dict[str, object] = dict(self.resources)
        for key in self._io_keys:
            resource_defs[key] = dagster.IOManagerDefinition.hardcoded_io_manager(keeper)
        job = self._graph.to_job(
            name=self._graph.name,
            resource_defs=resource_defs,
            input_values=inputs,
            logger_defs={_LOGGER_KEY: _forwarding_logger(context)},
            executor_def=dagster.in_process_executor,
        )
        run_config: dict[str, object] = {"loggers": {_LOGGER_KEY: {}}}
        if self.op_def.config_field is not None and context.op_config is not None:
            run_config["ops"] = {self.op_def.name: {"config": context.op_config}}
        failure = yield from _step_events(self.op_def.name, job, run_config, context, values)
        # Raised here, where no frame holds the run's objects: the SQLite connections
        # they hold must be closed in this thread, not wherever the exception is dropped.
        if failure is not None:
            raise failure


def _step_events(
    step_key: str,
    job: dagster.JobDefinition,
    run_config: dict[str, object],
    context: OpExecutionContext,
    values: dict[str, object],
) -> Generator[object, None, ReportedFailure | None]:
    """Run the step against this thread's instance; return how it failed, if it did."""
    attempt = context.retry_number
    run_id = str(uuid.uuid4())
    known = KnownExecutionState(previous_retry_attempts={step_key: attempt}) if attempt else None
    instance = _thread_instance()
    try:
        try:
            plan = create_execution_plan(job, run_config, known_state=known)
            # The caller's tags are the run's. Dagster run ids are UUIDs: the ophost
            # execution's id goes in a tag.
            run = instance.create_run_for_job(
                job_def=job,
                execution_plan=plan,
                run_config=run_config,
                run_id=run_id,
                tags={**context.tags, EXECUTION_TAG: context.run_id},
            )
        except dagster.DagsterError as exc:
            return ReportedFailure(
                StepFailed(
                    error=ErrorData(f"dagster.{type(exc).__name__}", str(exc)),
                    error_source=ErrorSource.FRAMEWORK,
                )
            )
        events = execute_plan_iterator(
            plan, InMemoryJob(job), run, instance, RetryMode.DEFERRED, run_config
        )
        try:
            yield from _translated(events, context, values, attempt)
        except ReportedFailure as failure:
            return ReportedFailure(failure.failure, failure.retry)
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
    finally:
        if instance.has_run(run_id):
            instance.delete_run(run_id)
    return None


_local = threading.local()


def _thread_instance() -> dagster.DagsterInstance:
    """This thread's ephemeral Dagster instance (in memory; each run deleted once done).

    One per thread: its SQLite connections belong to the thread that made them, and an
    instance made per attempt would be collected later in some other thread.
    """
    instance: dagster.DagsterInstance | None = getattr(_local, "instance", None)
    if instance is None:
        instance = _local.instance = dagster.DagsterInstance.ephemeral()
        # Making it leaves reference cycles holding SQLite connections (the schema
        # migration's context): collect them here, in the thread that owns them.
        gc.collect()
    return instance


def _translated(
    events: Iterator[dagster.DagsterEvent],
    context: OpExecutionContext,
    values: dict[str, object],
    attempt: int,
) -> Iterator[object]:
    """Dagster's events of one step as ophost events (raising at a failure or a retry)."""
    guard = _Interrupter(context)
    output_metadata: dict[str, Mapping[str, object]] = {}
    with guard.watching():
        while True:
            with guard.inside():
                event = next(events, None)
            if event is None:
                return
            data: TypingAny = event.event_specific_data
            kind = event.event_type_value
            if kind == "STEP_OUTPUT":
                output_metadata[data.step_output_handle.output_name] = data.metadata
            elif kind == "HANDLED_OUTPUT":
                name = data.output_name
                if name in values:
                    yield Output(
                        values.pop(name),
                        name,
                        metadata_entries=metadata_entries(output_metadata.pop(name, {})),
                    )
            elif kind == "ASSET_MATERIALIZATION":
                m = data.materialization
                yield AssetMaterialization(
                    asset_key=list(m.asset_key.path),
                    description=m.description,
                    metadata_entries=metadata_entries(m.metadata),
                    partition=m.partition,
                    tags=dict(m.tags) if m.tags else None,
                )
            elif kind == "STEP_EXPECTATION_RESULT":
                r = data.expectation_result
                yield ExpectationResult(
                    success=r.success,
                    label=r.label,
                    description=r.description,
                    metadata_entries=metadata_entries(r.metadata),
                )
            elif kind == "ASSET_OBSERVATION":
                o = data.asset_observation
                yield AssetObservation(
                    asset_key=list(o.asset_key.path),
                    description=o.description,
                    metadata_entries=metadata_entries(o.metadata),
                    partition=o.partition,
                    tags=dict(o.tags) if o.tags else None,
                )
            elif kind == "STEP_UP_FOR_RETRY":
                error = _error(data.error)
                raise ReportedFailure(
                    StepFailed(error=error, error_source=ErrorSource.USER_CODE),
                    RetryRequested(max_retries=attempt + 1, seconds_to_wait=data.seconds_to_wait),
                )
            elif kind == "STEP_FAILURE":
                raise ReportedFailure(_failure(data))


def _failure(data: TypingAny) -> StepFailed:
    user = data.user_failure_data
    user_failure = (
        UserFailure(user.description, tuple(metadata_entries(user.metadata)))
        if user is not None
        else None
    )
    # A Failure raised by the op is the op's own code failing, whatever default source
    # Dagster gave it.
    given = getattr(data.error_source, "value", "")
    source = (
        ErrorSource.USER_CODE if user is not None else _SOURCES.get(given, ErrorSource.USER_CODE)
    )
    error = _error(data.error) if data.error is not None else ErrorData("dagster.Failure", "")
    return StepFailed(error=error, error_source=source, user_failure=user_failure)


def _error(info: SerializableErrorInfo) -> ErrorData:
    """Dagster's description of an exception as ophost's.

    Dagster's wrappers that add nothing are left out: the step error around the op's
    exception, and a policy's retry request that says no more than its cause (one
    saying ``Exceeded max_retries of N`` stays, as ``dagster.RetryRequested``).
    """
    while info.cause is not None and (
        info.cls_name == _STEP_ERROR or (info.cls_name == _POLICY_RETRY and not _said(info))
    ):
        info = info.cause
    return _error_data(info, 0)


def _said(info: SerializableErrorInfo) -> str:
    """What the exception's message says beyond its class name ("" if nothing)."""
    name = info.cls_name or ""
    message = info.message.rstrip("\n")
    head, sep, rest = message.partition(": ")
    if sep and head.rsplit(".", 1)[-1] == name:
        return rest
    if message == name or message.endswith("." + name):
        return ""
    return message


def _error_data(info: SerializableErrorInfo, depth: int) -> ErrorData:
    name = info.cls_name or "Exception"
    return ErrorData(
        type_name=_type_name(name),
        message=_said(info),
        stack=tuple(info.stack),
        cause=_error_data(info.cause, depth + 1) if info.cause and depth < 16 else None,
        context=_error_data(info.context, depth + 1) if info.context and depth < 16 else None,
    )


def _type_name(name: str) -> str:
    if name == _POLICY_RETRY:
        return "dagster.RetryRequested"
    builtin = getattr(builtins, name, None)
    if isinstance(builtin, type) and issubclass(builtin, BaseException):
        return f"builtins.{name}"
    if hasattr(dagster, name):
        return f"dagster.{name}"
    return name


# -- outputs and logs ----------------------------------------------------------------------


class _KeepOutputs(dagster.IOManager):
    """Keeps each output's value for the attempt to report; loads nothing."""

    def __init__(self, values: dict[str, object]) -> None:
        self._values = values

    def handle_output(self, context: dagster.OutputContext, obj: object) -> None:
        self._values[context.name] = obj

    def load_input(self, context: dagster.InputContext) -> object:
        raise dagster.DagsterInvariantViolationError(
            "ophost gives a hosted Dagster op its inputs directly; nothing is loaded"
        )


class _Forward(logging.Handler):
    """Sends the op's own log lines (not Dagster's event records) to the ophost context."""

    def __init__(self, context: OpExecutionContext) -> None:
        super().__init__(logging.DEBUG)
        self._context = context

    def emit(self, record: logging.LogRecord) -> None:
        meta: TypingAny = getattr(record, "dagster_meta", None) or {}
        if meta.get("dagster_event") is not None:
            return
        message = meta.get("orig_message") or record.getMessage()
        self._context.log.log(record.levelno, "%s", message)


def _forwarding_logger(context: OpExecutionContext) -> dagster.LoggerDefinition:
    def make(_init: object) -> logging.Logger:
        forward = logging.Logger(f"ophost.dagster.{context.op_def.name}", logging.DEBUG)
        forward.addHandler(_Forward(context))
        return forward

    return dagster.LoggerDefinition(make, description="forwards the op's log lines to ophost")


# -- cancellation --------------------------------------------------------------------------


class _Interrupter:
    """Raises Dagster's interruption in the step's thread once the attempt is canceled.

    Only while that thread is inside Dagster (``inside``): a pending interruption is
    withdrawn when it leaves, and raised there instead.
    """

    _POLL = 0.05

    def __init__(self, context: OpExecutionContext) -> None:
        self._context = context
        self._thread = threading.get_ident()
        self._lock = threading.Lock()
        self._inside = False
        self._posted = False
        self._done = threading.Event()

    @contextmanager
    def watching(self) -> Iterator[None]:
        watcher = threading.Thread(target=self._watch, name="ophost-dagster-cancel", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            self._done.set()

    def _watch(self) -> None:
        while not self._done.wait(self._POLL):
            if self._context.cancel_requested:
                with self._lock:
                    # Outside Dagster (at a yield), the executor stops the body itself.
                    if self._inside and not self._posted:
                        self._posted = True
                        _async_raise(self._thread, DagsterExecutionInterruptedError)
                        return

    @contextmanager
    def inside(self) -> Iterator[None]:
        with self._lock:
            self._inside = True
        try:
            yield
        finally:
            with self._lock:
                self._inside = False
                posted = self._posted
                if posted:
                    _async_raise(self._thread, None)
            if posted:
                raise DagsterExecutionInterruptedError("the execution was canceled")


def _async_raise(thread_id: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    )
