"""The SQLite execution store: one file, shared by the processes of one machine.

The file is opened in WAL mode (readers never wait for the writer) with
``synchronous=NORMAL``: a commit survives the process being killed, and the last
commits before a power loss may be lost. ``max_bytes`` caps the file's size (through
SQLite's page limit); a write past it fails with :class:`StoreFullError`, as on a full
disk. Processes sharing the file see each other's executions; a stream of an
execution run by another process polls every ``poll_interval`` seconds (50 ms).
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ophost.server.store._interface import (
    StoreError,
    StoreFullError,
    StoreOpenError,
    StoreUnavailableError,
)
from ophost.server.store._schema import SchemaTooNewError, migrate
from ophost.server.store._sql import SqlBackend, SqlExecutionStore
from ophost.server.store._sql_rows import Append

__all__ = ["SqliteBackend", "SqliteExecutionStore"]

T = TypeVar("T")

_BUSY_TIMEOUT_MS = 30_000
_MMAP_BYTES = 1 << 30
# SQLite's result codes (the sqlite3 module names them only from Python 3.11).
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_FULL = 13


class SqliteBackend(SqlBackend):
    """Connections to one SQLite file."""

    dialect = "sqlite"
    writes_on_loop = True
    # Merged appends update with UPDATE ... FROM, which SQLite has since 3.33.
    merges_appends = sqlite3.sqlite_version_info >= (3, 33, 0)

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int | None = None) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        self.max_bytes = max_bytes
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    # -- connections -------------------------------------------------------------------------

    def _connection(self, *, read_only: bool = False) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path,
            isolation_level=None,
            check_same_thread=False,
            timeout=30.0,
            # Room for the merged writes' statements of every size beside the others.
            cached_statements=2 * _MERGED_ROWS + 128,
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA synchronous = NORMAL")
            # Pages are read through a memory map: cheaper when another process's commits
            # make this connection re-read what changed.
            connection.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")
            if read_only:
                connection.execute("PRAGMA query_only = 1")
            elif self.max_bytes is not None:
                (page_size,) = connection.execute("PRAGMA page_size").fetchone()
                pages = max(1, self.max_bytes // page_size)
                connection.execute(f"PRAGMA max_page_count = {pages}")
        except BaseException:
            connection.close()
            raise
        return connection

    def write_appends(self, cursor: Any, appends: list[Append], owner: str) -> None:
        rows = [(append.key, *row) for append in appends for row in append.rows]
        for start in range(0, len(rows), _MERGED_ROWS):
            part = rows[start : start + _MERGED_ROWS]
            cursor.execute(_insert_events(len(part)), [v for row in part for v in row])
        for start in range(0, len(appends), _MERGED_ROWS):
            changes = appends[start : start + _MERGED_ROWS]
            values = [v for append in changes for v in (append.key, *append[2:])]
            cursor.execute(_update_executions(len(changes)), [*values, owner])
            if cursor.rowcount != len(changes):
                raise StoreError("an execution of a group of writes is no longer this process's")

    def open(self) -> None:
        path = self.path
        if path.is_dir():
            raise StoreOpenError(f"cannot open the execution store {path}: it is a directory")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreOpenError(
                f"cannot open the execution store {path}: cannot create its folder: "
                f"{exc.strerror or exc}"
            ) from exc
        if path.exists() and not os.access(path, os.R_OK):
            raise StoreOpenError(f"cannot open the execution store {path}: it is not readable")
        if path.exists() and not os.access(path, os.W_OK):
            raise StoreOpenError(
                f"cannot open the execution store {path}: it is read-only (the host writes "
                "every execution into it)"
            )
        try:
            connection = self._connection()
        except sqlite3.Error as exc:
            raise StoreOpenError(f"cannot open the execution store {path}: {exc}") from exc
        try:
            mode = _with_lock_retries(
                lambda: connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            )
            if str(mode).lower() != "wal":
                raise StoreOpenError(
                    f"cannot open the execution store {path}: its file system does not "
                    f"allow SQLite's WAL mode (got {mode!r})"
                )
            self._migrate(connection)
        except SchemaTooNewError as exc:
            raise StoreOpenError(f"cannot open the execution store {path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreOpenError(
                f"cannot open the execution store {path}: {_explain(exc)}"
            ) from exc
        finally:
            connection.close()

    def _migrate(self, connection: sqlite3.Connection) -> None:
        self.begin(connection)
        try:
            migrate(connection.execute, "sqlite", "?")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def connect(self) -> sqlite3.Connection:
        connection = self._connection()
        # The writer waits for the write lock itself (see begin), in short steps:
        # SQLite's own busy wait sleeps for milliseconds at a time, which would cap
        # processes sharing the file at a few hundred commits per second.
        connection.execute("PRAGMA busy_timeout = 0")
        # Checkpoints are the writer thread's (``checkpoint``), never a commit's on the loop.
        connection.execute("PRAGMA wal_autocheckpoint = 0")
        return connection

    def begin_now(self, connection: Any) -> bool:
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _busy(exc):
                return False
            raise
        return True

    def checkpoint(self, connection: Any) -> None:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def begin(self, connection: Any) -> None:
        """Take the write lock, retrying in steps of tens of microseconds while another
        process holds it (for up to 30 s)."""
        delay = 0.00002
        deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
                if time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.001)
                continue
            return

    def read(self, work: Callable[[Any], T]) -> T:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connection(read_only=True)
            self._local.connection = connection
            with self._lock:
                self._readers.append(connection)
        cursor = connection.cursor()
        try:
            return work(cursor)
        finally:
            cursor.close()

    def sql(self, statement: str) -> str:
        return statement

    def error(self, exc: BaseException) -> StoreError:
        if isinstance(exc, StoreError):
            return exc
        if isinstance(exc, sqlite3.Error):
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary result code
            if code == _SQLITE_FULL or "database or disk is full" in str(exc):
                return StoreFullError(
                    f"the execution store {self.path} is full ({exc}); what it holds is kept, "
                    "new writes are refused until space is freed"
                )
            if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
                return StoreUnavailableError(f"the execution store {self.path} is busy: {exc}")
            return StoreError(f"the execution store {self.path} failed: {_explain(exc)}")
        return StoreError(f"the execution store {self.path} failed: {exc}")

    def close(self) -> None:
        with self._lock:
            readers, self._readers = self._readers, []
        for connection in readers:
            connection.close()


def _busy(exc: sqlite3.OperationalError) -> bool:
    """Whether ``exc`` says another connection holds the lock (worth trying again)."""
    code = getattr(exc, "sqlite_errorcode", _SQLITE_BUSY) & 0xFF
    return code == _SQLITE_BUSY or "locked" in str(exc)


def _with_lock_retries(work: Callable[[], T]) -> T:
    """Run ``work``, again while the file is locked by another process (up to 30 s).

    Switching a new file to WAL needs it alone, and SQLite does not wait for that
    itself: processes opening a new file together (``--workers``) would fail.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    delay = 0.001
    while True:
        try:
            return work()
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def _explain(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return f"{text} (the file is not an ophost store, or it is corrupt)"
    if "readonly" in text:
        return f"{text} (the file or its folder is read-only)"
    return text


class SqliteExecutionStore(SqlExecutionStore):
    """Executions in the SQLite file at ``path`` (created with its folder if missing)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(SqliteBackend(path, max_bytes=max_bytes), **options)


# At most this many rows in one merged statement (SQLite takes at most 32,766 parameters).
_MERGED_ROWS = 256


@functools.lru_cache(maxsize=_MERGED_ROWS)
def _insert_events(rows: int) -> str:
    """``rows`` rows of ``events`` in one statement (four parameters a row)."""
    return "INSERT INTO events (execution, sequence, count, record) VALUES " + ", ".join(
        ["(?, ?, ?, ?)"] * rows
    )


@functools.lru_cache(maxsize=_MERGED_ROWS)
def _update_executions(rows: int) -> str:
    """The changes of ``rows`` executions' appends in one statement: ten parameters an
    execution (its key, then :class:`Append`'s fields after its rows), then the owner. The
    same changes as the store's update of one execution."""
    return (
        "UPDATE executions SET last_sequence = v.column2, attempt = v.column3, "
        "bytes = bytes + v.column4, outputs = COALESCE(v.column5, outputs), "
        "error = COALESCE(v.column6, error), started_at = COALESCE(started_at, v.column7), "
        "finished_at = COALESCE(v.column8, finished_at), "
        "state = CASE WHEN v.column9 IS NOT NULL THEN v.column9 "
        "WHEN state = 1 AND v.column10 = 1 THEN 2 ELSE state END FROM (VALUES "
        + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
        + ") AS v WHERE executions.key = v.column1 AND executions.owner = ?"
    )
