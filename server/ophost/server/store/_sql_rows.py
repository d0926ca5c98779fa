"""Rows of the SQL stores: the columns read back, and rows turned into records.

Statements are written with ``?`` placeholders; :func:`placeholders` turns them into
the ``%s`` style of PostgreSQL's driver.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from ophost.server._wire import Record, joined, record_size
from ophost.server.store._interface import ExecutionRecord
from ophost.server.store._schema import ROW_EVENTS
from ophost.v1 import error_pb2, execution_pb2, value_pb2

__all__ = [
    "COLUMNS",
    "Append",
    "UNFINISHED",
    "error_blob",
    "event_rows",
    "outputs_blob",
    "placeholders",
    "record_from_row",
    "tags_text",
]

# The columns of an execution, in the order record_from_row reads them.
COLUMNS = (
    "id, op_name, request_id, fingerprint, tags, state, attempt, last_sequence, outputs, "
    "error, created_at, started_at, finished_at, cancel_requested, principal"
)
# The states of an unfinished execution (PENDING, RUNNING, CANCEL_REQUESTED), for SQL.
UNFINISHED = "(1, 2, 3)"


class Append(NamedTuple):
    """What one write of an execution's appends adds and changes (written with others by
    a backend's ``write_appends``): its rows of events and the new values of its row."""

    key: int
    rows: list[tuple[int, int, bytes]]  # (first sequence, count, records): see event_rows
    last_sequence: int
    attempt: int
    added_bytes: int  # added to the execution's bytes
    outputs: bytes | None  # None: unchanged
    error: bytes | None  # None: unchanged
    started_at: float | None  # kept if already set
    finished_at: float | None  # None: unchanged
    finished: int | None  # the state it finished in, or None
    running: int  # 1: a PENDING execution becomes RUNNING


def placeholders(sql: str) -> str:
    """``?`` placeholders as ``%s`` (no statement here has a literal ``?`` or ``%``)."""
    return sql.replace("?", "%s")


def record_from_row(row: Sequence[Any]) -> ExecutionRecord:
    (
        execution_id,
        op_name,
        request_id,
        fingerprint,
        tags,
        state,
        attempt,
        last_sequence,
        outputs,
        error,
        created_at,
        started_at,
        finished_at,
        cancel_requested,
        principal,
    ) = row
    return ExecutionRecord(
        id=execution_id,
        op_name=op_name,
        request_id=request_id or "",
        fingerprint=bytes(fingerprint),
        tags=json.loads(tags),
        state=state,
        attempt=attempt,
        last_sequence=last_sequence,
        outputs=tuple(execution_pb2.Execution.FromString(bytes(outputs)).outputs)
        if outputs
        else (),
        error=error_pb2.ErrorData.FromString(bytes(error)) if error else None,
        created_at=created_at,
        started_at=started_at,
        finished_at=finished_at,
        cancel_requested=bool(cancel_requested),
        principal=principal or "",
    )


def outputs_blob(outputs: Sequence[value_pb2.NamedValue]) -> bytes:
    return execution_pb2.Execution(outputs=outputs).SerializeToString()


def error_blob(error: error_pb2.ErrorData | None) -> bytes | None:
    return error.SerializeToString() if error is not None else None


def tags_text(tags: Any) -> str:
    if not tags:
        return "{}"
    return json.dumps(dict(tags), sort_keys=True, separators=(",", ":"))


# A row of ``events`` is cut before it grows past this many bytes (a larger record
# gets a row of its own).
_ROW_BYTES = 256 << 10


def event_rows(first: int, records: Sequence[Record]) -> list[tuple[int, int, bytes]]:
    """The rows of ``events`` that hold ``records`` (the first one numbered ``first + 1``):
    (sequence of the row's first record, how many records, the records concatenated),
    at most :data:`ROW_EVENTS` records in a row."""
    rows: list[tuple[int, int, bytes]] = []
    start = size = 0
    for index, record in enumerate(records):
        if index > start and (index - start == ROW_EVENTS or size > _ROW_BYTES):
            rows.append((first + 1 + start, index - start, joined(records[start:index])))
            start, size = index, 0
        size += record_size(record)
    if start < len(records):
        rows.append((first + 1 + start, len(records) - start, joined(records[start:])))
    return rows
