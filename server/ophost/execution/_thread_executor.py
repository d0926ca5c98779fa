"""The default executor: sync op bodies in worker threads, async ones on the event loop.

A sync body's whole attempt (input checks, the body, output checks and encodings)
runs in one worker thread and hands its events to the loop through a :class:`Pump`;
a generator is closed at its next ``yield`` once a cancel is asked for. An async
body's attempt runs as a task on the loop; a cancel cancels it (``CancelledError``
inside the body). A body still running ``grace`` seconds after a cancel is abandoned:
a thread cannot be stopped from outside, so it is left to finish on its own and
whatever it produces afterwards is dropped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import inspect
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any as TypingAny

from ophost.definitions import CancelOutcome
from ophost.definitions._coerce import coerce_return
from ophost.definitions._op import ComputeKind
from ophost.errors import InvariantViolationError
from ophost.execution._attempt import (
    AttemptCanceled,
    AttemptOutcome,
    AttemptRequest,
    EngineEvent,
)
from ophost.execution._attempt_rules import AttemptRules
from ophost.execution._pump import Pump

__all__ = ["ThreadExecutor", "is_sync_body", "run_sync_body"]

_COOPERATIVE = AttemptCanceled(CancelOutcome.COOPERATIVE)
_ABANDONED = AttemptCanceled(CancelOutcome.ABANDONED)


class _Stopped(Exception):
    """Internal: the body was stopped at a yield after a cancel request."""


class _ContinueOnLoop(Exception):
    """Internal: a hand-built body returned an async iterable; the loop iterates it.

    Raised in the worker thread, then handed to the loop as the attempt's outcome.
    """

    def __init__(self, items: TypingAny) -> None:
        super().__init__("continue on the loop")
        self.items = items


_DEFAULT_POOL: concurrent.futures.ThreadPoolExecutor | None = None


def default_pool() -> concurrent.futures.ThreadPoolExecutor:
    """The worker threads shared by executors given no pool of their own."""
    global _DEFAULT_POOL  # noqa: PLW0603 - one lazily created pool for the process
    if _DEFAULT_POOL is None:
        _DEFAULT_POOL = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="ophost-op")
    return _DEFAULT_POOL


def run_sync_body(
    rules: AttemptRules, stop_requested: Callable[[], bool]
) -> AttemptOutcome | _ContinueOnLoop:
    """Run a sync body's whole attempt in the calling thread; returns how it ended.

    Input checks, the body (a generator driven item by item), output checks and
    encodings: each event goes to ``rules``' emit as it is made. Once ``stop_requested``
    says so, the body is stopped at its next event (a generator is closed at its
    ``yield``) and the attempt ends canceled. A hand-built body that returns an async
    iterable ends with :class:`_ContinueOnLoop`: the loop iterates it.
    """
    try:
        if stop_requested():
            raise _Stopped
        rules.check_inputs()
        for item in _items(rules, stop_requested):
            if stop_requested():
                raise _Stopped
            rules.handle(item)
        if stop_requested():
            raise _Stopped
        return rules.finish()
    except _ContinueOnLoop as continued:
        return continued
    except _Stopped:
        return _COOPERATIVE
    except BaseException as exc:  # noqa: BLE001 - every way the body ends is an outcome
        # Whatever the body raised while being stopped, the cancel is the story.
        return _COOPERATIVE if stop_requested() else rules.outcome_of(exc)


def _items(rules: AttemptRules, stop_requested: Callable[[], bool]) -> Iterable[object]:
    """What the body yields (a generator is driven item by item), or what it returned."""
    op_def = rules.op_def
    decorated = op_def.decorated_fn
    values = rules.body_inputs()
    if decorated is None:  # a hand-built definition: fn(context, inputs) -> events
        result = op_def.compute_fn(rules.context, dict(values))
        if hasattr(result, "__aiter__"):
            raise _ContinueOnLoop(result)
        if result is None:
            return ()
        if inspect.isgenerator(result):
            return _driven(result, stop_requested)
        if isinstance(result, (str, bytes, dict)) or not hasattr(result, "__iter__"):
            raise InvariantViolationError(
                f'op "{op_def.name}": compute_fn must return an iterable of events, '
                f"got {type(result).__name__}"
            )
        return list(result)
    args, kwargs = decorated.arguments(rules.context, values)
    result = decorated.fn(*args, **kwargs)
    if inspect.isgenerator(result):
        return _driven(result, stop_requested)
    return coerce_return(op_def.name, result, op_def.output_defs)


def _driven(generator: TypingAny, stop_requested: Callable[[], bool]) -> Iterable[object]:
    """A generator's items; once a stop is asked for, it is closed at its ``yield``."""
    try:
        for item in generator:
            yield item
            if stop_requested():
                break
    finally:
        generator.close()
    if stop_requested():
        raise _Stopped


