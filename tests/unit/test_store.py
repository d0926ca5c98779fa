"""The server's execution record: sequences, follow/replay, batching, retention."""

from __future__ import annotations

import asyncio
import time

from ophost import op
from ophost.execution import OpRun, prepare_execution
from ophost.server._store import Execution, ExecutionStore, frame
from ophost.v1 import event_pb2, op_host_service_pb2


@op
def noop() -> None:
    return None


def _execution(execution_id: str = "e1") -> Execution:
    run = OpRun(prepare_execution(noop, None, None, None))
    return Execution(
        id=execution_id, op_name="noop", request_id="", fingerprint=b"", tags={}, run=run
    )


def _event(kind: str) -> event_pb2.Event:
    event = event_pb2.Event(execution_id="e1", op_name="noop")
    getattr(event, kind).SetInParent()
    if kind == "execution_finished":
        event.execution_finished.status = event_pb2.EXECUTION_STATUS_SUCCEEDED
    return event


def _decode(batch: bytes) -> list[event_pb2.Event]:
    return list(op_host_service_pb2.StreamEventsResponse.FromString(batch).events)


def test_frame_matches_protobuf_encoding() -> None:
    for size in (0, 5, 127, 128, 300, 70_000):
        message = op_host_service_pb2.ExecuteResponse(
            events=op_host_service_pb2.EventBatch(events=[event_pb2.Event(execution_id="x" * size)])
        )
        inner = event_pb2.Event(execution_id="x" * size).SerializeToString()
        assert frame(2, frame(1, inner)) == message.SerializeToString()


async def test_sequences_replay_and_batches() -> None:
    execution = _execution()
    for kind in ("execution_started", "step_started", "step_success", "execution_finished"):
        execution.append(_event(kind))
    assert execution.last_sequence == 4
    batches = [b async for b in execution.follow(0, max_batch_bytes=1 << 20)]
    assert len(batches) == 1
    assert [e.sequence for e in _decode(batches[0])] == [1, 2, 3, 4]
    tiny = [b async for b in execution.follow(1, max_batch_bytes=1)]
    assert [[e.sequence for e in _decode(b)] for b in tiny] == [[2], [3], [4]]


async def test_cancelling_one_follower_does_not_cancel_another() -> None:
    execution = _execution()
    execution.append(_event("execution_started"))
    seen: list[int] = []

    async def follow(into: list[int]) -> None:
        async for batch in execution.follow(0, max_batch_bytes=1 << 20):
            into.extend(e.sequence for e in _decode(batch))

    doomed = asyncio.ensure_future(follow([]))
    survivor = asyncio.ensure_future(follow(seen))
    await asyncio.sleep(0.01)  # both now wait for the next event on the shared future
    doomed.cancel()
    await asyncio.sleep(0.01)
    execution.append(_event("step_started"))
    execution.append(_event("execution_finished"))
    await asyncio.wait_for(survivor, 5)
    assert seen == [1, 2, 3]


async def test_backpressure_waits_for_the_slowest_follower() -> None:
    execution = _execution()
    follower = execution.follow(0, max_batch_bytes=1, max_batch_events=1)
    for _ in range(10):
        execution.append(_event("step_started"))
    first = await follower.__anext__()
    assert len(_decode(first)) == 1
    producer = asyncio.ensure_future(execution.wait_for_room(4))
    await asyncio.sleep(0.01)
    assert not producer.done()  # 9 events unread > window of 4
    for _ in range(7):
        await follower.__anext__()
    await asyncio.wait_for(producer, 5)
    await follower.aclose()


def test_retention_by_age_and_count() -> None:
    store = ExecutionStore(retention_seconds=10, max_retained=3)
    executions = [_execution(f"e{i}") for i in range(3)]
    for execution in executions:
        store.add(execution)
    now = time.time()
    for i, execution in enumerate(executions):
        execution.append(_event("execution_finished"))
        execution.finished_at = now + i
        store.finished(execution)
    assert store.running_count() == 0
    store.evict(now=now + 5)
    assert store.get("e0") is not None
    store.add(_execution("e3"))  # at the cap: the oldest finished one goes
    assert store.get("e0") is None
    assert store.get("e1") is not None
    store.evict(now=now + 100)  # past retention
    assert store.get("e1") is None
    assert store.get("e2") is None
    assert store.get("e3") is not None
    assert store.running_count() == 1


def test_chunk_events_parse_as_whole_value_chunks() -> None:
    execution = _execution()
    execution.append(_event("execution_started"))
    data = bytes(range(256)) * 700  # longer than one varint byte can say
    envelope = event_pb2.Event(execution_id="e1", op_name="noop", attempt=2)
    envelope.value_chunk.value_id = "v"
    envelope.value_chunk.index = 3
    envelope.value_chunk.offset = 99
    envelope.value_chunk.last = True
    execution.append_chunk(envelope, memoryview(data)[10:])
    (event,) = list(
        op_host_service_pb2.StreamEventsResponse.FromString(execution.encoded[1]).events
    )
    assert event.sequence == 2
    assert event.attempt == 2
    chunk = event.value_chunk
    assert (chunk.value_id, chunk.index, chunk.offset, chunk.last) == ("v", 3, 99, True)
    assert chunk.data == data[10:]
