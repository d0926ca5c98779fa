"""What runs inside Ray for the Ray executor: the attempt's task and the mailbox actor.

:func:`run_attempt` is the Ray task that runs one attempt. It gets only what the host
sends in ``ophost.v1`` form: the serialized ``WorkerWelcome`` (the batch and value size
terms) and ``AttemptAssign`` (the accepted ``ExecutionStart`` with its inputs and
config, the execution id, the attempt number), plus where to load the ops from and the
handle of the :class:`Mailbox` actor. It loads the ops once per Ray worker process
(:func:`loaded_ops`, which also builds the resources), runs the attempt with a
:class:`~ophost.execution.ThreadExecutor` exactly as a worker process does, and
sends the worker protocol's own messages (``AttemptAccepted``, ``AttemptEvents`` with
event tails, ``AttemptFinished``) through the mailbox.

Why a mailbox actor rather than a streaming generator: Ray Client (the ``ray://``
addresses through which one reaches, for example, a KubeRay cluster from outside)
refuses streaming generators, and the attempt needs a channel back as well (the
cooperative cancel). One async actor per host serves both directions for every
attempt: the task's ``put`` waits while the attempt's box is full (backpressure up to
the body) and answers with the attempt's state (running, cancel asked with its grace,
or closed by the host); the host long-polls ``take``; the task long-polls ``watch``
for a cancel while its body is quiet.

Nothing here imports Ray: the task and the actor only call methods of handles they
were given.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import os
import threading
import time
from typing import Any

from ophost.codec import definitions as definitions_codec
from ophost.definitions import CancelOutcome, ErrorSource, StepFailed
from ophost.execution._attempt import (
    Attempt,
    AttemptCanceled,
    AttemptFailed,
    AttemptOutcome,
    EngineEvent,
)
from ophost.execution._error_data import error_data
from ophost.execution._loader import LoadedOps, LoadError, close_resources, load_ops
from ophost.execution._private_loop import run_on_private_loop
from ophost.execution._remote_attempt import (
    attempt_request,
    event_tails,
    finished_message,
    output_encoder,
    split_batches,
)
from ophost.execution._tails import EventWriter
from ophost.execution._thread_executor import ThreadExecutor
from ophost.v1 import worker_pb2

__all__ = ["CLOSED", "RUNNING", "STOP", "Mailbox", "describe_ops", "loaded_ops", "run_attempt"]

# An attempt's state as the mailbox reports it to its task: (what, grace seconds).
RUNNING = "running"
STOP = "stop"  # a cancel was asked for, with its grace
CLOSED = "closed"  # the host stopped listening: stop at once, send nothing more
State = tuple[str, float]

# How long the task's watch for a cancel waits per call.
_WATCH_SECONDS = 30.0
# The task gives its body this much longer than the grace the host asked for: the host
# ends the task's process at the end of the grace; the task gives up on the body by
# itself only when that did not happen.
_EXTRA_GRACE = 2.0
# Attempt ids of boxes closed recently, so a late message does not open a new box.
_CLOSED_KEPT = 65536


# -- the ops, once per Ray worker process ---------------------------------------------------

_LOADED: dict[tuple[str | None, str | None], LoadedOps] = {}
_LOADING = threading.Lock()


def loaded_ops(file: str | None, module: str | None) -> LoadedOps:
    """The ops of ``file`` or ``module`` with their resources, loaded once per process.

    The resources are closed when the Ray worker process exits normally.
    """
    key = (file, module)
    with _LOADING:
        loaded = _LOADED.get(key)
        if loaded is None:
            loaded = load_ops(file=file, module=module)
            _LOADED[key] = loaded
            atexit.register(close_resources, loaded)
        return loaded


def describe_ops(file: str | None, module: str | None) -> list[bytes]:
    """The definitions of the ops a Ray worker loads (serialized ``OpDefinition``s), for
    the host to compare with its own. A :class:`LoadError` is raised as it is."""
    loaded = loaded_ops(file, module)
    return [
        definitions_codec.to_proto(op).SerializeToString(deterministic=True)
        for op in loaded.ops.values()
    ]


# -- the task ----------------------------------------------------------------------------------


def run_attempt(
    file: str | None, module: str | None, welcome: bytes, assign: bytes, mailbox: Any
) -> int:
    """Run one attempt (the Ray task); returns how many events it sent."""
    run = _TaskRun(
        file,
        module,
        worker_pb2.WorkerWelcome.FromString(welcome),
        worker_pb2.AttemptAssign.FromString(assign),
        mailbox,
    )
    try:
        # A Ray worker runs many tasks on its threads; leave their event loops as found.
        return run_on_private_loop(run.run())
    finally:
        if run.body_running():
            # A body that ignored its cancel still runs in a thread of this process,
            # which Ray would give other tasks: end the process instead.
            _exit_soon()


class _TaskRun:
    def __init__(
        self,
        file: str | None,
        module: str | None,
        welcome: worker_pb2.WorkerWelcome,
        assign: worker_pb2.AttemptAssign,
        mailbox: Any,
    ) -> None:
        self._file = file
        self._module = module
        self._welcome = welcome
        self._assign = assign
        self._mailbox = mailbox
        self._id = assign.attempt_id
        self._writer = EventWriter(assign.start.op_name)
        self._max_events = max(1, (welcome.max_unacked_events or 1024) // 4)
        self._max_bytes = max(1, (welcome.max_unacked_bytes or 16 << 20) // 4)
        self._sent = 0
        self._state: State = (RUNNING, 0.0)
        self._attempt: Attempt | None = None
        self._outcome: AttemptOutcome | None = None
        self._accepted: asyncio.Task[None] | None = None  # the put of AttemptAccepted

    def body_running(self) -> bool:
        return self._attempt is not None and self._outcome is None

    async def run(self) -> int:
        # The host learns at once that the task runs (from then on a cancel goes
        # through the mailbox, not to Ray's queue); the body starts meanwhile.
        accepted = worker_pb2.AttemptAccepted(attempt_id=self._id, fence=self._assign.fence)
        self._accepted = asyncio.get_running_loop().create_task(
            self._put_now([worker_pb2.WorkerMessage(accepted=accepted)])
        )
        outcome: AttemptOutcome
        last: list[EngineEvent] = []
        try:
            attempt = self._start()
        except Exception as exc:  # noqa: BLE001 - preparing the attempt failed: its outcome
            outcome = AttemptFailed(
                StepFailed(error=error_data(exc), error_source=ErrorSource.FRAMEWORK), exc
            )
        else:
            watcher = asyncio.get_running_loop().create_task(self._watch(attempt))
            try:
                outcome, last = await self._forward(attempt)
            finally:
                watcher.cancel()
        self._outcome = outcome
        await self._send(last, outcome)
        if isinstance(outcome, AttemptCanceled) and outcome.outcome is CancelOutcome.ABANDONED:
            _exit_soon()
        return self._sent

    def _start(self) -> Attempt:
        assign = self._assign
        start = assign.start
        loaded = loaded_ops(self._file, self._module)
        op_def = loaded.ops.get(start.op_name)
        if op_def is None:
            raise LoadError(f'op "{start.op_name}" is not among the ops of {loaded.source}')
        welcome = self._welcome
        request = attempt_request(
            op_def,
            start,
            loaded.resources,
            execution_id=assign.execution_id,
            number=assign.attempt,
            encode_output=output_encoder(
                assign.execution_id,
                assign.attempt,
                inline_threshold=welcome.inline_threshold_bytes or 1 << 20,
                chunk_size=welcome.chunk_size_bytes or 1 << 20,
            ),
        )
        attempt = ThreadExecutor(capacity=welcome.max_unacked_events or 1024).start(request)
        self._attempt = attempt
        return attempt

    async def _forward(self, attempt: Attempt) -> tuple[AttemptOutcome, list[EngineEvent]]:
        """Send the attempt's events as they come; returns its outcome with the events
        that came with it, which go out together with its report.

        While one batch is on its way, the next accumulates: batches grow with the rate
        of events, and a lone event goes out at once.
        """
        while True:
            events, outcome = attempt.take()
            if outcome is not None:
                return outcome, events
            if events:
                await self._send(events)
            await attempt.wait()

    async def _send(self, events: list[EngineEvent], outcome: AttemptOutcome | None = None) -> None:
        """Send ``events`` in batches; with ``outcome``, its report goes with the last."""
        tails = event_tails(self._writer, events) if self._state[0] != CLOSED else []
        batches = list(split_batches(tails, self._max_events, self._max_bytes)) or [(0, 0, 0)]
        for number, (first, last, _size) in enumerate(batches, 1):
            messages = []
            if last > first:
                self._sent += last - first
                messages.append(
                    worker_pb2.WorkerMessage(
                        events=worker_pb2.AttemptEvents(
                            attempt_id=self._id,
                            fence=self._assign.fence,
                            count=self._sent,
                            events=tails[first:last],
                        )
                    )
                )
            if outcome is not None and number == len(batches):
                finished = finished_message(self._id, self._assign.fence, self._sent, outcome)
                messages.append(worker_pb2.WorkerMessage(finished=finished))
            if messages:
                await self._put(messages)
            if self._state[0] == CLOSED:
                return

    async def _put(self, messages: list[worker_pb2.WorkerMessage]) -> None:
        """Put ``messages`` in the mailbox, after the "accepted" has gone."""
        accepted, self._accepted = self._accepted, None
        if accepted is not None:
            await accepted
        if self._state[0] != CLOSED:
            await self._put_now(messages)

    async def _put_now(self, messages: list[worker_pb2.WorkerMessage]) -> None:
        state: State = await self._mailbox.put.remote(
            self._id, [message.SerializeToString() for message in messages]
        )
        self._apply(state)

    async def _watch(self, attempt: Attempt) -> None:
        while self._state[0] == RUNNING:
            state: State = await self._mailbox.watch.remote(self._id, _WATCH_SECONDS)
            self._apply(state)

    def _apply(self, state: State) -> None:
        what, grace = state
        if what == self._state[0]:
            return
        self._state = state
        attempt = self._attempt
        if attempt is None:
            return
        if what == STOP:
            attempt.cancel(grace + _EXTRA_GRACE)
        elif what == CLOSED:
            attempt.cancel(0.0)


def _exit_soon() -> None:
    """End this Ray worker process once what it sent has had a moment to leave."""
    timer = threading.Timer(0.2, os._exit, (1,))
    timer.daemon = True
    timer.start()


# -- the mailbox actor --------------------------------------------------------------------------


class _Box:
    """One attempt's messages on their way to the host, and what the host asked."""

    __slots__ = ("arrived", "changed", "closed", "grace", "messages", "size", "space")

    def __init__(self) -> None:
        self.messages: collections.deque[bytes] = collections.deque()
        self.size = 0
        self.grace: float | None = None  # set once a cancel is asked for
        self.closed = False
        self.arrived = asyncio.Event()
        self.space = asyncio.Event()
        self.space.set()
        self.changed = asyncio.Event()

    def state(self) -> State:
        if self.closed:
            return (CLOSED, 0.0)
        if self.grace is not None:
            return (STOP, self.grace)
        return (RUNNING, 0.0)

    def close(self) -> list[bytes]:
        self.closed = True
        rest = list(self.messages)
        self.messages.clear()
        self.size = 0
        for event in (self.arrived, self.space, self.changed):
            event.set()
        return rest


