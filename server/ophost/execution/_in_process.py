"""``execute_in_process``: run one op in this process and collect its events."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass

from ophost.definitions import (
    EventBody,
    ExecutionEvent,
    ExecutionStatus,
    OutputProduced,
    StepFailed,
)
from ophost.definitions._op import OpDefinition
from ophost.errors import InvalidArgumentError, InvalidInvocationError
from ophost.execution._attempt import Clock, EncodedEvent, EngineEvent
from ophost.execution._engine import OpRun, Sleep
from ophost.execution._prepare import prepare_execution
from ophost.execution._private_loop import run_on_private_loop
from ophost.execution._thread_executor import ThreadExecutor

__all__ = ["ExecutionResult", "execute_in_process", "numbered"]


@dataclass(frozen=True)
class ExecutionResult:
    """What one in-process execution produced."""

    run_id: str
    events: Sequence[ExecutionEvent]
    status: ExecutionStatus
    outputs: Mapping[str, object]

    @property
    def success(self) -> bool:
        return self.status is ExecutionStatus.SUCCEEDED

    def output_value(self, output_name: str = "result") -> object:
        """The value of one output of the final attempt."""
        if output_name not in self.outputs:
            raise InvalidInvocationError(
                f'the execution produced no output "{output_name}" '
                f"(outputs: {', '.join(self.outputs) or 'none'})"
            )
        return self.outputs[output_name]

    @property
    def failure(self) -> StepFailed | None:
        """The final step failure, if the execution failed."""
        for event in reversed(self.events):
            if isinstance(event.body, StepFailed):
                return event.body
        return None

    def output_events(self) -> list[OutputProduced]:
        return [e.body for e in self.events if isinstance(e.body, OutputProduced)]


def numbered(run: OpRun, events: list[EngineEvent]) -> list[ExecutionEvent]:
    """An in-process execution's events as records, numbered by their place in the list.

    In process, the list is the execution's whole log, so a position is its sequence.
    """
    return [
        ExecutionEvent(
            execution_id=run.run_id,
            sequence=sequence,
            attempt=event.attempt,
            timestamp=event.timestamp,
            op_name=run.op_def.name,
            body=_body(event),
        )
        for sequence, event in enumerate(events, start=1)
    ]


async def _collect(run: OpRun) -> list[ExecutionEvent]:
    return numbered(run, [event async for event in run.events()])


def execute_in_process(
    op_def: OpDefinition,
    *,
    inputs: Mapping[str, object] | None = None,
    config: object = None,
    resources: Mapping[str, object] | None = None,
    run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    raise_on_error: bool = True,
    clock: Clock = time.time,
    sleep: Sleep | None = None,
) -> ExecutionResult:
    """Run ``op_def`` once (with its retries) in this process and return the result.

    Bad inputs, config or missing resources raise before anything runs, naming the
    path (``inputs.x``, ``config.db.port``). When the op fails and ``raise_on_error`` is
    true, the exception the op raised (or ophost's error, for a broken contract) is
    re-raised after the events are recorded. ``sleep`` defaults to a real wait between
    retries; tests pass their own.
    """
    if not isinstance(op_def, OpDefinition):
        raise InvalidArgumentError(
            f"execute_in_process needs an OpDefinition, got {type(op_def).__name__}"
        )
    prepared = prepare_execution(op_def, inputs, config, resources)
    run_tags = _check_tags(tags)
    run = OpRun(
        prepared,
        run_id=run_id,
        tags=run_tags,
        clock=clock,
        sleep=sleep if sleep is not None else asyncio.sleep,
        executor=ThreadExecutor(),
    )
    events = _run_coroutine(_collect(run))
    status = run.status or ExecutionStatus.FAILED
    if status is ExecutionStatus.FAILED and raise_on_error and run.raised is not None:
        raise run.raised
    return ExecutionResult(
        run_id=run.run_id, events=events, status=status, outputs=dict(run.outputs)
    )


def _in_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _check_tags(tags: object) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidArgumentError(
            f"execute_in_process: tags must be a dict, got {type(tags).__name__}"
        )
    for key, value in tags.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidArgumentError(
                f"execute_in_process: tags must map str to str, got {key!r}: {value!r}"
            )
    return dict(tags)


def _run_coroutine(coro: Coroutine[object, object, list[ExecutionEvent]]) -> list[ExecutionEvent]:
    # The private loop is started outside any except block, so the op body does not see a
    # pending exception in sys.exc_info() (or get it chained onto its own). It is never
    # installed as this thread's loop, so the caller's loop state is left as it was.
    if not _in_running_loop():
        return run_on_private_loop(coro)
    # Called from inside a running loop (a notebook, an async test): run on a fresh loop
    # in a helper thread so the caller's loop is not re-entered.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run_on_private_loop, coro).result()


def _body(event: EngineEvent) -> EventBody:
    body = event.body
    if isinstance(body, EncodedEvent):
        raise TypeError("in-process runs hold events as objects, not as encoded tails")
    return body
