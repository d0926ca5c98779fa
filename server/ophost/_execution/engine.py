"""Running one op: attempts, retries, type checks, and the ordered event stream."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Executor
from typing import Any as TypingAny

from ophost._context import OpExecutionContext
from ophost._events import AssetMaterialization, ExpectationResult, Failure, Output, RetryRequested
from ophost._execution.coerce import check_yielded, coerce_return
from ophost._execution.errors import error_data
from ophost._execution.events import (
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
from ophost._execution.prepare import PreparedExecution
from ophost._execution.pump import Item, Pump, PumpCanceled, Record, Returned
from ophost._op import ComputeKind, DecoratedFn, OpDefinition
from ophost._types import TypeCheckContext
from ophost.errors import (
    ExecutionInterruptedError,
    InvariantViolationError,
    OpHostError,
    OutputNotFoundError,
    TypeCheckFailedError,
    TypeCheckFunctionError,
    UserCodeError,
)

__all__ = ["Clock", "OpRun", "Sleep", "call_arguments"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

_INTERRUPTED = "ophost.ExecutionInterrupted"


def call_arguments(
    decorated: DecoratedFn, context: object, values: Mapping[str, object]
) -> tuple[list[object], dict[str, object]]:
    """Positional and keyword arguments for calling a decorated op function.

    The context goes first (by name when it is a keyword-only parameter); positional-only
    parameters are passed by position and every other input by keyword.
    """
    args: list[object] = []
    kwargs: dict[str, object] = {}
    if decorated.context_param is not None:
        if decorated.context_keyword_only:
            kwargs[decorated.context_param] = context
        else:
            args.append(context)
    for name in decorated.positional_only:
        if name in values:
            args.append(values[name])
    for name, value in values.items():
        if name not in decorated.positional_only:
            kwargs[name] = value
    return args, kwargs


class _AttemptFailed(Exception):
    """Internal: carries how an attempt ended when it did not succeed."""

    def __init__(self, failure: StepFailed, raised: BaseException, retry: RetryRequested | None):
        super().__init__(failure.error.message)
        self.failure = failure
        self.raised = raised
        self.retry = retry


class _Result:
    """What an awaited part of an async body produced."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


# Yielded by the body iteration when recorded events are waiting to be streamed.
_FLUSH = object()
# Yielded by _await_body when an async generator body has no more items.
_EXHAUSTED = object()


class _Canceled(Exception):
    """Internal: the attempt stopped because a cancel was requested."""

    def __init__(self, outcome: CancelOutcome) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome


