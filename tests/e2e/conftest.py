"""A real server on 127.0.0.1:0 hosting test ops, and a raw generated stub for it.

The server comes from ophost's own test harness: this conftest gives the pytest
plugin (:mod:`ophost.testing.pytest_plugin`) the ops, resources and server options,
and the tests ask for ``ophost_host``, ``ophost_client`` or ``ophost_host_in_thread``,
or for ``server`` (the :class:`~ophost.server.OpHostServer` of ``ophost_host``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import grpc
import pytest

from ophost import OpDefinition
from ophost.server import Limits, OpHostServer
from ophost.testing import RunningHost
from ophost.v1 import op_host_service_pb2_grpc

from . import ops as test_ops

if TYPE_CHECKING:
    from ophost.v1.op_host_service_pb2_grpc import OpHostServiceAsyncStub


@pytest.fixture
def ophost_ops() -> list[OpDefinition]:
    return test_ops.ALL


@pytest.fixture
def ophost_resources() -> Mapping[str, object]:
    return test_ops.RESOURCES


@pytest.fixture
def ophost_host_options() -> Mapping[str, Any]:
    return {
        "max_concurrent_executions": 8,
        "drain_grace_seconds": 2.0,
        "limits": Limits(inline_threshold_bytes=64 * 1024, chunk_size_bytes=64 * 1024),
    }


@pytest.fixture
def server(ophost_host: RunningHost) -> OpHostServer:
    return ophost_host.server


@pytest.fixture
async def channel(server: OpHostServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(server.address) as chan:
        yield chan


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> OpHostServiceAsyncStub:
    return op_host_service_pb2_grpc.OpHostServiceStub(channel)