def is_sync_body(request: AttemptRequest) -> bool:
    """True when the attempt's body is a decorated sync function or generator: what
    :func:`run_sync_body` runs from start to end in one thread."""
    decorated = request.prepared.op_def.decorated_fn
    return decorated is not None and decorated.kind in (
        ComputeKind.FUNCTION,
        ComputeKind.GENERATOR,
    )


class ThreadExecutor:
    """Runs sync bodies in the threads of ``pool`` and async bodies on the running loop.

    ``pool`` defaults to one shared by the process (threads named ``ophost-op``), or
    to a pool of its own of ``threads`` threads, shut down by :meth:`close`.
    ``capacity`` is how many events a sync body may get ahead of the loop before it
    waits.
    """

    def __init__(
        self,
        pool: concurrent.futures.Executor | None = None,
        *,
        capacity: int = 1024,
        threads: int | None = None,
    ) -> None:
        self._owned: concurrent.futures.ThreadPoolExecutor | None = None
        if pool is None and threads is not None:
            self._owned = concurrent.futures.ThreadPoolExecutor(
                max_workers=max(1, threads), thread_name_prefix="ophost-op"
            )
            pool = self._owned
        self._pool = pool
        self._capacity = max(1, capacity)

    async def close(self, grace: float = 0.0) -> None:
        """Shut down the pool this executor made (idle threads end; busy ones finish)."""
        if self._owned is not None:
            self._owned.shutdown(wait=False, cancel_futures=True)

    def start(self, request: AttemptRequest) -> _ThreadAttempt | _LoopAttempt:
        decorated = request.prepared.op_def.decorated_fn
        loop = asyncio.get_running_loop()
        if decorated is not None and decorated.kind in (
            ComputeKind.COROUTINE,
            ComputeKind.ASYNC_GENERATOR,
        ):
            return _LoopAttempt(request, loop, self._capacity)
        return _ThreadAttempt(request, loop, self._pool or default_pool(), self._capacity)


# -- sync bodies: the attempt runs in a worker thread -------------------------------------


class _ThreadAttempt:
    def __init__(
        self,
        request: AttemptRequest,
        loop: asyncio.AbstractEventLoop,
        pool: concurrent.futures.Executor,
        capacity: int,
    ) -> None:
        self._loop = loop
        self._capacity = capacity
        self._pump: Pump[EngineEvent, AttemptOutcome | _ContinueOnLoop] = Pump(loop, capacity)
        self._rules = AttemptRules(request, self._pump.put, self._stop_requested)
        self._continued: _LoopAttempt | None = None
        self._grace_timer: asyncio.TimerHandle | None = None
        # The thread reports through the pump; the future it returns is not needed. It
        # runs in a copy of the current context (as a task would): what the engine's
        # observer made current for the attempt (a span, log fields) is current there.
        pool.submit(contextvars.copy_context().run, self._run)

    def _stop_requested(self) -> bool:
        return self._pump.stop_requested

    # -- in the worker thread ----------------------------------------------------------------

    def _run(self) -> None:
        self._pump.finish(run_sync_body(self._rules, self._stop_requested))

    # -- on the loop ---------------------------------------------------------------------------

    def take(self) -> tuple[list[EngineEvent], AttemptOutcome | None]:
        if self._continued is not None:
            return self._continued.take()
        events, outcome = self._pump.take()
        if isinstance(outcome, _ContinueOnLoop):
            self._continued = _LoopAttempt(
                self._rules.request, self._loop, self._capacity, self._rules, outcome.items
            )
            if self._pump.stop_requested:
                self._continued.cancel(0.0)
            more, outcome = self._continued.take()
            return events + more, outcome
        if outcome is not None and self._grace_timer is not None:
            self._grace_timer.cancel()
        return events, outcome

    async def wait(self, timeout: float | None = None) -> bool:
        if self._continued is not None:
            return await self._continued.wait(timeout)
        return await self._pump.wait(timeout)

    def cancel(self, grace: float) -> None:
        if self._continued is not None:
            self._pump.stop()  # what the body's context reports as cancel_requested
            self._continued.cancel(grace)
            return
        if self._pump.stop_requested:
            return
        self._pump.stop()
        self._grace_timer = self._loop.call_later(grace, self._pump.end, _ABANDONED)


