"""``running_host``: a real host for some ops on 127.0.0.1, and a client connected to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from ophost.definitions import OpDefinition
from ophost.execution import Executor
from ophost.server import Limits, OpHostServer
from ophost.server.store import ExecutionStore
from ophost_client import AsyncOpHostClient

__all__ = ["HOST", "RunningHost", "ServerSpec", "running_host"]

# Where the harness serves: the loopback address, on a port the system picks.
HOST = "127.0.0.1"

Ops = Iterable[OpDefinition] | Mapping[str, OpDefinition]


@dataclass(frozen=True, kw_only=True)
class ServerSpec:
    """The options of one test server; ``None`` leaves the server's own default."""

    ops: Ops
    resources: Mapping[str, object] | None = None
    limits: Limits | None = None
    store: ExecutionStore | None = None
    executor: Executor | None = None
    interceptors: Sequence[grpc.aio.ServerInterceptor] = field(default_factory=tuple)
    max_concurrent_executions: int | None = None
    event_retention_seconds: float | None = None
    max_retained_executions: int | None = None
    drain_grace_seconds: float | None = None

    def server(self) -> OpHostServer:
        """A new server (not started yet) on :data:`HOST`, port 0."""
        chosen: dict[str, Any] = {
            "max_concurrent_executions": self.max_concurrent_executions,
            "event_retention_seconds": self.event_retention_seconds,
            "max_retained_executions": self.max_retained_executions,
            "drain_grace_seconds": self.drain_grace_seconds,
            "limits": self.limits,
            "store": self.store,
            "executor": self.executor,
        }
        return OpHostServer(
            self.ops,
            resources=self.resources,
            host=HOST,
            port=0,
            interceptors=self.interceptors,
            **{name: value for name, value in chosen.items() if value is not None},
        )


@dataclass(frozen=True)
class RunningHost:
    """A started :class:`~ophost.server.OpHostServer` and a client connected to it.

    ``client`` is an :class:`~ophost_client.AsyncOpHostClient` on the test's event
    loop. Make further clients with ``AsyncOpHostClient(host.address, ...)``.
    """

    server: OpHostServer
    client: AsyncOpHostClient

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``: what a client connects to."""
        return self.server.address

    @property
    def port(self) -> int:
        return self.server.port


@contextlib.asynccontextmanager
async def running_host(
    ops: Ops,
    *,
    resources: Mapping[str, object] | None = None,
    limits: Limits | None = None,
    store: ExecutionStore | None = None,
    executor: Executor | None = None,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    max_concurrent_executions: int | None = None,
    event_retention_seconds: float | None = None,
    max_retained_executions: int | None = None,
    drain_grace_seconds: float | None = 1.0,
    client_timeout: float | None = 30.0,
) -> AsyncIterator[RunningHost]:
    """Serve ``ops`` in this process on 127.0.0.1 (a free port) for the ``async with`` block.

    Yields a :class:`RunningHost`: the server, its address and port, and a connected
    :class:`~ophost_client.AsyncOpHostClient` (with ``client_timeout`` as its
    default deadline). On the way out, error or not, the client is closed and the
    server stopped: it drains for ``drain_grace_seconds`` (1 s here, so that a test
    that leaves an execution running does not wait long), then cancels what still
    runs, and its port refuses connections.

    The server options are those of :class:`~ophost.server.OpHostServer`; one left
    as ``None`` keeps the server's default.
    """
    spec = ServerSpec(
        ops=ops,
        resources=resources,
        limits=limits,
        store=store,
        executor=executor,
        interceptors=interceptors,
        max_concurrent_executions=max_concurrent_executions,
        event_retention_seconds=event_retention_seconds,
        max_retained_executions=max_retained_executions,
        drain_grace_seconds=drain_grace_seconds,
    )
    async with (
        spec.server() as server,
        AsyncOpHostClient(server.address, timeout=client_timeout) as client,
    ):
        yield RunningHost(server, client)