class OpRun:
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

    def _check_cancel(self) -> None:
        if self._cancel_requested:
            raise _Canceled(CancelOutcome.COOPERATIVE)

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

    async def _await_body(self, awaitable: Awaitable[TypingAny]) -> AsyncGenerator[object, None]:
        """Await part of an async body, interruptibly.

        Yields :data:`_FLUSH` whenever the body recorded log lines or events while it
        ran (so they reach the stream before the body returns), then one
        :class:`_Result`. A cancel request cancels the body (``CancelledError`` inside
        it) and raises :class:`_Canceled` once it has stopped, or after the grace period.
        """
        task = asyncio.ensure_future(awaitable)
        self._body_task = task
        try:
            while not self._cancel_requested:
                if self._cancel_waiter is None or self._cancel_waiter.done():
                    self._cancel_waiter = asyncio.ensure_future(self._cancel.wait())
                self._recorded.clear()
                recorded = asyncio.ensure_future(self._recorded.wait())
                await asyncio.wait(
                    {task, self._cancel_waiter, recorded}, return_when=asyncio.FIRST_COMPLETED
                )
                recorded.cancel()
                if task.done():
                    if task.cancelled():
                        break
                    if isinstance(task.exception(), StopAsyncIteration):
                        # An async generator body ended; raising it here would turn it
                        # into a RuntimeError (PEP 525).
                        yield _EXHAUSTED
                        return
                    yield _Result(task.result())
                    return
                if self._pending:
                    yield _FLUSH
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=self._grace)
            if not done:
                raise _Canceled(CancelOutcome.ABANDONED)
            raise _Canceled(CancelOutcome.COOPERATIVE)
        finally:
            self._body_task = None

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
        except _Canceled as canceled:
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
                    if item is _FLUSH:
                        continue
                    self._check_cancel()
                    if isinstance(item, (AssetMaterialization, ExpectationResult)):
                        yield self._wrap(item)  # the common case, without a generator
                    else:
                        for event in self._handle_item(context, item):
                            yield event
            for event in self._drain():
                yield event
            self._check_cancel()
            for event in self._finish_outputs(context):
                yield event
        except _Canceled:
            raise
        except (asyncio.CancelledError, ExecutionInterruptedError):
            if self._cancel_requested:
                raise _Canceled(CancelOutcome.COOPERATIVE) from None
            raise
        except (GeneratorExit, KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            if self._cancel_requested:
                # Whatever the body raised while being stopped, the cancel is the story.
                raise _Canceled(CancelOutcome.COOPERATIVE) from exc
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

    def _type_check_context(self, context: OpExecutionContext) -> TypeCheckContext:
        return TypeCheckContext(run_id=self.run_id, log=context.log, resources=context.resources)

    def _check_inputs(self, context: OpExecutionContext) -> Iterator[ExecutionEvent]:
        tc_context = self._type_check_context(context)
        for d in self.op_def.input_defs:
            if d.dagster_type.is_nothing:
                continue
            value = self.prepared.input_values[d.name]
            result = _run_type_check(d.dagster_type, tc_context, value, f'input "{d.name}"')
            yield from self._drain()
            yield self._wrap(InputChecked(d.name, result))
            if not result.success:
                raise TypeCheckFailedError(
                    f'Type check failed for step input "{d.name}" - expected type '
                    f'"{d.dagster_type.display_name}". Description: {result.description}',
                    description=result.description,
                    metadata_entries=result.metadata_entries,
                    dagster_type=d.dagster_type,
                )

    # -- body ------------------------------------------------------------------------------

    async def _body_items(self, context: OpExecutionContext) -> AsyncGenerator[object, None]:
        values = {
            name: value
            for name, value in self.prepared.input_values.items()
            if not self.op_def.input_dict[name].dagster_type.is_nothing
        }
        decorated = self.op_def.decorated_fn
        if decorated is None:
            core = self.op_def.compute_fn
            async with contextlib.aclosing(
                self._sync_body(lambda: core(context, dict(values)), context, core=True)
            ) as core_items:
                async for item in core_items:
                    yield item
            return
        args, kwargs = call_arguments(decorated, context, values)
        fn = decorated.fn
        kind = decorated.kind
        if kind is ComputeKind.ASYNC_GENERATOR:
            async with contextlib.aclosing(self._async_items(fn(*args, **kwargs))) as agen_items:
                async for item in agen_items:
                    yield item
        elif kind is ComputeKind.COROUTINE:
            result: _Result | None = None
            async for step in self._await_body(fn(*args, **kwargs)):
                if isinstance(step, _Result):
                    result = step
                else:
                    yield step
            self._check_cancel()
            value = result.value if result is not None else None
            for item in coerce_return(self.op_def.name, value, self.op_def.output_defs):
                yield item
        else:
            async with contextlib.aclosing(
                self._sync_body(lambda: fn(*args, **kwargs), context, core=False)
            ) as sync_items:
                async for item in sync_items:
                    yield item

    async def _async_items(self, agen: TypingAny) -> AsyncGenerator[object, None]:
        finished = False
        try:
            while True:
                result: _Result | None = None
                async for step in self._await_body(agen.__anext__()):
                    if step is _EXHAUSTED:
                        finished = True
                        return
                    if isinstance(step, _Result):
                        result = step
                    else:
                        yield step
                if result is not None:
                    yield result.value
        finally:
            if not finished:
                # Runs the generator's cleanup; an abandoned one is still running, and
                # closing it then is refused (RuntimeError), so it is left alone.
                with contextlib.suppress(RuntimeError):
                    await agen.aclose()

    async def _sync_body(
        self, call: Callable[[], object], context: OpExecutionContext, *, core: bool
    ) -> AsyncGenerator[object, None]:
        """Run a sync body in a worker thread and yield its items in order."""

        def on_item(value: object) -> None:
            if isinstance(value, Output):
                context.mark_emitted(value.output_name)

        pump = Pump(
            call,
            loop=asyncio.get_running_loop(),
            executor=self._executor,
            capacity=self._capacity,
            on_item=on_item,
        )
        self._pump = pump
        pump.start(iterate_results=core)
        if self._cancel_requested:
            pump.request_cancel()
        returned: Returned | None = None
        try:
            async for entry in pump.entries():
                if isinstance(entry, Record):
                    entry.apply()
                    if not pump.buffered:
                        yield _FLUSH  # stream what was recorded before waiting for more
                elif isinstance(entry, Item):
                    yield entry.value
                elif isinstance(entry, Returned):
                    returned = entry
        except PumpCanceled:
            raise _Canceled(CancelOutcome.COOPERATIVE) from None
        finally:
            self._pump = None
            if self._cancel_requested:
                await self._stop_pump(pump)
        self._check_cancel()
        if returned is None:
            return
        value = returned.value
        if core:
            if hasattr(value, "__aiter__"):
                async with contextlib.aclosing(self._async_items(value)) as core_async:
                    async for item in core_async:
                        yield item
            elif value is not None:
                raise InvariantViolationError(
                    f'op "{self.op_def.name}": compute_fn must return an iterable of events, '
                    f"got {type(value).__name__}"
                )
            return
        for item in coerce_return(self.op_def.name, value, self.op_def.output_defs):
            yield item

    async def _stop_pump(self, pump: Pump) -> None:
        """Wait up to the grace period for a canceled sync body to stop."""
        pump.request_cancel()
        if pump.future is None:
            return
        done, _ = await asyncio.wait({pump.future}, timeout=self._grace)
        if not done:
            raise _Canceled(CancelOutcome.ABANDONED)

    def _handle_item(self, context: OpExecutionContext, item: object) -> Iterator[ExecutionEvent]:
        check_yielded(self.op_def.name, item)
        if isinstance(item, Output):
            yield from self._handle_output(context, item)
        else:
            assert isinstance(item, (AssetMaterialization, ExpectationResult))
            yield self._wrap(item)

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
        result = _run_type_check(
            definition.dagster_type,
            self._type_check_context(context),
            output.value,
            f'output "{name}"',
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
            raise TypeCheckFailedError(
                f'Type check failed for step output "{name}" - expected type '
                f'"{definition.dagster_type.display_name}". Description: {result.description}',
                description=result.description,
                metadata_entries=result.metadata_entries,
                dagster_type=definition.dagster_type,
            )

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


def _run_type_check(
    dagster_type: TypingAny, context: TypeCheckContext, value: object, what: str
) -> TypingAny:
    try:
        return dagster_type.type_check(context, value)
    except OpHostError:
        raise
    except Exception as exc:
        raise TypeCheckFunctionError(
            f'The type check function of type "{dagster_type.display_name}" raised '
            f"{type(exc).__name__} while checking {what}: {exc}",
            user_exception=exc,
            original_exc_info=(type(exc), exc, exc.__traceback__),
        ) from exc