# -- async bodies: the attempt runs as a task on the loop ----------------------------------


class _LoopAttempt:
    def __init__(
        self,
        request: AttemptRequest,
        loop: asyncio.AbstractEventLoop,
        capacity: int,
        rules: AttemptRules | None = None,
        items: TypingAny = None,
    ) -> None:
        self._loop = loop
        self._capacity = capacity
        self._events: list[EngineEvent] = []
        self._outcome: AttemptOutcome | None = None
        self._ready = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._stop_requested = False
        self._abandoned = False
        self._grace_timer: asyncio.TimerHandle | None = None
        self._rules = rules or AttemptRules(request, self._emit, self._is_stopping)
        if rules is not None:
            rules.rebind(self._emit)
        body = self._run(items) if items is not None else self._run_body()
        self._task = loop.create_task(body)

    def _is_stopping(self) -> bool:
        return self._stop_requested

    def _emit(self, event: EngineEvent) -> None:
        if self._abandoned:
            return  # a late event of a body given up on
        self._events.append(event)
        if len(self._events) >= self._capacity:
            self._space.clear()
        self._ready.set()

    async def _room(self) -> None:
        if not self._space.is_set():
            await self._space.wait()

    async def _run_body(self) -> None:
        rules = self._rules
        op_def = rules.op_def
        decorated = op_def.decorated_fn
        assert decorated is not None
        try:
            rules.check_inputs()
            args, kwargs = decorated.arguments(rules.context, rules.body_inputs())
            if decorated.kind is ComputeKind.ASYNC_GENERATOR:
                await self._drive(decorated.fn(*args, **kwargs))
            else:
                value = await decorated.fn(*args, **kwargs)
                for item in coerce_return(op_def.name, value, op_def.output_defs):
                    rules.handle(item)
            self._end(rules.finish())
        except BaseException as exc:  # noqa: BLE001 - every way the body ends is an outcome
            self._end_with(exc)

    async def _run(self, items: TypingAny) -> None:
        try:
            await self._drive(items)
            self._end(self._rules.finish())
        except BaseException as exc:  # noqa: BLE001 - every way the body ends is an outcome
            self._end_with(exc)

    async def _drive(self, items: AsyncIterator[object]) -> None:
        async with contextlib.aclosing(items) as iterator:  # type: ignore[type-var]
            async for item in iterator:
                if self._stop_requested:
                    raise asyncio.CancelledError
                self._rules.handle(item)
                await self._room()

    def _end_with(self, exc: BaseException) -> None:
        if self._stop_requested:
            # Whatever the body raised while being stopped, the cancel is the story.
            self._end(_COOPERATIVE)
        elif isinstance(exc, asyncio.CancelledError):
            raise exc  # the loop itself is shutting the task down
        else:
            self._end(self._rules.outcome_of(exc))

    def _end(self, outcome: AttemptOutcome) -> None:
        if self._outcome is None:
            self._outcome = outcome
            if self._grace_timer is not None:
                self._grace_timer.cancel()
        self._ready.set()

    def take(self) -> tuple[list[EngineEvent], AttemptOutcome | None]:
        events = self._events
        if events:
            self._events = []
            self._space.set()
        return events, self._outcome

    async def wait(self, timeout: float | None = None) -> bool:
        if self._events or self._outcome is not None:
            return True
        self._ready.clear()
        if timeout is None:
            await self._ready.wait()
            return True
        timer = self._loop.call_later(timeout, self._ready.set)
        try:
            await self._ready.wait()
        finally:
            timer.cancel()
        return bool(self._events) or self._outcome is not None

    def cancel(self, grace: float) -> None:
        if self._stop_requested or self._outcome is not None:
            return
        self._stop_requested = True
        self._space.set()
        self._task.cancel()
        self._grace_timer = self._loop.call_later(grace, self._abandon)

    def _abandon(self) -> None:
        if self._outcome is None:
            self._outcome = _ABANDONED
            self._abandoned = True
            self._events = []
            self._ready.set()
