"""The SQL execution store: executions and their events in a database, shared by processes.

:class:`SqlExecutionStore` holds what SQLite and PostgreSQL have in common; a
:class:`SqlBackend` gives the connections, the dialect and what a driver error means.

**Writing.** Each process writes through one thread (:mod:`._sql_writer`) that commits
whatever has queued up at once. The process that runs an execution owns it: it numbers
its events (the execution's last sequence is kept in memory, so ``append`` returns at
once) and is the only one that writes them; every write checks that it still owns the
execution. An execution's appends wait up to ``_UNSENT_SECONDS`` for its next ones and
go to the writer as one write (a short execution's events with its end). A batch that
ends the execution is awaited until it is committed, so the terminal event is durable
before anyone is told about it; while few executions run here, that write (and a start)
is made on the loop when the backend allows it (SQLite), skipping the thread.

**Reading.** Streams of an execution run here read its records from memory, but only
those already committed: a client never sees an event a crash could take back; so do
those of one that finished here a moment ago (:mod:`._recent`: a short execution often
ends before its caller's stream asks). Other executions (finished, or run by another
process) are read from the database by reader threads; a stream that has caught up with
one run elsewhere looks again every ``poll_interval`` seconds or when the backend says the
execution changed.

**Leases.** Each process has a row in ``hosts`` whose lease it renews every third of
``lease_seconds``. :meth:`SqlExecutionStore.claim_lost` finds processes whose lease
ran out (or, on the same machine, whose pid is gone), deletes their rows and takes
over their unfinished executions.

**Cancel.** A cancel sets the execution's flag in the database. When it runs in this
process its callbacks are called at once; otherwise the owning process finds the flag
on its next look (every ``poll_interval``) or when the backend notifies it.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import contextlib
import dataclasses
import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ophost.server._wire import (
    Record,
    Tail,
    event_head,
    event_record,
    record_size,
    split_records,
)
from ophost.server.store._interface import (
    CANCEL_REQUESTED,
    PENDING,
    RUNNING,
    TERMINAL_STATES,
    ExecutionQuery,
    ExecutionRecord,
    ExecutionStore,
    ExecutionUpdate,
    LostExecution,
    NewExecution,
    PageKey,
    RequestIdConflictError,
    StoreError,
    StoreOpenError,
)
from ophost.server.store._recent import RecentlyFinished
from ophost.server.store._schema import ROW_EVENTS
from ophost.server.store._sql_rows import (
    COLUMNS,
    UNFINISHED,
    Append,
    error_blob,
    event_rows,
    outputs_blob,
    record_from_row,
    tags_text,
)
from ophost.server.store._sql_writer import Job, Later, Writer
from ophost.v1 import error_pb2, value_pb2

__all__ = ["SqlBackend", "SqlExecutionStore"]

_log = logging.getLogger("ophost.server.store")
T = TypeVar("T")

# A running execution's records are trimmed from memory past this many (the committed
# ones no local stream still needs); later readers get them from the database.
_KEEP_RECORDS = 8192
# Execution ids named by one notification (each about 25 bytes; a payload holds 8000).
_NOTICE_IDS = 200
# Appended events wait at most this long (or until this many, or this many bytes) for
# more of their execution's events, to be written with them.
_UNSENT_SECONDS = 0.001
_UNSENT_EVENTS = 1024
_UNSENT_BYTES = 256 << 10
# At most this many executions running here: waited-for writes are made on the loop.
_QUIET_EXECUTIONS = 2
# The kinds of writes merged with their neighbours in a group (see Job.merge).
_APPEND = "append"
_CREATE = "create"
# Writers wait while this many bytes are queued and not committed.
_MAX_BACKLOG = 64 << 20
# A finished execution with at most this many records stays in memory for a moment.
_RECENT_RECORDS = 1024
# Retention deletes this many executions with each statement (below the 999 parameters
# that older SQLite allows in one).
_SWEPT_TOGETHER = 500


class SqlBackend(abc.ABC):
    """What one database engine brings: connections, transactions, errors, statements."""

    #: ``sqlite`` or ``postgresql`` (picks the migrations).
    dialect: str
    #: Names the store in messages (a file path, or a DSN without its password).
    where: str
    #: How often a stream of an execution run elsewhere looks for new events.
    poll_interval: float = 0.05
    #: How long a lost connection is tried again before the writes waiting fail.
    reconnect_seconds: float = 30.0
    #: A statement (one parameter: a payload naming the change, the process and the
    #: execution) that tells the other processes an execution changed, run in the
    #: transaction that changed it; None: they poll.
    notify_sql: str | None = None
    #: How long the writer's connection may stay inside a transaction without a word
    #: before the database ends its session (None: no limit). The store sets its lease:
    #: a process stopped mid-transaction must not hold, past its lease, the row locks
    #: that another process needs to take its executions over.
    stalled_transaction_seconds: float | None = None
    #: Whether a write someone waits for may be made at once on the event loop when the
    #: writer is idle (local, cheap commits: see :mod:`._sql_writer`); such a backend
    #: implements :meth:`begin_now` and :meth:`checkpoint`.
    writes_on_loop: bool = False
    #: Whether :meth:`write_appends` is implemented: the writer then writes the appends of
    #: several executions in one group with a statement or two, rather than one or two
    #: each (see :mod:`._sql_writer`).
    merges_appends: bool = False
    #: Whether :meth:`write_creates` is implemented: the new executions of a group then go
    #: in with one statement rather than one each.
    merges_creates: bool = False

    @abc.abstractmethod
    def open(self) -> None:
        """Check the database and apply migrations (in a thread; raises StoreOpenError)."""

    @abc.abstractmethod
    def connect(self) -> Any:
        """A new connection for the writer thread."""

    @abc.abstractmethod
    def begin(self, connection: Any) -> None:
        """Start a write transaction on ``connection``."""

    @abc.abstractmethod
    def read(self, work: Callable[[Any], T]) -> T:
        """Run ``work(cursor)`` on a reading connection (called in a reader thread)."""

    @abc.abstractmethod
    def sql(self, statement: str) -> str:
        """The statement (written with ``?`` placeholders) in this driver's style."""

    @abc.abstractmethod
    def error(self, exc: BaseException) -> StoreError:
        """What a driver's error means for callers (full, unavailable, or other)."""

    def lost(self, exc: BaseException) -> bool:
        """Whether ``exc`` means the connection is gone (and worth re-opening)."""
        return False

    def events_with_update(self, update: str) -> str | None:
        """One statement that adds an append's rows of events and then runs ``update``
        (in this driver's style); its parameters: the execution's key, then the rows'
        first sequences, counts and records as three lists, then ``update``'s. None: the
        rows go in one statement each, before ``update``."""
        return None

    def write_appends(self, cursor: Any, appends: list[Append], owner: str) -> Any:
        """Add the rows of events of ``appends`` (one per execution) and make the changes
        they carry to the executions' rows, as the store's update of one execution does,
        for executions that ``owner`` still holds. Raises (at once, or when a returned
        :class:`Later` is settled) unless every one of them was changed."""
        raise NotImplementedError

    def write_creates(
        self, cursor: Any, rows: list[tuple[Any, ...]]
    ) -> Callable[[], dict[str, int]]:
        """Insert the executions of ``rows`` (the parameters of the store's insert of one,
        the id first), skipping those that conflict with a row already there; returns
        what gives, once the statement's answer is in, the key of each one inserted, by
        id."""
        raise NotImplementedError

    def begin_now(self, connection: Any) -> bool:
        """Start a write transaction if that needs no waiting; False if the store is busy."""
        raise NotImplementedError

    def checkpoint(self, connection: Any) -> None:
        """Move what was committed into the main file (called in the writer thread)."""
        raise NotImplementedError

    def batch(self, connection: Any) -> contextlib.AbstractContextManager[object]:
        """What the writer runs a group of writes in: by default nothing, each statement
        answered before the next is sent (see :mod:`._sql_writer`). A backend that sends
        them unanswered sets :attr:`pipelined`."""
        return contextlib.nullcontext()

    #: Whether :meth:`batch` sends statements unanswered: a write then reads what a
    #: statement returned only once the group's answers are in (a :class:`Later`), since
    #: reading it sooner would wait for the database in the middle of the group.
    pipelined: bool = False

    def listen(self, changed: Callable[[str], None]) -> None:  # noqa: B027 - optional
        """Call ``changed(payload)`` (from any thread) for every payload of ``notify_sql``.
        Backends without notifications leave it to polling."""

    def close(self) -> None:  # noqa: B027 - optional
        """Close the reading connections."""


