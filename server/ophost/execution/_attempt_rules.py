"""The rules of one attempt, shared by every executor that runs Python op bodies.

:class:`AttemptRules` builds the op's context and turns what user code does into
events, in order: input type checks, what the body yields or returns (outputs with
their type checks and wire encodings, materializations, observations, expectation
results), log lines and logged events, and the check that every required output was produced. It
also says how an exception ends the attempt (:meth:`AttemptRules.outcome_of`). It
only ever calls its ``emit`` callback, so an executor can run it in whatever thread
or process runs the body.
"""

from __future__ import annotations

from collections.abc import Callable

from ophost.definitions import (
    AssetMaterialization,
    AssetObservation,
    ErrorSource,
    ExpectationResult,
    Failure,
    InputChecked,
    LogLevel,
    LogMessage,
    OpExecutionContext,
    Output,
    OutputProduced,
    RetryRequested,
    StepFailed,
    UserFailure,
)
from ophost.definitions._checks import run_type_check, type_check_context, type_check_failed
from ophost.definitions._coerce import check_yielded
from ophost.definitions._op import OpDefinition
from ophost.errors import (
    InvariantViolationError,
    OpHostError,
    OutputNotFoundError,
    UserCodeError,
)
from ophost.execution._attempt import (
    AttemptEvent,
    AttemptFailed,
    AttemptRequest,
    AttemptSucceeded,
    EngineEvent,
)
from ophost.execution._error_data import error_data

__all__ = ["AttemptRules", "ReportedFailure", "policy_retry"]


class ReportedFailure(Exception):
    """An attempt's failure as the runtime that ran the body already described it.

    Raised by a body that runs an op with another library's machinery (a Dagster step,
    see ``ophost.dagster``): ``failure`` is reported as it is, and ``retry`` (the retry
    that runtime decided on, if any) is the attempt's retry; the op's retry policy is
    not consulted again.
    """

    def __init__(self, failure: StepFailed, retry: RetryRequested | None = None) -> None:
        super().__init__(failure.error.message)
        self.failure = failure
        self.retry = retry


