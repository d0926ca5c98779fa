"""Running one op: attempts, retries, type checks, and the ordered event stream."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor
from typing import Any as TypingAny

from ophost.definitions._checks import run_type_check, type_check_context, type_check_failed
from ophost.definitions._coerce import check_yielded
from ophost.definitions._context import OpExecutionContext
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
from ophost.definitions._op import OpDefinition
from ophost.definitions._op_events import (
    AssetMaterialization,
    ExpectationResult,
    Failure,
    Output,
    RetryRequested,
)
from ophost.errors import (
    ExecutionInterruptedError,
    InvariantViolationError,
    OpHostError,
    OutputNotFoundError,
    UserCodeError,
)
from ophost.execution._body import FLUSH, BodyRunner, Canceled
from ophost.execution._error_data import error_data
from ophost.execution._prepare import PreparedExecution
from ophost.execution._pump import Pump, Record

__all__ = ["Clock", "OpRun", "Sleep"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

_INTERRUPTED = "ophost.ExecutionInterrupted"


class _AttemptFailed(Exception):
    """Internal: carries how an attempt ended when it did not succeed."""

    def __init__(self, failure: StepFailed, raised: BaseException, retry: RetryRequested | None):
        super().__init__(failure.error.message)
        self.failure = failure
        self.raised = raised
        self.retry = retry


class OpRun(BodyRunner):
    """One execution of one op. Iterate :meth:`events` to run it.

    ``clock`` gives wall time in seconds and ``sleep`` waits between retries; both can
    be replaced so tests of backoff never sleep. Synchronous op bodies run in a worker
    thread (from ``executor``, or the loop's default one), handing their results over
    through a queue of ``handoff_capacity`` items. :meth:`request_cancel` stops the op:
    async bodies get ``CancelledError``, sync generators are closed at their next
    ``yield``, and any body can poll ``context.cancel_requested``; a body that has not
    stopped ``cancel_grace`` seconds later is abandoned (left to finish on its own).
    """

    def __init__(
        self,
        prepared: PreparedExecution,
        *,
        run_id: str | None = None,
        request_id: str = "",
        tags: Mapping[str, str] | None = None,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        executor: Executor | None = None,
        handoff_capacity: int = 1024,
        cancel_grace: float = 5.0,
        encode_output: Callable[[str, object], object] | None = None,
        keep_outputs: bool = True,
    ) -> None:
        self.prepared = prepared
        self.op_def: OpDefinition = prepared.op_def
        self.run_id = run_id or uuid.uuid4().hex
        self.request_id = request_id
        self.tags = dict(tags or {})
        self._clock = clock
        self._sleep = sleep
        self._executor = executor
        self._capacity = handoff_capacity
        self._grace = cancel_grace
        self._encode_output = encode_output
        self._keep_outputs = keep_outputs
        self._emitted: set[str] = set()
        self._cancel = asyncio.Event()
        self._cancel_requested = False
        self._pump: Pump | None = None
        self._body_task: asyncio.Future[TypingAny] | None = None
        self._cancel_waiter: asyncio.Future[TypingAny] | None = None
        self._recorded = asyncio.Event()
        self.cancel_outcome: CancelOutcome | None = None
        self._sequence = 0
        self._attempt = 0
        self._pending: list[EventBody] = []
        self.outputs: dict[str, object] = {}
        self.status: ExecutionStatus | None = None
        self.raised: BaseException | None = None

    # -- envelope --------------------------------------------------------------------------

    def _wrap(self, body: EventBody) -> ExecutionEvent:
        self._sequence += 1
        return ExecutionEvent(
            execution_id=self.run_id,
            sequence=self._sequence,
            attempt=self._attempt,
            timestamp=self._clock(),
            op_name=self.op_def.name,
            body=body,
        )

    def _drain(self) -> Iterator[ExecutionEvent]:
        while self._pending:
            pending, self._pending = self._pending, []
            for body in pending:
                yield self._wrap(body)

    def _record(self, body: EventBody) -> None:
        pump = self._pump
        if pump is not None and pump.in_thread:
            # Recorded by a sync body in its worker thread: keep its place in the order.
            pump.put(Record(lambda: self._pending.append(body)))
        else:
            self._pending.append(body)
            self._recorded.set()

    def _log_sink(self, level: int, message: str, logger_name: str) -> None:
        self._record(LogMessage(LogLevel.from_logging(level), message, logger_name))

    def _event_sink(self, event: AssetMaterialization | ExpectationResult) -> None:
        self._record(event)

    # -- cancellation ----------------------------------------------------------------------

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_requested

    def request_cancel(self) -> None:
        """Ask the op to stop (call from the event loop's thread). Idempotent."""
        if self._cancel_requested or self.status is not None:
            return
        self._cancel_requested = True
        self._cancel.set()
        if self._pump is not None:
            self._pump.request_cancel()
        if self._body_task is not None and not self._body_task.done():
            self._body_task.cancel()

    def _canceled_events(self, outcome: CancelOutcome) -> Iterator[ExecutionEvent]:
        yield from self._drain()
        error = ErrorData(type_name=_INTERRUPTED, message="the execution was canceled")
        if outcome is not CancelOutcome.NOT_STARTED:
            yield self._wrap(StepFailed(error=error, error_source=ErrorSource.INTERRUPT))
        self.status = ExecutionStatus.CANCELED
        self.cancel_outcome = outcome
        yield self._wrap(
            ExecutionFinished(
                ExecutionStatus.CANCELED, cancel_requested=True, cancel_outcome=outcome
            )
        )

    async def _sleep_unless_canceled(self, seconds: float) -> None:
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        waiter = asyncio.ensure_future(self._cancel.wait())
        try:
            await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waiter.cancel()
        self._check_cancel()

    # -- the run ---------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[ExecutionEvent]:
        """Run the op, yielding every event; the last one is :class:`ExecutionFinished`."""
        yield self._wrap(ExecutionStarted(request_id=self.request_id))
        if self._cancel_requested:
            for event in self._canceled_events(CancelOutcome.NOT_STARTED):
                yield event
            return
        try:
            async for event in self._attempts():
                yield event
        except Canceled as canceled:
            for event in self._canceled_events(canceled.outcome):
                yield event
        finally:
            if self._cancel_waiter is not None:
                self._cancel_waiter.cancel()

    async def _attempts(self) -> AsyncIterator[ExecutionEvent]:
        while True:
            start = self._clock()
            yield self._wrap(StepStarted() if self._attempt == 0 else StepRestarted())
            failed: _AttemptFailed | None = None
            try:
                async for event in self._attempt_events():
                    yield event
            except _AttemptFailed as exc:
                failed = exc
            for event in self._drain():
                yield event
            if failed is None:
                duration = round(max(0.0, self._clock() - start), 9)  # nanosecond resolution
                yield self._wrap(StepSucceeded(duration_seconds=duration))
                self.status = ExecutionStatus.SUCCEEDED
                yield self._wrap(
                    ExecutionFinished(
                        ExecutionStatus.SUCCEEDED, cancel_requested=self._cancel_requested
                    )
                )
                return
            retry = failed.retry
            if retry is not None and self._attempt < retry.max_retries:
                delay = float(retry.seconds_to_wait or 0)
                yield self._wrap(
                    StepFailed(
                        error=failed.failure.error,
                        error_source=failed.failure.error_source,
                        user_failure=failed.failure.user_failure,
                        will_retry=True,
                    )
                )
                yield self._wrap(
                    RetryScheduled(
                        failed_attempt=self._attempt,
                        next_attempt=self._attempt + 1,
                        delay_seconds=delay,
                        error=failed.failure.error,
                    )
                )
                await self._sleep_unless_canceled(max(0.0, delay))
                self._attempt += 1
                continue
            failure = failed.failure
            if retry is not None:
                failure = StepFailed(
                    error=ErrorData(
                        type_name="ophost.RetryLimitExceeded",
                        message=f"Exceeded max_retries of {retry.max_retries}",
                        cause=error_data(failed.raised),
                    ),
                    error_source=failure.error_source,
                )
            self.raised = failed.raised
            yield self._wrap(failure)
            self.status = ExecutionStatus.FAILED
            yield self._wrap(
                ExecutionFinished(
                    ExecutionStatus.FAILED,
                    error=failure.error,
                    cancel_requested=self._cancel_requested,
                )
            )
            return

    async def _attempt_events(self) -> AsyncIterator[ExecutionEvent]:
        """Events of one attempt; raises :class:`_AttemptFailed` when it fails."""
        self.outputs = {}
        self._emitted = set()
        context = OpExecutionContext(
            op_def=self.op_def,
            op_config=self.prepared.op_config,
            resources=self.prepared.resources,
            run_id=self.run_id,
            run_tags=self.tags,
            retry_number=self._attempt,
            log_sink=self._log_sink,
            event_sink=self._event_sink,
            cancel_check=lambda: self._cancel_requested,
        )
        try:
            for event in self._check_inputs(context):
                yield event
            # aclosing: however the attempt ends, the body is closed before it is reported
            # (a canceled sync body gets its grace period to stop, its finally blocks run).
            async with contextlib.aclosing(self._body_items(context)) as items:
                async for item in items:
                    for event in self._drain():
                        yield event
                    if item is FLUSH:
                        continue
                    self._check_cancel()
                    for event in self._handle_item(context, item):
                        yield event
            for event in self._drain():
                yield event
            self._check_cancel()
            for event in self._finish_outputs(context):
                yield event
        except Canceled:
            raise
        except (asyncio.CancelledError, ExecutionInterruptedError):
            if self._cancel_requested:
                raise Canceled(CancelOutcome.COOPERATIVE) from None
            raise
        except (GeneratorExit, KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            if self._cancel_requested:
                # Whatever the body raised while being stopped, the cancel is the story.
                raise Canceled(CancelOutcome.COOPERATIVE) from exc
            raise self._classify(exc) from exc

    def _classify(self, exc: BaseException) -> _AttemptFailed:
        policy = self.op_def.retry_policy
        if isinstance(exc, UserCodeError):
            return _AttemptFailed(
                StepFailed(
                    error=error_data(exc.user_exception, message=str(exc)),
                    error_source=ErrorSource.USER_CODE,
                ),
                exc,
                None,
            )
        if isinstance(exc, OpHostError):
            return _AttemptFailed(
                StepFailed(error=error_data(exc), error_source=ErrorSource.FRAMEWORK), exc, None
            )
        if isinstance(exc, RetryRequested):
            # Raised by the op itself: its own limits apply, the policy is not consulted.
            return _AttemptFailed(
                StepFailed(error=error_data(exc), error_source=ErrorSource.USER_CODE), exc, exc
            )
        user_failure = None
        if isinstance(exc, Failure):
            user_failure = UserFailure(exc.description, tuple(exc.metadata_entries))
        failure = StepFailed(
            error=error_data(exc), error_source=ErrorSource.USER_CODE, user_failure=user_failure
        )
        retries_allowed = not (isinstance(exc, Failure) and not exc.allow_retries)
        if policy is not None and retries_allowed:
            retry = RetryRequested(
                max_retries=policy.max_retries,
                seconds_to_wait=policy.calculate_delay(self._attempt + 1),
            )
            return _AttemptFailed(failure, exc, retry)
        return _AttemptFailed(failure, exc, None)

    # -- inputs ----------------------------------------------------------------------------

    def _check_inputs(self, context: OpExecutionContext) -> Iterator[ExecutionEvent]:
        tc_context = type_check_context(context)
        for d in self.op_def.input_defs:
            if d.dagster_type.is_nothing:
                continue
            value = self.prepared.input_values[d.name]
            result = run_type_check(d.dagster_type, tc_context, value, f'input "{d.name}"')
            yield from self._drain()
            yield self._wrap(InputChecked(d.name, result))
            if not result.success:
                raise type_check_failed("input", d.name, d.dagster_type, result)

    # -- body ------------------------------------------------------------------------------

    def _handle_item(self, context: OpExecutionContext, item: object) -> Iterable[ExecutionEvent]:
        if isinstance(item, Output):
            return self._handle_output(context, item)
        if isinstance(item, (AssetMaterialization, ExpectationResult)):
            return (self._wrap(item),)
        check_yielded(self.op_def.name, item)  # raises: nothing else may be yielded
        return ()

    def _handle_output(
        self, context: OpExecutionContext, output: Output[object]
    ) -> Iterator[ExecutionEvent]:
        outputs = self.op_def.output_dict
        name = output.output_name
        definition = outputs.get(name)
        if definition is None:
            raise InvariantViolationError(
                f'op "{self.op_def.name}" returned an output "{name}" that does not exist. '
                f"The available outputs are {sorted(outputs)}"
            )
        if name in self._emitted:
            raise InvariantViolationError(
                f'op "{self.op_def.name}" returned an output "{name}" multiple times'
            )
        added = context.take_output_metadata(name)
        if (
            output.value is None
            and not definition.is_required
            and not definition.dagster_type.is_nothing
        ):
            self._log_sink(
                30,
                f'Value for optional output "{name}" of op "{self.op_def.name}" is None; '
                "it is emitted as None",
                "ophost",
            )
            yield from self._drain()
        result = run_type_check(
            definition.dagster_type, type_check_context(context), output.value, f'output "{name}"'
        )
        yield from self._drain()
        # A value the host cannot send fails the step here (a framework error), before
        # the output is reported.
        wire = self._encode_output(name, output.value) if self._encode_output else None
        self._emitted.add(name)
        if self._keep_outputs:
            self.outputs[name] = output.value
        yield self._wrap(
            OutputProduced(
                output_name=name,
                value=output.value,
                metadata_entries=tuple(output.metadata_entries) + tuple(added),
                type_check=result,
                wire=wire,
            )
        )
        if not result.success:
            raise type_check_failed("output", name, definition.dagster_type, result)

    def _finish_outputs(self, context: OpExecutionContext) -> Iterator[ExecutionEvent]:
        for definition in self.op_def.output_defs:
            if definition.name in self._emitted or not definition.is_required:
                continue
            if definition.dagster_type.is_nothing:
                self._log_sink(
                    20, f'Emitting implicit Nothing for output "{definition.name}"', "ophost"
                )
                yield from self._drain()
                yield from self._handle_output(context, Output(None, definition.name))
                continue
            raise OutputNotFoundError(
                f'op "{self.op_def.name}" did not return an output for non-optional output '
                f'"{definition.name}"'
            )
