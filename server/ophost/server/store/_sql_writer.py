"""One thread that writes a SQL store, committing whatever has queued up at once.

Writes are *jobs*: a function of a cursor run inside a transaction, and a callback run
on the event loop with its result (or the error). The thread takes every job queued
since its last commit, runs them all in one transaction and commits once (group
commit), so the cost of a commit is shared by everything written while the previous
one was on its way to disk. When the shared transaction fails, each job is run again
in a transaction of its own, so one bad write fails only itself.

A backend may send a group's statements without waiting for each answer (PostgreSQL's
pipeline mode): ``batch(connection)`` is then a context manager inside which the jobs
run, and leaving it waits for every answer. A job that needs an answer to decide its
result (how many rows a statement changed) returns a :class:`Later`, settled once the
answers are in and before the commit, so its error still fails the transaction.

A backend may also write several jobs of one kind with one statement or two (``merge``):
in a group, each run of neighbouring jobs that have a ``merge`` (of different names) goes
to ``merge(cursor, data)`` in one call, instead of ``run`` per job; it returns one result
per job, each settled like a job's own (a value, or a :class:`Later`). Each statement is
a driver call that lets go of the interpreter lock, and then waits to take it back from
a busy event loop: fewer statements, fewer such waits. When ``merge`` (or a result of it)
raises, the group is written job by job, each with its ``run``, as for any failure.

A backend whose commits are cheap and local (SQLite) may also let a write that someone
waits for be made at once on the event loop, skipping two thread hops: only when nothing
is queued or being written (so the order of writes is kept) and the write lock is free
(``begin_now``); anything else goes to the thread. A job that is a single statement runs
there as its own transaction, without ``BEGIN`` and ``COMMIT`` around it; one the lock
refuses has written nothing, and goes to the thread. Such a backend turns SQLite's automatic
checkpoints off on the writer's connection and has the thread ``checkpoint`` after every
so many commits instead, so that copying the log into the file never happens on the loop.

Reads do not go through here: they run in a small pool of reader threads, each with a
connection of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

__all__ = ["Job", "Later", "Writer"]

_log = logging.getLogger("ophost.server.store")

# At most this many jobs share one transaction.
_MAX_GROUP = 2048
# The thread checkpoints after this many commits or bytes written since the last one
# (SQLite's own automatic checkpoint is at 1,000 pages; a small commit changes a few).
_CHECKPOINT_COMMITS = 250
_CHECKPOINT_BYTES = 1 << 20
# Queued to ask the thread for a checkpoint.
_CHECKPOINT = object()


@dataclass(slots=True)
class Job:
    """A write: ``run(cursor)`` in a transaction, then ``done(result, error)`` on the loop."""

    run: Callable[[Any], Any]
    done: Callable[[Any, BaseException | None], None]
    size: int = 0
    #: Called in the writer thread when the job failed in a transaction of its own.
    failed: Callable[[BaseException], None] | None = None
    #: What the job changed, for the other processes to hear of once it commits: the
    #: notices of a whole group are sent together (see ``Writer``'s ``notices``).
    notice: str = ""
    #: The job is one statement, whole or nothing by itself: made at once on the loop,
    #: it needs no transaction of its own (see ``Writer.commit``).
    single: bool = False
    #: ``(name, data)``: the job may be written together with the jobs next to it in its
    #: group that have a ``merge`` of other names (``Writer``'s ``merge``); None: ``run``.
    merge: tuple[str, Any] | None = None


class Later:
    """A job's result that needs its statements' answers: ``settle()`` gives it (or
    raises), called once the group's answers are in, before the commit."""

    __slots__ = ("settle",)

    def __init__(self, settle: Callable[[], Any]) -> None:
        self.settle = settle


def _settled(result: Any) -> Any:
    return result.settle() if type(result) is Later else result


def _no_batch(connection: Any) -> AbstractContextManager[object]:
    return contextlib.nullcontext()


