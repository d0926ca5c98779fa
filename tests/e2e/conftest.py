"""A real server on 127.0.0.1:0 hosting test ops, and a raw generated stub for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
import pytest

from ophost.server import Limits, OpHostServer
from ophost.v1 import op_host_service_pb2_grpc

from . import ops as test_ops

if TYPE_CHECKING:
    from ophost.v1.op_host_service_pb2_grpc import OpHostServiceAsyncStub


@pytest.fixture
async def server() -> AsyncIterator[OpHostServer]:
    host = OpHostServer(
        test_ops.ALL,
        resources=test_ops.RESOURCES,
        max_concurrent_executions=8,
        drain_grace_seconds=2.0,
        limits=Limits(inline_threshold_bytes=64 * 1024, chunk_size_bytes=64 * 1024),
    )
    async with host:
        yield host


@pytest.fixture
async def channel(server: OpHostServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(server.address) as chan:
        yield chan


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> OpHostServiceAsyncStub:
    return op_host_service_pb2_grpc.OpHostServiceStub(channel)
