"""The contract every ExecutionStore passes, as a base class of tests.

A store's test module subclasses :class:`StoreContract` and implements ``make_store``;
pytest then runs every test below against that store. The events appended are real
event tails from the host's wire layer, so what a stream reads back parses as
``ophost.v1.Event`` messages.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ophost.definitions import ExecutionFinished, ExecutionStatus, LogLevel, LogMessage
from ophost.execution import EngineEvent
from ophost.server._wire import EventWriter, Record, stream_events_response
from ophost.server.store import (
    ExecutionQuery,
    ExecutionStore,
    ExecutionUpdate,
    NewExecution,
    PageKey,
    RequestIdConflictError,
)
from ophost.v1 import event_pb2, execution_pb2, op_host_service_pb2, value_pb2

PENDING = execution_pb2.EXECUTION_STATE_PENDING
RUNNING = execution_pb2.EXECUTION_STATE_RUNNING
CANCEL_REQUESTED = execution_pb2.EXECUTION_STATE_CANCEL_REQUESTED
SUCCEEDED = execution_pb2.EXECUTION_STATE_SUCCEEDED
FAILED = execution_pb2.EXECUTION_STATE_FAILED

_WRITER = EventWriter("op")


def new(execution_id: str, *, request_id: str = "", fingerprint: bytes = b"", created: float = 0.0,
        op_name: str = "op", principal: str = "") -> NewExecution:  # fmt: skip
    return NewExecution(
        execution_id=execution_id,
        op_name=op_name,
        request_id=request_id,
        fingerprint=fingerprint,
        tags={"team": "data"},
        created_at=created or 1_700_000_000.0,
        principal=principal,
    )


def log(text: str, attempt: int = 0) -> bytes:
    """The tail of a log event saying ``text``."""
    return _WRITER.tail(EngineEvent(attempt, 1_700_000_000.5, LogMessage(LogLevel.INFO, text)))


def finished() -> bytes:
    body = ExecutionFinished(ExecutionStatus.SUCCEEDED)
    return _WRITER.tail(EngineEvent(0, 1_700_000_001.0, body))


DONE = ExecutionUpdate(finished=SUCCEEDED, at=1_700_000_001.0)


def parse(records: list[Record]) -> list[event_pb2.Event]:
    """Records read back from a store, as the messages a client receives."""
    batch = op_host_service_pb2.StreamEventsResponse.FromString(stream_events_response(records))
    return list(batch.events)


async def drain(store: ExecutionStore, execution_id: str, after: int = 0, **limits: int) -> list[
    list[event_pb2.Event]
]:  # fmt: skip
    batches = []
    async for records in store.follow(
        execution_id,
        after,
        max_batch_bytes=limits.get("max_batch_bytes", 1 << 20),
        max_batch_events=limits.get("max_batch_events", 10_000),
    ):
        batches.append(parse(records))
    return batches


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``check()`` holds (stores may commit in the background)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.005)


async def check_events_read_back_in_any_slice(
    writer: ExecutionStore, reader: ExecutionStore
) -> None:
    """Events ``writer`` wrote in rows of many (one append of 600, then single ones) read
    back through ``reader`` (another process on the same database: it reads the rows),
    from any point, in batches of any size, each event once and in order."""
    await writer.create(new("e1"))
    await writer.append("e1", [log(f"bulk {n}") for n in range(600)])
    for n in range(4):
        await writer.append("e1", [log(f"single {n}")])
    for n in range(40):
        await writer.append("e1", [log(f"alone {n}")])
        await asyncio.sleep(0.004)  # past the moment appends wait for more: a row each
    await writer.append("e1", [finished()], DONE)
    total = 645
    for after in (0, 1, 255, 256, 257, 300, 511, 512, 599, 600, 603, 605, 620, 644, 645):
        for most in (7, 1000):
            batches = await drain(reader, "e1", after, max_batch_events=most)
            assert [e.sequence for b in batches for e in b] == list(range(after + 1, total + 1))
            assert all(0 < len(b) <= most for b in batches)
    texts = [e.log.message for b in await drain(reader, "e1", 254) for e in b]
    assert texts[:3] == ["bulk 254", "bulk 255", "bulk 256"]
    assert texts[-2:] == ["alone 39", ""]
    small = await drain(reader, "e1", 250, max_batch_bytes=200)
    assert [e.sequence for b in small for e in b] == list(range(251, total + 1))
    assert max(len(b) for b in small) < 5


async def check_appends_of_many_executions_written_together(
    writer: ExecutionStore, reader: ExecutionStore, take_over: Callable[[str], None]
) -> None:
    """Many executions ending at once: ``writer`` writes their appends a group at a time,
    several in a statement or two (``write_appends``), and ``reader`` (another process on
    the same database) reads each back whole. One of them, ``take_over`` gave to another
    process just before, fails alone: the group is then written one by one."""
    backend: Any = writer.backend  # type: ignore[attr-defined]
    merged: list[int] = []
    write_appends = backend.write_appends

    def noting(cursor: Any, appends: list[Any], owner: str) -> Any:
        merged.append(len(appends))
        return write_appends(cursor, appends, owner)

    backend.write_appends = noting
    ids = [f"m{n}" for n in range(40)]
    for execution_id in ids:
        await writer.create(new(execution_id))
    started = ExecutionUpdate(running=True, at=1_700_000_000.6)
    for execution_id in ids:
        await writer.append(execution_id, [log(f"{execution_id} started")], started)
    for execution_id in ids:  # each running, and its first event written
        for _ in range(500):
            record = await reader.get(execution_id)
            if record is not None and record.last_sequence == 1:
                break
            await asyncio.sleep(0.01)
    take_over("m7")

    async def end(execution_id: str) -> None:
        lines = [log(f"{execution_id} line {n}") for n in range(3)]
        await writer.append(execution_id, [*lines, finished()], DONE)

    outcomes = await asyncio.gather(*(end(i) for i in ids), return_exceptions=True)
    if backend.merges_appends:
        assert max(merged, default=0) > 1, "no group had several appends"
    failed = {i for i, outcome in zip(ids, outcomes, strict=True) if outcome is not None}
    assert failed == {"m7"}, outcomes
    assert "no longer owns execution m7" in str(outcomes[7])
    for execution_id in ids:
        record = await reader.get(execution_id)
        assert record is not None
        if execution_id == "m7":
            assert record.state == RUNNING  # as the other process left it: nothing written
            assert record.last_sequence == 1
            continue
        assert record.state == SUCCEEDED
        assert record.last_sequence == 5
        assert record.started_at == 1_700_000_000.6
        events = [e for b in await drain(reader, execution_id) for e in b]
        assert [e.sequence for e in events] == [1, 2, 3, 4, 5]
        assert [e.log.message for e in events[:4]] == [
            f"{execution_id} started",
            *(f"{execution_id} line {n}" for n in range(3)),
        ]


async def check_creates_of_many_executions_written_together(store: ExecutionStore) -> None:
    """Many executions started at once: a backend that merges creates inserts a group's in
    one statement, and each start still gets its own answer: created with its own key,
    the execution its request id already names, or a conflict."""
    backend: Any = store.backend  # type: ignore[attr-defined]
    sizes: list[int] = []
    write_creates = backend.write_creates

    def noting(cursor: Any, rows: list[Any]) -> Any:
        sizes.append(len(rows))
        return write_creates(cursor, rows)

    backend.write_creates = noting
    alone: list[object] = []
    writer: Any = store._writer  # type: ignore[attr-defined]
    write_alone = writer._alone

    def noting_alone(connection: Any, job: Any) -> Any:
        alone.append(job)
        return write_alone(connection, job)

    writer._alone = noting_alone
    first, _ = await store.create(new("old", request_id="req-old", fingerprint=b"a"))
    await store.create(new("busy"))
    starts = [new(f"c{n}") for n in range(30)]
    starts += [
        new("again", request_id="req-old", fingerprint=b"a"),  # the same start again
        new("clash", request_id="req-old", fingerprint=b"b"),  # another start, same id
        new("twin1", request_id="req-new", fingerprint=b"t"),  # two in one group
        new("twin2", request_id="req-new", fingerprint=b"t"),
    ]
    # An execution ends while the others start: its append shares their group.
    ending = store.append("busy", [log("busy"), finished()], DONE)
    answers = await asyncio.gather(
        *(store.create(s) for s in starts), ending, return_exceptions=True
    )
    ended = answers.pop()
    assert not isinstance(ended, BaseException), ended
    assert not alone, "a group was written job by job"
    by_id: dict[str, Any] = {s.execution_id: a for s, a in zip(starts, answers, strict=True)}
    if backend.merges_creates:
        assert max(sizes, default=0) > 1, "no group had several creates"
    for n in range(30):
        record, created = by_id[f"c{n}"]
        assert created, by_id[f"c{n}"]
        assert record.id == f"c{n}"
    assert not isinstance(by_id["again"], BaseException), by_id["again"]
    assert by_id["again"][0].id == "old"
    assert not by_id["again"][1]
    assert isinstance(by_id["clash"], RequestIdConflictError)
    twins = [by_id["twin1"], by_id["twin2"]]
    assert not any(isinstance(t, BaseException) for t in twins), twins
    assert sorted(created for _, created in twins) == [False, True]
    assert len({record.id for record, _ in twins}) == 1  # the second found the first
    # Each new execution got its own row: its events and end go to it.
    made = [f"c{n}" for n in range(30)] + [record.id for record, created in twins if created]

    async def run(execution_id: str) -> None:
        await store.append(execution_id, [log(execution_id), finished()], DONE)

    await asyncio.gather(*(run(i) for i in made))
    for execution_id in made:
        record = await store.get(execution_id)
        assert record is not None, execution_id
        assert record.state == SUCCEEDED, execution_id
        events = [e for b in await drain(store, execution_id) for e in b]
        assert [e.log.message for e in events] == [execution_id, ""]
    assert first.id == "old"


class StoreContract:
    """Tests every store passes. Subclasses give ``make_store``."""

    def make_store(self, *, retention_seconds: float = 600.0, max_retained: int = 1000,
                   max_retained_bytes: int | None = None,
                   clock: Callable[[], float] | None = None) -> ExecutionStore:  # fmt: skip
        raise NotImplementedError

    @pytest.fixture(autouse=True)
    async def _close_stores(self) -> AsyncIterator[None]:
        self._opened: list[ExecutionStore] = []
        yield
        for store in self._opened:
            await store.close()

    async def open_store(self, **options: Any) -> ExecutionStore:
        store = self.make_store(**options)
        await store.open()
        self._opened.append(store)
        return store

    # -- creating ------------------------------------------------------------------------------

    async def test_create_records_a_pending_execution(self) -> None:
        store = await self.open_store()
        record, created = await store.create(new("e1", request_id="r1", fingerprint=b"f"))
        assert created
        assert (record.id, record.op_name, record.state, record.last_sequence) == (
            "e1",
            "op",
            PENDING,
            0,
        )
        assert dict(record.tags) == {"team": "data"}
        assert record.outputs == ()
        assert not record.finished
        assert (await store.get("e1")) == record
        assert (await store.find_request("r1")) == record
        assert await store.get("missing") is None
        assert await store.find_request("missing") is None

    async def test_a_request_id_is_used_once(self) -> None:
        store = await self.open_store()
        first, _ = await store.create(new("e1", request_id="r1", fingerprint=b"f"))
        again, created = await store.create(new("e2", request_id="r1", fingerprint=b"f"))
        assert not created
        assert again.id == "e1" == first.id
        with pytest.raises(RequestIdConflictError) as info:
            await store.create(new("e3", request_id="r1", fingerprint=b"other"))
        assert info.value.existing.id == "e1"
        assert await store.get("e2") is None
        assert await store.get("e3") is None

    # -- the one sequence authority ------------------------------------------------------------

    async def test_append_numbers_events_from_one_without_gaps(self) -> None:
        store = await self.open_store()
        await store.create(new("e1"))
        assert await store.append("e1", [log("a"), log("b")]) == 2
        assert await store.append("e1", [log("c")]) == 3
        assert await store.append("e1", []) == 3
        await store.append("e1", [finished()], DONE)
        (events,) = await drain(store, "e1")
        assert [e.sequence for e in events] == [1, 2, 3, 4]
        assert {e.execution_id for e in events} == {"e1"}
        assert [e.log.message for e in events[:3]] == ["a", "b", "c"]
        assert events[3].WhichOneof("kind") == "execution_finished"
        record = await store.get("e1")
        assert record is not None
        assert record.last_sequence == 4

    async def test_concurrent_writers_get_one_gap_free_sequence(self) -> None:
        store = await self.open_store()
        await store.create(new("e1"))
        writers, batches = 8, 25
        rng = random.Random(7)

        async def writer(name: int) -> list[int]:
            lasts = []
            for batch in range(batches):
                size = rng.randint(1, 4)
                tails = [log(f"w{name}.{batch}.{i}") for i in range(size)]
                lasts.append(await store.append("e1", tails))
                await asyncio.sleep(0)
            return lasts

        results = await asyncio.gather(*(writer(n) for n in range(writers)))
        await store.append("e1", [finished()], DONE)
        events = [e for batch in await drain(store, "e1") for e in batch]
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        logs = [e.log.message for e in events if e.WhichOneof("kind") == "log"]
        assert len(logs) == len(set(logs))
        for name in range(writers):
            mine = [m for m in logs if m.startswith(f"w{name}.")]
            assert mine == sorted(mine, key=lambda m: tuple(map(int, m[1:].split("."))))
        for lasts in results:
            assert lasts == sorted(lasts)  # each append's last sequence grows

    async def test_executions_number_their_events_apart(self) -> None:
        store = await self.open_store()
        await store.create(new("a"))
        await store.create(new("b"))
        await store.append("a", [log("a1")])
        await store.append("b", [log("b1"), log("b2")])
        await store.append("a", [log("a2")])
        record_a, record_b = await store.get("a"), await store.get("b")
        assert record_a is not None
        assert record_b is not None
        assert (record_a.last_sequence, record_b.last_sequence) == (2, 2)

    # -- what a batch changes ------------------------------------------------------------------

    async def test_updates_move_the_state_and_keep_outputs(self) -> None:
        store = await self.open_store()
        await store.create(new("e1"))
        await store.append("e1", [log("x")], ExecutionUpdate(running=True, at=1_700_000_000.25))
        record = await store.get("e1")
        assert record is not None
        assert record.state == RUNNING
        assert record.started_at == 1_700_000_000.25
        output = value_pb2.NamedValue(name="result", value=value_pb2.Value(int_value=3))
        await store.append("e1", [log("y")], ExecutionUpdate(attempt=1, outputs=(output,)))
        failure = execution_pb2.Execution().error
        failure.message = "boom"
        await store.append(
            "e1", [finished()], ExecutionUpdate(finished=FAILED, error=failure, at=1_700_000_002.0)
        )
        record = await store.get("e1")
        assert record is not None
        assert (record.state, record.attempt, record.finished) == (FAILED, 1, True)
        assert record.outputs == (output,)
        assert record.error is not None
        assert record.error.message == "boom"
        assert record.finished_at == 1_700_000_002.0
        assert (await store.unfinished()) == []

    # -- following -----------------------------------------------------------------------------

    async def test_follow_replays_then_waits_for_live_events(self) -> None:
        store = await self.open_store()
        await store.create(new("e1"))
        await store.append("e1", [log("a")])
        seen: list[int] = []

        async def follow() -> None:
            async for records in store.follow("e1", 0, max_batch_bytes=1 << 20):
                seen.extend(e.sequence for e in parse(records))

        task = asyncio.ensure_future(follow())
        await eventually(lambda: seen == [1])
        await store.append("e1", [log("b"), log("c")])
        await eventually(lambda: seen == [1, 2, 3])
        await asyncio.sleep(0.05)
        assert seen == [1, 2, 3]
        assert not task.done()
        await store.append("e1", [finished()], DONE)
        await asyncio.wait_for(task, 5)
        assert seen == [1, 2, 3, 4]

    async def test_follow_after_a_sequence_and_in_small_batches(self) -> None:
        store = await self.open_store()
        await store.create(new("e1"))
        await store.append("e1", [log("a"), log("b"), log("c")])
        await store.append("e1", [finished()], DONE)
        tiny = await drain(store, "e1", after=1, max_batch_bytes=1)
        assert [[e.sequence for e in b] for b in tiny] == [[2], [3], [4]]
        pairs = await drain(store, "e1", max_batch_events=2)
        assert [[e.sequence for e in b] for b in pairs] == [[1, 2], [3, 4]]
        assert await drain(store, "e1", after=4) == []

    async def test_a_stopped_stream_ends_when_woken(self) -> None:
        store = await self.open_store()
        await store.create(new("e1"))
        stop = False
        batches = store.follow("e1", 0, max_batch_bytes=1 << 20, stop=lambda: stop)
        task = asyncio.ensure_future(batches.__anext__())
        await asyncio.sleep(0.01)
        assert not task.done()
        stop = True
        store.wake("e1")
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(task, 5)

    async def test_cancelling_one_stream_leaves_the_others(self) -> None:
        store = await self.open_store()
        await store.create(new("e1"))
        await store.append("e1", [log("a")])
        seen: list[int] = []

        async def follow(into: list[int]) -> None:
            async for records in store.follow("e1", 0, max_batch_bytes=1 << 20):
                into.extend(e.sequence for e in parse(records))

        doomed = asyncio.ensure_future(follow([]))
        survivor = asyncio.ensure_future(follow(seen))
        await eventually(lambda: seen == [1])
        doomed.cancel()
        await asyncio.sleep(0.01)
        await store.append("e1", [log("b")])
        await store.append("e1", [finished()], DONE)
        await asyncio.wait_for(survivor, 5)
        assert seen == [1, 2, 3]

    async def test_following_an_unknown_execution_ends_at_once(self) -> None:
        store = await self.open_store()
        assert await drain(store, "missing") == []

    # -- cancellation --------------------------------------------------------------------------

    async def test_cancel_requests_reach_the_watchers_once(self) -> None:
        store = await self.open_store()
        await store.create(new("e1"))
        calls: list[str] = []
        store.on_cancel("e1", lambda: calls.append("first"))
        undo = store.on_cancel("e1", lambda: calls.append("undone"))
        undo()
        record = await store.request_cancel("e1")
        assert record is not None
        assert (record.state, record.cancel_requested) == (CANCEL_REQUESTED, True)
        await store.request_cancel("e1")
        assert calls == ["first"]
        late: list[str] = []
        store.on_cancel("e1", lambda: late.append("late"))  # asked for already: called now
        assert late == ["late"]
        assert await store.request_cancel("missing") is None

    async def test_cancelling_a_finished_execution_changes_nothing(self) -> None:
        store = await self.open_store()
        await store.create(new("e1"))
        await store.append("e1", [finished()], DONE)
        record = await store.request_cancel("e1")
        assert record is not None
        assert (record.state, record.cancel_requested) == (SUCCEEDED, False)

    async def test_a_finished_execution_keeps_its_cancel_request(self) -> None:
        store = await self.open_store()
        await store.create(new("e1"))
        await store.request_cancel("e1")
        await store.append("e1", [finished()], ExecutionUpdate(finished=SUCCEEDED, at=1.0))
        record = await store.get("e1")
        assert record is not None
        assert (record.state, record.cancel_requested) == (SUCCEEDED, True)

    # -- listing and retention -----------------------------------------------------------------

    async def test_executions_newest_first_with_filters(self) -> None:
        store = await self.open_store(clock=lambda: 1_700_000_002.0)
        await store.create(new("old", created=1.0, op_name="a"))
        await store.create(new("mid", created=2.0, op_name="b"))
        await store.create(new("new", created=3.0, op_name="a"))
        await store.append("mid", [finished()], DONE)
        assert [r.id for r in await store.executions()] == ["new", "mid", "old"]
        assert [r.id for r in await store.executions(ExecutionQuery(op_name="a"))] == [
            "new",
            "old",
        ]
        done = await store.executions(ExecutionQuery(states=frozenset({SUCCEEDED})))
        assert [r.id for r in done] == ["mid"]
        assert sorted(r.id for r in await store.unfinished()) == ["new", "old"]
        window = ExecutionQuery(created_after=2.0, created_before=3.0)
        assert [r.id for r in await store.executions(window)] == ["mid"]
        assert [r.id for r in await store.executions(ExecutionQuery(created_after=2.0))] == [
            "new",
            "mid",
        ]

    async def test_executions_keep_the_identity_that_started_them(self) -> None:
        store = await self.open_store()
        record, _ = await store.create(new("e1", principal="alice", request_id="r1"))
        assert record.principal == "alice"
        await store.append("e1", [log("one")], ExecutionUpdate(running=True, at=1.0))
        assert (await store.get("e1")).principal == "alice"  # type: ignore[union-attr]
        assert (await store.find_request("r1")).principal == "alice"  # type: ignore[union-attr]
        assert (await store.request_cancel("e1")).principal == "alice"  # type: ignore[union-attr]
        await store.create(new("e2"))
        assert (await store.get("e2")).principal == ""  # type: ignore[union-attr]

    async def test_executions_limited_to_principals_and_ops(self) -> None:
        store = await self.open_store()
        made = [("a1", "alice", "add", 1.0), ("a2", "alice", "etl", 2.0),
                ("b1", "bob", "add", 3.0), ("n1", "", "add", 4.0)]  # fmt: skip
        for execution_id, principal, op_name, created in made:
            await store.create(new(execution_id, principal=principal, op_name=op_name,
                                   created=created))  # fmt: skip

        async def listed(**scope: Any) -> list[str]:
            return [r.id for r in await store.executions(ExecutionQuery(**scope))]

        assert await listed() == ["n1", "b1", "a2", "a1"]
        assert await listed(principals=frozenset({"alice"})) == ["a2", "a1"]
        assert await listed(principals=frozenset({"alice", ""})) == ["n1", "a2", "a1"]
        assert await listed(op_names=frozenset({"add"})) == ["n1", "b1", "a1"]
        both = {"principals": frozenset({"alice", "bob"}), "op_names": frozenset({"add"})}
        assert await listed(**both) == ["b1", "a1"]
        assert await listed(principals=frozenset()) == []
        assert await listed(op_names=frozenset()) == []
        query = ExecutionQuery(principals=frozenset({"alice", "bob"}))
        first = await store.executions(query, limit=1)
        rest = await store.executions(query, before=first[-1].page_key)
        assert [r.id for r in first + rest] == ["b1", "a2", "a1"]

    async def test_executions_in_pages(self) -> None:
        store = await self.open_store()
        for i in range(7):
            await store.create(new(f"e{i}", created=100.0 + i // 2))  # pairs share a time
        pages: list[list[str]] = []
        before: PageKey | None = None
        while True:
            page = await store.executions(before=before, limit=3)
            if not page:
                break
            pages.append([r.id for r in page])
            before = page[-1].page_key
        assert pages == [["e6", "e5", "e4"], ["e3", "e2", "e1"], ["e0"]]
        query = ExecutionQuery(created_after=101.0)
        first = await store.executions(query, limit=2)
        rest = await store.executions(query, before=first[-1].page_key)
        assert [r.id for r in first + rest] == ["e6", "e5", "e4", "e3", "e2"]

    async def test_retention_by_age_and_count(self) -> None:
        now = [1_000.0]
        store = await self.open_store(retention_seconds=10, max_retained=3, clock=lambda: now[0])
        for i in range(3):
            await store.create(new(f"e{i}"))
            await store.append(
                f"e{i}", [finished()], ExecutionUpdate(finished=SUCCEEDED, at=now[0] + i)
            )
        now[0] += 5
        await store.create(new("e3"))  # at the cap: the oldest finished one goes
        await store.sweep()
        assert await store.get("e0") is None
        assert await drain(store, "e0") == []
        assert await store.get("e1") is not None
        now[0] += 100  # past retention
        await store.sweep()
        assert await store.get("e1") is None
        assert await store.get("e2") is None
        assert await store.get("e3") is not None  # running: never forgotten

    async def test_retention_forgets_many_executions_in_one_sweep(self) -> None:
        # More than a SQL store deletes with one statement (500), twice over.
        store = await self.open_store(max_retained=7, clock=lambda: 1_010.0)

        async def one(i: int) -> None:
            await store.create(new(f"e{i}"))
            await store.append(f"e{i}", [log(f"step {i}")])
            await store.append(
                f"e{i}", [finished()], ExecutionUpdate(finished=SUCCEEDED, at=1_000.0 + i / 1e4)
            )

        await asyncio.gather(*(one(i) for i in range(1_107)))
        await store.create(new("running"))
        await store.sweep()
        kept = {r.id for r in await store.executions(limit=100)}
        assert kept == {f"e{i}" for i in range(1_101, 1_107)} | {"running"}
        for execution_id in ("e0", "e499", "e500", "e999", "e1000", "e1100"):
            assert await store.get(execution_id) is None
            assert await drain(store, execution_id) == []
        (events,) = await drain(store, "e1101")
        assert [e.sequence for e in events] == [1, 2]

    async def test_retention_by_bytes_forgets_whole_executions(self) -> None:
        store = await self.open_store(max_retained_bytes=1500, clock=lambda: 1_010.0)
        for i in range(4):
            await store.create(new(f"e{i}"))
            await store.append(f"e{i}", [log("x" * 400)])
            await store.append(
                f"e{i}", [finished()], ExecutionUpdate(finished=SUCCEEDED, at=1_000.0 + i)
            )
        await store.sweep()
        kept = [r.id for r in await store.executions()]
        assert "e3" in kept
        assert "e0" not in kept
        for execution_id in kept:
            (events,) = await drain(store, execution_id)
            assert [e.sequence for e in events] == [1, 2]  # never a part of a log

    # -- chunks --------------------------------------------------------------------------------

    async def test_chunk_events_read_back_whole(self) -> None:
        store = await self.open_store()
        await store.create(new("e1"))
        data = bytes(range(256)) * 700
        chunk = value_pb2.ValueChunk(value_id="v", index=3, offset=99, last=True)
        event = EngineEvent(2, 1_700_000_000.0, LogMessage(LogLevel.INFO, "unused"))
        await store.append(
            "e1", [log("a"), _WRITER.chunk_tail(event, chunk, memoryview(data)[10:])]
        )
        await store.append("e1", [finished()], DONE)
        (events,) = await drain(store, "e1")
        got = events[1]
        assert (got.sequence, got.attempt) == (2, 2)
        assert (got.value_chunk.value_id, got.value_chunk.index) == ("v", 3)
        assert (got.value_chunk.offset, got.value_chunk.last) == (99, True)
        assert got.value_chunk.data == data[10:]
