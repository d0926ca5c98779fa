"""The in-memory store: the shared store contract, plus its back-pressure on writers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ophost.server.store import ExecutionStore, MemoryExecutionStore

from .store_contract import StoreContract, log, new


class TestMemoryStore(StoreContract):
    def make_store(
        self,
        *,
        retention_seconds: float = 600.0,
        max_retained: int = 1000,
        max_retained_bytes: int | None = None,
        clock: Callable[[], float] | None = None,
    ) -> ExecutionStore:
        return MemoryExecutionStore(
            retention_seconds=retention_seconds,
            max_retained=max_retained,
            max_retained_bytes=max_retained_bytes,
            clock=clock or time.time,
        )


async def test_append_waits_for_the_slowest_stream() -> None:
    store = MemoryExecutionStore(follow_window=4)
    await store.create(new("e1"))
    stream = store.follow("e1", 0, max_batch_bytes=1, max_batch_events=1)
    await store.append("e1", [log("first")])
    await stream.__anext__()  # the stream has read 1 event
    producer = asyncio.ensure_future(store.append("e1", [log(str(i)) for i in range(9)]))
    await asyncio.sleep(0.01)
    assert not producer.done()  # 9 events unread: more than the window of 4
    for _ in range(7):
        await stream.__anext__()
    assert await asyncio.wait_for(producer, 5) == 10
    await stream.aclose()  # type: ignore[attr-defined]


async def test_append_does_not_wait_without_streams() -> None:
    store = MemoryExecutionStore(follow_window=1)
    await store.create(new("e1"))
    assert await asyncio.wait_for(store.append("e1", [log(str(i)) for i in range(50)]), 1) == 50