class _Unsent:
    """Appends of one execution not yet handed to the writer, to be written as one."""

    __slots__ = ("after", "appends", "before", "first", "outputs", "records", "running", "size")

    def __init__(self, first: int, before: ExecutionRecord, after: ExecutionRecord) -> None:
        self.first = first  # the sequence before the first record
        self.before = before  # the record before the first append
        self.after = after  # the record after the last append
        self.records: list[Record] = []
        self.size = 0
        self.appends = 0
        self.running = False  # an append moved the execution to running
        self.outputs = False  # an append added outputs

    def add(
        self,
        records: list[Record],
        size: int,
        after: ExecutionRecord,
        update: ExecutionUpdate | None,
    ) -> None:
        self.records.extend(records)
        self.size += size
        self.after = after
        self.appends += 1
        if update is not None:
            self.running = self.running or update.running
            self.outputs = self.outputs or bool(update.outputs)


@dataclass(eq=False)
class _Live:
    """An execution this process runs: its numbering, its recent records, its streams."""

    # The execution's row key, once its row is written: filled in by the writer thread
    # (the row is written before any of its events, the writer keeping their order).
    keys: list[int]
    head: bytes
    record: ExecutionRecord  # as committed
    pending: ExecutionRecord  # as appended (ahead of ``record`` until committed)
    last: int = 0  # the last sequence given out
    durable: int = 0  # the last sequence committed
    base: int = 0  # the sequence before records[0]
    records: list[Record] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    cursors: dict[int, int] = field(default_factory=dict)
    progress: asyncio.Future[None] | None = None
    room_checked: int = 0
    cancel_callbacks: list[Callable[[], None]] = field(default_factory=list)
    broken: StoreError | None = None
    retired: bool = False
    submitted: int = 0  # writes queued
    written: int = 0  # writes committed (or failed)
    flushes: list[tuple[int, asyncio.Future[None]]] = field(default_factory=list)
    # Set in the writer thread when one of its writes failed: the later ones must not
    # be made, or the log would have a hole.
    write_failure: list[BaseException] = field(default_factory=list)
    # Appended events not yet handed to the writer, and when they will be.
    unsent: _Unsent | None = None
    send_at: asyncio.TimerHandle | None = None

    @property
    def key(self) -> int:
        return self.keys[0]

    def notify(self) -> None:
        waiters = self.waiters
        if waiters:
            self.waiters = []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def advanced(self) -> None:
        progress = self.progress
        if progress is not None and not progress.done():
            progress.set_result(None)

    def wrote(self, appends: int = 1) -> None:
        """A write of ``appends`` appends is committed (or failed): release who waited."""
        self.written += appends
        flushes = self.flushes
        if flushes:
            self.flushes = [(n, f) for n, f in flushes if n > self.written]
            for n, future in flushes:
                if n <= self.written and not future.done():
                    future.set_result(None)

    async def flushed(self) -> None:
        """Wait until every write queued so far is committed (or failed)."""
        if self.written >= self.submitted:
            return
        future = asyncio.get_running_loop().create_future()
        self.flushes.append((self.submitted, future))
        await future


class _LeaseLost(StoreError):
    pass


