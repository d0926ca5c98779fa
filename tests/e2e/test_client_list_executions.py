"""``list_executions``' time bounds, limit and page size, against a real server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import grpc
import pytest

from ophost.server import OpHostServer
from ophost.testing import RunningHostInThread
from ophost.v1 import op_host_service_pb2 as pb
from ophost_client import AsyncOpHostClient, ExecutionInfo, OpHostClient


class _ListRequests(grpc.aio.UnaryUnaryClientInterceptor):
    """Records the ``ListExecutionsRequest`` messages the client sends."""

    def __init__(self) -> None:
        self.seen: list[pb.ListExecutionsRequest] = []

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        if isinstance(request, pb.ListExecutionsRequest):
            copy = pb.ListExecutionsRequest()
            copy.CopyFrom(request)
            self.seen.append(copy)
        return await continuation(client_call_details, request)


async def _three(client: AsyncOpHostClient) -> list[ExecutionInfo]:
    """Three finished executions of ``add``, oldest first, a few milliseconds apart."""
    made = []
    for i in range(3):
        started = await client.start("add", {"a": i, "b": 0})
        await client.attach(started.id).result()
        made.append(await client.get_execution(started.id))
        await asyncio.sleep(0.02)
    return made


def _created(info: ExecutionInfo) -> datetime:
    assert info.create_time is not None
    return info.create_time


async def test_time_bounds(server: OpHostServer) -> None:
    recorder = _ListRequests()
    channel = grpc.aio.insecure_channel(server.address, interceptors=[recorder])
    async with channel, AsyncOpHostClient(server.address, channel=channel) as client:
        old, middle, new = await _three(client)
        ids = await client.list_executions(created_after=_created(middle))
        assert [e.id for e in ids] == [new.id, middle.id]  # inclusive
        ids = await client.list_executions(created_before=_created(middle))
        assert [e.id for e in ids] == [old.id]  # exclusive
        between = await client.list_executions(
            created_after=_created(old), created_before=_created(new)
        )
        assert [e.id for e in between] == [middle.id, old.id]

        # The bounds travel in the request.
        request = recorder.seen[-1]
        assert request.created_after.ToDatetime(tzinfo=timezone.utc) == _created(old)
        assert request.created_before.ToDatetime(tzinfo=timezone.utc) == _created(new)

        # Seconds since the epoch, naive datetimes (UTC) and other offsets mean the same.
        seconds = _created(middle).timestamp()
        assert [e.id for e in await client.list_executions(created_after=seconds)] == [
            new.id,
            middle.id,
        ]
        naive = _created(middle).replace(tzinfo=None)
        assert [e.id for e in await client.list_executions(created_before=naive)] == [old.id]
        elsewhere = _created(middle).astimezone(timezone(timedelta(hours=-5)))
        assert [e.id for e in await client.list_executions(created_before=elsewhere)] == [old.id]
        assert await client.list_executions(created_after=datetime.now(timezone.utc)) == []


async def test_limit_and_page_size(server: OpHostServer) -> None:
    recorder = _ListRequests()
    channel = grpc.aio.insecure_channel(server.address, interceptors=[recorder])
    async with channel, AsyncOpHostClient(server.address, channel=channel) as client:
        made = await _three(client) + await _three(client)
        newest_first = [e.id for e in reversed(made)]

        recorder.seen.clear()
        listed = await client.list_executions(page_size=4)
        assert [e.id for e in listed] == newest_first
        assert [r.page_size for r in recorder.seen] == [4, 4]
        assert [bool(r.page_token) for r in recorder.seen] == [False, True]

        recorder.seen.clear()
        listed = await client.list_executions(limit=5, page_size=2)
        assert [e.id for e in listed] == newest_first[:5]
        assert [r.page_size for r in recorder.seen] == [2, 2, 1]

        recorder.seen.clear()
        listed = await client.list_executions(limit=4)
        assert [e.id for e in listed] == newest_first[:4]
        assert [r.page_size for r in recorder.seen] == [4]  # only what the limit needs

        assert await client.list_executions(limit=0) == []
        with pytest.raises(ValueError, match="limit"):
            await client.list_executions(limit=-1)
        with pytest.raises(ValueError, match="page_size"):
            await client.list_executions(page_size=-1)


def test_the_blocking_client_passes_them_on(ophost_host_in_thread: RunningHostInThread) -> None:
    with OpHostClient(ophost_host_in_thread.address) as client:
        first = client.start("add", {"a": 1, "b": 1})
        client.attach(first.id).result()
        second = client.start("add", {"a": 2, "b": 2})
        client.attach(second.id).result()
        created = client.get_execution(second.id).create_time
        assert created is not None
        assert [e.id for e in client.list_executions(created_after=created)] == [second.id]
        assert [e.id for e in client.list_executions(created_before=created)] == [first.id]
        assert [e.id for e in client.list_executions(limit=1, page_size=1)] == [second.id]
