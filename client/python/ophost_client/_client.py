"""The asyncio client of ``ophost.v1.OpHostService``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import grpc

from ophost.codec import definitions
from ophost.definitions import OpSpec
from ophost.v1 import op_host_service_pb2 as pb
from ophost_client._info import ExecutionInfo, ExecutionState, ServerInfo
from ophost_client._options import CLIENT_TIMEOUT, CallOptions, Metadata, Timeout, check_timeout
from ophost_client._request import UNSET, StartRequest
from ophost_client._security import Pem, channel_credentials, token_metadata, wants_tls
from ophost_client._session import ReattachPolicy, Session
from ophost_client._stream import ExecutionStream
from ophost_client._target import Target, channel_target, target_label

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["CHANNEL_OPTIONS", "AsyncOpHostClient"]

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

    The client makes an insecure channel to ``target`` with :data:`CHANNEL_OPTIONS`.
    ``target`` may also name several servers that behave as one host (replicas
    sharing a database), and the client then spreads its calls over them round robin:
    ``"host1:50051,host2:50051"`` or a sequence of addresses (names among them are
    looked up once, blocking, when the client is made), or a gRPC target URI that can resolve
    to several addresses, such as ``"dns:///ops.example.com:50051"`` (every address
    of the name, looked up again as gRPC sees fit) or
    ``"ipv4:10.0.0.1:50051,10.0.0.2:50051"``. A stream stays on the server it
    started on; a re-attach may go to another. One address, or any other target
    URI, is used as given, with gRPC's default policy.

    Pass ``channel`` to use a ``grpc.aio.Channel`` of your own instead (client
    interceptors, load balancing, other options); ``target`` is then only a label, and
    :meth:`close` leaves that channel open: it is yours to close.

    TLS: ``tls_ca`` (the CA certificates to verify the server with; the system's
    without it), and for mTLS ``tls_cert`` and ``tls_key`` (the client's certificate
    chain and private key). Each is PEM ``bytes`` or the path of a PEM file. Any of
    them makes the channel TLS; ``tls=True`` does too (with the system's CAs), and
    ``tls=False`` refuses them. They apply to the channel the client makes, not to one
    passed in. ``token`` is sent with every call as ``authorization: Bearer <token>``;
    a call whose ``metadata`` sets ``authorization`` (see
    :func:`~ophost_client.bearer`) sends its own instead.

    ``timeout`` is the default deadline of every unary call, in seconds (``None``:
    none); streams have no deadline unless a call gives one. A stream that breaks
    after its execution was accepted re-attaches up to ``reattach_attempts`` times in
    a row, waiting ``reattach_backoff`` seconds, then twice that, and so on (at most
    5 s), between attempts.

    Every method takes per-call options: ``timeout`` replaces the client's default
    for that call (``None``: no deadline) and ``metadata``, ``(key, value)`` pairs, is
    sent with every RPC the call makes. A method that makes several RPCs (the pages of
    a listing, a stream's re-attaches) has one deadline for all of them; once it has
    passed, the call raises :class:`~ophost_client.errors.OpHostRpcError`
    ``DEADLINE_EXCEEDED``.
    """

    def __init__(
        self,
        target: Target,
        *,
        channel: grpc.aio.Channel | None = None,
        timeout: float | None = 30.0,
        reattach_attempts: int = 5,
        reattach_backoff: float = 0.2,
        tls: bool | None = None,
        tls_ca: Pem | None = None,
        tls_cert: Pem | None = None,
        tls_key: Pem | None = None,
        token: str | None = None,
    ) -> None:
        check_timeout(timeout)
        reattach = ReattachPolicy(attempts=reattach_attempts, backoff=reattach_backoff)
        self.target = target_label(target)
        metadata = token_metadata(token)
        secure = wants_tls(tls, tls_ca, tls_cert, tls_key)
        owns_channel = channel is None
        if channel is None:
            chosen = channel_target(target)
            options = (*CHANNEL_OPTIONS, *chosen.options)
            if secure:
                credentials = channel_credentials(tls_ca, tls_cert, tls_key)
                channel = grpc.aio.secure_channel(chosen.uri, credentials, options=options)
            else:
                channel = grpc.aio.insecure_channel(chosen.uri, options=options)
        elif secure:
            raise ValueError(
                "the TLS options apply to the channel the client makes; give the channel "
                "passed in its own credentials"
            )
        self._session = Session(
            channel,
            owns_channel=owns_channel,
            timeout=timeout,
            reattach=reattach,
            metadata=metadata,
        )

    def __repr__(self) -> str:
        return f"AsyncOpHostClient({self.target!r})"

    @property
    def closed(self) -> bool:
        return self._session.closed

    async def close(self) -> None:
        """Close the channel (if the client made it); open streams end."""
        await self._session.close()

    async def __aenter__(self) -> AsyncOpHostClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the server and its ops ----------------------------------------------------------

    async def server_info(
        self, *, timeout: Timeout = CLIENT_TIMEOUT, metadata: Metadata | None = None
    ) -> ServerInfo:
        """Ask the server who it is, what it can do and its limits (cached for uploads)."""
        return await self._session.server_info(self._session.begin(timeout, metadata))

    async def list_ops(
        self,
        full: bool = False,
        *,
        timeout: Timeout = CLIENT_TIMEOUT,
        metadata: Metadata | None = None,
    ) -> list[OpSpec]:
        """Every hosted op, in registration order, following the pages (one deadline).

        Without ``full`` only names, descriptions and input and output types are filled
        (``OP_VIEW_BASIC``); use :meth:`get_op` or ``full=True`` for the rest.
        """
        options = self._session.begin(timeout, metadata)
        view = pb.OP_VIEW_FULL if full else pb.OP_VIEW_BASIC
        specs: list[OpSpec] = []
        token = ""
        while True:
            page = await self._session.unary(
                self._session.stub.ListOps, pb.ListOpsRequest(page_token=token, view=view), options
            )
            specs.extend(definitions.from_proto(op) for op in page.ops)
            token = page.next_page_token
            if not token:
                return specs

    async def get_op(
        self, name: str, *, timeout: Timeout = CLIENT_TIMEOUT, metadata: Metadata | None = None
    ) -> OpSpec:
        """One op's full definition."""
        response = await self._session.unary(
            self._session.stub.GetOp,
            pb.GetOpRequest(op_name=name),
            self._session.begin(timeout, metadata),
        )
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
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> ExecutionStream:
        """Run ``op_name`` and stream its events (``async for event in client.execute(...)``).

        The execution starts when the stream is first iterated (or on
        ``await stream.accepted()``). Inputs and config too large to travel inline are
        uploaded in chunks. A value with no wire form raises ``CodecError`` here, naming
        it (``inputs.x``); a request the server rejects raises ``OpHostRpcError`` when
        the stream starts. ``config`` left out sends no config (``None`` sends a null).

        A stream has no deadline by default (an op may run for hours). ``timeout``
        gives it one, counted from when the stream starts and covering every
        re-attach; the execution itself keeps running on the server when it passes.
        ``metadata`` goes with every RPC of the stream, re-attaches included.
        """
        check_timeout(timeout)
        request = StartRequest.encode(
            op_name, inputs, config=config, tags=tags, request_id=request_id
        )
        return ExecutionStream(self._session, request=request, timeout=timeout, metadata=metadata)

    async def start(
        self,
        op_name: str,
        inputs: Mapping[str, object] | None = None,
        *,
        config: object = UNSET,
        tags: Mapping[str, str] | None = None,
        request_id: str | None = None,
        timeout: Timeout = CLIENT_TIMEOUT,
        metadata: Metadata | None = None,
    ) -> ExecutionInfo:
        """Start an execution without streaming its events (``StartExecution``).

        Every value must travel inline: one over the server's inline threshold raises
        ``CodecError`` (use :meth:`execute` for large values). Follow the events with
        :meth:`attach`.
        """
        request = StartRequest.encode(
            op_name, inputs, config=config, tags=tags, request_id=request_id
        )
        options = self._session.begin(timeout, metadata)
        start = request.inline(await self._session.cached_server_info(options))
        response = await self._session.unary(
            self._session.stub.StartExecution, pb.StartExecutionRequest(start=start), options
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
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> dict[str, object]:
        """Run ``op_name`` to the end and return the outputs of its final attempt.

        Raises ``OpFailedError`` (with the ``StepFailed`` and ``ExecutionFinished``
        events) if the op failed and ``ExecutionCanceledError`` if it was canceled.
        ``timeout`` and ``metadata`` work as for :meth:`execute`: no deadline unless
        given, and then ``OpHostRpcError`` ``DEADLINE_EXCEEDED`` once it passes.
        """
        async with self.execute(
            op_name,
            inputs,
            config=config,
            tags=tags,
            request_id=request_id,
            timeout=timeout,
            metadata=metadata,
        ) as stream:
            return await stream.result()

    def attach(
        self,
        execution_id: str,
        after_sequence: int = 0,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> ExecutionStream:
        """Follow an execution's events after ``after_sequence`` (0: from the start).

        ``timeout`` and ``metadata`` work as for :meth:`execute`.
        """
        check_timeout(timeout)
        return ExecutionStream(
            self._session,
            execution_id=execution_id,
            after_sequence=after_sequence,
            timeout=timeout,
            metadata=metadata,
        )

    async def cancel(
        self,
        execution_id: str,
        *,
        reason: str = "",
        timeout: Timeout = CLIENT_TIMEOUT,
        metadata: Metadata | None = None,
    ) -> ExecutionInfo:
        """Ask for an execution to be canceled; returns it as it is now (idempotent)."""
        return await self._session.cancel_execution(
            execution_id, reason, self._session.begin(timeout, metadata)
        )

    async def get_execution(
        self,
        execution_id: str,
        *,
        timeout: Timeout = CLIENT_TIMEOUT,
        metadata: Metadata | None = None,
    ) -> ExecutionInfo:
        """One execution as it is now."""
        response = await self._session.unary(
            self._session.stub.GetExecution,
            pb.GetExecutionRequest(execution_id=execution_id),
            self._session.begin(timeout, metadata),
        )
        return ExecutionInfo.from_proto(response.execution)

    async def list_executions(
        self,
        op_name: str | None = None,
        states: Iterable[ExecutionState | str] | None = None,
        *,
        created_after: datetime | float | None = None,
        created_before: datetime | float | None = None,
        limit: int | None = None,
        page_size: int = 0,
        timeout: Timeout = CLIENT_TIMEOUT,
        metadata: Metadata | None = None,
    ) -> list[ExecutionInfo]:
        """The executions the server retains, newest first, following the pages.

        ``op_name`` and ``states`` (``ExecutionState`` members or their names) filter.
        ``created_after`` (inclusive) and ``created_before`` (exclusive) bound the
        creation time: a datetime (a naive one is UTC) or seconds since the epoch. A
        server that predates these two bounds ignores them, so the client also applies
        them to what it receives. ``limit`` stops once that many executions are found
        (``None``: every one); ``page_size`` is the most to ask for per page (0: the
        server's default); no page asks for more than ``limit`` still needs. One
        deadline covers every page.
        """
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0 or None, got {limit}")
        if page_size < 0:
            raise ValueError(f"page_size must be >= 0, got {page_size}")
        options: CallOptions = self._session.begin(timeout, metadata)
        after = _utc(created_after)
        before = _utc(created_before)
        request = pb.ListExecutionsRequest(
            op_name=op_name or "", states=[ExecutionState(s).to_proto() for s in states or ()]
        )
        if after is not None:
            request.created_after.FromDatetime(after)
        if before is not None:
            request.created_before.FromDatetime(before)
        found: list[ExecutionInfo] = []
        while limit is None or len(found) < limit:
            size = page_size
            if limit is not None:  # ask for no more than the limit still needs
                size = min(size, limit - len(found)) if size else limit - len(found)
            request.page_size = size
            page = await self._session.unary(self._session.stub.ListExecutions, request, options)
            for message in page.executions:
                info = ExecutionInfo.from_proto(message)
                created = info.create_time
                if created is not None and (
                    (after is not None and created < after)
                    or (before is not None and created >= before)
                ):
                    continue
                found.append(info)
            request.page_token = page.next_page_token
            if not request.page_token:
                break
        return found if limit is None else found[:limit]


def _utc(when: datetime | float | None) -> datetime | None:
    """``when`` as an aware UTC datetime: naive datetimes are UTC, numbers epoch seconds."""
    if when is None:
        return None
    if isinstance(when, datetime):
        if when.tzinfo is None:
            return when.replace(tzinfo=timezone.utc)
        return when.astimezone(timezone.utc)
    return datetime.fromtimestamp(when, tz=timezone.utc)