class SqlExecutionStore(ExecutionStore):
    """Executions in a database (see the module's docstring). Call :meth:`open` first."""

    durable = True

    def __init__(
        self,
        backend: SqlBackend,
        *,
        retention_seconds: float = 600.0,
        max_retained: int = 1000,
        max_retained_bytes: int | None = None,
        lease_seconds: float = 10.0,
        follow_window: int = 4096,
        clock: Callable[[], float] = time.time,
        readers: int = 2,
    ) -> None:
        self.backend = backend
        self.retention_seconds = retention_seconds
        self.max_retained = max_retained
        self.max_retained_bytes = max_retained_bytes
        self.lease_seconds = lease_seconds
        backend.stalled_transaction_seconds = lease_seconds
        self.claim_interval = max(0.05, lease_seconds / 3)
        # Retention is applied at most every 5 s (more often for short retention).
        self.sweep_interval = min(5.0, max(0.2, retention_seconds / 4))
        self.follow_window = max(1, follow_window)
        self._clock = clock
        self.host_id = uuid.uuid4().hex
        self._hostname = socket.gethostname()
        self._live: dict[str, _Live] = {}
        self._recent: RecentlyFinished[_Live] = RecentlyFinished()
        self._follower_ids = 0
        # What an append writes (see _append_job).
        self._insert_event = self._sql(
            "INSERT INTO events (execution, sequence, count, record) VALUES (?, ?, ?, ?)"
        )
        self._update_execution = self._sql(
            "UPDATE executions SET last_sequence = ?, attempt = ?, bytes = bytes + ?, "
            "outputs = COALESCE(?, outputs), error = COALESCE(?, error), "
            "started_at = COALESCE(started_at, ?), finished_at = COALESCE(?, finished_at), "
            "state = CASE WHEN CAST(? AS INTEGER) IS NOT NULL THEN CAST(? AS INTEGER) "
            "WHEN state = 1 AND CAST(? AS INTEGER) = 1 THEN 2 "
            "ELSE state END WHERE key = ? AND owner = ?"
        )
        self._events_with_update = backend.events_with_update(self._update_execution)
        self._remote_waiters: dict[str, asyncio.Event] = {}
        self._reader_count = readers
        self._readers: concurrent.futures.ThreadPoolExecutor | None = None
        self._writer: Writer | None = None
        self._maintenance: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unwritten: dict[int, error_pb2.ErrorData] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.backend.where})"

    @property
    def write_backlog_bytes(self) -> int:
        writer = self._writer
        return writer.backlog if writer is not None else 0

    # -- opening and closing ---------------------------------------------------------------

    async def open(self) -> None:
        if self._writer is not None:
            return
        loop = self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.backend.open)
        self._readers = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._reader_count, thread_name_prefix="ophost-store-reader"
        )
        writer = Writer(
            self.backend.connect,
            self.backend.begin,
            loop,
            batch=self.backend.batch,
            notices=self._send_notices if self.backend.notify_sql is not None else None,
            merge=self._merged
            if self.backend.merges_appends or self.backend.merges_creates
            else None,
            begin_now=self.backend.begin_now if self.backend.writes_on_loop else None,
            checkpoint=self.backend.checkpoint if self.backend.writes_on_loop else None,
            lost=self.backend.lost,
            reconnect_seconds=self.backend.reconnect_seconds,
        )
        await asyncio.to_thread(writer.start)
        self._writer = writer
        try:
            await self._write(self._register_host)
        except StoreError as exc:
            self._writer = None
            await asyncio.to_thread(writer.stop)
            raise StoreOpenError(
                f"cannot open the execution store {self.backend.where}: {exc}"
            ) from exc
        self._maintenance = loop.create_task(self._maintain())

        own = f"{self.host_id} "

        def from_thread(payload: str) -> None:
            # This process's own writes woke its streams already: no hop to the loop.
            if not payload.partition(" ")[2].startswith(own):
                loop.call_soon_threadsafe(self._notified, payload)

        self.backend.listen(from_thread)

    def _send_notices(self, cursor: Any, execution_ids: list[str]) -> None:
        """In the writer thread: tell the other processes which executions have new events,
        a few notifications for a whole group commit (a payload holds at most 8000 bytes)."""
        notify = self.backend.notify_sql
        assert notify is not None
        for first in range(0, len(execution_ids), _NOTICE_IDS):
            named = " ".join(dict.fromkeys(execution_ids[first : first + _NOTICE_IDS]))
            cursor.execute(notify, (f"e {self.host_id} {named}",))

    def _notified(self, payload: str) -> None:
        """A process changed executions (payload ``"e HOST ID ID..."`` for new events, ``"c
        HOST ID"`` for a cancel): wake their streams here; run here, a cancel may be asked."""
        kind, _, rest = payload.partition(" ")
        host, _, named = rest.partition(" ")
        if host == self.host_id:
            return  # this process's own writes: its streams were woken already
        for execution_id in named.split():
            self.changed(execution_id)
            live = self._live.get(execution_id)
            if kind == "c" and live is not None and not live.pending.cancel_requested:
                self._loop_task(self._look_for_cancels())

    async def close(self) -> None:
        maintenance, self._maintenance = self._maintenance, None
        if maintenance is not None:
            maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await maintenance
        writer = self._writer
        if writer is None:
            return
        for live in list(self._live.values()):
            self._send_unsent(live)  # the events still waiting go before the writer stops
        with contextlib.suppress(StoreError):
            await self._write(self._unregister_host)
        self._writer = None
        await asyncio.to_thread(writer.stop)
        if self._readers is not None:
            self._readers.shutdown(wait=True)
            self._readers = None
        await asyncio.to_thread(self.backend.close)

    def _sql(self, statement: str) -> str:
        return self.backend.sql(statement)

    def _register_host(self, cursor: Any) -> None:
        now = time.time()
        cursor.execute(
            self._sql(
                "INSERT INTO hosts (id, hostname, pid, started_at, lease_until) "
                "VALUES (?, ?, ?, ?, ?)"
            ),
            (self.host_id, self._hostname, os.getpid(), now, now + self.lease_seconds),
        )

    def _unregister_host(self, cursor: Any) -> None:
        cursor.execute(self._sql("DELETE FROM hosts WHERE id = ?"), (self.host_id,))

    # -- running work in the writer and reader threads -------------------------------------

    async def _write(
        self,
        run: Callable[[Any], T],
        size: int = 0,
        *,
        now: bool = False,
        single: bool = False,
        merge: tuple[str, Any] | None = None,
    ) -> T:
        """Commit ``run``; ``now``: on the loop if the writer is idle (a small write that
        a caller waits for: see :meth:`Writer.commit`); ``single``: ``run`` is one
        statement (see :attr:`Job.single`); ``merge``: see :attr:`Job.merge`."""
        writer = self._writer
        if writer is None:
            raise StoreError(f"the execution store {self.backend.where} is not open")
        try:
            result: T = await writer.future(run, size, now=now, single=single, merge=merge)
        except StoreError:
            raise
        except Exception as exc:
            raise self.backend.error(exc) from exc
        return result

    def _quiet(self) -> bool:
        """Whether this process runs so few executions that a waited-for write is best made
        at once on the loop (see :meth:`Writer.commit`): with many, the loop is the busy
        part, and the writer's thread, committing them in groups, takes the work off it."""
        return len(self._live) <= _QUIET_EXECUTIONS

    async def _read(self, work: Callable[[Any], T]) -> T:
        readers = self._readers
        if readers is None:
            raise StoreError(f"the execution store {self.backend.where} is not open")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(readers, self.backend.read, work)
        except Exception as exc:
            raise self.backend.error(exc) from exc

    # -- creating --------------------------------------------------------------------------

    async def create(self, new: NewExecution) -> tuple[ExecutionRecord, bool]:
        sql_find = self._sql(f"SELECT {COLUMNS} FROM executions WHERE request_id = ?")
        sql_plain = self._sql(
            "INSERT INTO executions (id, op_name, op_version, request_id, fingerprint, tags, "
            "start, state, created_at, owner, principal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        sql_insert = sql_plain + " ON CONFLICT DO NOTHING RETURNING key"
        values = (
            new.execution_id,
            new.op_name,
            new.op_version,
            new.request_id or None,
            new.fingerprint,
            tags_text(new.tags),
            new.start,
            PENDING,
            new.created_at,
            self.host_id,
            new.principal,
        )

        keys: list[int] = []
        pipelined = self.backend.pipelined
        # A start without a request id cannot conflict (its id is new): a plain insert,
        # whose key the driver gives without a returned row (SQLite).
        plain = not new.request_id and not pipelined

        def run_plain(cursor: Any) -> tuple[int, None]:
            cursor.execute(sql_plain, values)
            keys[:] = [int(cursor.lastrowid)]
            return keys[0], None

        def finish(cursor: Any, key: int | None) -> tuple[int | None, Any]:
            """The create's result: its new key, or the row its request id found."""
            if key is not None:
                # Run again after a failed transaction, the row has a new key.
                keys[:] = [key]
                return key, None
            cursor.execute(sql_find, (new.request_id,))
            return None, cursor.fetchone()

        def run(cursor: Any) -> Any:  # the pair of finish(), maybe later
            cursor.execute(sql_insert, values)

            def settle() -> tuple[int | None, Any]:
                row = cursor.fetchone()
                return finish(cursor, int(row[0]) if row is not None else None)

            # No write in the same group needs the key: appends come only once the
            # create is committed (the engine waits for it).
            return Later(settle) if pipelined else settle()

        record = ExecutionRecord(
            id=new.execution_id,
            op_name=new.op_name,
            request_id=new.request_id,
            fingerprint=new.fingerprint,
            tags=dict(new.tags),
            state=PENDING,
            attempt=0,
            last_sequence=0,
            outputs=(),
            error=None,
            created_at=new.created_at,
            started_at=None,
            finished_at=None,
            cancel_requested=False,
            principal=new.principal,
        )
        merge = None
        if not plain and self.backend.merges_creates:
            merge = (new.execution_id, (_CREATE, (values, finish)))
        created: tuple[int | None, Any] = await self._write(
            run_plain if plain else run,
            len(new.start),
            now=self._quiet(),
            single=plain,
            merge=merge,
        )
        key, existing = created
        if key is None:
            if existing is None:
                raise StoreError(f"execution {new.execution_id} could not be created")
            found = record_from_row(existing)
            if found.fingerprint != new.fingerprint:
                raise RequestIdConflictError(new.request_id, found)
            return found, False
        self._add_live(new.execution_id, keys, record)
        return record, True

    def _add_live(self, execution_id: str, keys: list[int], record: ExecutionRecord) -> _Live:
        live = _Live(keys=keys, head=event_head(execution_id), record=record, pending=record)
        self._live[execution_id] = live
        return live

    async def find_request(self, request_id: str) -> ExecutionRecord | None:
        sql = self._sql(f"SELECT {COLUMNS} FROM executions WHERE request_id = ?")
        row = await self._read(lambda cursor: _one(cursor, sql, (request_id,)))
        return record_from_row(row) if row is not None else None

    # -- appending -------------------------------------------------------------------------

    async def append(
        self, execution_id: str, tails: Sequence[Tail], update: ExecutionUpdate | None = None
    ) -> int:
        live = self._live.get(execution_id)
        if live is None or live.retired:
            raise StoreError(f"execution {execution_id} is not run by this process")
        if live.broken is not None:
            raise live.broken
        writer = self._writer
        if writer is None:
            raise StoreError(f"the execution store {self.backend.where} is not open")
        head = live.head
        sequence = first = live.last
        records: list[Record] = []
        size = 0
        for tail in tails:
            sequence += 1
            record = event_record(head, sequence, tail)
            size += record_size(record)
            records.append(record)
        live.last = sequence
        live.records.extend(records)
        before = live.pending
        after = _updated(before, update, sequence)
        live.pending = after
        live.submitted += 1
        unsent = live.unsent
        if unsent is None:
            unsent = live.unsent = _Unsent(first, before, after)
        unsent.add(records, size, after, update)
        pressed = writer.backlog > _MAX_BACKLOG
        if after.finished or pressed:
            await self._send(live, writer)
        elif len(unsent.records) >= _UNSENT_EVENTS or unsent.size >= _UNSENT_BYTES:
            self._send_unsent(live)
        elif live.send_at is None:
            # Nobody waits for these events yet: they wait a moment for more of the
            # execution's events (a short one's end), to go out in one write with them.
            live.send_at = asyncio.get_running_loop().call_later(
                _UNSENT_SECONDS, self._send_unsent, live
            )
        if live.cursors:
            await self._wait_for_room(live)
        return sequence

    def _send_unsent(self, live: _Live) -> None:
        """Queue the execution's waiting events (their moment is up, or they are many)."""
        writer = self._writer
        job = self._unsent_job(live)
        if job is not None and writer is not None:
            writer.submit(job)

    async def _send(self, live: _Live, writer: Writer) -> None:
        """Write the execution's waiting events and wait until they are committed: at
        once on the loop, for its end, when few executions run."""
        job = self._unsent_job(live)
        if job is None:
            return
        committed = asyncio.get_running_loop().create_future()
        done = job.done

        def finish(result: Any, error: BaseException | None) -> None:
            done(result, error)
            if not committed.done():
                if error is not None:
                    committed.set_exception(live.broken or self.backend.error(error))
                else:
                    committed.set_result(None)

        job.done = finish
        if live.pending.finished and self._quiet():
            writer.commit(job)  # waited for: at once, if the writer is idle
        else:
            writer.submit(job)
        await committed

    def _unsent_job(self, live: _Live) -> Job | None:
        """The write of the execution's waiting events, which stop waiting."""
        if live.send_at is not None:
            live.send_at.cancel()
            live.send_at = None
        unsent, live.unsent = live.unsent, None
        return self._append_job(live, unsent) if unsent is not None else None

    def _append_job(self, live: _Live, unsent: _Unsent) -> Job:
        """One write of the events of one or more appends, and what they changed."""
        first, records, before, after = unsent.first, unsent.records, unsent.before, unsent.after
        size, appends = unsent.size, unsent.appends
        keys = live.keys
        last = after.last_sequence
        owner = self.host_id
        finished = after.state if after.finished and not before.finished else None
        started_at = after.started_at if unsent.running else None
        outputs = outputs_blob(after.outputs) if unsent.outputs else None
        error = error_blob(after.error) if finished is not None else None
        finished_at = after.finished_at if finished is not None else None
        running = 1 if unsent.running else 0
        insert = self._insert_event
        change = self._update_execution
        values = (
            last,
            after.attempt,
            size,
            outputs,
            error,
            started_at,
            finished_at,
            finished,
            finished,
            running,
        )

        execution_id = after.id
        write_failure = live.write_failure
        together = self._events_with_update if records else None

        def run(cursor: Any) -> Later:
            if write_failure:
                raise write_failure[0]
            key = keys[0]
            if together is not None:
                sequences, counts, blobs = zip(*event_rows(first, records), strict=True)
                cursor.execute(
                    together, (key, list(sequences), list(counts), list(blobs), *values, key, owner)
                )
                return Later(lambda: _owned(cursor.rowcount, execution_id))
            if records:
                cursor.executemany(insert, [(key, *row) for row in event_rows(first, records)])
            cursor.execute(change, (*values, key, owner))
            return Later(lambda: _owned(cursor.rowcount, execution_id))

        def done(result: Any, error: BaseException | None) -> None:
            live.wrote(appends)
            if error is not None:
                self._broken(live, error)
                return
            live.durable = last
            cancel_noted = live.pending.cancel_requested and not after.cancel_requested
            live.record = _cancel_noted(after) if cancel_noted else after
            live.notify()
            if after.finished:
                self._retire(live)
            elif len(live.records) > _KEEP_RECORDS:
                self._trim(live)

        merge = None
        if self.backend.merges_appends:
            merge = (execution_id, (_APPEND, (keys, first, records, values, write_failure)))
        return Job(run, done, size, failed=write_failure.append, notice=execution_id, merge=merge)

    def _merged(self, cursor: Any, merged: list[tuple[str, Any]]) -> list[Any]:
        """Write the jobs of several executions (the ``merge`` data of their jobs: appends,
        and creates where the backend merges them) with a statement or two of each kind;
        one result per job, in their order."""
        results: list[Any] = [None] * len(merged)
        appends = [(i, data) for i, (kind, data) in enumerate(merged) if kind == _APPEND]
        creates = [(i, data) for i, (kind, data) in enumerate(merged) if kind == _CREATE]
        if appends:
            results[appends[0][0]] = self._write_appends(cursor, [data for _, data in appends])
        if creates:
            if appends:  # a cursor of its own: the appends' answer is read from theirs
                cursor = cursor.connection.cursor()
            keys_of = functools.cache(
                self.backend.write_creates(cursor, [data[0] for _, data in creates])
            )
            for i, (values, finish) in creates:
                results[i] = _created(finish, cursor, keys_of, values[0])
        return results

    def _write_appends(self, cursor: Any, merged: list[Any]) -> Any:
        """Write the appends of several executions with the backend's
        :meth:`~SqlBackend.write_appends`."""
        appends: list[Append] = []
        for keys, first, records, values, write_failure in merged:
            if write_failure:
                raise write_failure[0]
            last, attempt, size, outputs, error, started, ended, finished, _, running = values
            appends.append(
                Append(
                    keys[0],
                    event_rows(first, records),
                    last,
                    attempt,
                    size,
                    outputs,
                    error,
                    started,
                    ended,
                    finished,
                    running,
                )
            )
        return self.backend.write_appends(cursor, appends, self.host_id)

    def _broken(self, live: _Live, error: BaseException) -> None:
        """A write of the execution failed: it can go no further; say so and end it."""
        if live.broken is not None:
            return
        problem = error if isinstance(error, StoreError) else self.backend.error(error)
        live.broken = problem
        unsent = self._unsent_job(live)  # never to be written: the log would have a hole
        if unsent is not None:
            unsent.done(None, problem)
        _log.error("execution %s could not be written: %s", live.record.id, problem)
        live.notify()
        live.advanced()
        self._retire(live)
        if isinstance(error, _LeaseLost):
            return
        # Mark it failed without adding events: tried now, and again by the upkeep
        # until it is written (a full store may have room again later).
        failure = error_pb2.ErrorData(
            type_name="ophost.StoreError",
            message=f"the execution's events could not be written: {problem}",
        )
        if not live.keys:
            return  # its row was never written: nothing to mark
        self._unwritten[live.key] = failure
        self._loop_task(self._mark_unwritten())

    def _loop_task(self, work: Coroutine[Any, Any, None]) -> None:
        if self._loop is None:
            work.close()
        else:
            task = self._loop.create_task(work)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _mark_unwritten(self) -> None:
        """Mark the executions whose writes failed as FAILED (those not marked yet)."""
        if not self._unwritten:
            return
        sql = self._sql(
            "UPDATE executions SET state = 5, finished_at = ?, error = ? WHERE key = ? "
            f"AND owner = ? AND state IN {UNFINISHED}"
        )
        pending = dict(self._unwritten)
        owner = self.host_id

        def run(cursor: Any) -> None:
            now = time.time()
            for key, failure in pending.items():
                cursor.execute(sql, (now, failure.SerializeToString(), key, owner))

        try:
            await self._write(run)
        except StoreError as exc:
            _log.warning("marking executions whose writes failed: %s (retried)", exc)
            return
        for key in pending:
            self._unwritten.pop(key, None)

    def _retire(self, live: _Live) -> None:
        """The execution is over here: later readers read it from the database (or, for a
        moment, a finished one whose records are all still here, from memory)."""
        live.retired = True
        live.cancel_callbacks.clear()
        execution_id = live.record.id
        if self._live.get(execution_id) is live:
            del self._live[execution_id]
        if (
            live.record.finished
            and live.broken is None
            and live.base == 0
            and live.durable == live.last
            and len(live.records) <= _RECENT_RECORDS
        ):
            self._recent.add(execution_id, live, sum(map(record_size, live.records)))

    def _trim(self, live: _Live) -> None:
        keep_from = min([live.durable, *live.cursors.values()])
        drop = keep_from - live.base
        if drop > 0:
            del live.records[:drop]
            live.base += drop

    async def _wait_for_room(self, live: _Live) -> None:
        """Wait while the slowest local stream is a window or more behind."""
        window = self.follow_window
        produced = live.last
        if produced - live.room_checked < max(1, window // 8):
            return
        live.room_checked = produced
        while live.cursors and live.broken is None:
            slowest = min(live.cursors.values())
            if live.last - slowest < window:
                return
            if live.progress is None or live.progress.done():
                live.progress = asyncio.get_running_loop().create_future()
            await live.progress

    # -- reading ---------------------------------------------------------------------------

    async def get(self, execution_id: str) -> ExecutionRecord | None:
        live = self._live.get(execution_id)
        if live is not None:
            await live.flushed()  # what this process appended before, committed
            return live.record
        live = self._recent.get(execution_id)
        if live is not None:
            return live.record
        sql = self._sql(f"SELECT {COLUMNS} FROM executions WHERE id = ?")
        row = await self._read(lambda cursor: _one(cursor, sql, (execution_id,)))
        return record_from_row(row) if row is not None else None

    async def start_request(self, execution_id: str) -> bytes | None:
        sql = self._sql("SELECT start FROM executions WHERE id = ?")
        row = await self._read(lambda cursor: _one(cursor, sql, (execution_id,)))
        return bytes(row[0]) if row is not None else None

    async def executions(
        self,
        query: ExecutionQuery = ExecutionQuery(),  # noqa: B008 - frozen, so shared safely
        *,
        before: PageKey | None = None,
        limit: int | None = None,
    ) -> list[ExecutionRecord]:
        where: list[str] = []
        params: list[Any] = []
        if query.op_name:
            where.append("op_name = ?")
            params.append(query.op_name)
        if query.states:
            where.append(f"state IN ({', '.join('?' for _ in query.states)})")
            params.extend(sorted(query.states))
        if query.created_after is not None:
            where.append("created_at >= ?")
            params.append(query.created_after)
        if query.created_before is not None:
            where.append("created_at < ?")
            params.append(query.created_before)
        for column, allowed in (("principal", query.principals), ("op_name", query.op_names)):
            if allowed is None:
                continue
            if not allowed:
                return []
            where.append(f"{column} IN ({', '.join('?' for _ in allowed)})")
            params.extend(sorted(allowed))
        if before is not None:
            where.append("(created_at < ? OR (created_at = ? AND id < ?))")
            params.extend((before.created_at, before.created_at, before.id))
        sql = f"SELECT {COLUMNS} FROM executions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        statement = self._sql(sql)

        def work(cursor: Any) -> list[Any]:
            cursor.execute(statement, params)
            return list(cursor.fetchall())

        return [record_from_row(row) for row in await self._read(work)]

    async def unfinished(self) -> list[ExecutionRecord]:
        sql = self._sql(f"SELECT {COLUMNS} FROM executions WHERE state IN {UNFINISHED}")

        def work(cursor: Any) -> list[Any]:
            cursor.execute(sql)
            return list(cursor.fetchall())

        return [record_from_row(row) for row in await self._read(work)]

    async def follow(
        self,
        execution_id: str,
        after: int,
        *,
        max_batch_bytes: int,
        max_batch_events: int = 10_000,
        stop: Callable[[], bool] | None = None,
    ) -> AsyncIterator[list[Record]]:
        cursor = after
        while True:
            live = self._live.get(execution_id) or self._recent.get(execution_id)
            if live is not None:
                async for batch in self._follow_live(
                    live, cursor, max_batch_bytes, max_batch_events, stop
                ):
                    yield batch
                return
            key_row = await self._read(
                lambda c: _one(
                    c,
                    self._sql("SELECT key, state, last_sequence FROM executions WHERE id = ?"),
                    (execution_id,),
                )
            )
            if key_row is None:
                return
            key, state, last = key_row
            if cursor < last:
                batch = await self._read_records(
                    key, cursor, last, max_batch_bytes, max_batch_events
                )
                if batch:
                    cursor += len(batch)
                    yield batch
                    continue
            if state in TERMINAL_STATES:
                return
            if stop is not None and stop():
                return
            await self._changed(execution_id)
            if stop is not None and stop():
                return

    async def _follow_live(
        self,
        live: _Live,
        cursor: int,
        max_batch_bytes: int,
        max_batch_events: int,
        stop: Callable[[], bool] | None,
    ) -> AsyncIterator[list[Record]]:
        self._follower_ids += 1
        token = self._follower_ids
        cursors = live.cursors
        cursors[token] = cursor
        loop = asyncio.get_running_loop()
        try:
            while True:
                if stop is not None and stop():
                    return
                if live.broken is not None:
                    raise live.broken
                available = live.durable
                if cursor < live.base:
                    end = min(live.base, available)
                    batch = await self._read_records(
                        live.key, cursor, end, max_batch_bytes, max_batch_events
                    )
                elif cursor < available:
                    records = live.records
                    start = cursor - live.base
                    stop_at = min(available - live.base, start + max_batch_events)
                    end_index = start + 1
                    size = record_size(records[start])
                    while end_index < stop_at:
                        size += record_size(records[end_index])
                        if size > max_batch_bytes:
                            break
                        end_index += 1
                    batch = records[start:end_index]
                else:
                    if live.record.finished:
                        return
                    waiter = loop.create_future()
                    live.waiters.append(waiter)
                    await waiter
                    continue
                if not batch:
                    return
                cursor += len(batch)
                yield batch
                cursors[token] = cursor
                live.advanced()
        finally:
            del cursors[token]
            live.advanced()

    async def _read_records(
        self, key: int, after: int, until: int, max_bytes: int, max_events: int
    ) -> list[Record]:
        """The records of execution ``key`` after ``after``, up to ``until``, in one batch."""
        # A row holds up to ROW_EVENTS records: the one holding ``after + 1`` may begin
        # that many before it (the bound keeps the search to the index's range).
        sql = self._sql(
            "SELECT sequence, count, record FROM events WHERE execution = ? AND sequence > ? "
            "AND sequence <= ? AND sequence + count - 1 > ? ORDER BY sequence LIMIT ?"
        )
        limit = min(max_events, until - after)

        def work(cursor: Any) -> list[Record]:
            cursor.execute(sql, (key, after - ROW_EVENTS, until, after, limit))
            batch: list[Record] = []
            size = 0
            while True:
                rows = cursor.fetchmany(64)
                if not rows:
                    return batch
                for sequence, count, data in rows:
                    try:
                        records = split_records(bytes(data), count)
                    except ValueError as exc:
                        raise StoreError(
                            f"the stored events {sequence}-{sequence + count - 1} of execution "
                            f"key {key} are damaged: {exc}"
                        ) from None
                    skip = after + len(batch) + 1 - sequence
                    for record in records[max(0, skip) :]:
                        size += len(record)
                        if (batch and size > max_bytes) or len(batch) == limit:
                            return batch
                        batch.append(record)

        return await self._read(work)

    async def _changed(self, execution_id: str) -> None:
        """Wait until the execution (run elsewhere) may have changed."""
        event = self._remote_waiters.get(execution_id)
        if event is None:
            event = self._remote_waiters[execution_id] = asyncio.Event()
        try:
            await asyncio.wait_for(event.wait(), self.backend.poll_interval)
        except asyncio.TimeoutError:
            pass
        finally:
            if self._remote_waiters.get(execution_id) is event and event.is_set():
                del self._remote_waiters[execution_id]

    def changed(self, execution_id: str) -> None:
        """The backend learned that the execution changed (a notification)."""
        event = self._remote_waiters.pop(execution_id, None)
        if event is not None:
            event.set()

    def wake(self, execution_id: str) -> None:
        live = self._live.get(execution_id)
        if live is not None:
            live.notify()
        self.changed(execution_id)

    # -- cancellation ----------------------------------------------------------------------

    async def request_cancel(self, execution_id: str) -> ExecutionRecord | None:
        change = self._sql(
            "UPDATE executions SET cancel_requested = 1, "
            "state = CASE WHEN state IN (1, 2) THEN 3 ELSE state END "
            f"WHERE id = ? AND state IN {UNFINISHED}"
        )
        find = self._sql(f"SELECT {COLUMNS} FROM executions WHERE id = ?")

        notify = self.backend.notify_sql
        host_id = self.host_id

        def run(cursor: Any) -> Any:
            cursor.execute(change, (execution_id,))
            if notify is not None and cursor.rowcount:
                cursor.execute(notify, (f"c {host_id} {execution_id}",))
            return _one(cursor, find, (execution_id,))

        row = await self._write(run, now=self._quiet())
        if row is None:
            return None
        stored = record_from_row(row)
        live = self._live.get(execution_id)
        if live is None:
            return stored
        self._cancel_live(live)
        return live.record

    def _cancel_live(self, live: _Live) -> None:
        if live.pending.cancel_requested or live.pending.finished:
            return
        live.pending = _cancel_noted(live.pending)
        live.record = _cancel_noted(live.record)
        callbacks, live.cancel_callbacks = live.cancel_callbacks, []
        for callback in callbacks:
            callback()

    def on_cancel(self, execution_id: str, callback: Callable[[], None]) -> Callable[[], None]:
        live = self._live[execution_id]
        if live.pending.cancel_requested and not live.pending.finished:
            callback()
            return _nothing
        live.cancel_callbacks.append(callback)

        def undo() -> None:
            if callback in live.cancel_callbacks:
                live.cancel_callbacks.remove(callback)

        return undo

    # -- leases, lost hosts and cancels from elsewhere -------------------------------------

    async def _maintain(self) -> None:
        """Renew this process's lease; notice cancels asked for through other processes."""
        renew_every = max(0.05, self.lease_seconds / 3)
        renewed = marked = time.monotonic()
        while True:
            await asyncio.sleep(self.backend.poll_interval)
            try:
                if time.monotonic() - renewed >= renew_every:
                    renewed = time.monotonic()
                    await self._renew()
                if self._live:
                    await self._look_for_cancels()
                if self._unwritten and time.monotonic() - marked >= 1.0:
                    marked = time.monotonic()
                    await self._mark_unwritten()
            except StoreError as exc:
                _log.warning("store upkeep failed (retried): %s", exc)
            except Exception:  # noqa: BLE001 - upkeep must go on
                _log.exception("store upkeep failed (retried)")

    async def _renew(self) -> None:
        renew = self._sql("UPDATE hosts SET lease_until = ? WHERE id = ?")
        host_id = self.host_id
        lease = self.lease_seconds

        def run(cursor: Any) -> int:
            cursor.execute(renew, (time.time() + lease, host_id))
            count = int(cursor.rowcount)
            if count == 0:
                self._register_host(cursor)
            return count

        if await self._write(run) == 0:
            _log.error(
                "this process's lease on the execution store ran out; its running executions "
                "were taken over by another process and are no longer written here"
            )
            for live in list(self._live.values()):
                self._broken(live, _LeaseLost("this process's lease ran out"))

    async def _look_for_cancels(self) -> None:
        sql = self._sql(
            "SELECT id FROM executions WHERE owner = ? AND cancel_requested = 1 "
            f"AND state IN {UNFINISHED}"
        )
        host_id = self.host_id

        def work(cursor: Any) -> list[Any]:
            cursor.execute(sql, (host_id,))
            return list(cursor.fetchall())

        for (execution_id,) in await self._read(work):
            live = self._live.get(execution_id)
            if live is not None:
                self._cancel_live(live)

    async def claim_lost(self) -> list[LostExecution]:
        me = self.host_id
        hostname = self._hostname
        list_hosts = self._sql("SELECT id, hostname, pid, lease_until FROM hosts WHERE id <> ?")
        delete_host = self._sql("DELETE FROM hosts WHERE id = ?")
        claim = self._sql(
            "UPDATE executions SET owner = ? WHERE state IN " + UNFINISHED + " AND owner <> ? "
            "AND owner NOT IN (SELECT id FROM hosts) RETURNING key, owner"
        )
        read = self._sql(f"SELECT {COLUMNS}, key, start FROM executions WHERE key = ?")

        def run(cursor: Any) -> tuple[dict[str, str], list[tuple[Any, str]]]:
            now = time.time()
            cursor.execute(list_hosts, (me,))
            lost: dict[str, str] = {}
            for host_id, host_name, pid, lease_until in cursor.fetchall():
                if lease_until < now or (host_name == hostname and not _alive(pid)):
                    lost[host_id] = f"pid {pid} on {host_name}"
            for host_id in lost:
                cursor.execute(delete_host, (host_id,))
            cursor.execute(claim, (me, me))
            claimed = list(cursor.fetchall())
            rows = []
            for key, owner in claimed:
                rows.append((_one(cursor, read, (key,)), owner))
            return lost, rows

        lost_hosts, rows = await self._write(run)
        found: list[LostExecution] = []
        for row, owner in rows:
            if row is None:
                continue
            record = record_from_row(row[:-2])
            key, start = row[-2], row[-1]
            self._live[record.id] = _Live(
                keys=[int(key)],
                head=event_head(record.id),
                record=record,
                pending=record,
                last=record.last_sequence,
                durable=record.last_sequence,
                base=record.last_sequence,
            )
            found.append(
                LostExecution(
                    record=record,
                    start=bytes(start),
                    lost_host=lost_hosts.get(owner, f"host process {owner}"),
                )
            )
        return found

    # -- retention -------------------------------------------------------------------------

    async def sweep(self) -> int:
        now = self._clock()
        sql_old = self._sql(
            "SELECT key FROM executions WHERE finished_at IS NOT NULL AND finished_at < ? "
            "ORDER BY finished_at LIMIT 1000"
        )
        sql_count = "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM executions"
        sql_oldest = self._sql(
            "SELECT key, bytes FROM executions WHERE finished_at IS NOT NULL "
            "ORDER BY finished_at, key LIMIT ?"
        )
        sql = self._sql
        retention = self.retention_seconds
        max_count = self.max_retained
        max_bytes = self.max_retained_bytes

        def run(cursor: Any) -> int:
            cursor.execute(sql_old, (now - retention,))
            doomed = {int(key) for (key,) in cursor.fetchall()}
            cursor.execute(sql_count)
            count, total = cursor.fetchone()
            total = int(total)
            excess = count - len(doomed) - max_count
            if excess > 0 or (max_bytes is not None and total > max_bytes):
                cursor.execute(sql_oldest, (count,))
                for key, size in cursor.fetchall():
                    if excess <= 0 and (max_bytes is None or total <= max_bytes):
                        break
                    if int(key) in doomed:
                        continue
                    doomed.add(int(key))
                    excess -= 1
                    total -= int(size)
            # A statement per table for each so many of them, not two for each one: every
            # statement lets go of the interpreter lock, and takes it back.
            keys = sorted(doomed)
            for start in range(0, len(keys), _SWEPT_TOGETHER):
                some = keys[start : start + _SWEPT_TOGETHER]
                marks = ", ".join("?" * len(some))
                cursor.execute(sql(f"DELETE FROM events WHERE execution IN ({marks})"), some)
                cursor.execute(sql(f"DELETE FROM executions WHERE key IN ({marks})"), some)
            return len(doomed)

        deleted = int(await self._write(run))
        if deleted:
            self._recent.clear()  # some of them may have finished a moment ago
        return deleted


# -- helpers -----------------------------------------------------------------------------------


def _one(cursor: Any, sql: str, params: Sequence[Any]) -> Any:
    cursor.execute(sql, params)
    return cursor.fetchone()


def _created(
    finish: Callable[[Any, int | None], Any],
    cursor: Any,
    keys_of: Callable[[], dict[str, int]],
    execution_id: str,
) -> Later:
    """A merged create's result: ``finish`` with the key its row got (None: it conflicted)."""
    return Later(lambda: finish(cursor, keys_of().get(execution_id)))


def _owned(rowcount: int, execution_id: str) -> None:
    """Raise unless the update of an execution's row changed it (this process owns it)."""
    if rowcount != 1:
        raise _LeaseLost(
            f"this process no longer owns execution {execution_id}: another took it "
            "over after this one's lease ran out"
        )


def _updated(
    record: ExecutionRecord, update: ExecutionUpdate | None, last_sequence: int
) -> ExecutionRecord:
    state = record.state
    attempt = record.attempt
    outputs: tuple[value_pb2.NamedValue, ...] = record.outputs
    error = record.error
    started_at = record.started_at
    finished_at = record.finished_at
    if update is not None:
        if update.running and state == PENDING:
            state = RUNNING
            started_at = update.at
        if update.finished is not None and state not in TERMINAL_STATES:
            state = update.finished
            finished_at = update.at
            if update.error is not None:
                error = update.error
        if update.outputs:
            outputs = outputs + tuple(update.outputs)
        if update.attempt is not None:
            attempt = update.attempt
    # Made field by field: dataclasses.replace looks the fields up on every call, and
    # this runs for every append.
    return ExecutionRecord(
        id=record.id,
        op_name=record.op_name,
        request_id=record.request_id,
        fingerprint=record.fingerprint,
        tags=record.tags,
        state=state,
        attempt=attempt,
        last_sequence=last_sequence,
        outputs=outputs,
        error=error,
        created_at=record.created_at,
        started_at=started_at,
        finished_at=finished_at,
        cancel_requested=record.cancel_requested,
        principal=record.principal,
    )


def _cancel_noted(record: ExecutionRecord) -> ExecutionRecord:
    state = record.state
    if state in (PENDING, RUNNING):
        state = CANCEL_REQUESTED
    return dataclasses.replace(record, cancel_requested=True, state=state)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _nothing() -> None:
    """Nothing to undo."""
