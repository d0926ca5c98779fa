"""The host's three seams take other implementations with the servicer unchanged.

Each test plugs a small implementation of its own into ``OpHostServer`` and drives
the server through the real client: a store that records every call made to it, an
executor that runs op bodies on the event loop itself, and an interceptor that turns
away calls without a token.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import grpc
import pytest

from ophost.definitions import OutputProduced
from ophost.definitions._coerce import coerce_return
from ophost.execution import (
    AttemptCanceled,
    AttemptOutcome,
    AttemptRequest,
    AttemptRules,
    CancelOutcome,
    EngineEvent,
)
from ophost.server import OpHostServer
from ophost.server._wire import Record, Tail
from ophost.server.store import (
    ExecutionQuery,
    ExecutionRecord,
    ExecutionStore,
    ExecutionUpdate,
    MemoryExecutionStore,
    NewExecution,
    PageKey,
)
from ophost.v1 import execution_pb2, op_host_service_pb2, op_host_service_pb2_grpc
from ophost_client import AsyncOpHostClient, OpFailedError

from . import ops as test_ops


class RecordingStore(ExecutionStore):
    """Every call, then the in-memory store's answer."""

    def __init__(self) -> None:
        self._inner = MemoryExecutionStore()
        self.retention_seconds = self._inner.retention_seconds
        self.calls: list[tuple[str, Any]] = []

    async def create(self, new: NewExecution) -> tuple[ExecutionRecord, bool]:
        self.calls.append(("create", new.op_name))
        return await self._inner.create(new)

    async def find_request(self, request_id: str) -> ExecutionRecord | None:
        self.calls.append(("find_request", request_id))
        return await self._inner.find_request(request_id)

    async def append(
        self, execution_id: str, tails: Sequence[Tail], update: ExecutionUpdate | None = None
    ) -> int:
        last = await self._inner.append(execution_id, tails, update)
        self.calls.append(("append", (last - len(tails) + 1, last)))
        return last

    async def get(self, execution_id: str) -> ExecutionRecord | None:
        self.calls.append(("get", execution_id))
        return await self._inner.get(execution_id)

    async def executions(
        self,
        query: ExecutionQuery = ExecutionQuery(),  # noqa: B008 - frozen
        *,
        before: PageKey | None = None,
        limit: int | None = None,
    ) -> list[ExecutionRecord]:
        self.calls.append(("executions", query.op_name))
        return await self._inner.executions(query, before=before, limit=limit)

    async def sweep(self) -> int:
        return await self._inner.sweep()

    async def unfinished(self) -> list[ExecutionRecord]:
        return await self._inner.unfinished()

    async def follow(
        self,
        execution_id: str,
        after: int,
        *,
        max_batch_bytes: int,
        max_batch_events: int = 10_000,
        stop: Callable[[], bool] | None = None,
    ) -> AsyncIterator[list[Record]]:
        self.calls.append(("follow", after))
        async for batch in self._inner.follow(
            execution_id,
            after,
            max_batch_bytes=max_batch_bytes,
            max_batch_events=max_batch_events,
            stop=stop,
        ):
            yield batch

    def wake(self, execution_id: str) -> None:
        self._inner.wake(execution_id)

    async def request_cancel(self, execution_id: str) -> ExecutionRecord | None:
        self.calls.append(("request_cancel", execution_id))
        return await self._inner.request_cancel(execution_id)

    def on_cancel(self, execution_id: str, callback: Callable[[], None]) -> Callable[[], None]:
        return self._inner.on_cancel(execution_id, callback)


async def test_a_store_of_ones_own_keeps_the_executions() -> None:
    store = RecordingStore()
    async with (
        OpHostServer(test_ops.ALL, resources=test_ops.RESOURCES, store=store) as server,
        AsyncOpHostClient(server.address) as client,
    ):
        assert await client.call("add", {"a": 2, "b": 3}) == {"result": 5}
        [execution] = await client.list_executions(op_name="add")
        assert execution.last_sequence == 7
        replayed = [e.sequence async for e in client.attach(execution.id)]
        assert replayed == list(range(1, 8))
    names = [name for name, _ in store.calls]
    assert names[0] == "create"
    assert "follow" in names
    assert "executions" in names
    appended = [span for name, span in store.calls if name == "append"]
    # The store alone numbered the events: its spans cover 1..7 without gaps.
    covered = [n for first, last in appended for n in range(first, last + 1)]
    assert covered == list(range(1, 8))


