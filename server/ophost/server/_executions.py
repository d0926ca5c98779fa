"""The executions running in this process: starting them, cancelling them, draining.

:class:`ExecutionRunner` creates an execution in the store, runs its engine
(:class:`~ophost.execution.OpRun`, with the host's executor) and records its events
(:func:`~ophost.server._recorder.record_run`) in a task of its own, so the execution
outlives the stream that started it. A cancel reaches a running engine through the
store (:meth:`~ophost.server.store.ExecutionStore.on_cancel`), wherever it was asked for.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
import uuid
from collections.abc import Callable, Iterator, Mapping

from ophost.codec.chunks import EncodedValue, encode_value_pieces
from ophost.execution import Executor, OpRun, PreparedExecution
from ophost.server import _status
from ophost.server._limits import Limits
from ophost.server._recorder import record_run
from ophost.server.store import ExecutionRecord, ExecutionStore, NewExecution
from ophost.v1 import execution_pb2

__all__ = ["ExecutionRunner", "fingerprint"]


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
    """Runs executions in this process, at most ``max_concurrent`` at once."""

    def __init__(
        self, store: ExecutionStore, limits: Limits, executor: Executor, max_concurrent: int
    ) -> None:
        self.store = store
        self.limits = limits
        self.executor = executor
        self.max_concurrent = max_concurrent
        self._ids = _execution_ids()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def running(self) -> int:
        """How many executions run in this process now."""
        return len(self._tasks)

    async def start(
        self,
        prepared: PreparedExecution,
        start: execution_pb2.ExecutionStart,
        start_fingerprint: bytes = b"",
    ) -> ExecutionRecord:
        """Create the execution and start running it; raises ``StatusError`` when full.

        A start whose request id another start already used returns that execution.
        """
        if len(self._tasks) >= self.max_concurrent:
            raise _status.too_many_executions(self.max_concurrent, retry_after=1.0)
        execution_id = next(self._ids)
        record, created = await self.store.create(
            NewExecution(
                execution_id=execution_id,
                op_name=prepared.op_def.name,
                request_id=start.request_id,
                fingerprint=start_fingerprint,
                tags=dict(start.tags),
                created_at=time.time(),
            )
        )
        if not created:
            return record
        limits = self.limits
        run = OpRun(
            prepared,
            run_id=execution_id,
            request_id=start.request_id,
            tags=record.tags,
            executor=self.executor,
            cancel_grace=limits.cancel_grace_seconds,
            encode_output=_output_encoder(execution_id, limits),
            keep_outputs=False,  # values live on as recorded events only
            first_flush_delay=limits.first_flush_delay_seconds,
        )
        undo = self.store.on_cancel(execution_id, run.request_cancel)
        task = asyncio.get_running_loop().create_task(self._record(execution_id, run, undo))
        self._tasks[execution_id] = task
        return record

    async def _record(self, execution_id: str, run: OpRun, undo: Callable[[], None]) -> None:
        try:
            await record_run(self.store, execution_id, run)
        finally:
            undo()
            del self._tasks[execution_id]

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
