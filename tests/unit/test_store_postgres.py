"""The PostgreSQL store: the shared store contract against a real server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from ophost.server.store import ExecutionStore

# The driver is the ophost[postgresql] extra: an environment without it (make compat's)
# has nothing to test here. The fixture fails instead in CI when the server is missing.
pytest.importorskip("psycopg", reason="the PostgreSQL driver (ophost[postgresql]) is not installed")

import psycopg

from ophost.server.store._postgres import PostgresExecutionStore

from .store_contract import (
    DONE,
    StoreContract,
    check_appends_of_many_executions_written_together,
    check_creates_of_many_executions_written_together,
    check_events_read_back_in_any_slice,
    eventually,
    finished,
    log,
    new,
    parse,
)


class TestPostgresStore(StoreContract):
    @pytest.fixture(autouse=True)
    async def _close_stores(self, postgres_dsn: str) -> AsyncIterator[None]:
        """The contract's own, after a database of its own (closed before it is dropped)."""
        self.dsn = postgres_dsn
        self._opened: list[ExecutionStore] = []
        yield
        for store in self._opened:
            await store.close()

    def make_store(
        self,
        *,
        retention_seconds: float = 600.0,
        max_retained: int = 1000,
        max_retained_bytes: int | None = None,
        clock: Callable[[], float] | None = None,
    ) -> ExecutionStore:
        return PostgresExecutionStore(
            self.dsn,
            retention_seconds=retention_seconds,
            max_retained=max_retained,
            max_retained_bytes=max_retained_bytes,
            clock=clock or time.time,
        )

    async def test_events_in_rows_of_many_read_back_from_any_point(self) -> None:
        await check_events_read_back_in_any_slice(await self.open_store(), await self.open_store())

    async def test_many_executions_started_at_once_each_get_their_answer(self) -> None:
        await check_creates_of_many_executions_written_together(await self.open_store())

    async def test_appends_of_many_executions_are_written_a_group_at_a_time(self) -> None:
        def take_over(execution_id: str) -> None:
            with psycopg.connect(self.dsn, autocommit=True) as connection:
                connection.execute(
                    "UPDATE executions SET owner = 'another' WHERE id = %s", (execution_id,)
                )

        await check_appends_of_many_executions_written_together(
            await self.open_store(), await self.open_store(), take_over
        )

    async def test_another_process_hears_of_new_events_without_polling(self) -> None:
        """Appends to several executions, committed together, reach a follower in another
        host process through the group's notification (its polling is all but off)."""
        writer = await self.open_store()
        reader = await self.open_store()
        assert isinstance(reader, PostgresExecutionStore)
        reader.backend.poll_interval = 60.0
        ids = [f"e{n}" for n in range(5)]
        for execution_id in ids:
            await writer.create(new(execution_id))
        seen: dict[str, list[int]] = {execution_id: [] for execution_id in ids}

        async def follow(execution_id: str) -> None:
            async for records in reader.follow(execution_id, 0, max_batch_bytes=1 << 20):
                seen[execution_id].extend(e.sequence for e in parse(records))

        tasks = [asyncio.ensure_future(follow(execution_id)) for execution_id in ids]
        await asyncio.sleep(0.2)  # each follower has read the nothing there is, and waits
        await asyncio.gather(*(writer.append(i, [log("a"), log("b")]) for i in ids))
        await eventually(lambda: all(s == [1, 2] for s in seen.values()))
        await asyncio.gather(*(writer.append(i, [finished()], DONE) for i in ids))
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        assert all(s == [1, 2, 3] for s in seen.values())

    async def test_a_writer_stalled_inside_a_transaction_loses_it_after_the_lease(
        self,
    ) -> None:
        """A process stopped mid-transaction (SIGSTOP, a debugger) must not hold its row
        locks for ever: the database ends the writer's session once it has sat in the
        transaction for the lease, and another process can then update the rows."""
        store = PostgresExecutionStore(self.dsn, lease_seconds=0.5)
        await store.open()
        self._opened.append(store)
        await store.create(new("e1"))
        stalled = store.backend.connect()  # a writer's connection, as the writer makes it
        try:
            stalled.execute("UPDATE executions SET attempt = 7 WHERE id = %s", ("e1",))
            began = time.monotonic()
            other = psycopg.connect(self.dsn, autocommit=True)
            try:
                other.execute("SET lock_timeout = 10000")
                # Blocks on the stalled transaction's row lock until its session ends.
                other.execute("UPDATE executions SET attempt = 8 WHERE id = %s", ("e1",))
                waited = time.monotonic() - began
            finally:
                other.close()
            assert 0.4 < waited < 5.0
            with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):
                stalled.execute("SELECT 1")
            assert store.backend.lost(psycopg.errors.IdleInTransactionSessionTimeout())
        finally:
            stalled.close()
        with psycopg.connect(self.dsn) as reader:
            row = reader.execute("SELECT attempt FROM executions WHERE id = %s", ("e1",))
            # The stalled update went with its session; the other one stands.
            assert row.fetchone() == (8,)