class LoopExecutor:
    """Runs every op body right on the event loop (fine for bodies that never block)."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def start(self, request: AttemptRequest) -> _LoopAttempt:
        return _LoopAttempt(request, self.threads)


class _LoopAttempt:
    def __init__(self, request: AttemptRequest, threads: list[int]) -> None:
        self._events: list[EngineEvent] = []
        self._outcome: AttemptOutcome | None = None
        self._ready = asyncio.Event()
        self._stopped = False
        rules = AttemptRules(request, self._events.append, lambda: self._stopped)
        threads.append(threading.get_ident())
        op_def = rules.op_def
        try:
            rules.check_inputs()
            decorated = op_def.decorated_fn
            assert decorated is not None
            args, kwargs = decorated.arguments(rules.context, rules.body_inputs())
            for item in coerce_return(
                op_def.name, decorated.fn(*args, **kwargs), op_def.output_defs
            ):
                rules.handle(item)
            self._outcome = rules.finish()
        except Exception as exc:  # noqa: BLE001 - how the attempt ends
            self._outcome = rules.outcome_of(exc)

    def take(self) -> tuple[list[EngineEvent], AttemptOutcome | None]:
        events, self._events = self._events, []
        return events, self._outcome

    async def wait(self, timeout: float | None = None) -> bool:
        return True  # everything is ready as soon as the attempt starts

    def cancel(self, grace: float) -> None:
        self._stopped = True
        if self._outcome is None:
            self._outcome = AttemptCanceled(CancelOutcome.COOPERATIVE)


async def test_an_executor_of_ones_own_runs_the_bodies() -> None:
    executor = LoopExecutor()
    async with (
        OpHostServer(test_ops.ALL, resources=test_ops.RESOURCES, executor=executor) as server,
        AsyncOpHostClient(server.address) as client,
    ):
        events = [e async for e in client.execute("add", {"a": 40, "b": 2})]
        with pytest.raises(OpFailedError, match="it broke"):
            await client.call("fails")
    outputs = [e.body for e in events if isinstance(e.body, OutputProduced)]
    assert [(o.output_name, o.value) for o in outputs] == [("result", 42)]
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert executor.threads
    assert executor.threads[0] == threading.get_ident()  # on the loop, not in a thread


class TokenInterceptor(grpc.aio.ServerInterceptor):
    """Turns away every call without ``authorization: Bearer let-me-in``."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        self.seen.append(details.method)
        metadata = dict(details.invocation_metadata or ())
        if metadata.get("authorization") == "Bearer let-me-in":
            return await continuation(details)

        async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "a token is needed")

        return grpc.unary_unary_rpc_method_handler(refuse)


async def test_an_interceptor_of_ones_own_wraps_every_call() -> None:
    interceptor = TokenInterceptor()
    token = (("authorization", "Bearer let-me-in"),)
    async with (
        OpHostServer(
            test_ops.ALL, resources=test_ops.RESOURCES, interceptors=[interceptor]
        ) as server,
        grpc.aio.insecure_channel(server.address) as channel,
    ):
        stub = op_host_service_pb2_grpc.OpHostServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetServerInfo(op_host_service_pb2.GetServerInfoRequest())
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        info = await stub.GetServerInfo(op_host_service_pb2.GetServerInfoRequest(), metadata=token)
        assert info.protocol_version == "1"
        call = stub.Execute(metadata=token)
        start = execution_pb2.ExecutionStart(op_name="add")
        start.inputs.add(name="a").value.int_value = 1
        start.inputs.add(name="b").value.int_value = 1
        await call.write(op_host_service_pb2.ExecuteRequest(start=start))
        await call.done_writing()
        kinds = [r.WhichOneof("kind") async for r in call]
        assert kinds[0] == "accepted"
        assert await call.code() is grpc.StatusCode.OK
    assert interceptor.seen == [
        "/ophost.v1.OpHostService/GetServerInfo",
        "/ophost.v1.OpHostService/GetServerInfo",
        "/ophost.v1.OpHostService/Execute",
    ]
