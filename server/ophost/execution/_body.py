"""Running an op body: sync ones in a worker thread, async ones on the loop, interruptibly.

:class:`BodyRunner` is the part of :class:`~ophost.execution._engine.OpRun` that calls
the op's function and turns what it yields or returns into items, in order, while
letting a cancel request stop it (see the engine for the events around them).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from concurrent.futures import Executor
from typing import Any as TypingAny

from ophost.definitions._coerce import coerce_return
from ophost.definitions._context import OpExecutionContext
from ophost.definitions._execution_events import CancelOutcome, EventBody
from ophost.definitions._op import ComputeKind, OpDefinition
from ophost.definitions._op_events import Output
from ophost.errors import InvariantViolationError
from ophost.execution._prepare import PreparedExecution
from ophost.execution._pump import Item, Pump, PumpCanceled, Record, Returned

__all__ = ["FLUSH", "BodyRunner", "Canceled"]


class _Result:
    """What an awaited part of an async body produced."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


# Yielded by the body iteration when recorded events are waiting to be streamed.
FLUSH = object()
# Yielded by _await_body when an async generator body has no more items.
_EXHAUSTED = object()


class Canceled(Exception):
    """Internal: the attempt stopped because a cancel was requested."""

    def __init__(self, outcome: CancelOutcome) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome


class BodyRunner:
    """Calls the op's body and yields its items; the engine supplies the state below."""

    op_def: OpDefinition
    prepared: PreparedExecution
    _executor: Executor | None
    _capacity: int
    _grace: float
    _cancel: asyncio.Event
    _cancel_requested: bool
    _cancel_waiter: asyncio.Future[TypingAny] | None
    _recorded: asyncio.Event
    _pending: list[EventBody]
    _pump: Pump | None
    _body_task: asyncio.Future[TypingAny] | None

    def _check_cancel(self) -> None:
        if self._cancel_requested:
            raise Canceled(CancelOutcome.COOPERATIVE)

    async def _await_body(self, awaitable: Awaitable[TypingAny]) -> AsyncGenerator[object, None]:
        """Await part of an async body, interruptibly.

        Yields :data:`FLUSH` whenever the body recorded log lines or events while it
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
                    yield FLUSH
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=self._grace)
            if not done:
                raise Canceled(CancelOutcome.ABANDONED)
            raise Canceled(CancelOutcome.COOPERATIVE)
        finally:
            self._body_task = None

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
        args, kwargs = decorated.arguments(context, values)
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
                        yield FLUSH  # stream what was recorded before waiting for more
                elif isinstance(entry, Item):
                    yield entry.value
                elif isinstance(entry, Returned):
                    returned = entry
        except PumpCanceled:
            raise Canceled(CancelOutcome.COOPERATIVE) from None
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
            raise Canceled(CancelOutcome.ABANDONED)