class AttemptRules:
    """One attempt's state: its context, the outputs produced so far, and its events."""

    def __init__(
        self,
        request: AttemptRequest,
        emit: Callable[[EngineEvent], None],
        cancel_check: Callable[[], bool],
    ) -> None:
        prepared = request.prepared
        self.request = request
        self.op_def: OpDefinition = prepared.op_def
        self._emit = emit
        self._attempt = request.attempt
        self._clock = request.clock
        self._emitted: set[str] = set()
        self.outputs: dict[str, object] = {}
        self.context = OpExecutionContext(
            op_def=self.op_def,
            op_config=prepared.op_config,
            resources=prepared.resources,
            run_id=request.run_id,
            run_tags=dict(request.tags),
            retry_number=request.attempt,
            log_sink=self._log_sink,
            event_sink=self._record,
            cancel_check=cancel_check,
        )

    # -- recording -------------------------------------------------------------------------

    def rebind(self, emit: Callable[[EngineEvent], None]) -> None:
        """Send the attempt's further events to ``emit`` (the body moved to another runner)."""
        self._emit = emit

    def _record(self, body: AttemptEvent) -> None:
        self._emit(EngineEvent(self._attempt, self._clock(), body))

    def _log_sink(self, level: int, message: str, logger_name: str) -> None:
        self._record(LogMessage(LogLevel.from_logging(level), message, logger_name))

    # -- the attempt's steps -----------------------------------------------------------------

    def body_inputs(self) -> dict[str, object]:
        """The input values the body receives (``Nothing`` inputs are left out)."""
        values = self.request.prepared.input_values
        return {
            d.name: values[d.name]
            for d in self.op_def.input_defs
            if d.name in values and not d.dagster_type.is_nothing
        }

    def check_inputs(self) -> None:
        """Type-check every input in order; raises at the first that fails."""
        values = self.request.prepared.input_values
        for d in self.op_def.input_defs:
            if d.dagster_type.is_nothing:
                continue
            tc_context = type_check_context(self.context, d.dagster_type)
            result = run_type_check(d.dagster_type, tc_context, values[d.name], f'input "{d.name}"')
            self._record(InputChecked(d.name, result))
            if not result.success:
                raise type_check_failed("input", d.name, d.dagster_type, result)

    def handle(self, item: object) -> None:
        """Turn one thing the body yielded (or returned) into its events."""
        if isinstance(item, Output):
            self._output(item)
        elif isinstance(item, (AssetMaterialization, AssetObservation, ExpectationResult)):
            self._record(item)
        else:
            check_yielded(self.op_def.name, item)  # raises: nothing else may be yielded

    def _output(self, output: Output[object]) -> None:
        op_def = self.op_def
        name = output.output_name
        definition = op_def.output_named(name)
        if definition is None:
            raise InvariantViolationError(
                f'op "{op_def.name}" returned an output "{name}" that does not exist. '
                f"The available outputs are {sorted(op_def.output_dict)}"
            )
        if name in self._emitted:
            raise InvariantViolationError(
                f'op "{op_def.name}" returned an output "{name}" multiple times'
            )
        added = self.context.take_output_metadata(name)
        dtype = definition.dagster_type
        if output.value is None and not definition.is_required and not dtype.is_nothing:
            self._log_sink(
                30,
                f'Value for optional output "{name}" of op "{op_def.name}" is None; '
                "it is emitted as None",
                "ophost",
            )
        result = run_type_check(
            dtype, type_check_context(self.context, dtype), output.value, f'output "{name}"'
        )
        # A value the host cannot send fails the step here (a framework error), before
        # the output is reported.
        encode = self.request.encode_output
        encoded = encode(name, output.value) if encode is not None else None
        self._emitted.add(name)
        if self.request.keep_outputs:
            self.outputs[name] = output.value
        entries = output.metadata_entries
        body = OutputProduced(
            output_name=name,
            value=output.value,
            metadata_entries=(*entries, *added) if entries or added else (),
            type_check=result,
        )
        self._emit(EngineEvent(self._attempt, self._clock(), body, encoded))
        if not result.success:
            raise type_check_failed("output", name, dtype, result)

    def finish(self) -> AttemptSucceeded:
        """Check that every required output was produced; emit implicit ``Nothing`` ones."""
        for definition in self.op_def.output_defs:
            if definition.name in self._emitted or not definition.is_required:
                continue
            if definition.dagster_type.is_nothing:
                self._log_sink(
                    20, f'Emitting implicit Nothing for output "{definition.name}"', "ophost"
                )
                self._output(Output(None, definition.name))
                continue
            raise OutputNotFoundError(
                f'op "{self.op_def.name}" did not return an output for non-optional output '
                f'"{definition.name}"'
            )
        return AttemptSucceeded(self.outputs)

    # -- how an attempt that raised ends ------------------------------------------------------

    def outcome_of(self, exc: BaseException) -> AttemptFailed:
        """The failure an exception raised by the attempt's user code stands for."""
        if isinstance(exc, ReportedFailure):
            return AttemptFailed(exc.failure, exc, exc.retry)
        if isinstance(exc, UserCodeError):
            failure = StepFailed(
                error=error_data(exc.user_exception, message=str(exc)),
                error_source=ErrorSource.USER_CODE,
            )
            return AttemptFailed(failure, exc)
        if isinstance(exc, OpHostError):
            return AttemptFailed(
                StepFailed(error=error_data(exc), error_source=ErrorSource.FRAMEWORK), exc
            )
        if isinstance(exc, RetryRequested):
            # Raised by the op itself: its own limits apply, the policy is not consulted.
            return AttemptFailed(
                StepFailed(error=error_data(exc), error_source=ErrorSource.USER_CODE), exc, exc
            )
        user_failure = None
        if isinstance(exc, Failure):
            user_failure = UserFailure(exc.description, tuple(exc.metadata_entries))
        failure = StepFailed(
            error=error_data(exc), error_source=ErrorSource.USER_CODE, user_failure=user_failure
        )
        retries_allowed = not (isinstance(exc, Failure) and not exc.allow_retries)
        retry = policy_retry(self.op_def, self._attempt) if retries_allowed else None
        return AttemptFailed(failure, exc, retry)


def policy_retry(op_def: OpDefinition, attempt: int) -> RetryRequested | None:
    """The retry the op's retry policy offers after attempt ``attempt`` failed, if any."""
    policy = op_def.retry_policy
    if policy is None:
        return None
    return RetryRequested(
        max_retries=policy.max_retries, seconds_to_wait=policy.calculate_delay(attempt + 1)
    )
