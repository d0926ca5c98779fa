"""The browser door: ``OpHostService`` over Connect and gRPC-Web, and the web console's files.

Browsers cannot speak gRPC's HTTP/2 framing, so :class:`HttpDoor` serves the same
service a second way, on a port of its own (``ophost serve --http-port``), from the
same process, engine and store as the gRPC port:

- the Connect protocol (unary calls as plain HTTP requests with JSON or binary
  bodies, ``curl`` included; server streaming as enveloped messages) and gRPC-Web, by
  the ``connectrpc`` package's ASGI application (generated into
  ``ophost.v1.op_host_service_connect`` by ``make generate``), for ``GetServerInfo``,
  ``ListOps``, ``GetOp``, ``StartExecution``, ``GetExecution``, ``ListExecutions``,
  ``CancelExecution`` and ``StreamEvents``. ``Execute`` is bidirectional, which
  browsers cannot do: it answers ``unimplemented``, naming the calls to use instead;
- the web console, static files from a directory (``index.html`` at ``/``), by
  Starlette's ``StaticFiles`` (no directory listing, nothing outside the directory).
  Without an ``index.html``, ``/`` answers 404 saying the console is not built;
- CORS, off unless origins are given, by Starlette's ``CORSMiddleware``.

Hypercorn serves it all on the host's own asyncio event loop (HTTP/1.1, and HTTP/2 by
ALPN over TLS or by prior knowledge): one process, one engine, one store. The door
binds its socket itself, so the port (0 picks one) is known before anything is served.

Every call goes through the transport-neutral :class:`~ophost.server._service.OpHostService`
the gRPC servicer also calls, after the same admission: the caller's token (the
``authorization: Bearer <token>`` header) is checked against the token file by
:func:`~ophost.server._credentials.admit`, and the identity's access is bound for the
service's own checks (which ops, whose executions, how many at once). A refusal is a
Connect error with the same code, message and details (``ErrorInfo``, ``BadRequest``,
``RetryInfo``) the gRPC door sends in ``grpc-status-details-bin``. The door cannot see
a client certificate's subject (ASGI does not pass it on): with mTLS, the handshake
still needs a certificate from the client CA, but an identity that authenticates by
certificate alone cannot call this door. Needs the ``http`` extra.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import grpc
from connectrpc.code import Code
from connectrpc.errors import ConnectError, ErrorDetail
from connectrpc.request import RequestContext
from google.protobuf import json_format
from google.protobuf.message import Message
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config
from protobuf.wkt import Any as AnyDetail
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ophost.server import _access
from ophost.server._address import host_port
from ophost.server._auth import METHOD_ACTIONS
from ophost.server._credentials import AUTHORIZATION_HEADER, admit
from ophost.server._service import OpHostService, refusal
from ophost.server._tls import ServerCertificates
from ophost.server._token_file import AccessPolicy
from ophost.v1 import op_host_service_pb2 as pb
from ophost.v1.op_host_service_connect import OpHostServiceASGIApplication

if TYPE_CHECKING:
    import ssl

__all__ = ["CONSOLE_DIR", "CORS_ALLOW_HEADERS", "CORS_EXPOSE_HEADERS", "HttpDoor", "door_app"]

_log = logging.getLogger("ophost.server")
_SERVICE = pb.DESCRIPTOR.services_by_name["OpHostService"].full_name

# The web console's built files, shipped in the package.
CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console" / "static"
# What a browser may send and read across origins: Connect's and gRPC-Web's headers,
# the token, and trace context.
CORS_ALLOW_HEADERS = (
    "authorization",
    "content-type",
    "connect-protocol-version",
    "connect-timeout-ms",
    "grpc-timeout",
    "x-grpc-web",
    "x-user-agent",
    "traceparent",
    "tracestate",
)
CORS_EXPOSE_HEADERS = ("grpc-status", "grpc-message", "grpc-status-details-bin")
# How long a browser may keep a preflight answer (seconds).
_CORS_MAX_AGE = 7200
# What GetServerInfo offers that only the Execute stream does (not served here).
_EXECUTE_ONLY = frozenset({"chunked_upload"})
# How long a stop waits for requests still being answered.
_GRACEFUL_SECONDS = 2.0

_Res = TypeVar("_Res", bound=Message)
# Begins one call (method path, kind: "unary" or "server_stream"); returns its end,
# called once with the status code the call ended with.
CallCounter = Callable[[str, str], Callable[[grpc.StatusCode], None]]


# -- codecs: google.protobuf messages, and responses the wire layer already serialized ---


class _Serialized:
    """A response message as bytes (a ``StreamEventsResponse`` from the wire layer)."""

    __slots__ = ("data", "message_type")

    def __init__(self, data: bytes, message_type: type[Message]) -> None:
        self.data = data
        self.message_type = message_type


class _ProtoCodec:
    """Connect's ``proto`` codec: bytes already serialized are sent as they are."""

    def name(self) -> str:
        return "proto"

    def encode(self, message: Message | _Serialized) -> bytes:
        if isinstance(message, _Serialized):
            return message.data
        data: bytes = message.SerializeToString()
        return data

    def decode(self, data: bytes | bytearray, message_class: type[_Res]) -> _Res:
        return message_class.FromString(bytes(data))