class Writer:
    """The store's writer thread; ``connect()`` gives its connection, ``begin`` opens a
    transaction on it, ``batch`` (optional) lets a group's statements go out unanswered,
    ``notices`` (optional) sends the notices of a group's jobs in its transaction, ``merge``
    (optional) writes several jobs' ``merge`` data at once."""

    def __init__(
        self,
        connect: Callable[[], Any],
        begin: Callable[[Any], None],
        loop: asyncio.AbstractEventLoop,
        *,
        batch: Callable[[Any], AbstractContextManager[object]] = _no_batch,
        notices: Callable[[Any, list[str]], None] | None = None,
        merge: Callable[[Any, list[Any]], list[Any]] | None = None,
        begin_now: Callable[[Any], bool] | None = None,
        checkpoint: Callable[[Any], None] | None = None,
        lost: Callable[[BaseException], bool] = lambda exc: False,
        reconnect_seconds: float = 30.0,
        name: str = "ophost-store-writer",
    ) -> None:
        self._connect = connect
        self._begin = begin
        self._batch = batch
        self._notices = notices
        self._merge = merge
        self._begin_now = begin_now
        self._checkpoint = checkpoint
        self._lost = lost
        self._reconnect_seconds = reconnect_seconds
        self._connection: Any = None
        self._loop = loop
        self._queue: queue.SimpleQueue[Job | object | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._started = threading.Event()
        self._failed: BaseException | None = None
        #: Bytes queued and not yet committed (kept and read on the loop, to pace writers).
        self.backlog = 0
        # Kept on the loop: jobs (and checkpoints) queued whose callbacks have not run,
        # and what was committed since the last checkpoint.
        self._outstanding = 0
        self._stopping = False
        self._commits = 0
        self._bytes = 0
        self._checkpoint_asked = False

    def start(self) -> None:
        self._thread.start()
        self._started.wait()
        if self._failed is not None:
            raise self._failed

    def submit(self, job: Job) -> None:
        """Queue ``job`` (on the event loop, like every use of :attr:`backlog`)."""
        self.backlog += job.size
        self._outstanding += 1
        self._queue.put(job)

    def commit(self, job: Job) -> None:
        """Write ``job`` now, here on the loop, if the backend allows it, the thread has
        nothing queued or being written and the write lock is free; otherwise queue it.
        Either way ``job.done`` is called once it is committed (before this returns, when
        written here)."""
        begin_now = self._begin_now
        connection = self._connection
        if begin_now is None or self._outstanding or self._stopping or connection is None:
            self.submit(job)
            return
        if job.single and self._notices is None:
            self._commit_single(connection, job)
            return
        try:
            began = begin_now(connection)
        except Exception:  # noqa: BLE001 - the thread tries it and says what failed
            began = False
        if not began:
            self.submit(job)
            return
        try:
            result = self._run_and_commit(connection, job)
        except Exception:  # noqa: BLE001 - the thread tries it again, and says what failed
            _rollback(connection)
            self.submit(job)
            return
        self._done_on_loop(job, result)

    def _commit_single(self, connection: Any, job: Job) -> None:
        """Run a one-statement job as its own transaction, here on the loop."""
        try:
            result = _settled(job.run(connection.cursor()))
        except Exception:  # noqa: BLE001 - nothing was written: the thread tries it again
            self.submit(job)
            return
        self._done_on_loop(job, result)

    def _done_on_loop(self, job: Job, result: Any) -> None:
        """A job committed here on the loop: count it, and call its callback."""
        self._committed(1, job.size)
        try:
            job.done(result, None)
        except Exception:  # noqa: BLE001 - as for the thread's callbacks
            _log.exception("a store write's callback failed")

    def future(
        self,
        run: Callable[[Any], Any],
        size: int = 0,
        *,
        now: bool = False,
        single: bool = False,
        merge: tuple[str, Any] | None = None,
    ) -> asyncio.Future[Any]:
        """Queue ``run`` (or, with ``now``, :meth:`commit` it) and return a future of its
        result, set once it is committed. ``single``, ``merge``: see :class:`Job`."""
        future: asyncio.Future[Any] = self._loop.create_future()

        def done(result: Any, error: BaseException | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

        job = Job(run, done, size, single=single, merge=merge)
        if now:
            self.commit(job)
        else:
            self.submit(job)
        return future

    def _committed(self, commits: int, size: int) -> None:
        """On the loop: count what was committed; ask for a checkpoint every so often."""
        if self._checkpoint is None:
            return
        self._commits += commits
        self._bytes += size
        if self._checkpoint_asked or self._stopping:
            return
        if self._commits >= _CHECKPOINT_COMMITS or self._bytes >= _CHECKPOINT_BYTES:
            self._checkpoint_asked = True
            self._outstanding += 1
            self._queue.put(_CHECKPOINT)

    def _checkpointed(self) -> None:
        self._outstanding -= 1
        self._checkpoint_asked = False
        self._commits = self._bytes = 0

    def stop(self) -> None:
        """Write what is queued, then end the thread."""
        self._stopping = True
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    # -- the thread ----------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            self._connection = self._connect()
        except BaseException as exc:  # noqa: BLE001 - handed to start()
            self._failed = exc
            self._started.set()
            return
        self._started.set()
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                if first is _CHECKPOINT:
                    self._checkpoint_now()
                    continue
                assert isinstance(first, Job)
                jobs = [first]
                stop = checkpoint = False
                while len(jobs) < _MAX_GROUP:
                    try:
                        job = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stop = True
                        break
                    if job is _CHECKPOINT:
                        checkpoint = True
                        break
                    assert isinstance(job, Job)
                    jobs.append(job)
                self._write(jobs)
                if checkpoint:
                    self._checkpoint_now()
                if stop:
                    return
        finally:
            try:
                self._connection.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                _log.debug("closing the store's writer connection failed", exc_info=True)

    def _checkpoint_now(self) -> None:
        assert self._checkpoint is not None
        try:
            self._checkpoint(self._connection)
        except Exception:  # noqa: BLE001 - a later checkpoint (or the next open) catches up
            _log.warning("checkpointing the store failed", exc_info=True)
        self._loop.call_soon_threadsafe(self._checkpointed)

    def _write(self, jobs: list[Job]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            outcomes = self._together(jobs)
        except Exception as exc:  # noqa: BLE001 - each job is tried alone below
            _rollback(self._connection)
            if self._lost(exc) and self._reconnected():
                try:
                    outcomes = self._together(jobs)
                except Exception:  # noqa: BLE001 - each job is tried alone below
                    _rollback(self._connection)
            if not outcomes:
                outcomes = [self._alone(self._connection, job) for job in jobs]
        self._loop.call_soon_threadsafe(self._finish, jobs, outcomes)

    def _together(self, jobs: list[Job]) -> list[tuple[Any, BaseException | None]]:
        connection = self._connection
        self._begin(connection)
        # A cursor each: in a batch, a job's statements are answered only at its end.
        with self._batch(connection):
            results = self._run_jobs(connection, jobs)
            self._notify(connection, jobs)
        settled: list[tuple[Any, BaseException | None]] = [
            (_settled(result), None) for result in results
        ]
        connection.commit()
        return settled

    def _run_jobs(self, connection: Any, jobs: list[Job]) -> list[Any]:
        """Run ``jobs`` in order, those that can be merged in runs (see the module)."""
        merge = self._merge
        if merge is None:
            return [job.run(connection.cursor()) for job in jobs]
        results: list[Any] = []
        run: list[Job] = []
        names: set[str] = set()

        def flush() -> None:
            if len(run) == 1:
                results.append(run[0].run(connection.cursor()))
            elif run:
                merged = merge(connection.cursor(), [job.merge[1] for job in run if job.merge])
                assert len(merged) == len(run)
                results.extend(merged)
            run.clear()
            names.clear()

        for job in jobs:
            if job.merge is None:
                flush()
                results.append(job.run(connection.cursor()))
                continue
            if job.merge[0] in names:
                flush()
            run.append(job)
            names.add(job.merge[0])
        flush()
        return results

    def _notify(self, connection: Any, jobs: list[Job]) -> None:
        """Send the notices of ``jobs`` in their transaction (once for the group)."""
        if self._notices is None:
            return
        notices = [job.notice for job in jobs if job.notice]
        if notices:
            self._notices(connection.cursor(), notices)

    def _reconnected(self) -> bool:
        """Replace a lost connection, trying for up to ``reconnect_seconds``."""
        deadline = time.monotonic() + self._reconnect_seconds
        delay = 0.05
        while True:
            try:
                self._connection.close()
            except Exception:  # noqa: BLE001 - it is already broken
                _log.debug("closing a lost store connection failed", exc_info=True)
            try:
                self._connection = self._connect()
            except Exception as exc:  # noqa: BLE001 - retried until the deadline
                if time.monotonic() + delay > deadline:
                    _log.error("the store's connection could not be restored: %s", exc)
                    return False
                _log.warning("the store's connection is lost; retrying in %.2fs: %s", delay, exc)
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            _log.warning("the store's connection was restored")
            return True

    def _alone(self, connection: Any, job: Job) -> tuple[Any, BaseException | None]:
        try:
            self._begin(connection)
            result = self._run_and_commit(connection, job)
        except Exception as exc:  # noqa: BLE001 - handed to the job's callback
            _rollback(connection)
            if job.failed is not None:
                job.failed(exc)
            return None, exc
        return result, None

    def _run_and_commit(self, connection: Any, job: Job) -> Any:
        """Run ``job`` alone in the transaction open on ``connection``, and commit it."""
        result = _settled(job.run(connection.cursor()))
        self._notify(connection, [job])
        connection.commit()
        return result

    def _finish(self, jobs: list[Job], outcomes: list[tuple[Any, BaseException | None]]) -> None:
        """On the loop: the jobs' callbacks, and their bytes off the backlog."""
        size = sum(job.size for job in jobs)
        self.backlog -= size
        self._outstanding -= len(jobs)
        self._committed(1, size)
        for job, (result, error) in zip(jobs, outcomes, strict=True):
            try:
                job.done(result, error)
            except Exception:  # noqa: BLE001 - one callback must not stop the others
                _log.exception("a store write's callback failed")


def _rollback(connection: Any) -> None:
    try:
        connection.rollback()
    except Exception:  # noqa: BLE001 - the connection may be gone; the next begin says so
        _log.debug("rolling back a store transaction failed", exc_info=True)
