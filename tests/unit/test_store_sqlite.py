"""The SQLite store: the shared store contract, plus what only a durable store does."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ophost.server._wire import split_records
from ophost.server.store import ExecutionStore, ExecutionUpdate
from ophost.server.store._sqlite import SqliteExecutionStore

from .store_contract import (
    DONE,
    SUCCEEDED,
    StoreContract,
    check_appends_of_many_executions_written_together,
    check_creates_of_many_executions_written_together,
    check_events_read_back_in_any_slice,
    drain,
    finished,
    log,
    new,
)


class TestSqliteStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self.folder = tmp_path

    def make_store(
        self,
        *,
        retention_seconds: float = 600.0,
        max_retained: int = 1000,
        max_retained_bytes: int | None = None,
        clock: Callable[[], float] | None = None,
    ) -> ExecutionStore:
        return SqliteExecutionStore(
            self.folder / "store.db",
            retention_seconds=retention_seconds,
            max_retained=max_retained,
            max_retained_bytes=max_retained_bytes,
            clock=clock or time.time,
        )


# -- how appends reach the file ----------------------------------------------------------------


def _events_in_file(path: Path) -> int:
    reader = sqlite3.connect(path)
    try:
        # A row holds ``count`` events.
        return int(reader.execute("SELECT COALESCE(SUM(count), 0) FROM events").fetchone()[0])
    finally:
        reader.close()


def _note_calls(owner: Any, name: str, seen: list[tuple[str, str]]) -> None:
    """From now on, note every call of ``owner.name`` in ``seen``: (name, its thread)."""
    method = getattr(owner, name)

    def noted(*args: Any) -> Any:
        seen.append((name, threading.current_thread().name))
        return method(*args)

    setattr(owner, name, noted)


def _count_writes(store: SqliteExecutionStore) -> list[tuple[str, str]]:
    """Every job handed to the store's writer: (how, the thread it was handed on)."""
    writer = store._writer
    assert writer is not None
    seen: list[tuple[str, str]] = []
    _note_calls(writer, "submit", seen)
    _note_calls(writer, "commit", seen)
    return seen


async def test_a_short_executions_events_are_written_together_with_its_end(
    tmp_path: Path,
) -> None:
    store = SqliteExecutionStore(tmp_path / "store.db")
    await store.open()
    try:
        await store.create(new("e1"))
        writes = _count_writes(store)
        await store.append("e1", [log("one"), log("two")])
        await store.append("e1", [log("three")])
        assert writes == []  # waiting for the end, a moment at most
        await store.append("e1", [finished()], DONE)
        assert writes == [("commit", threading.current_thread().name)]
        assert _events_in_file(tmp_path / "store.db") == 4
        assert [e.sequence for batch in await drain(store, "e1") for e in batch] == [1, 2, 3, 4]
    finally:
        await store.close()


async def test_events_nobody_waits_for_reach_the_file_within_a_moment(tmp_path: Path) -> None:
    store = SqliteExecutionStore(tmp_path / "store.db")
    await store.open()
    try:
        await store.create(new("e1"))
        await store.append("e1", [log("one")])
        for _ in range(200):
            if _events_in_file(tmp_path / "store.db") == 1:
                break
            await asyncio.sleep(0.005)
        assert _events_in_file(tmp_path / "store.db") == 1
        record = await store.get("e1")
        assert record is not None
        assert record.last_sequence == 1
    finally:
        await store.close()


async def test_closing_the_store_writes_the_events_still_waiting(tmp_path: Path) -> None:
    store = SqliteExecutionStore(tmp_path / "store.db")
    await store.open()
    await store.create(new("e1"))
    await store.append("e1", [log("one"), log("two")])
    await store.close()
    assert _events_in_file(tmp_path / "store.db") == 2


async def test_with_many_executions_running_their_ends_go_to_the_writer_thread(
    tmp_path: Path,
) -> None:
    store = SqliteExecutionStore(tmp_path / "store.db")
    await store.open()
    try:
        for n in range(4):
            await store.create(new(f"e{n}"))
        writes = _count_writes(store)
        await asyncio.gather(*(store.append(f"e{n}", [finished()], DONE) for n in range(4)))
        assert [how for how, _ in writes] == ["submit"] * 4
        assert _events_in_file(tmp_path / "store.db") == 4
    finally:
        await store.close()


# -- executions finished a moment ago ----------------------------------------------------------


def _count_reads(store: SqliteExecutionStore) -> list[tuple[str, str]]:
    """Every read that goes to the store's reader threads from now on."""
    seen: list[tuple[str, str]] = []
    _note_calls(store.backend, "read", seen)
    return seen


