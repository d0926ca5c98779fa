"""Running one op: attempts, retries, type checks, and the ordered event stream."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any as TypingAny
from typing import TypeVar

from ophost._context import OpExecutionContext
from ophost._events import AssetMaterialization, ExpectationResult, Failure, Output, RetryRequested
from ophost._execution.coerce import check_yielded, coerce_return
from ophost._execution.errors import error_data
from ophost._execution.events import (
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
from ophost._op import ComputeKind, DecoratedFn, OpDefinition
from ophost._types import TypeCheckContext
from ophost.errors import (
    InvariantViolationError,
    OpHostError,
    OutputNotFoundError,
    TypeCheckFailedError,
    TypeCheckFunctionError,
    UserCodeError,
)

__all__ = ["Clock", "OpRun", "Sleep", "call_arguments"]

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
Advance = Callable[[Callable[[], T]], Awaitable[T]]

_DONE = object()


async def _inline(step: Callable[[], T]) -> T:
    return step()


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


class OpRun:
    """One execution of one op. Iterate :meth:`events` to run it.

    ``clock`` gives wall time in seconds and ``sleep`` waits between retries; both can
    be replaced so tests of backoff never sleep. ``advance`` runs each step of a
    synchronous op body (inline by default; a server runs them off its event loop).
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
        advance: Advance[TypingAny] = _inline,
    ) -> None:
        self.prepared = prepared
        self.op_def: OpDefinition = prepared.op_def
        self.run_id = run_id or uuid.uuid4().hex
        self.request_id = request_id
        self.tags = dict(tags or {})
        self._clock = clock
        self._sleep = sleep
        self._advance = advance
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

    def _log_sink(self, level: int, message: str, logger_name: str) -> None:
        self._pending.append(LogMessage(LogLevel.from_logging(level), message, logger_name))

    def _event_sink(self, event: AssetMaterialization | ExpectationResult) -> None:
        self._pending.append(event)

    # -- the run ---------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[ExecutionEvent]:
        """Run the op, yielding every event; the last one is :class:`ExecutionFinished`."""
        yield self._wrap(ExecutionStarted(request_id=self.request_id))
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
                yield self._wrap(ExecutionFinished(ExecutionStatus.SUCCEEDED))
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
                await self._sleep(max(0.0, delay))
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
            yield self._wrap(ExecutionFinished(ExecutionStatus.FAILED, error=failure.error))
            return

    async def _attempt_events(self) -> AsyncIterator[ExecutionEvent]:
        """Events of one attempt; raises :class:`_AttemptFailed` when it fails."""
        self.outputs = {}
        context = OpExecutionContext(
            op_def=self.op_def,
            op_config=self.prepared.op_config,
            resources=self.prepared.resources,
            run_id=self.run_id,
            run_tags=self.tags,
            retry_number=self._attempt,
            log_sink=self._log_sink,
            event_sink=self._event_sink,
        )
        try:
            for event in self._check_inputs(context):
                yield event
            async for item in self._body_items(context):
                for event in self._drain():
                    yield event
                for event in self._handle_item(context, item):
                    yield event
            for event in self._drain():
                yield event
            for event in self._finish_outputs(context):
                yield event
        except (asyncio.CancelledError, GeneratorExit, KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
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

    async def _body_items(self, context: OpExecutionContext) -> AsyncIterator[object]:
        values = {
            name: value
            for name, value in self.prepared.input_values.items()
            if not self.op_def.input_dict[name].dagster_type.is_nothing
        }
        decorated = self.op_def.decorated_fn
        if decorated is None:
            result = await self._advance(lambda: self.op_def.compute_fn(context, dict(values)))
            async for item in self._iterate(result):
                yield item
            return
        args, kwargs = call_arguments(decorated, context, values)
        fn = decorated.fn
        kind = decorated.kind
        if kind is ComputeKind.ASYNC_GENERATOR:
            async for item in fn(*args, **kwargs):
                yield item
        elif kind is ComputeKind.COROUTINE:
            value = await fn(*args, **kwargs)
            for item in coerce_return(self.op_def.name, value, self.op_def.output_defs):
                yield item
        elif kind is ComputeKind.GENERATOR:
            async for item in self._iterate(fn(*args, **kwargs)):
                yield item
        else:
            value = await self._advance(lambda: fn(*args, **kwargs))
            if inspect.isgenerator(value):
                async for item in self._iterate(value):
                    yield item
            else:
                for item in coerce_return(self.op_def.name, value, self.op_def.output_defs):
                    yield item

    async def _iterate(self, result: object) -> AsyncIterator[object]:
        if hasattr(result, "__aiter__"):
            async for item in result:
                yield item
            return
        if result is None:
            return
        if not hasattr(result, "__iter__"):
            raise InvariantViolationError(
                f'op "{self.op_def.name}": compute_fn must return an iterable of events, '
                f"got {type(result).__name__}"
            )
        iterator = iter(result)
        while True:
            item = await self._advance(lambda: next(iterator, _DONE))
            if item is _DONE:
                return
            yield item

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
        if name in self.outputs:
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
        self.outputs[name] = output.value
        yield self._wrap(
            OutputProduced(
                output_name=name,
                value=output.value,
                metadata_entries=tuple(output.metadata_entries) + tuple(added),
                type_check=result,
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
            if definition.name in self.outputs or not definition.is_required:
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
