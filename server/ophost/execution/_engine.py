"""Running one op: its attempts, retries, backoff and cancellation, as batches of events.

:class:`OpRun` owns an execution's life and its framework events (execution started,
step started or restarted, step failure, retry scheduled, step success, execution
finished). It leaves each attempt's user code to an :class:`Executor` and merges the
events the attempt hands back into its own stream. Events carry no sequence numbers:
whoever keeps the execution (the host's store, or ``execute_in_process``) numbers them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

from ophost.definitions import (
    CancelOutcome,
    ErrorData,
    ErrorSource,
    EventBody,
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    RetryScheduled,
    StepFailed,
    StepRestarted,
    StepStarted,
    StepSucceeded,
)
from ophost.definitions._op import OpDefinition
from ophost.execution._attempt import (
    Attempt,
    AttemptCanceled,
    AttemptFailed,
    AttemptOutcome,
    AttemptRequest,
    AttemptSucceeded,
    Clock,
    EngineEvent,
    Executor,
    OutputEncoder,
)
from ophost.execution._error_data import error_data
from ophost.execution._observer import NO_RUN_OBSERVER, RunObserver
from ophost.execution._prepare import PreparedExecution
from ophost.execution._thread_executor import ThreadExecutor

__all__ = ["LostAttempt", "OpRun", "Sleep"]

Sleep = Callable[[float], Awaitable[None]]

_INTERRUPTED = "ophost.ExecutionInterrupted"


@dataclass(frozen=True)
class LostAttempt:
    """An attempt that ended without an outcome: the process running it was lost.

    Given to :class:`OpRun`, the run goes on from there: the attempt fails with
    ``error`` (source HOST_LOST), then the op's retry policy decides as for any failure.
    """

    attempt: int
    error: ErrorData


class OpRun:
    """One execution of one op. Iterate :meth:`batches` (or :meth:`events`) to run it.

    ``executor`` runs each attempt's user code (default: a :class:`ThreadExecutor`,
    sync bodies in the loop's default thread pool). ``clock`` gives wall time in
    seconds and ``sleep`` waits between retries; both can be replaced so tests of
    backoff never sleep. :meth:`request_cancel` stops the op; a body that has not
    stopped ``cancel_grace`` seconds later is given up on (see the executor).

    While an attempt starts, the events before it are held back for up to
    ``first_flush_delay`` seconds, so that a quick op's events all come in one batch;
    after that, every batch is handed over as soon as the engine would wait.

    ``observer`` is told when each attempt is handed to the executor (see
    :class:`~ophost.execution.RunObserver`); by default nobody is.
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
        cancel_grace: float = 5.0,
        encode_output: OutputEncoder | None = None,
        keep_outputs: bool = True,
        first_flush_delay: float = 0.002,
        lost: LostAttempt | None = None,
        start: bytes = b"",
        observer: RunObserver = NO_RUN_OBSERVER,
    ) -> None:
        self.prepared = prepared
        self._start = start
        self._observer = observer
        self._lost = lost
        self.op_def: OpDefinition = prepared.op_def
        self.run_id = run_id or uuid.uuid4().hex
        self.request_id = request_id
        self.tags = dict(tags or {})
        self._clock = clock
        self._sleep = sleep
        self._executor = executor if executor is not None else ThreadExecutor()
        self._grace = cancel_grace
        self._encode_output = encode_output
        self._keep_outputs = keep_outputs
        self._linger = first_flush_delay
        self._cancel_requested = False
        self._woken: asyncio.Event | None = None
        self._attempt_run: Attempt | None = None
        self.attempt = 0
        self.outputs: dict[str, object] = {}
        self.status: ExecutionStatus | None = None
        self.raised: BaseException | None = None
        self.cancel_outcome: CancelOutcome | None = None

    # -- cancellation ------------------------------------------------------------------------

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_requested

    def request_cancel(self) -> None:
        """Ask the op to stop (call from the event loop's thread). Idempotent."""
        if self._cancel_requested or self.status is not None:
            return
        self._cancel_requested = True
        if self._attempt_run is not None:
            self._attempt_run.cancel(self._grace)
        if self._woken is not None:
            self._woken.set()

    # -- the run -------------------------------------------------------------------------------

    def _event(self, body: EventBody) -> EngineEvent:
        return EngineEvent(self.attempt, self._clock(), body)

    async def events(self) -> AsyncIterator[EngineEvent]:
        """Run the op, yielding every event; the last one is :class:`ExecutionFinished`."""
        async for batch in self.batches():
            for event in batch:
                yield event

    async def batches(self) -> AsyncIterator[list[EngineEvent]]:
        """Run the op, yielding its events in batches, handed over whenever it would wait."""
        if self._lost is not None:
            self.attempt = self._lost.attempt
            pending: list[EngineEvent] = []
            retrying, lost_batch = self._after_lost(self._lost)
            yield lost_batch
            if not retrying:
                return
            scheduled = lost_batch[-1].body
            assert isinstance(scheduled, RetryScheduled)
            if not await self._sleep_unless_canceled(scheduled.delay_seconds):
                yield self._canceled(CancelOutcome.COOPERATIVE)
                return
            self.attempt += 1
        else:
            pending = [self._event(ExecutionStarted(request_id=self.request_id))]
            if self._cancel_requested:
                pending.extend(self._canceled(CancelOutcome.NOT_STARTED))
                yield pending
                return
        while True:
            pending.append(self._event(StepStarted() if self.attempt == 0 else StepRestarted()))
            started = self._clock()
            outcome: AttemptOutcome | None = None
            async for batch in self._attempt_batches(pending):
                if isinstance(batch, list):
                    yield batch
                else:
                    outcome = batch
            pending = []
            assert outcome is not None
            if isinstance(outcome, AttemptSucceeded):
                duration = round(max(0.0, self._clock() - started), 9)  # nanosecond resolution
                self.outputs = outcome.outputs
                self.status = ExecutionStatus.SUCCEEDED
                pending.append(self._event(StepSucceeded(duration_seconds=duration)))
                pending.append(
                    self._event(
                        ExecutionFinished(
                            ExecutionStatus.SUCCEEDED, cancel_requested=self._cancel_requested
                        )
                    )
                )
                yield pending
                return
            if isinstance(outcome, AttemptCanceled):
                yield self._canceled(outcome.outcome)
                return
            if isinstance(outcome.raised, (KeyboardInterrupt, SystemExit)):
                # Not the op failing: the process is being stopped. Never retried.
                self.raised = outcome.raised
                raise outcome.raised
            retry = outcome.retry
            if (
                retry is not None
                and self.attempt < retry.max_retries
                and not self._cancel_requested
            ):
                yield self._retrying(outcome, float(retry.seconds_to_wait or 0))
                if not await self._sleep_unless_canceled(
                    max(0.0, float(retry.seconds_to_wait or 0))
                ):
                    yield self._canceled(CancelOutcome.COOPERATIVE)
                    return
                self.attempt += 1
                continue
            yield self._failed(outcome)
            return

    async def _attempt_batches(
        self, pending: list[EngineEvent]
    ) -> AsyncIterator[list[EngineEvent] | AttemptOutcome]:
        """The batches of one attempt (starting with ``pending``), then its outcome."""
        request = AttemptRequest(
            prepared=self.prepared,
            run_id=self.run_id,
            attempt=self.attempt,
            tags=self.tags,
            encode_output=self._encode_output,
            keep_outputs=self._keep_outputs,
            clock=self._clock,
            start=self._start,
        )
        with self._observer.attempt(self.attempt):
            attempt = self._executor.start(request)
        self._attempt_run = attempt
        if self._cancel_requested:  # asked for while the attempt was being set up
            attempt.cancel(self._grace)
        lingering = True
        try:
            while True:
                events, outcome = attempt.take()
                if events:
                    pending.extend(events)
                if outcome is not None:
                    if pending:
                        yield pending
                    yield outcome
                    return
                if lingering and pending and self._linger > 0:
                    lingering = False
                    if await attempt.wait(self._linger):
                        continue
                if pending:
                    yield pending
                    pending = []
                await attempt.wait()
        finally:
            self._attempt_run = None

    def _after_lost(self, lost: LostAttempt) -> tuple[bool, list[EngineEvent]]:
        """The lost attempt's failure, and a retry if the op's policy has one left."""
        policy = self.op_def.retry_policy
        if policy is not None and self.attempt < policy.max_retries and not self._cancel_requested:
            delay = max(0.0, float(policy.calculate_delay(self.attempt + 1)))
            failure = StepFailed(
                error=lost.error, error_source=ErrorSource.HOST_LOST, will_retry=True
            )
            retry = RetryScheduled(
                failed_attempt=self.attempt,
                next_attempt=self.attempt + 1,
                delay_seconds=delay,
                error=lost.error,
            )
            return True, [self._event(failure), self._event(retry)]
        self.status = ExecutionStatus.FAILED
        return False, [
            self._event(StepFailed(error=lost.error, error_source=ErrorSource.HOST_LOST)),
            self._event(
                ExecutionFinished(
                    ExecutionStatus.FAILED,
                    error=lost.error,
                    cancel_requested=self._cancel_requested,
                )
            ),
        ]

    def _retrying(self, failed: AttemptFailed, delay: float) -> list[EngineEvent]:
        failure = failed.failure
        return [
            self._event(
                StepFailed(
                    error=failure.error,
                    error_source=failure.error_source,
                    user_failure=failure.user_failure,
                    will_retry=True,
                )
            ),
            self._event(
                RetryScheduled(
                    failed_attempt=self.attempt,
                    next_attempt=self.attempt + 1,
                    delay_seconds=delay,
                    error=failure.error,
                )
            ),
        ]

    def _failed(self, failed: AttemptFailed) -> list[EngineEvent]:
        failure = failed.failure
        retry = failed.retry
        if retry is not None:
            cause = error_data(failed.raised) if failed.raised is not None else failure.error
            failure = StepFailed(
                error=ErrorData(
                    type_name="ophost.RetryLimitExceeded",
                    message=f"Exceeded max_retries of {retry.max_retries}",
                    cause=cause,
                ),
                error_source=failure.error_source,
            )
        self.raised = failed.raised
        self.status = ExecutionStatus.FAILED
        return [
            self._event(failure),
            self._event(
                ExecutionFinished(
                    ExecutionStatus.FAILED,
                    error=failure.error,
                    cancel_requested=self._cancel_requested,
                )
            ),
        ]

    def _canceled(self, outcome: CancelOutcome) -> list[EngineEvent]:
        events = []
        if outcome is not CancelOutcome.NOT_STARTED:
            error = ErrorData(type_name=_INTERRUPTED, message="the execution was canceled")
            events.append(self._event(StepFailed(error=error, error_source=ErrorSource.INTERRUPT)))
        self.status = ExecutionStatus.CANCELED
        self.cancel_outcome = outcome
        events.append(
            self._event(
                ExecutionFinished(
                    ExecutionStatus.CANCELED, cancel_requested=True, cancel_outcome=outcome
                )
            )
        )
        return events

    async def _sleep_unless_canceled(self, seconds: float) -> bool:
        """Wait between attempts; False if a cancel came first."""
        if self._cancel_requested:
            return False
        woken = self._woken = asyncio.Event()
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        waiter = asyncio.ensure_future(woken.wait())
        try:
            await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waiter.cancel()
            self._woken = None
        return not self._cancel_requested
