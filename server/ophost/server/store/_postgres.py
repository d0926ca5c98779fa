"""The PostgreSQL execution store: one database shared by host processes on any machine.

It needs the ``ophost[postgresql]`` extra (psycopg 3 and its connection pool). Reads
go through a small pool of connections; writes through one connection per process.
After each write that changes an execution, the store sends a notification on the
``ophost`` channel (``NOTIFY``, delivered at commit); every process listens on one
connection of its own, so a stream of an execution run elsewhere, and a cancel of an
execution run here, are seen at once rather than at the next poll. A connection lost
mid-run is re-opened (for up to 30 seconds, ``?reconnect_seconds=N`` in the URL) and
the write tried again; a write that still cannot be made fails its execution, and
nothing half-written stays.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
import psycopg.errors
import psycopg_pool

from ophost.server.store._interface import (
    StoreError,
    StoreFullError,
    StoreOpenError,
    StoreUnavailableError,
)
from ophost.server.store._schema import SchemaTooNewError, migrate
from ophost.server.store._sql import SqlBackend, SqlExecutionStore
from ophost.server.store._sql_rows import Append, placeholders
from ophost.server.store._sql_writer import Later

__all__ = ["PostgresBackend", "PostgresExecutionStore"]

T = TypeVar("T")
_log = logging.getLogger("ophost.server.store")

CHANNEL = "ophost"
# Taken while migrating, so that processes starting together migrate once.
_MIGRATION_LOCK = 0x6F70686F7374  # "ophost"


# The appends of several executions in one statement: their rows of events as arrays
# (execution keys, first sequences, counts, records), then for each execution its key and
# the fields of ``Append`` after its rows (as arrays), then the owner. The same changes as
# the store's update of one execution. The arrays here and below go in PostgreSQL's binary
# format (``%b``): in text, psycopg would escape them element by element, in Python, on the
# writer thread (about twice the CPU per statement).
_WRITE_APPENDS = (
    "WITH added AS (INSERT INTO events (execution, sequence, count, record) "
    "SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::integer[], %b::bytea[])) "
    "UPDATE executions AS x SET last_sequence = v.last_sequence, attempt = v.attempt, "
    "bytes = x.bytes + v.bytes, outputs = COALESCE(v.outputs, x.outputs), "
    "error = COALESCE(v.error, x.error), started_at = COALESCE(x.started_at, v.started_at), "
    "finished_at = COALESCE(v.finished_at, x.finished_at), "
    "state = CASE WHEN v.finished IS NOT NULL THEN v.finished "
    "WHEN x.state = 1 AND v.running = 1 THEN 2 ELSE x.state END "
    "FROM unnest(%b::bigint[], %b::bigint[], %b::integer[], %b::bigint[], %b::bytea[], "
    "%b::bytea[], %b::double precision[], %b::double precision[], %b::integer[], "
    "%b::integer[]) AS v(key, last_sequence, attempt, bytes, outputs, error, started_at, "
    "finished_at, finished, running) "
    "WHERE x.key = v.key AND x.owner = %s"
)


# New executions in one statement: each column of the store's insert as an array (id,
# op name, op version, request id, fingerprint, tags, start, state, created at, owner,
# principal); those that conflict with a row already there are skipped.
_WRITE_CREATES = (
    "INSERT INTO executions (id, op_name, op_version, request_id, fingerprint, tags, start, "
    "state, created_at, owner, principal) SELECT * FROM unnest(%b::text[], %b::text[], "
    "%b::text[], %b::text[], %b::bytea[], %b::text[], %b::bytea[], %b::integer[], "
    "%b::double precision[], %b::text[], %b::text[]) "
    "ON CONFLICT DO NOTHING RETURNING key, id"
)


class PostgresBackend(SqlBackend):
    """Connections to one PostgreSQL database."""

    dialect = "postgresql"
    # Notifications wake streams at once; the poll is only a safety net.
    poll_interval = 0.5
    notify_sql = f"SELECT pg_notify('{CHANNEL}', %s)"

    def __init__(self, dsn: str, *, readers: int = 4) -> None:
        self.dsn, self.reconnect_seconds = _own_options(dsn)
        self.where = _without_password(self.dsn)
        self._readers = readers
        self._pool: psycopg_pool.ConnectionPool[Any] | None = None
        self._listener: threading.Thread | None = None
        self._listening: psycopg.Connection[Any] | None = None
        self._closing = threading.Event()

    def open(self) -> None:
        try:
            with psycopg.connect(self.dsn, connect_timeout=10) as connection:
                self._migrate(connection)
        except SchemaTooNewError as exc:
            raise StoreOpenError(f"cannot open the execution store {self.where}: {exc}") from exc
        except psycopg.Error as exc:
            raise StoreOpenError(
                f"cannot open the execution store {self.where}: {_first_line(exc)}"
            ) from exc
        self._pool = psycopg_pool.ConnectionPool(
            self.dsn,
            min_size=1,
            max_size=self._readers,
            kwargs={"autocommit": True},
            # A read waits this long for a connection (the database may be restarting)
            # before failing with STORE_UNAVAILABLE.
            timeout=5.0,
            open=True,
            name="ophost-readers",
        )

    def _migrate(self, connection: psycopg.Connection[Any]) -> None:
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            migrate(connection.execute, "postgresql", "%s")

    def connect(self) -> psycopg.Connection[Any]:
        connection = psycopg.connect(self.dsn, connect_timeout=10, autocommit=True)
        limit = self.stalled_transaction_seconds
        if limit is not None:
            # For the session: a writer stopped mid-transaction loses it (and its locks).
            milliseconds = max(1, round(limit * 1000))
            connection.execute(f"SET idle_in_transaction_session_timeout = {milliseconds}")
        connection.autocommit = False
        return connection

    def begin(self, connection: Any) -> None:
        """psycopg opens a transaction with the first statement; nothing to do."""

    def events_with_update(self, update: str) -> str | None:
        # One statement per append, however many rows: they go in as arrays.
        return (
            "WITH added AS (INSERT INTO events (execution, sequence, count, record) "
            "SELECT %s, r.sequence, r.count, r.record "
            "FROM unnest(%b::bigint[], %b::integer[], %b::bytea[]) AS r(sequence, count, record)) "
            + update
        )

    pipelined = True
    merges_appends = True
    merges_creates = True

    def write_creates(
        self, cursor: Any, rows: list[tuple[Any, ...]]
    ) -> Callable[[], dict[str, int]]:
        columns = [list(column) for column in zip(*rows, strict=True)]
        cursor.execute(_WRITE_CREATES, columns)
        return lambda: {execution_id: int(key) for key, execution_id in cursor.fetchall()}

    def write_appends(self, cursor: Any, appends: list[Append], owner: str) -> Later:
        keys: list[int] = []
        sequences: list[int] = []
        counts: list[int] = []
        records: list[bytes] = []
        for append in appends:
            for sequence, count, record in append.rows:
                keys.append(append.key)
                sequences.append(sequence)
                counts.append(count)
                records.append(record)
        changes = [list(column) for column in zip(*appends, strict=True)]
        del changes[1]  # the rows, sent above
        cursor.execute(_WRITE_APPENDS, (keys, sequences, counts, records, *changes, owner))
        expected = len(appends)

        def settle() -> None:
            if cursor.rowcount != expected:
                raise StoreError("an execution of a group of writes is no longer this process's")

        return Later(settle)

    def batch(self, connection: Any) -> contextlib.AbstractContextManager[object]:
        """Pipeline mode: a group's statements go out without waiting for each answer
        (one round trip where there were several per write); leaving it waits for all."""
        pipeline: contextlib.AbstractContextManager[object] = connection.pipeline()
        return pipeline

    def read(self, work: Callable[[Any], T]) -> T:
        pool = self._pool
        if pool is None:
            raise StoreError(f"the execution store {self.where} is not open")
        for tries_left in range(self._readers, -1, -1):
            connection: psycopg.Connection[Any] | None = None
            try:
                with pool.connection() as connection, connection.cursor() as cursor:
                    return work(cursor)
            except psycopg.OperationalError:
                # A connection that broke (the server restarted) leaves the pool when it
                # comes back; the next one may be sound.
                if tries_left == 0 or connection is None or not connection.broken:
                    raise
        raise AssertionError("unreachable")

    def sql(self, statement: str) -> str:
        return placeholders(statement)

    def lost(self, exc: BaseException) -> bool:
        # A session ended for sitting in a transaction (stalled_transaction_seconds) too.
        return isinstance(
            exc, (psycopg.OperationalError, psycopg.errors.IdleInTransactionSessionTimeout)
        )

    def error(self, exc: BaseException) -> StoreError:
        if isinstance(exc, StoreError):
            return exc
        if isinstance(exc, (psycopg.errors.DiskFull, psycopg.errors.OutOfMemory)):
            return StoreFullError(
                f"the execution store {self.where} is full ({_first_line(exc)}); what it holds "
                "is kept, new writes are refused until space is freed"
            )
        if isinstance(exc, (psycopg.OperationalError, psycopg_pool.PoolTimeout)):
            return StoreUnavailableError(
                f"the execution store {self.where} cannot be reached: {_first_line(exc)}"
            )
        return StoreError(f"the execution store {self.where} failed: {_first_line(exc)}")

    # -- notifications -----------------------------------------------------------------------

    def listen(self, changed: Callable[[str], None]) -> None:
        """Call ``changed(payload)`` (from a thread) for every notification."""
        self._listener = threading.Thread(
            target=self._listen, args=(changed,), name="ophost-store-listener", daemon=True
        )
        self._listener.start()

    def _listen(self, changed: Callable[[str], None]) -> None:
        delay = 0.1
        while not self._closing.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10) as connection:
                    self._listening = connection
                    connection.execute(f"LISTEN {CHANNEL}")
                    delay = 0.1
                    while not self._closing.is_set():
                        for notice in connection.notifies(timeout=1.0):
                            changed(notice.payload)
            except psycopg.Error as exc:
                if self._closing.is_set():
                    return
                _log.warning("listening to the execution store failed; retrying: %s", exc)
                self._closing.wait(delay)
                delay = min(delay * 2, 5.0)
            finally:
                self._listening = None

    def close(self) -> None:
        self._closing.set()
        if self._listener is not None:
            self._listener.join(timeout=5)
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def _own_options(dsn: str) -> tuple[str, float]:
    """The DSN without ophost's own query options, and ``reconnect_seconds`` (30)."""
    parsed = urllib.parse.urlsplit(dsn)
    query = urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)
    reconnect = 30.0
    kept = []
    for name, value in query:
        if name == "reconnect_seconds":
            try:
                reconnect = float(value)
            except ValueError:
                raise StoreOpenError(
                    f"store URL {_without_password(dsn)!r}: reconnect_seconds must be a number"
                ) from None
        else:
            kept.append((name, value))
    return urllib.parse.urlunsplit(parsed._replace(query=urllib.parse.urlencode(kept))), reconnect


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _without_password(dsn: str) -> str:
    parsed = urllib.parse.urlsplit(dsn)
    if parsed.password is None:
        return dsn
    return urllib.parse.urlunsplit(
        parsed._replace(netloc=parsed.netloc.replace(f":{parsed.password}@", ":***@"))
    )


class PostgresExecutionStore(SqlExecutionStore):
    """Executions in the PostgreSQL database at ``dsn`` (tables made on first open)."""

    def __init__(self, dsn: str, **options: Any) -> None:
        super().__init__(PostgresBackend(dsn), **options)
