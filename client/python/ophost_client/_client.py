"""The asyncio client of ``ophost.v1.OpHostService``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, TypeVar

import grpc

from ophost.codec import definitions
from ophost.definitions import OpSpec
from ophost.v1 import op_host_service_pb2 as pb
from ophost.v1 import op_host_service_pb2_grpc
from ophost_client._info import ExecutionInfo, ExecutionState, ServerInfo
from ophost_client._request import UNSET, StartRequest
from ophost_client._status import from_aio_error
from ophost_client._stream import ExecutionStream
from ophost_client.errors import ClientClosedError

if TYPE_CHECKING:
    from types import TracebackType

    from ophost.v1.op_host_service_pb2_grpc import OpHostServiceAsyncStub

__all__ = ["CHANNEL_OPTIONS", "AsyncOpHostClient"]

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")

# Options of the channel the client makes for itself (not of one passed in).
# Keepalive matches the server's policy (ophost.server.KEEPALIVE_OPTIONS): the server
# accepts pings as often as every 10 s, also without calls in flight, so the client
# pings every 30 s and gives up on a connection whose ping is not answered in 10 s.
# Pings continue while a stream sits idle (an op may run for minutes without events):
# max_pings_without_data 0 lifts gRPC's default cap of two pings without data.
# The server keeps each message below its max_message_bytes; the client accepts up to
# 64 MiB so that a server configured above gRPC's 4 MiB default still works.
CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_receive_message_length", 64 << 20),
)


class AsyncOpHostClient:
    """Calls the ops of an ophost server (``target`` is ``host:port``).

    Pass ``channel`` to use a channel of your own (TLS, interceptors, other options);
    the client then leaves it open on :meth:`close`. ``timeout`` is the deadline of
    every unary call, in seconds (``None``: none); streams have no deadline. A stream
    that breaks after its execution was accepted re-attaches up to
    ``reattach_attempts`` times in a row, waiting ``reattach_backoff`` seconds, then
    twice that, and so on (at most 5 s), between attempts.
    """

    def __init__(
        self,
        target: str,
        *,
        channel: grpc.aio.Channel | None = None,
        timeout: float | None = 30.0,
        reattach_attempts: int = 5,
        reattach_backoff: float = 0.2,
    ) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be > 0 or None, got {timeout}")
        if reattach_attempts < 0:
            raise ValueError(f"reattach_attempts must be >= 0, got {reattach_attempts}")
        if reattach_backoff < 0:
            raise ValueError(f"reattach_backoff must be >= 0, got {reattach_backoff}")
        self.target = target
        self._owns_channel = channel is None
        self._channel = (
            channel
            if channel is not None
            else grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
        )
        self._stub: OpHostServiceAsyncStub = op_host_service_pb2_grpc.OpHostServiceStub(
            self._channel
        )
        self._timeout = timeout
        self._reattach_attempts = reattach_attempts
        self._reattach_backoff = reattach_backoff
        self._server_info: ServerInfo | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"AsyncOpHostClient({self.target!r})"

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """Close the channel (if the client made it); open streams end."""
        if self._closed:
            return
        self._closed = True
        if self._owns_channel:
            await self._channel.close()

    async def __aenter__(self) -> AsyncOpHostClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError("the client is closed")

    async def _unary(
        self, method: grpc.aio.UnaryUnaryMultiCallable[_Request, _Response], request: _Request
    ) -> _Response:
        self._check_open()
        try:
            return await method(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise from_aio_error(exc) from exc

    # -- the server and its ops ----------------------------------------------------------

    async def server_info(self) -> ServerInfo:
        """Ask the server who it is, what it can do and its limits (cached for uploads)."""
        response = await self._unary(self._stub.GetServerInfo, pb.GetServerInfoRequest())
        info = ServerInfo.from_proto(response)
        self._server_info = info
        return info

    async def _cached_server_info(self) -> ServerInfo:
        if self._server_info is None:
            return await self.server_info()
        return self._server_info

    async def list_ops(self, full: bool = False) -> list[OpSpec]:
        """Every hosted op, in registration order, following the pages.

        Without ``full`` only names, descriptions and input and output types are filled
        (``OP_VIEW_BASIC``); use :meth:`get_op` or ``full=True`` for the rest.
        """
        view = pb.OP_VIEW_FULL if full else pb.OP_VIEW_BASIC
        specs: list[OpSpec] = []
        token = ""
        while True:
            page = await self._unary(
                self._stub.ListOps, pb.ListOpsRequest(page_token=token, view=view)
            )
            specs.extend(definitions.from_proto(op) for op in page.ops)
            token = page.next_page_token
            if not token:
                return specs

    async def get_op(self, name: str) -> OpSpec:
        """One op's full definition."""
        response = await self._unary(self._stub.GetOp, pb.GetOpRequest(op_name=name))
        return definitions.from_proto(response.op)

    # -- executions ----------------------------------------------------------------------

    def execute(
        self,
        op_name: str,
        inputs: Mapping[str, object] | None = None,
        *,
        config: object = UNSET,
        tags: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> ExecutionStream:
        """Run ``op_name`` and stream its events (``async for event in client.execute(...)``).

        The execution starts when the stream is first iterated (or on
        ``await stream.accepted()``). Inputs and config too large to travel inline are
        uploaded in chunks. A value with no wire form raises ``CodecError`` here, naming
        it (``inputs.x``); a request the server rejects raises ``OpHostRpcError`` when
        the stream starts. ``config`` left out sends no config (``None`` sends a null).
        """
        request = StartRequest.encode(
            op_name, inputs, config=config, tags=tags, request_id=request_id
        )
        return ExecutionStream(self, request=request)

    async def start(
        self,
        op_name: str,
        inputs: Mapping[str, object] | None = None,
        *,
        config: object = UNSET,
        tags: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> ExecutionInfo:
        """Start an execution without streaming its events (``StartExecution``).

        Every value must travel inline: one over the server's inline threshold raises
        ``CodecError`` (use :meth:`execute` for large values). Follow the events with
        :meth:`attach`.
        """
        request = StartRequest.encode(
            op_name, inputs, config=config, tags=tags, request_id=request_id
        )
        start = request.inline(await self._cached_server_info())
        response = await self._unary(
            self._stub.StartExecution, pb.StartExecutionRequest(start=start)
        )
        return ExecutionInfo.from_proto(response.execution)

    async def call(
        self,
        op_name: str,
        inputs: Mapping[str, object] | None = None,
        *,
        config: object = UNSET,
        tags: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> dict[str, object]:
        """Run ``op_name`` to the end and return the outputs of its final attempt.

        Raises ``OpFailedError`` (with the ``StepFailed`` and ``ExecutionFinished``
        events) if the op failed and ``ExecutionCanceledError`` if it was canceled.
        """
        async with self.execute(
            op_name, inputs, config=config, tags=tags, request_id=request_id
        ) as stream:
            return await stream.result()

    def attach(self, execution_id: str, after_sequence: int = 0) -> ExecutionStream:
        """Follow an execution's events after ``after_sequence`` (0: from the start)."""
        return ExecutionStream(self, execution_id=execution_id, after_sequence=after_sequence)

    async def cancel(self, execution_id: str, *, reason: str = "") -> ExecutionInfo:
        """Ask for an execution to be canceled; returns it as it is now (idempotent)."""
        response = await self._unary(
            self._stub.CancelExecution,
            pb.CancelExecutionRequest(execution_id=execution_id, reason=reason),
        )
        return ExecutionInfo.from_proto(response.execution)

    async def get_execution(self, execution_id: str) -> ExecutionInfo:
        """One execution as it is now."""
        response = await self._unary(
            self._stub.GetExecution, pb.GetExecutionRequest(execution_id=execution_id)
        )
        return ExecutionInfo.from_proto(response.execution)

    async def list_executions(
        self,
        op_name: str | None = None,
        states: Iterable[ExecutionState | str] | None = None,
    ) -> list[ExecutionInfo]:
        """The executions the server retains, newest first, following the pages.

        ``op_name`` and ``states`` (``ExecutionState`` members or their names) filter.
        """
        wanted = [ExecutionState(state).to_proto() for state in states or ()]
        found: list[ExecutionInfo] = []
        token = ""
        while True:
            page = await self._unary(
                self._stub.ListExecutions,
                pb.ListExecutionsRequest(page_token=token, op_name=op_name or "", states=wanted),
            )
            found.extend(ExecutionInfo.from_proto(e) for e in page.executions)
            token = page.next_page_token
            if not token:
                return found
