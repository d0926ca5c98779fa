"""The tables of the SQL stores and their versions, applied in order at open.

A store's schema version lives in the table ``ophost_schema`` (one row). Opening a
store applies the migrations it lacks, in one transaction, and refuses a store whose
version is newer than this ophost knows: a newer ophost may have changed what the rows
mean. Each migration is a list of statements per dialect (``sqlite``, ``postgresql``).

Tables:

- ``hosts``: the host processes using the store, each with the time its lease ends.
- ``executions``: one row per execution (``key`` is the compact integer the events
  refer to). ``start`` is the start request, kept so that another process can run it
  again; ``outputs`` the serialized outputs (an ``Execution`` message with only its
  outputs set); ``error`` a serialized ``ErrorData``; ``bytes`` the size of its events.
- ``events``: every event record, in order, by execution key and sequence. Since
  version 2 a row holds ``count`` consecutive records (at most :data:`ROW_EVENTS`),
  the first numbered ``sequence``, their bytes concatenated in ``record``: an append's
  events take a row per batch rather than one each. Rows written before hold one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["LATEST", "MIGRATIONS", "ROW_EVENTS", "SchemaTooNewError", "migrate"]

#: At most this many records share a row of ``events``: a reader looking for the
#: records after sequence N starts at the rows numbered after N - ROW_EVENTS.
ROW_EVENTS = 256


class SchemaTooNewError(Exception):
    """The store was written by a newer ophost."""

    def __init__(self, found: int) -> None:
        super().__init__(
            f"its schema version is {found}, newer than the {LATEST} this ophost knows; "
            "upgrade ophost, or use another store"
        )
        self.found = found


_SQLITE_1 = (
    """CREATE TABLE hosts (
        id TEXT PRIMARY KEY,
        hostname TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at REAL NOT NULL,
        lease_until REAL NOT NULL
    )""",
    """CREATE TABLE executions (
        key INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        op_name TEXT NOT NULL,
        op_version TEXT NOT NULL DEFAULT '',
        request_id TEXT UNIQUE,
        fingerprint BLOB NOT NULL,
        tags TEXT NOT NULL,
        start BLOB NOT NULL,
        principal TEXT NOT NULL DEFAULT '',
        state INTEGER NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 0,
        last_sequence INTEGER NOT NULL DEFAULT 0,
        outputs BLOB,
        error BLOB,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        owner TEXT NOT NULL,
        bytes INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX executions_by_creation ON executions (created_at, id)",
    "CREATE INDEX executions_by_op ON executions (op_name, created_at)",
    "CREATE INDEX executions_unfinished ON executions (owner) WHERE state IN (1, 2, 3)",
    "CREATE INDEX executions_by_finish ON executions (finished_at) WHERE finished_at IS NOT NULL",
    """CREATE TABLE events (
        execution INTEGER NOT NULL,
        sequence INTEGER NOT NULL,
        record BLOB NOT NULL,
        PRIMARY KEY (execution, sequence)
    )""",
)

_POSTGRESQL_1 = (
    """CREATE TABLE hosts (
        id TEXT PRIMARY KEY,
        hostname TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        lease_until DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE executions (
        key BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        op_name TEXT NOT NULL,
        op_version TEXT NOT NULL DEFAULT '',
        request_id TEXT UNIQUE,
        fingerprint BYTEA NOT NULL,
        tags TEXT NOT NULL,
        start BYTEA NOT NULL,
        principal TEXT NOT NULL DEFAULT '',
        state INTEGER NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 0,
        last_sequence BIGINT NOT NULL DEFAULT 0,
        outputs BYTEA,
        error BYTEA,
        created_at DOUBLE PRECISION NOT NULL,
        started_at DOUBLE PRECISION,
        finished_at DOUBLE PRECISION,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        owner TEXT NOT NULL,
        bytes BIGINT NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX executions_by_creation ON executions (created_at, id)",
    "CREATE INDEX executions_by_op ON executions (op_name, created_at)",
    "CREATE INDEX executions_unfinished ON executions (owner) WHERE state IN (1, 2, 3)",
    "CREATE INDEX executions_by_finish ON executions (finished_at) WHERE finished_at IS NOT NULL",
    """CREATE TABLE events (
        execution BIGINT NOT NULL,
        sequence BIGINT NOT NULL,
        record BYTEA NOT NULL,
        PRIMARY KEY (execution, sequence)
    )""",
)

# Version 2: several records in a row of events.
_EVENTS_IN_ROWS = ("ALTER TABLE events ADD COLUMN count INTEGER NOT NULL DEFAULT 1",)

# Version n is MIGRATIONS[n - 1]: the statements that bring version n - 1 to n.
MIGRATIONS: tuple[dict[str, Sequence[str]], ...] = (
    {"sqlite": _SQLITE_1, "postgresql": _POSTGRESQL_1},
    {"sqlite": _EVENTS_IN_ROWS, "postgresql": _EVENTS_IN_ROWS},
)
LATEST = len(MIGRATIONS)


def migrate(execute: Callable[..., Any], dialect: str, placeholder: str) -> None:
    """Bring the store to :data:`LATEST`, inside the caller's transaction.

    ``execute(sql, params=())`` runs one statement and returns its cursor;
    ``placeholder`` is the driver's parameter marker (``?`` or ``%s``).
    """
    execute("CREATE TABLE IF NOT EXISTS ophost_schema (version INTEGER NOT NULL)")
    row = execute("SELECT version FROM ophost_schema").fetchone()
    version = int(row[0]) if row is not None else 0
    if version > LATEST:
        raise SchemaTooNewError(version)
    for step in MIGRATIONS[version:]:
        for statement in step[dialect]:
            execute(statement)
    if row is None:
        execute(f"INSERT INTO ophost_schema (version) VALUES ({placeholder})", (LATEST,))
    elif version != LATEST:
        execute(f"UPDATE ophost_schema SET version = {placeholder}", (LATEST,))
