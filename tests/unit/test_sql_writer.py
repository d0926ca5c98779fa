"""The SQL stores' writer: group commits in its thread, and waited-for writes made at once
on the loop when it is idle (SQLite), in order, with checkpoints left to the thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from ophost.server.store import _sql_writer
from ophost.server.store._sql_writer import Job, Writer
from ophost.server.store._sqlite import SqliteBackend


class _Fixture:
    """A writer as the SQLite store makes it (its backend's connection, begin, begin_now
    and checkpoint), on a table of its own."""

    def __init__(self, path: Path, loop: asyncio.AbstractEventLoop, *, now: bool = True) -> None:
        self.path = path
        self.checkpoints = 0
        backend = SqliteBackend(path)
        backend.open()
        setup = sqlite3.connect(path, isolation_level=None)
        setup.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, thread TEXT)")
        setup.close()
        self.writer = Writer(
            backend.connect,
            backend.begin,
            loop,
            begin_now=backend.begin_now if now else None,
            checkpoint=self._checkpoint if now else None,
        )
        self._backend = backend

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        self._backend.checkpoint(connection)
        self.checkpoints += 1

    def rows(self) -> list[tuple[int, str]]:
        reader = sqlite3.connect(self.path)
        try:
            return list(reader.execute("SELECT n, thread FROM t ORDER BY rowid"))
        finally:
            reader.close()


def _insert(n: int) -> Any:
    def run(cursor: Any) -> int:
        cursor.execute("INSERT INTO t VALUES (?, ?)", (n, threading.current_thread().name))
        return n

    return run


def _job(n: int, done: list[int], errors: list[BaseException] | None = None) -> Job:
    def finished(result: Any, error: BaseException | None) -> None:
        if error is not None:
            assert errors is not None, error
            errors.append(error)
        else:
            done.append(result)

    return Job(_insert(n), finished, size=10)


@pytest.fixture
def fixture(tmp_path: Path) -> Any:
    async def make(now: bool = True) -> _Fixture:
        made = _Fixture(tmp_path / "w.db", asyncio.get_running_loop(), now=now)
        await asyncio.to_thread(made.writer.start)
        return made

    return make


async def test_a_waited_for_write_on_an_idle_writer_is_committed_at_once_on_the_loop(
    fixture: Any,
) -> None:
    f = await fixture()
    future = f.writer.future(_insert(1), now=True)
    assert future.done(), "committed before future() returned"
    assert future.result() == 1
    assert f.rows() == [(1, threading.current_thread().name)]
    f.writer.stop()


async def test_without_begin_now_every_write_goes_to_the_thread(fixture: Any) -> None:
    f = await fixture(now=False)
    assert await f.writer.future(_insert(1), now=True) == 1
    assert f.rows() == [(1, "ophost-store-writer")]
    f.writer.stop()


async def test_a_waited_for_write_goes_after_the_writes_queued_before_it(fixture: Any) -> None:
    f = await fixture()
    done: list[int] = []
    for n in range(1, 6):
        f.writer.submit(_job(n, done))
    assert await f.writer.future(_insert(6), now=True) == 6
    rows = f.rows()
    assert [n for n, _ in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[-1][1] == "ophost-store-writer"  # the thread was busy: it wrote the last too
    assert done == [1, 2, 3, 4, 5]
    f.writer.stop()


async def test_a_write_lock_held_elsewhere_sends_the_write_to_the_thread(fixture: Any) -> None:
    f = await fixture()
    other = sqlite3.connect(f.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    future = f.writer.future(_insert(1), now=True)
    await asyncio.sleep(0.05)
    assert not future.done()  # waiting in the thread for the lock, the loop free
    other.execute("COMMIT")
    other.close()
    assert await future == 1
    assert f.rows() == [(1, "ophost-store-writer")]
    f.writer.stop()


async def test_a_write_that_fails_on_the_loop_fails_alone_in_the_thread(fixture: Any) -> None:
    f = await fixture()
    done: list[int] = []
    errors: list[BaseException] = []
    await f.writer.future(_insert(1), now=True)
    f.writer.commit(_job(1, done, errors))  # a duplicate key
    f.writer.submit(_job(2, done))
    for _ in range(200):
        if errors:
            break
        await asyncio.sleep(0.005)
    assert done == [2]
    assert len(errors) == 1
    assert "UNIQUE" in str(errors[0])
    assert [n for n, _ in f.rows()] == [1, 2]
    f.writer.stop()


async def test_a_single_statement_on_the_loop_is_its_own_transaction(fixture: Any) -> None:
    f = await fixture()
    statements: list[str] = []
    connection = f.writer._connection
    connection.set_trace_callback(statements.append)
    future = f.writer.future(_insert(1), now=True, single=True)
    connection.set_trace_callback(None)
    assert future.done()
    assert future.result() == 1
    assert f.rows() == [(1, threading.current_thread().name)]
    assert [s.split()[0] for s in statements] == ["INSERT"]  # no BEGIN, no COMMIT
    f.writer.stop()


async def test_a_single_statement_the_lock_refuses_is_written_once_by_the_thread(
    fixture: Any,
) -> None:
    f = await fixture()
    other = sqlite3.connect(f.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    future = f.writer.future(_insert(1), now=True, single=True)
    await asyncio.sleep(0.05)
    assert not future.done()
    other.execute("COMMIT")
    other.close()
    assert await future == 1
    assert f.rows() == [(1, "ophost-store-writer")]
    f.writer.stop()


async def test_the_thread_checkpoints_after_so_many_commits(
    fixture: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sql_writer, "_CHECKPOINT_COMMITS", 10)
    f = await fixture()
    for n in range(25):
        await f.writer.future(_insert(n), now=True)
        await asyncio.sleep(0)
    for _ in range(200):
        if f.checkpoints >= 2:
            break
        await asyncio.sleep(0.005)
    assert f.checkpoints == 2
    f.writer.stop()


class _Merging:
    """A writer whose ``merge`` inserts several jobs' numbers in one statement, and a first
    job that holds the thread until released, so that what is queued meanwhile is one
    group."""

    def __init__(self, f: _Fixture, loop: asyncio.AbstractEventLoop, *, fails: bool) -> None:
        self.calls: list[list[int]] = []
        self.fails = fails
        self.release = threading.Event()
        backend = SqliteBackend(f.path)
        self.writer = Writer(backend.connect, backend.begin, loop, merge=self._merge)

    def _merge(self, cursor: Any, numbers: list[int]) -> list[Any]:
        self.calls.append(numbers)
        if self.fails:
            raise sqlite3.OperationalError("the merged statement failed")
        cursor.execute(
            "INSERT INTO t VALUES " + ", ".join(["(?, 'merged')"] * len(numbers)), numbers
        )
        return [-n for n in numbers]

    async def group(self, jobs: list[tuple[int, str | None]]) -> dict[int, Any]:
        """Write ``jobs`` (number, merge name) as one group; their results by number."""
        await asyncio.to_thread(self.writer.start)

        def hold(cursor: Any) -> int:
            self.release.wait(5)
            cursor.execute("INSERT INTO t VALUES (0, 'first')")
            return 0

        first = self.writer.future(hold)
        await asyncio.sleep(0.05)  # the thread holds the first job: the rest make one group
        results: dict[int, Any] = {}
        for n, name in jobs:
            self.writer.submit(_merged(n, name, results))
        self.release.set()
        await first
        for _ in range(200):
            if len(results) == len(jobs):
                break
            await asyncio.sleep(0.005)
        self.writer.stop()
        return results


def _merged(n: int, name: str | None, results: dict[int, Any]) -> Job:
    def finished(result: Any, error: BaseException | None) -> None:
        results[n] = error or result

    return Job(_insert(n), finished, merge=None if name is None else (name, n))


async def test_neighbouring_jobs_with_merge_data_are_written_in_one_call(fixture: Any) -> None:
    f = await fixture(now=False)
    f.writer.stop()
    m = _Merging(f, asyncio.get_running_loop(), fails=False)
    # A name seen again, and a job without merge data, each end a run.
    results = await m.group([(1, "a"), (2, "b"), (3, "a"), (4, None), (5, "e"), (6, "f")])
    assert m.calls == [[1, 2], [5, 6]]
    assert results == {1: -1, 2: -2, 3: 3, 4: 4, 5: -5, 6: -6}
    assert f.rows() == [
        (0, "first"),
        (1, "merged"),
        (2, "merged"),
        (3, "ophost-store-writer"),
        (4, "ophost-store-writer"),
        (5, "merged"),
        (6, "merged"),
    ]


async def test_a_merge_that_fails_has_the_group_written_job_by_job(fixture: Any) -> None:
    f = await fixture(now=False)
    f.writer.stop()
    m = _Merging(f, asyncio.get_running_loop(), fails=True)
    results = await m.group([(1, "a"), (2, "b"), (3, "c")])
    assert m.calls == [[1, 2, 3]]
    assert results == {1: 1, 2: 2, 3: 3}
    assert [n for n, _ in f.rows()] == [0, 1, 2, 3]