class Mailbox:
    """An async Ray actor relaying the messages of a host's running attempts.

    Each attempt has a box, opened by whichever side names it first and dropped when
    the host closes it. A box holds at most ``max_messages`` messages or
    ``max_bytes`` bytes (one message always fits): a task's ``put`` waits for room.
    """

    def __init__(self, max_messages: int, max_bytes: int) -> None:
        self._max_messages = max(1, max_messages)
        self._max_bytes = max(1, max_bytes)
        self._boxes: dict[str, _Box] = {}
        self._closed: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._started = time.time()

    def _box(self, attempt_id: str) -> _Box:
        box = self._boxes.get(attempt_id)
        if box is None:
            box = _Box()
            if attempt_id in self._closed:
                box.close()
            else:
                self._boxes[attempt_id] = box
        return box

    async def ping(self) -> int:
        """The actor's process id, once it is up."""
        return os.getpid()

    async def put(self, attempt_id: str, messages: list[bytes]) -> State:
        """A task's messages (serialized ``WorkerMessage``s), kept in order; returns the
        attempt's state. Waits while the box is full (what is put at once always fits)."""
        box = self._box(attempt_id)
        while not box.closed and (
            len(box.messages) >= self._max_messages or box.size >= self._max_bytes
        ):
            box.space.clear()
            await box.space.wait()
        if not box.closed:
            box.messages.extend(messages)
            box.size += sum(len(message) for message in messages)
            box.arrived.set()
        return box.state()

    async def watch(self, attempt_id: str, timeout: float) -> State:
        """The attempt's state once it is no longer running, or after ``timeout`` seconds."""
        box = self._box(attempt_id)
        if box.state()[0] == RUNNING:
            box.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(box.changed.wait(), timeout)
        return box.state()

    async def take(self, attempt_id: str, timeout: float) -> list[bytes]:
        """The messages waiting for the host, waiting up to ``timeout`` seconds for one."""
        box = self._box(attempt_id)
        if not box.messages and not box.closed:
            box.arrived.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(box.arrived.wait(), timeout)
        taken = list(box.messages)
        box.messages.clear()
        box.size = 0
        box.space.set()
        return taken

    async def cancel(self, attempt_id: str, grace: float) -> None:
        """The host asks the attempt's body to stop within ``grace`` seconds."""
        box = self._box(attempt_id)
        if box.grace is None and not box.closed:
            box.grace = grace
            box.changed.set()

    async def close(self, attempt_id: str) -> list[bytes]:
        """The host is done with the attempt: drop its box; returns what it still held."""
        box = self._boxes.pop(attempt_id, None)
        self._closed[attempt_id] = None
        while len(self._closed) > _CLOSED_KEPT:
            self._closed.popitem(last=False)
        return box.close() if box is not None else []

    async def stats(self) -> dict[str, int]:
        """How many boxes are open (for tests and operators)."""
        return {"boxes": len(self._boxes), "uptime_seconds": int(time.time() - self._started)}