class _JsonCodec:
    """Connect's ``json`` codec (the protobuf JSON mapping); unknown fields are refused."""

    def name(self) -> str:
        return "json"

    def encode(self, message: Message | _Serialized) -> bytes:
        if isinstance(message, _Serialized):
            message = message.message_type.FromString(message.data)
        return json_format.MessageToJson(message, indent=None).encode()

    def decode(self, data: bytes | bytearray, message_class: type[_Res]) -> _Res:
        message = message_class()
        json_format.Parse(bytes(data), message)
        return message


# -- errors ----------------------------------------------------------------------------------

_TO_CONNECT = {
    code: Code.CANCELED if code is grpc.StatusCode.CANCELLED else Code(code.name.lower())
    for code in grpc.StatusCode
    if code is not grpc.StatusCode.OK
}
_FROM_CONNECT = {value: key for key, value in _TO_CONNECT.items()}


def _connect_error(error: Exception, method: str) -> ConnectError:
    """The Connect error a call that raised ``error`` ends with (a bug is logged)."""
    if isinstance(error, ConnectError):
        return error
    status = refusal(error)
    if status is None:
        _log.error("%s failed", method, exc_info=error)
        return ConnectError(Code.INTERNAL, f"{method} failed on the server")
    proto = status.to_status_proto()
    details = [ErrorDetail(AnyDetail(type_url=d.type_url, value=d.value)) for d in proto.details]
    return ConnectError(_TO_CONNECT[status.code], proto.message, details)


# -- the handlers ----------------------------------------------------------------------------


