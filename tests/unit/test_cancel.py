"""Cancellation in the engine: every kind of op body stops and the terminal event says so."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator

import pytest

from ophost import OpDefinition, Output, RetryPolicy, op
from ophost.execution import (
    CancelOutcome,
    ErrorSource,
    ExecutionEvent,
    ExecutionFinished,
    ExecutionStatus,
    LogMessage,
    OpRun,
    StepFailed,
    ThreadExecutor,
    numbered,
    prepare_execution,
)


def _run(op_def: OpDefinition, *, capacity: int = 1024, **kwargs: object) -> OpRun:
    inputs = kwargs.pop("inputs", None)
    return OpRun(
        prepare_execution(op_def, inputs, None, None),  # type: ignore[arg-type]
        executor=ThreadExecutor(capacity=capacity),
        **kwargs,  # type: ignore[arg-type]
    )


async def _events(run: OpRun) -> list[ExecutionEvent]:
    return numbered(run, [event async for event in run.events()])


async def _collect_and_cancel(
    run: OpRun, *, when: str, timeout: float = 10.0
) -> list[ExecutionEvent]:
    """Run to the end; request a cancel when a log line with text ``when`` arrives."""
    emitted = []

    async def consume() -> None:
        async for event in run.events():
            emitted.append(event)
            if isinstance(event.body, LogMessage) and event.body.message == when:
                run.request_cancel()

    await asyncio.wait_for(consume(), timeout)
    return numbered(run, emitted)


def _finished(events: list[ExecutionEvent]) -> ExecutionFinished:
    last = events[-1].body
    assert isinstance(last, ExecutionFinished)
    return last


async def test_sync_generator_is_closed_at_its_next_yield() -> None:
    cleaned = threading.Event()
    produced: list[int] = []

    @op
    def counter(context):  # type: ignore[no-untyped-def]
        try:
            for i in range(1_000_000):
                produced.append(i)
                context.log.info(f"tick {i}")
                yield Output(i) if i == 10**9 else _progress(i)
        finally:
            cleaned.set()

    def _progress(i: int) -> object:
        from ophost import ExpectationResult

        return ExpectationResult(True, label=f"step{i}")

    run = _run(counter, capacity=8)
    events = await _collect_and_cancel(run, when="tick 3")
    finished = _finished(events)
    assert finished.status is ExecutionStatus.CANCELED
    assert finished.cancel_requested
    assert finished.cancel_outcome is CancelOutcome.COOPERATIVE
    assert cleaned.is_set()
    # Bounded hand-off: the body ran at most a queue's length past the cancel point.
    assert len(produced) < 3 + 2 * 8 + 4
    failure = events[-2].body
    assert isinstance(failure, StepFailed)
    assert failure.error_source is ErrorSource.INTERRUPT
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))


async def test_async_op_gets_cancelled_error() -> None:
    seen: list[str] = []

    @op
    async def sleeper(context):  # type: ignore[no-untyped-def]
        context.log.info("sleeping")
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        return 1

    events = await _collect_and_cancel(_run(sleeper), when="sleeping")
    assert seen == ["cancelled"]
    assert _finished(events).cancel_outcome is CancelOutcome.COOPERATIVE


async def test_async_generator_op_is_interrupted() -> None:
    @op
    async def stream(context):  # type: ignore[no-untyped-def]
        context.log.info("started")
        while True:
            await asyncio.sleep(0.01)
            yield _expectation()

    def _expectation() -> object:
        from ophost import ExpectationResult

        return ExpectationResult(True)

    events = await _collect_and_cancel(_run(stream), when="started")
    assert _finished(events).status is ExecutionStatus.CANCELED


async def test_sync_function_polls_the_context() -> None:
    @op
    def poller(context):  # type: ignore[no-untyped-def]
        context.log.info("polling")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            context.raise_if_cancel_requested()
            time.sleep(0.005)
        return "never"

    events = await _collect_and_cancel(_run(poller), when="polling")
    finished = _finished(events)
    assert finished.status is ExecutionStatus.CANCELED
    assert finished.cancel_outcome is CancelOutcome.COOPERATIVE


async def test_body_that_ignores_cancel_is_abandoned_after_grace() -> None:
    release = threading.Event()

    @op
    def stubborn(context):  # type: ignore[no-untyped-def]
        context.log.info("working")
        release.wait(30)
        return 1

    run = _run(stubborn, cancel_grace=0.2)
    try:
        events = await _collect_and_cancel(run, when="working")
    finally:
        release.set()
    finished = _finished(events)
    assert finished.status is ExecutionStatus.CANCELED
    assert finished.cancel_outcome is CancelOutcome.ABANDONED


async def test_cancel_before_start() -> None:
    @op
    def never(context) -> int:  # type: ignore[no-untyped-def]
        raise AssertionError("must not run")

    run = _run(never)
    run.request_cancel()
    events = await _events(run)
    assert [type(e.body).__name__ for e in events] == ["ExecutionStarted", "ExecutionFinished"]
    assert _finished(events).cancel_outcome is CancelOutcome.NOT_STARTED


async def test_cancel_during_retry_wait() -> None:
    @op(retry_policy=RetryPolicy(max_retries=3, delay=60))
    def flaky(context):  # type: ignore[no-untyped-def]
        raise ConnectionError("down")

    run = _run(flaky)
    emitted = []

    async def consume() -> None:
        async for event in run.events():
            emitted.append(event)
            if type(event.body).__name__ == "RetryScheduled":
                asyncio.get_running_loop().call_later(0.05, run.request_cancel)

    await asyncio.wait_for(consume(), 10)
    events = numbered(run, emitted)
    assert _finished(events).status is ExecutionStatus.CANCELED


async def test_op_that_finishes_first_succeeds() -> None:
    @op
    def quick() -> int:
        return 1

    run = _run(quick)
    events = await _events(run)
    run.request_cancel()  # too late: ignored
    finished = _finished(events)
    assert finished.status is ExecutionStatus.SUCCEEDED
    assert not finished.cancel_requested


async def test_sync_ops_run_off_the_event_loop() -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    @op
    def where() -> int:
        seen.append(threading.get_ident())
        return 1

    await _events(_run(where))
    assert seen
    assert seen[0] != loop_thread


async def test_log_order_is_kept_across_the_thread_boundary() -> None:
    @op
    def chatty(context):  # type: ignore[no-untyped-def]
        for i in range(200):
            context.log.info(f"line {i}")
            yield _mark(i)

    def _mark(i: int) -> object:
        from ophost import ExpectationResult

        return ExpectationResult(True, label=f"e{i}")

    kinds: list[str] = []
    async for event in _run(chatty, capacity=4).events():
        body = event.body
        if isinstance(body, LogMessage):
            kinds.append(body.message.replace("line ", "L"))
        elif type(body).__name__ == "ExpectationResult":
            kinds.append(body.label.replace("e", "E"))  # type: ignore[union-attr]
    expected = [x for i in range(200) for x in (f"L{i}", f"E{i}")]
    assert kinds == expected


@pytest.mark.parametrize("capacity", [1, 3])
async def test_tiny_handoff_capacity_still_delivers_everything(capacity: int) -> None:
    @op
    def many():  # type: ignore[no-untyped-def]
        for i in range(50):
            yield _e(i)
        yield Output(50)

    def _e(i: int) -> object:
        from ophost import ExpectationResult

        return ExpectationResult(True, label=str(i))

    events = await _events(_run(many, capacity=capacity))
    assert _finished(events).status is ExecutionStatus.SUCCEEDED
    assert len(events) == 2 + 50 + 1 + 2


_unused: AsyncIterator[object] | None = None
