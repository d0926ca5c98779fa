"""The process executor: op bodies run in a pool of warm worker processes.

:class:`ProcessExecutor` keeps ``size`` worker processes (see
:mod:`ophost.execution._worker_process`), each running one attempt at a time, and
queues attempts until one is free. A worker that exits, is killed by a signal,
reaches the memory limit, stops answering or breaks the protocol ends only the attempt
it held (with a failure whose source says which) and is replaced; the op's retry
policy then decides as for any failure. Cancel is pushed to the worker; a body that
has not stopped when the grace period ends is stopped by ending its process. An
attempt that runs past its wall-clock limit is stopped the same way and fails with
source TIMEOUT.

The events an attempt produces arrive as tails the worker wrote; each is checked
(one kind user code produces, this attempt's number and op, no head) and passed on
to the engine as an :class:`~ophost.execution.EncodedEvent`, to be stored as sent.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from ophost.codec import definitions as definitions_codec
from ophost.codec.chunks import split_value, varint
from ophost.definitions import (
    CancelOutcome,
    ErrorSource,
)
from ophost.definitions._op import OpDefinition
from ophost.execution._attempt import (
    AttemptCanceled,
    AttemptFailed,
    AttemptOutcome,
    AttemptRequest,
    AttemptSucceeded,
    EngineEvent,
)
from ophost.execution._attempt_reports import (
    cancel_outcome,
    failed_outcome,
    read_tails,
    synthetic_failure,
)
from ophost.execution._frames import frame
from ophost.execution._launchers import Launcher
from ophost.execution._worker_process import (
    SessionTerms,
    WorkerEnded,
    WorkerProcess,
    WorkerStartError,
    launcher_for,
)
from ophost.v1 import execution_pb2, value_pb2, worker_pb2

__all__ = ["TIMEOUT_TAG", "ProcessAttempt", "ProcessExecutor", "WorkerStartError"]

# An op's tag giving its attempts' wall-clock limit in seconds (overrides the host's).
TIMEOUT_TAG = "ophost/timeout"
# Extra time a worker gets, after a cancel's grace, to report that its body stopped.
_REPORT_MARGIN = 0.5
# The tags of HostMessage.assign and of AttemptAssign.start (length-delimited fields).
_ASSIGN_TAG = varint(worker_pb2.HostMessage.ASSIGN_FIELD_NUMBER << 3 | 2)
_START_TAG = varint(worker_pb2.AttemptAssign.START_FIELD_NUMBER << 3 | 2)
# Replacing workers that die at once waits longer each time, up to this many seconds.
_MAX_RESTART_DELAY = 5.0

_log = logging.getLogger("ophost.execution")


@dataclass(frozen=True)
class _Limits:
    timeout: float | None
    memory_bytes: int


class ProcessExecutor:
    """Runs attempts in ``size`` worker processes, each started by ``start``.

    ``start`` is a launcher (:func:`~ophost.execution._worker_process.python_workers`
    forks Python workers from a warm fork server) or a command (any program that speaks
    the worker protocol; :func:`~ophost.execution._worker_process.worker_command` is the
    Python worker's); ``ops`` are the host's
    definitions, which every worker's registration must match. ``timeout`` is the
    default wall-clock limit of an attempt (an op's ``ophost/timeout`` tag overrides
    it); ``memory_limit`` the bytes an attempt may add to its worker's memory.
    Call :meth:`open` before the first attempt and :meth:`close` at the end.
    """

    def __init__(
        self,
        ops: Mapping[str, OpDefinition],
        start: Sequence[str] | Launcher,
        *,
        size: int | None = None,
        timeout: float | None = None,
        memory_limit: int = 0,
        terms: SessionTerms | None = None,
    ) -> None:
        self.size = max(1, size or os.cpu_count() or 1)
        self._launcher = launcher_for(start)
        self._ops = dict(ops)
        self._expected = {
            name: definitions_codec.to_proto(op).SerializeToString(deterministic=True)
            for name, op in self._ops.items()
        }
        self._timeout = timeout
        self._memory_limit = memory_limit
        self.terms = terms or SessionTerms()
        self._workers: set[WorkerProcess] = set()
        self._idle: collections.deque[WorkerProcess] = collections.deque()
        self._queue: collections.deque[ProcessAttempt] = collections.deque()
        self._numbers = itertools.count(1)
        self._ids = itertools.count(1)
        self._closing = False
        self._opened = False
        self._restarts: set[asyncio.Task[None]] = set()
        self._failed_starts = 0
        self._watchdog: asyncio.Task[None] | None = None
        self.refused: dict[str, str] = {}

    # -- the pool's life --------------------------------------------------------------------

    async def open(self) -> None:
        """Start every worker; raises :class:`WorkerStartError` when none starts."""
        if self._opened:
            return
        self._opened = True
        results = await asyncio.gather(
            *(self._start_worker() for _ in range(self.size)), return_exceptions=True
        )
        problems = [r for r in results if isinstance(r, BaseException)]
        if len(problems) == len(results):
            await self.close(0.0)
            raise problems[0]
        self._watchdog = asyncio.get_running_loop().create_task(self._watch())

    async def close(self, grace: float = 2.0) -> None:
        """Stop every worker (the attempts still running fail as interrupted)."""
        self._closing = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        for task in list(self._restarts):
            task.cancel()
        while self._queue:
            self._queue.popleft().fail_now(
                ErrorSource.INTERRUPT, "ophost.WorkerStopped", "the host is stopping"
            )
        await asyncio.gather(*(w.close(grace) for w in list(self._workers)))
        closer = getattr(self._launcher, "close", None)
        if closer is not None:
            await closer()

    @property
    def workers(self) -> int:
        """How many worker processes are ready now."""
        return sum(1 for w in self._workers if w.ready)

    @property
    def queued(self) -> int:
        """How many attempts wait for a free worker."""
        return len(self._queue)

    def worker_pids(self) -> list[int]:
        """The process ids of the ready workers."""
        return sorted(w.pid for w in self._workers if w.ready)

    async def _start_worker(self) -> None:
        worker = WorkerProcess(
            next(self._numbers),
            self._launcher,
            self._expected,
            self.terms,
            self._freed,
            self._ended,
        )
        self._workers.add(worker)
        try:
            await worker.start()
        except BaseException:
            self._workers.discard(worker)
            raise
        for name, reason in worker.refused.items():
            self.refused.setdefault(name, reason)
        self._failed_starts = 0
        self._freed(worker)

    def _freed(self, worker: WorkerProcess) -> None:
        if worker.ended or self._closing:
            return
        self._idle.append(worker)
        self._dispatch()

    def _ended(self, worker: WorkerProcess, ending: WorkerEnded | None) -> None:
        self._workers.discard(worker)
        with contextlib.suppress(ValueError):
            self._idle.remove(worker)
        attempt = worker.attempt
        if attempt is not None:
            worker.attempt = None
            assert ending is not None
            attempt.worker_ended(ending)
        if not self._closing:
            task = asyncio.get_running_loop().create_task(self._replace())
            self._restarts.add(task)
            task.add_done_callback(self._restarts.discard)

    async def _replace(self) -> None:
        delay = min(_MAX_RESTART_DELAY, 0.1 * (2**self._failed_starts) - 0.1)
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            await self._start_worker()
        except WorkerStartError as exc:
            self._failed_starts += 1
            _log.error("%s", exc)
            if not self._closing:
                task = asyncio.get_running_loop().create_task(self._replace())
                self._restarts.add(task)
                task.add_done_callback(self._restarts.discard)

    async def _watch(self) -> None:
        """End the sessions of workers whose lease ran out."""
        interval = max(0.05, self.terms.ping_interval / 2)
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for worker in list(self._workers):
                if worker.overdue(now):
                    worker.end(
                        WorkerEnded(
                            ErrorSource.WORKER_LOST,
                            "ophost.WorkerLost",
                            f"the worker process (pid {worker.pid}) sent nothing for more "
                            f"than its lease of {self.terms.lease_timeout:g}s and was ended",
                        )
                    )

    # -- attempts ---------------------------------------------------------------------------

    def start(self, request: AttemptRequest) -> ProcessAttempt:
        attempt = ProcessAttempt(self, request, f"a{next(self._ids)}", self._limits(request))
        name = request.prepared.op_def.name
        if self._closing:
            attempt.fail_now(ErrorSource.INTERRUPT, "ophost.WorkerStopped", "the host is stopping")
        elif name in self.refused and not any(name in w.accepted for w in self._workers):
            attempt.fail_now(
                ErrorSource.FRAMEWORK,
                "ophost.OpNotInWorkers",
                f'op "{name}" cannot run in the worker processes: {self.refused[name]}',
            )
        elif not request.start:
            attempt.fail_now(
                ErrorSource.FRAMEWORK,
                "ophost.MissingStart",
                "the process executor needs the execution's start request",
            )
        else:
            self._queue.append(attempt)
            self._dispatch()
        return attempt

    def _limits(self, request: AttemptRequest) -> _Limits:
        timeout = self._timeout
        tagged = request.prepared.op_def.tags.get(TIMEOUT_TAG)
        if tagged is not None:
            with contextlib.suppress(ValueError):
                timeout = float(tagged) if float(tagged) > 0 else None
        return _Limits(timeout, self._memory_limit)

    def _dispatch(self) -> None:
        while self._queue and self._idle:
            attempt = self._queue[0]
            if attempt.done:
                self._queue.popleft()
                continue
            worker = self._idle_for(attempt.op_name)
            if worker is None:
                return
            self._queue.popleft()
            attempt.run_on(worker)

    def _idle_for(self, op_name: str) -> WorkerProcess | None:
        # The worker freed last first: its memory and caches are still warm, which takes
        # about a tenth off a short call's round trip against taking the workers in turn.
        for worker in reversed(self._idle):
            if op_name in worker.accepted and worker.ready and worker.attempt is None:
                self._idle.remove(worker)
                return worker
        return None

    def withdraw(self, attempt: ProcessAttempt) -> None:
        with contextlib.suppress(ValueError):
            self._queue.remove(attempt)

    def assignment(self, attempt: ProcessAttempt) -> bytes:
        """The frames that assign ``attempt``: the assignment, then its input chunks."""
        request = attempt.request
        terms = self.terms
        if len(request.start) <= terms.inline_threshold_bytes:
            # No input can be above the threshold: the start goes as the host keeps it,
            # spliced in as the assignment's last field, without decoding it again.
            head = worker_pb2.AttemptAssign(
                attempt_id=attempt.attempt_id,
                fence=attempt.fence,
                execution_id=request.run_id,
                attempt=request.attempt,
                limits=worker_pb2.AttemptLimits(memory_bytes=attempt.limits.memory_bytes),
            ).SerializeToString()
            body = b"".join((head, _START_TAG, varint(len(request.start)), request.start))
            return frame(b"".join((_ASSIGN_TAG, varint(len(body)), body)))
        start = execution_pb2.ExecutionStart.FromString(request.start)
        chunks: list[worker_pb2.HostMessage] = []
        for named in start.inputs:
            if named.value.WhichOneof("kind") == "chunked_value":
                continue
            ref, pieces = split_value(
                named.value,
                inline_threshold=terms.inline_threshold_bytes,
                chunk_size=terms.chunk_size_bytes,
                value_id=f"{attempt.attempt_id}.{named.name}",
            )
            if pieces:
                named.value.CopyFrom(ref)
                chunks.extend(
                    worker_pb2.HostMessage(
                        input_chunk=worker_pb2.AttemptInputChunk(
                            attempt_id=attempt.attempt_id, chunk=piece
                        )
                    )
                    for piece in pieces
                )
        assign = worker_pb2.AttemptAssign(
            attempt_id=attempt.attempt_id,
            fence=attempt.fence,
            execution_id=request.run_id,
            attempt=request.attempt,
            start=start,
            limits=worker_pb2.AttemptLimits(memory_bytes=attempt.limits.memory_bytes),
        )
        messages = [worker_pb2.HostMessage(assign=assign), *chunks]
        return b"".join(frame(m.SerializeToString()) for m in messages)


class ProcessAttempt:
    """One attempt run by a worker process, read by the engine on the loop."""

    def __init__(
        self, executor: ProcessExecutor, request: AttemptRequest, attempt_id: str, limits: _Limits
    ) -> None:
        self._executor = executor
        self.request = request
        self.attempt_id = attempt_id
        self.limits = limits
        self.op_name = request.prepared.op_def.name
        self.fence = 0
        self.worker: WorkerProcess | None = None
        self._loop = asyncio.get_running_loop()
        self._events: list[EngineEvent] = []
        self._outcome: AttemptOutcome | None = None
        self._ready = asyncio.Event()
        self._received = 0
        self._taken = 0
        self._acked = 0
        self._pending_bytes = 0  # of the events not taken yet
        self._taken_bytes = 0  # taken since the last acknowledgement
        self._cancel_requested = False
        self._timed_out = False
        self._timers: list[asyncio.TimerHandle] = []
        self._outputs: list[tuple[str, value_pb2.Value]] = []

    @property
    def done(self) -> bool:
        return self._outcome is not None

    # -- the engine's side --------------------------------------------------------------------

    def take(self) -> tuple[list[EngineEvent], AttemptOutcome | None]:
        events = self._events
        if events:
            self._events = []
            self._taken += len(events)
            self._taken_bytes += self._pending_bytes
            self._pending_bytes = 0
            self._acknowledge()
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
        if self._cancel_requested or self._outcome is not None:
            return
        self._cancel_requested = True
        self._stop(grace)

    # -- running on a worker ------------------------------------------------------------------

    def run_on(self, worker: WorkerProcess) -> None:
        self.worker = worker
        self.fence = worker.next_fence()
        try:
            frames = self._executor.assignment(self)
        except (ValueError, DecodeError) as exc:
            worker.release(self)
            self.fail_now(ErrorSource.FRAMEWORK, "ophost.AssignmentError", str(exc))
            return
        worker.assign(self, frames)
        if self.limits.timeout is not None:
            self._timers.append(self._loop.call_later(self.limits.timeout, self._time_out))

    def _time_out(self) -> None:
        if self._outcome is not None:
            return
        self._timed_out = True
        self._stop(self._executor.terms.ping_interval)

    def _stop(self, grace: float) -> None:
        worker = self.worker
        if worker is None:  # still queued: it never starts
            self._executor.withdraw(self)
            self._finish(self._stopped_outcome(CancelOutcome.COOPERATIVE))
            return
        cancel = worker_pb2.AttemptCancel(attempt_id=self.attempt_id)
        cancel.grace.FromNanoseconds(round(max(0.0, grace) * 1e9))
        worker.send(worker_pb2.HostMessage(cancel=cancel))
        self._timers.append(self._loop.call_later(grace + _REPORT_MARGIN, self._force))

    def _force(self) -> None:
        """The body did not stop within its grace: end its worker process."""
        worker = self.worker
        if self._outcome is not None or worker is None:
            return
        worker.send(
            worker_pb2.HostMessage(
                revoke=worker_pb2.AttemptRevoke(
                    attempt_id=self.attempt_id, reason="the grace period ran out"
                )
            )
        )
        outcome = self._stopped_outcome(CancelOutcome.FORCED)
        self._finish(outcome)
        worker.end(WorkerEnded(ErrorSource.INTERRUPT, "ophost.WorkerStopped", "stopped"))

    def _stopped_outcome(self, how: CancelOutcome) -> AttemptOutcome:
        if self._timed_out:
            return self._synthetic_failure(
                ErrorSource.TIMEOUT,
                "ophost.AttemptTimeout",
                f"the attempt ran longer than its limit of {self.limits.timeout:g}s and "
                + ("stopped" if how is CancelOutcome.COOPERATIVE else "was stopped"),
            )
        return AttemptCanceled(how)

    def add_events(self, tails: Sequence[bytes], count: int) -> str:
        """Take a batch of the worker's event tails; returns a problem, or empty."""
        batch = read_tails(tails, self.request.attempt, self.op_name)
        self._events.extend(batch.events)
        self._pending_bytes += batch.size
        if batch.problem:
            return batch.problem
        self._received += len(tails)
        if count != self._received:
            return f"its event count says {count}, {self._received} arrived"
        self._ready.set()
        return ""

    def _acknowledge(self) -> None:
        worker = self.worker
        terms = self._executor.terms
        if worker is None or (
            self._taken - self._acked < max(1, terms.max_unacked_events // 4)
            and self._taken_bytes < terms.max_unacked_bytes // 4
        ):
            return
        self._acked = self._taken
        self._taken_bytes = 0
        worker.send(
            worker_pb2.HostMessage(
                ack=worker_pb2.AttemptEventsAck(attempt_id=self.attempt_id, count=self._taken)
            )
        )

    def finish_from(self, message: worker_pb2.AttemptFinished) -> None:
        """The worker reported the attempt's end."""
        which = message.WhichOneof("outcome")
        outcome: AttemptOutcome
        if which == "succeeded":
            outcome = AttemptSucceeded({})
        elif which == "canceled":
            how = cancel_outcome(message.canceled.outcome)
            outcome = self._stopped_outcome(how)
        else:
            outcome = failed_outcome(message.failed, self.request)
        if self._timed_out and isinstance(outcome, AttemptSucceeded):
            outcome = self._stopped_outcome(CancelOutcome.COOPERATIVE)
        self._finish(outcome)
        if self.worker is not None:
            self.worker.release(self)

    def worker_ended(self, ending: WorkerEnded) -> None:
        """The worker running this attempt is gone."""
        if self._outcome is not None:
            return
        if self._timed_out:
            self._finish(self._stopped_outcome(CancelOutcome.FORCED))
        elif self._cancel_requested:
            self._finish(AttemptCanceled(CancelOutcome.FORCED))
        else:
            self._finish(self._synthetic_failure(ending.source, ending.type_name, ending.message))

    def fail_now(self, source: ErrorSource, type_name: str, message: str) -> None:
        self._finish(self._synthetic_failure(source, type_name, message))

    def _synthetic_failure(
        self, source: ErrorSource, type_name: str, message: str
    ) -> AttemptFailed:
        return synthetic_failure(self.request, source, type_name, message)

    def _finish(self, outcome: AttemptOutcome) -> None:
        if self._outcome is not None:
            return
        self._outcome = outcome
        for timer in self._timers:
            timer.cancel()
        self._ready.set()