class _Handlers:
    """``OpHostService`` as the generated Connect application calls it."""

    def __init__(
        self,
        service: OpHostService,
        policy: Callable[[], AccessPolicy | None],
        calls: CallCounter | None,
    ) -> None:
        self._service = service
        self._policy = policy
        self._calls = calls

    def _admit(self, method: str, ctx: RequestContext[Any, Any]) -> None:
        """Authenticate the call with the token file in use (if any) and bind its access."""
        policy = self._policy()
        if policy is None:
            return
        tokens = ctx.request_headers.getall(AUTHORIZATION_HEADER)
        try:
            access = admit(policy, method, METHOD_ACTIONS.get(method), list(tokens), None)
        except Exception as error:
            status = refusal(error)
            why = status.message if status is not None else str(error)
            _log.info("refused %s from %s: %s", method, ctx.client_address, why)
            raise
        _access.bind(access)

    async def _unary(
        self,
        name: str,
        call: Callable[[], Awaitable[_Res]],
        ctx: RequestContext[Any, Any],
    ) -> _Res:
        method = f"/{_SERVICE}/{name}"
        end = self._calls(method, "unary") if self._calls is not None else None
        try:
            self._admit(method, ctx)
            response = await call()
        except asyncio.CancelledError:
            if end is not None:
                end(grpc.StatusCode.CANCELLED)
            raise
        except Exception as error:
            failure = _connect_error(error, method)
            if end is not None:
                end(_FROM_CONNECT.get(failure.code, grpc.StatusCode.UNKNOWN))
            if failure is error:
                raise
            raise failure from None
        if end is not None:
            end(grpc.StatusCode.OK)
        return response

    async def get_server_info(
        self, request: pb.GetServerInfoRequest, ctx: RequestContext[Any, Any], /
    ) -> pb.GetServerInfoResponse:
        info = await self._unary("GetServerInfo", lambda: self._service.server_info(request), ctx)
        # Chunked uploads travel on Execute, which this door does not serve.
        kept = [c for c in info.capabilities if c not in _EXECUTE_ONLY]
        del info.capabilities[:]
        info.capabilities.extend(kept)
        return info

    async def list_ops(
        self, request: pb.ListOpsRequest, ctx: RequestContext[Any, Any], /
    ) -> pb.ListOpsResponse:
        return await self._unary("ListOps", lambda: self._service.list_ops(request), ctx)

    async def get_op(
        self, request: pb.GetOpRequest, ctx: RequestContext[Any, Any], /
    ) -> pb.GetOpResponse:
        return await self._unary("GetOp", lambda: self._service.get_op(request), ctx)

    async def start_execution(
        self, request: pb.StartExecutionRequest, ctx: RequestContext[Any, Any], /
    ) -> pb.StartExecutionResponse:
        return await self._unary(
            "StartExecution", lambda: self._service.start_execution(request), ctx
        )

    async def get_execution(
        self, request: pb.GetExecutionRequest, ctx: RequestContext[Any, Any], /
    ) -> pb.GetExecutionResponse:
        return await self._unary("GetExecution", lambda: self._service.get_execution(request), ctx)

    async def list_executions(
        self, request: pb.ListExecutionsRequest, ctx: RequestContext[Any, Any], /
    ) -> pb.ListExecutionsResponse:
        return await self._unary(
            "ListExecutions", lambda: self._service.list_executions(request), ctx
        )

    async def cancel_execution(
        self, request: pb.CancelExecutionRequest, ctx: RequestContext[Any, Any], /
    ) -> pb.CancelExecutionResponse:
        return await self._unary(
            "CancelExecution", lambda: self._service.cancel_execution(request), ctx
        )

    async def stream_events(
        self, request: pb.StreamEventsRequest, ctx: RequestContext[Any, Any], /
    ) -> AsyncIterator[_Serialized]:
        method = f"/{_SERVICE}/StreamEvents"
        end = self._calls(method, "server_stream") if self._calls is not None else None
        code = grpc.StatusCode.OK
        try:
            self._admit(method, ctx)
            async with contextlib.aclosing(self._service.stream_events(request)) as batches:
                async for data in batches:
                    yield _Serialized(data, pb.StreamEventsResponse)
        except (asyncio.CancelledError, GeneratorExit):
            code = grpc.StatusCode.CANCELLED
            raise
        except Exception as error:
            failure = _connect_error(error, method)
            code = _FROM_CONNECT.get(failure.code, grpc.StatusCode.UNKNOWN)
            if failure is error:
                raise
            raise failure from None
        finally:
            if end is not None:
                end(code)

    def execute(
        self, request: AsyncIterator[pb.ExecuteRequest], ctx: RequestContext[Any, Any], /
    ) -> AsyncIterator[pb.ExecuteResponse]:
        raise ConnectError(
            Code.UNIMPLEMENTED,
            "Execute is a bidirectional stream, which this door does not serve: call "
            "StartExecution, then StreamEvents (and CancelExecution), or use the gRPC port",
        )


# -- the application -------------------------------------------------------------------------


