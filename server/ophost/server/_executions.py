"""The executions running in this process: starting them, cancelling them, draining.

:class:`ExecutionRunner` creates an execution in the store, runs its engine
(:class:`~ophost.execution.OpRun`, with the host's executor) and records its events
(:func:`~ophost.server._recorder.record_run`) in a task of its own, so the execution
outlives the stream that started it. A cancel reaches a running engine through the
store (:meth:`~ophost.server.store.ExecutionStore.on_cancel`), wherever it was asked for.

Each execution runs in a context of its own, copied from where it was started (the
call that started it). Its :class:`~ophost.server._observe.ExecutionWatch` is made
there first, so what the observers make current (its log fields, its span) belongs to
that execution, its engine and its attempts.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import hashlib
import itertools
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping

from ophost.codec import failures as failures_codec
from ophost.codec.chunks import EncodedValue, encode_value_pieces
from ophost.definitions import (
    ErrorData,
    ErrorSource,
    ExecutionFinished,
    ExecutionStatus,
    StepFailed,
)
from ophost.execution import EngineEvent, Executor, LostAttempt, OpRun, PreparedExecution
from ophost.server import _status
from ophost.server._limits import Limits
from ophost.server._logs import execution_fields
from ophost.server._observe import NO_OBSERVER, ExecutionWatch, HostObserver
from ophost.server._recorder import record_run
from ophost.server._wire import EventWriter
from ophost.server._withhold import ErrorWithholder
from ophost.server.store import (
    ExecutionRecord,
    ExecutionStore,
    ExecutionUpdate,
    LostExecution,
    NewExecution,
)
from ophost.v1 import execution_pb2

__all__ = ["ExecutionRunner", "fingerprint"]

_log = logging.getLogger("ophost.server")


def _execution_ids() -> Iterator[str]:
    """Random per process, then a counter (cheaper than a uuid per start)."""
    prefix = uuid.uuid4().hex[:16]
    return (f"{prefix}{n:08x}" for n in itertools.count(1))


def fingerprint(
    start: execution_pb2.ExecutionStart, uploads: Mapping[str, bytes] | None = None
) -> bytes:
    """A digest of what a start asks for, to tell a retry from a conflicting reuse.

    ``uploads`` are digests of the values uploaded in chunks, by path (the start
    itself holds only their references).
    """
    copy = execution_pb2.ExecutionStart()
    copy.CopyFrom(start)
    copy.request_id = ""
    digest = hashlib.sha256(copy.SerializeToString(deterministic=True))
    for path, upload in sorted((uploads or {}).items()):
        digest.update(path.encode() + b"\0" + upload)
    return digest.digest()


class ExecutionRunner:
    """Runs executions in this process, at most ``max_concurrent`` at once.

    ``observer`` is told about each execution (metrics, spans, log lines).
    """

    def __init__(
        self,
        store: ExecutionStore,
        limits: Limits,
        executor: Executor,
        max_concurrent: int,
        observer: HostObserver = NO_OBSERVER,
        *,
        withhold: ErrorWithholder | None = None,
    ) -> None:
        self.store = store
        self.observer = observer
        self.limits = limits
        self.executor = executor
        self.max_concurrent = max_concurrent
        self.withhold = withhold
        self._ids = _execution_ids()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # Executions running (or being created) here, by the identity that started them.
        self._by_principal: collections.Counter[str] = collections.Counter()

    @property
    def running(self) -> int:
        """How many executions run in this process now."""
        return len(self._tasks)

    async def start(
        self,
        prepared: PreparedExecution,
        start: execution_pb2.ExecutionStart,
        start_fingerprint: bytes = b"",
        kept_start: bytes = b"",
        *,
        principal: str = "",
        principal_limit: int | None = None,
    ) -> ExecutionRecord:
        """Create the execution and start running it; raises ``StatusError`` when full.

        A start whose request id another start already used returns that execution.
        ``kept_start`` is the start request with uploads inline: a durable store keeps
        it, and an executor running bodies elsewhere sends it on. ``principal`` is the
        identity starting it, which may run at most ``principal_limit`` executions at
        once here (``None``: no limit of its own).
        """
        if len(self._tasks) >= self.max_concurrent:
            raise _status.too_many_executions(self.max_concurrent, retry_after=1.0)
        by_principal = self._by_principal
        if principal_limit is not None and by_principal[principal] >= principal_limit:
            raise _status.too_many_executions_for_identity(
                principal, principal_limit, retry_after=1.0
            )
        execution_id = next(self._ids)
        # Counted from now on: starts that wait for the store meanwhile see this one.
        by_principal[principal] += 1
        launched = False
        try:
            record, created = await self.store.create(
                NewExecution(
                    execution_id=execution_id,
                    op_name=prepared.op_def.name,
                    request_id=start.request_id,
                    fingerprint=start_fingerprint,
                    tags=dict(start.tags),
                    created_at=time.time(),
                    start=kept_start,
                    op_version=prepared.op_def.version or "",
                    principal=principal,
                )
            )
            if not created:
                return record
            self._launch(record, prepared, kept_start, counted=True)
            launched = True
            return record
        finally:
            if not launched:
                self._uncount(principal)

    def _uncount(self, principal: str) -> None:
        by_principal = self._by_principal
        by_principal[principal] -= 1
        if by_principal[principal] <= 0:
            del by_principal[principal]

    def _launch(
        self,
        record: ExecutionRecord,
        prepared: PreparedExecution,
        start: bytes,
        lost: LostAttempt | None = None,
        *,
        counted: bool = False,
    ) -> None:
        execution_id = record.id
        if not counted:
            self._by_principal[record.principal] += 1
        limits = self.limits
        context = contextvars.copy_context()
        watch = context.run(self.observer.execution, execution_id, record.op_name)
        run = OpRun(
            prepared,
            run_id=execution_id,
            request_id=record.request_id,
            tags=record.tags,
            executor=self.executor,
            cancel_grace=limits.cancel_grace_seconds,
            encode_output=_output_encoder(execution_id, limits),
            keep_outputs=False,  # values live on as recorded events only
            first_flush_delay=limits.first_flush_delay_seconds,
            lost=lost,
            start=start,
            observer=watch,
        )
        undo = self.store.on_cancel(execution_id, run.request_cancel)
        # The task runs in (a copy of) the execution's context.
        task = context.run(
            asyncio.get_running_loop().create_task,
            self._record(execution_id, record.principal, run, undo, watch),
        )
        self._tasks[execution_id] = task

    async def resume(
        self, lost: LostExecution, prepared: PreparedExecution | None, problem: str = ""
    ) -> None:
        """Go on with an execution whose host process was lost (this one now owns it).

        One that never started runs from the start. Otherwise its last attempt fails
        with source HOST_LOST, and the op's retry policy decides whether another runs.
        Without ``prepared`` (the op is not served here, or its start no longer
        validates: ``problem`` says why) it fails at once.
        """
        record = lost.record
        if prepared is not None and record.last_sequence == 0 and not record.cancel_requested:
            _log.warning(
                "execution %s of %s was lost with %s before it started; starting it here",
                record.id,
                record.op_name,
                lost.lost_host,
                extra=execution_fields(record.id, record.op_name, record.attempt),
            )
            self._launch(record, prepared, lost.start)
            return
        message = (
            f"the host process running attempt {record.attempt} of this execution "
            f"({lost.lost_host}) was lost before the attempt ended"
        )
        if problem:
            message += f"; it cannot be retried here: {problem}"
        error = ErrorData(type_name="ophost.HostLost", message=message)
        _log.warning(
            "execution %s of %s: %s",
            record.id,
            record.op_name,
            message,
            extra=execution_fields(record.id, record.op_name, record.attempt),
        )
        if prepared is not None:
            self._launch(record, prepared, lost.start, LostAttempt(record.attempt, error))
            return
        if self.withhold is not None:  # it names the lost process and what went wrong
            error = self.withhold.withhold(error, execution_id=record.id, op_name=record.op_name)
        now = time.time()
        writer = EventWriter(record.op_name)
        events = [
            EngineEvent(
                record.attempt, now, StepFailed(error=error, error_source=ErrorSource.HOST_LOST)
            ),
            EngineEvent(
                record.attempt,
                now,
                ExecutionFinished(
                    ExecutionStatus.FAILED, error=error, cancel_requested=record.cancel_requested
                ),
            ),
        ]
        context = contextvars.copy_context()
        watch = context.run(self.observer.execution, record.id, record.op_name)
        try:
            context.run(watch.events, events)
            await self.store.append(
                record.id,
                [writer.tail(event) for event in events],
                ExecutionUpdate(
                    finished=execution_pb2.EXECUTION_STATE_FAILED,
                    error=failures_codec.to_proto(error),
                    at=now,
                ),
            )
        finally:
            context.run(watch.close)

    async def _record(
        self,
        execution_id: str,
        principal: str,
        run: OpRun,
        undo: Callable[[], None],
        watch: ExecutionWatch,
    ) -> None:
        try:
            await record_run(self.store, execution_id, run, watch, withhold=self.withhold)
        finally:
            undo()
            del self._tasks[execution_id]
            self._uncount(principal)
            watch.close()

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` for the running executions; cancel those still running."""
        tasks = list(self._tasks.values())
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        await self.cancel_all()
        remaining = list(self._tasks.values())
        if remaining:
            await asyncio.wait(remaining, timeout=self.limits.cancel_grace_seconds + 1)

    async def cancel_all(self) -> None:
        """Ask every execution running here to stop."""
        for execution_id in list(self._tasks):
            await self.store.request_cancel(execution_id)


def _output_encoder(execution_id: str, limits: Limits) -> Callable[[str, object], EncodedValue]:
    counter = itertools.count(1)

    def encode(name: str, value: object) -> EncodedValue:
        return encode_value_pieces(
            value,
            path=f"outputs.{name}",
            inline_threshold=limits.inline_threshold_bytes,
            chunk_size=limits.chunk_size_bytes,
            value_id=f"{execution_id}.{name}.{next(counter)}",
        )

    return encode