async def test_a_stream_of_an_execution_just_finished_here_reads_memory_not_the_file(
    tmp_path: Path,
) -> None:
    store = SqliteExecutionStore(tmp_path / "store.db")
    await store.open()
    try:
        await store.create(new("e1"))
        await store.append("e1", [log("one"), log("two")])
        await store.append("e1", [finished()], DONE)
        reads = _count_reads(store)
        events = [e for batch in await drain(store, "e1") for e in batch]
        record = await store.get("e1")
        assert reads == []
        assert [e.sequence for e in events] == [1, 2, 3]
        assert record is not None
        assert record.finished
        assert record.last_sequence == 3
        # A moment later the file answers, with the same records.
        store._recent.seconds = 0.0
        await asyncio.sleep(0.01)
        again = [e for batch in await drain(store, "e1") for e in batch]
        assert reads != []
        assert again == events
    finally:
        await store.close()


async def test_an_execution_retention_deletes_is_not_served_from_memory(tmp_path: Path) -> None:
    now = [1_000.0]
    store = SqliteExecutionStore(tmp_path / "store.db", retention_seconds=10, clock=lambda: now[0])
    await store.open()
    try:
        await store.create(new("e1"))
        await store.append("e1", [finished()], ExecutionUpdate(finished=SUCCEEDED, at=now[0]))
        assert await store.get("e1") is not None
        now[0] += 100
        assert await store.sweep() == 1
        assert await store.get("e1") is None
        assert await drain(store, "e1") == []
    finally:
        await store.close()


# -- rows of events ----------------------------------------------------------------------------


async def test_many_executions_started_at_once_each_get_their_answer(tmp_path: Path) -> None:
    store = SqliteExecutionStore(tmp_path / "store.db")
    await store.open()
    try:
        await check_creates_of_many_executions_written_together(store)
    finally:
        await store.close()


async def test_appends_of_many_executions_are_written_a_group_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    writer = SqliteExecutionStore(path)
    reader = SqliteExecutionStore(path)
    await writer.open()
    await reader.open()

    def take_over(execution_id: str) -> None:
        connection = sqlite3.connect(path, isolation_level=None)
        try:
            connection.execute(
                "UPDATE executions SET owner = 'another' WHERE id = ?", (execution_id,)
            )
        finally:
            connection.close()

    try:
        await check_appends_of_many_executions_written_together(writer, reader, take_over)
    finally:
        await writer.close()
        await reader.close()


async def test_events_in_rows_of_many_read_back_from_any_point(tmp_path: Path) -> None:
    writer = SqliteExecutionStore(tmp_path / "store.db")
    reader = SqliteExecutionStore(tmp_path / "store.db")
    await writer.open()
    await reader.open()
    try:
        await check_events_read_back_in_any_slice(writer, reader)
        connection = sqlite3.connect(tmp_path / "store.db")
        try:
            counts = [
                c for (c,) in connection.execute("SELECT count FROM events ORDER BY sequence")
            ]
        finally:
            connection.close()
        # The appends a moment apart went out as one row; those further apart, a row each.
        assert counts[:3] == [256, 256, 93]
        assert len(counts) > 3
    finally:
        await reader.close()
        await writer.close()


async def test_a_store_of_schema_version_1_is_migrated_and_its_events_read(
    tmp_path: Path,
) -> None:
    """A file written before events shared rows: one event a row, no count column."""
    from ophost.server.store._schema import _SQLITE_1

    path = tmp_path / "old.db"
    # What version 1 wrote for an execution with two events (made by today's store, then
    # copied into version 1's tables row by row).
    today = SqliteExecutionStore(tmp_path / "today.db")
    await today.open()
    await today.create(new("e1"))
    await today.append("e1", [log("one")])
    await today.append("e1", [finished()], DONE)
    expected = await drain(today, "e1")
    await today.close()
    source = sqlite3.connect(tmp_path / "today.db")
    old = sqlite3.connect(path)
    try:
        old.execute("PRAGMA journal_mode = WAL")
        for statement in _SQLITE_1:
            old.execute(statement)
        old.execute("CREATE TABLE ophost_schema (version INTEGER NOT NULL)")
        old.execute("INSERT INTO ophost_schema (version) VALUES (1)")
        (columns,) = [[c[1] for c in source.execute("PRAGMA table_info(executions)")]]
        for row in source.execute(f"SELECT {', '.join(columns)} FROM executions"):
            old.execute(
                f"INSERT INTO executions ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})",
                row,
            )
        for key, sequence, count, record in source.execute(
            "SELECT execution, sequence, count, record FROM events"
        ):
            assert count == 2
            for n, one in enumerate(split_records(record, count)):
                old.execute(
                    "INSERT INTO events (execution, sequence, record) VALUES (?, ?, ?)",
                    (key, sequence + n, one),
                )
        old.commit()
    finally:
        source.close()
        old.close()
    store = SqliteExecutionStore(path)
    await store.open()
    try:
        assert await drain(store, "e1") == expected
        assert await drain(store, "e1", 1) == [expected[0][1:]]
        await store.create(new("e2"))
        await store.append("e2", [log("new"), finished()], DONE)
        store._recent.clear()
        assert [e.sequence for b in await drain(store, "e2") for e in b] == [1, 2]
    finally:
        await store.close()
    check = sqlite3.connect(path)
    try:
        assert check.execute("SELECT version FROM ophost_schema").fetchone() == (2,)
    finally:
        check.close()