def door_app(
    service: OpHostService,
    *,
    policy: Callable[[], AccessPolicy | None],
    console_dir: Path = CONSOLE_DIR,
    cors_origins: Sequence[str] = (),
    max_message_bytes: int | None = None,
    calls: CallCounter | None = None,
) -> Starlette:
    """The door's ASGI application: the Connect service, the console, CORS if asked.

    ``policy`` returns the token file's policy in use (None: no token file), read at
    every call so that a reload applies at once.
    """
    # The generated protocol wants messages; the streamed ones go out as the bytes the
    # wire layer made, which only these codecs read (hence the cast).
    handlers: Any = _Handlers(service, policy, calls)
    connect = OpHostServiceASGIApplication(
        handlers,
        read_max_bytes=max_message_bytes,
        codecs=[_ProtoCodec(), _JsonCodec()],
    )
    index = console_dir / "index.html"

    async def console(_request: Request) -> Response:
        if index.is_file():
            return FileResponse(index, media_type="text/html; charset=utf-8")
        return PlainTextResponse(
            f"The ophost web console is not built: {console_dir} has no index.html.\n",
            status_code=404,
        )

    middleware = []
    if cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=list(CORS_ALLOW_HEADERS),
                expose_headers=list(CORS_EXPOSE_HEADERS),
                max_age=_CORS_MAX_AGE,
            )
        )
    return Starlette(
        routes=[
            Mount(f"/{_SERVICE}", app=connect),
            Route("/", console, methods=["GET", "HEAD"]),
            Mount("/", app=StaticFiles(directory=console_dir, html=True, check_dir=False)),
        ],
        middleware=middleware,
    )


class _Config(Config):
    """Hypercorn's configuration, with the host's reloadable TLS context."""

    def __init__(self, certificates: ServerCertificates | None) -> None:
        super().__init__()
        self._certificates = certificates

    @property
    def ssl_enabled(self) -> bool:
        return self._certificates is not None

    def create_ssl_context(self) -> ssl.SSLContext | None:
        if self._certificates is None:
            return None
        return self._certificates.ssl_context()


class HttpDoor:
    """Serves an ASGI ``app`` on ``host:port`` (0 picks a port) on the running event loop.

    ``certificates``: serve TLS with them (reloaded with them). :attr:`port` is the
    port bound once :meth:`start` returns.
    """

    def __init__(
        self,
        app: Starlette,
        *,
        host: str,
        port: int,
        certificates: ServerCertificates | None = None,
        reuse_port: bool = False,
    ) -> None:
        self._app = app
        self._host = host
        self._requested_port = port
        self._certificates = certificates
        self._reuse_port = reuse_port
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def address(self) -> str:
        return host_port(self._host, self.port)

    @property
    def url(self) -> str:
        scheme = "https" if self._certificates is not None else "http"
        return f"{scheme}://{self.address}/"

    async def start(self) -> None:
        """Bind the port and start serving (raises ``OSError`` when it cannot bind)."""
        sock = _listen(self._host, self._requested_port, reuse_port=self._reuse_port)
        self.port = sock.getsockname()[1]
        config = _Config(self._certificates)
        config.bind = [f"fd://{sock.detach()}"]
        config.errorlog = logging.getLogger("ophost.server.http")
        config.accesslog = None
        config.include_server_header = False
        config.graceful_timeout = _GRACEFUL_SECONDS
        self._task = asyncio.ensure_future(
            # Starlette and Hypercorn each type ASGI in their own words.
            hypercorn_serve(
                cast("Any", self._app), config, shutdown_trigger=self._stopping.wait, mode="asgi"
            )
        )
        self._task.add_done_callback(_log_failure)
        # Let it take the socket; a failure to start is raised here.
        await asyncio.sleep(0)
        if self._task.done():
            self._task.result()

    async def stop(self) -> None:
        """Stop accepting, let the requests being answered finish (briefly), then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), _GRACEFUL_SECONDS + 3.0)
        except asyncio.TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _log_failure(task: asyncio.Task[None]) -> None:
    """Log the door's end when it was not asked for (the gRPC port serves on)."""
    if not task.cancelled() and task.exception() is not None:
        _log.error("the browser door stopped serving", exc_info=task.exception())


def _listen(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A listening TCP socket on ``host:port``."""
    infos = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE | socket.AI_NUMERICSERV
    )
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port and hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock
