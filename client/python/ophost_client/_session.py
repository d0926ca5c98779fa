"""What a client and its streams share: the connection, its state and its settings.

:class:`Session` is the seam between :class:`~ophost_client.AsyncOpHostClient` and
:class:`~ophost_client.ExecutionStream`. It holds the channel and its stub, whether
the client is still open, the server's info once asked, the client's default timeout
and the re-attach policy. The client makes one and hands it to every stream it makes,
so a stream needs nothing from the client object itself (and neither module imports
the other's internals).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import grpc

from ophost.v1 import op_host_service_pb2 as pb
from ophost.v1 import op_host_service_pb2_grpc
from ophost_client._info import ExecutionInfo, ServerInfo
from ophost_client._options import (
    CLIENT_TIMEOUT,
    CallOptions,
    Metadata,
    MetadataPairs,
    Timeout,
    merge_metadata,
)
from ophost_client._status import from_aio_error
from ophost_client.errors import ClientClosedError

if TYPE_CHECKING:
    from ophost.v1.op_host_service_pb2_grpc import OpHostServiceAsyncStub

__all__ = ["ReattachPolicy", "Session"]

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")

# The longest wait between two re-attach attempts, in seconds.
MAX_REATTACH_BACKOFF = 5.0


@dataclass(frozen=True, slots=True)
class ReattachPolicy:
    """How often a broken stream re-attaches in a row, and how long it waits between."""

    attempts: int
    backoff: float

    def __post_init__(self) -> None:
        if self.attempts < 0:
            raise ValueError(f"reattach_attempts must be >= 0, got {self.attempts}")
        if self.backoff < 0:
            raise ValueError(f"reattach_backoff must be >= 0, got {self.backoff}")

    def delay(self, failures: int) -> float:
        """The wait before re-attach attempt ``failures`` (1, 2, ...): doubling, capped."""
        return min(self.backoff * 2.0 ** (failures - 1), MAX_REATTACH_BACKOFF)


class Session:
    """A channel to one server and what the calls on it share.

    ``owns_channel`` says whether :meth:`close` closes the channel (a channel the
    caller handed in stays open). ``timeout`` is the default deadline of unary calls;
    ``metadata`` goes with every call (the client's token), before the call's own,
    which replaces the values of the keys it sets.
    """

    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        owns_channel: bool,
        timeout: float | None,
        reattach: ReattachPolicy,
        metadata: MetadataPairs = (),
    ) -> None:
        self.channel = channel
        self.metadata = metadata
        self.owns_channel = owns_channel
        self.stub: OpHostServiceAsyncStub = op_host_service_pb2_grpc.OpHostServiceStub(channel)
        self.timeout = timeout
        self.reattach = reattach
        self._server_info: ServerInfo | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def check_open(self) -> None:
        """Raise :class:`~ophost_client.errors.ClientClosedError` once closed."""
        if self._closed:
            raise ClientClosedError("the client is closed")

    async def close(self) -> None:
        """Mark the session closed; close the channel if it is the session's own."""
        if self._closed:
            return
        self._closed = True
        if self.owns_channel:
            await self.channel.close()

    def begin(self, timeout: Timeout, metadata: Metadata | None) -> CallOptions:
        """The options of a unary call starting now (``CLIENT_TIMEOUT``: the default)."""
        return CallOptions.begin(
            self.timeout if timeout is CLIENT_TIMEOUT else timeout, self.with_defaults(metadata)
        )

    def with_defaults(self, metadata: Metadata | None) -> MetadataPairs:
        """A call's metadata after the client's own (a key it sets replaces the client's)."""
        return merge_metadata(self.metadata, tuple(metadata or ()))

    async def unary(
        self,
        method: grpc.aio.UnaryUnaryMultiCallable[_Request, _Response],
        request: _Request,
        options: CallOptions,
    ) -> _Response:
        """One unary RPC with the call's time left and metadata; errors as OpHostRpcError."""
        self.check_open()
        timeout = options.remaining()
        try:
            return await method(request, timeout=timeout, metadata=options.metadata)
        except grpc.aio.AioRpcError as exc:
            raise from_aio_error(exc) from exc

    async def server_info(self, options: CallOptions) -> ServerInfo:
        """Ask the server for its info (``GetServerInfo``) and remember the answer."""
        response = await self.unary(self.stub.GetServerInfo, pb.GetServerInfoRequest(), options)
        info = ServerInfo.from_proto(response)
        self._server_info = info
        return info

    async def cached_server_info(self, options: CallOptions) -> ServerInfo:
        """The server's info, asked (with ``options``) only when not known yet."""
        if self._server_info is None:
            return await self.server_info(options)
        return self._server_info

    async def cancel_execution(
        self, execution_id: str, reason: str, options: CallOptions
    ) -> ExecutionInfo:
        """``CancelExecution``: the execution as it is after the request."""
        response = await self.unary(
            self.stub.CancelExecution,
            pb.CancelExecutionRequest(execution_id=execution_id, reason=reason),
            options,
        )
        return ExecutionInfo.from_proto(response.execution)
