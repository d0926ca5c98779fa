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

from ophost.server.store import ExecutionStore, ExecutionUpdate
from ophost.server.store._sqlite import SqliteExecutionStore

from .store_contract import DONE, SUCCEEDED, StoreContract, drain, finished, log, new


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
        return int(reader.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        reader.close()


def _count_writes(store: SqliteExecutionStore) -> list[tuple[str, str]]:
    """Every job handed to the store's writer: (how, the thread it was handed on)."""
    writer = store._writer
    assert writer is not None
    seen: list[tuple[str, str]] = []
    submit, commit = writer.submit, writer.commit

    def counted_submit(job: Any) -> None:
        seen.append(("submit", threading.current_thread().name))
        submit(job)

    def counted_commit(job: Any) -> None:
        seen.append(("commit", threading.current_thread().name))
        commit(job)

    writer.submit = counted_submit  # type: ignore[method-assign]
    writer.commit = counted_commit  # type: ignore[method-assign]
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


def _count_reads(store: SqliteExecutionStore) -> list[int]:
    """How many reads go to the store's reader threads from now on (one item each)."""
    reads: list[int] = []
    read = store.backend.read

    def counted(work: Any) -> Any:
        reads.append(1)
        return read(work)

    store.backend.read = counted  # type: ignore[method-assign]
    return reads


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
