"""Authentication and the per-method action check, as a ``grpc.aio`` server interceptor.

:class:`AccessInterceptor` serves an :class:`~ophost.server._token_file.AccessPolicy`
(a token file). Before a call reaches its handler it

1. finds the caller's identity: a bearer token (``authorization: Bearer <token>``),
   or else the subject of the client certificate that mTLS verified. An identity
   with both a token and a subject needs both. No credentials, or credentials that
   name no identity: ``UNAUTHENTICATED``;
2. checks that the identity has the action the method needs (:data:`METHOD_ACTIONS`):
   ``PERMISSION_DENIED`` otherwise;
3. binds the identity's :class:`~ophost.server._access.Access` to the call, for the
   handlers' own checks (which ops, whose executions).

Health checks pass without credentials unless the token file says
``health = "authenticated"``. ``GetServerInfo`` needs an identity and no action;
reflection needs ``list``, like ``ListOps``. The refusal is logged at INFO with the
method, the peer and why, never with a token.

:meth:`AccessInterceptor.reload` reads the token file again (``ophost serve`` calls it
on SIGHUP, and when the file changes); a file that does not load keeps the policy in use.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from ophost.server import _access
from ophost.server._access import CANCEL, LIST, READ, RUN, Access
from ophost.server._credentials import AUTHORIZATION_HEADER, admit
from ophost.server._status import StatusError
from ophost.server._token_file import AccessPolicy, TokenFileError, load_token_file
from ophost.v1 import op_host_service_pb2

__all__ = ["AUTHORIZATION_HEADER", "METHOD_ACTIONS", "AccessInterceptor"]

_log = logging.getLogger("ophost.server")

if TYPE_CHECKING:
    _Context = grpc.aio.ServicerContext[Any, Any]
    _Handler = grpc.RpcMethodHandler[Any, Any]

_SERVICE = op_host_service_pb2.DESCRIPTOR.services_by_name["OpHostService"].full_name
_HEALTH = "/grpc.health.v1.Health/"
_ACTION_OF = {
    "ListOps": LIST,
    "GetOp": LIST,
    "Execute": RUN,
    "StartExecution": RUN,
    "GetExecution": READ,
    "ListExecutions": READ,
    "StreamEvents": READ,
    "CancelExecution": CANCEL,
}
# The action each method needs (None: an identity, and no action).
METHOD_ACTIONS: dict[str, str | None] = {
    f"/{_SERVICE}/GetServerInfo": None,
    **{f"/{_SERVICE}/{name}": action for name, action in _ACTION_OF.items()},
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": LIST,
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": LIST,
}


class AccessInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates every call with ``policy`` and checks its method's action.

    ``path`` is the token file the policy came from, for :meth:`reload`; make one
    from a file with :meth:`from_file`. ``client_certificates``: whether the server
    verifies client certificates (mTLS); when False, a token file with identities
    that authenticate by certificate is refused, as none of them could.
    """

    def __init__(
        self,
        policy: AccessPolicy,
        *,
        path: Path | None = None,
        client_certificates: bool = True,
    ) -> None:
        self.path = path
        self.client_certificates = client_certificates
        self._signature = _signature(path) if path is not None else None
        self.policy = self._checked(policy)

    @classmethod
    def from_file(cls, path: str | Path, *, client_certificates: bool = True) -> AccessInterceptor:
        """Load a token file (raises ``TokenFileError`` naming what is wrong)."""
        file = Path(path)
        signature = _signature(file)
        interceptor = cls(load_token_file(file), path=file, client_certificates=client_certificates)
        interceptor._signature = signature
        return interceptor

    def _checked(self, policy: AccessPolicy) -> AccessPolicy:
        if policy.needs_client_certificates and not self.client_certificates:
            names = [i.name for i in policy.identities if i.client_cert_subject is not None]
            raise TokenFileError(
                f"{self.path or 'the token file'}: identity {names[0]!r} authenticates by "
                "client certificate, but the server asks for none (serve with --tls-client-ca)"
            )
        return policy

    def reload(self) -> bool:
        """Read the token file again; returns True once it is in use.

        Raises ``TokenFileError`` (naming what is wrong) and keeps the policy in use
        when the file does not load.
        """
        if self.path is None:
            return False
        # Remembered even when the file does not load: it is read again once it
        # changes again.
        self._signature = _signature(self.path)
        self.policy = self._checked(load_token_file(self.path))
        return True

    def reload_if_changed(self) -> bool:
        """:meth:`reload` when the file changed since it was last read."""
        if self.path is None or _signature(self.path) == self._signature:
            return False
        self.reload()
        return True

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        policy = self.policy
        if method.startswith(_HEALTH) and policy.open_health:
            return handler
        metadata = handler_call_details.invocation_metadata or ()
        action = METHOD_ACTIONS.get(method)

        async def admit(context: _Context) -> None:
            try:
                access = _admit(policy, method, action, metadata, context)
            except StatusError as error:
                _log.info("refused %s from %s: %s", method, context.peer(), error.message)
                await context.abort_with_status(error.to_status())
            _access.bind(access)

        return _before(handler, admit)


def _admit(
    policy: AccessPolicy,
    method: str,
    action: str | None,
    metadata: Sequence[tuple[str, str | bytes]],
    context: _Context,
) -> Access:
    headers = [value for key, value in metadata if key == AUTHORIZATION_HEADER]
    # A token alone settles it unless some identity also needs its certificate.
    needs_subject = not headers or policy.needs_client_certificates
    return admit(
        policy, method, action, headers, _client_subject(context) if needs_subject else None
    )


def _client_subject(context: _Context) -> str | None:
    """The subject of the client certificate mTLS verified, or None without one."""
    found = next(iter(context.auth_context().get("x509_subject", ())), None)
    if found is None:
        return None
    return bytes(found).decode("utf-8", "replace")


def _before(handler: _Handler, admit: Callable[[_Context], Awaitable[None]]) -> _Handler:
    """``handler`` with ``admit`` run once at the start of every call."""
    if handler.unary_unary is not None:
        unary: Any = handler.unary_unary

        async def unary_unary(request: Any, context: _Context) -> Any:
            await admit(context)
            return await unary(request, context)

        return handler._replace(unary_unary=unary_unary)  # type: ignore[attr-defined, no-any-return]
    if handler.stream_unary is not None:
        client_stream: Any = handler.stream_unary

        async def stream_unary(requests: Any, context: _Context) -> Any:
            await admit(context)
            return await client_stream(requests, context)

        return handler._replace(stream_unary=stream_unary)  # type: ignore[attr-defined, no-any-return]
    streaming: Any = handler.unary_stream or handler.stream_stream
    assert streaming is not None
    if not inspect.isasyncgenfunction(streaming):
        # A handler that sends with context.write (health's Watch) is a coroutine.
        async def writing(request: Any, context: _Context) -> Any:
            await admit(context)
            return await streaming(request, context)

        wrapped: Any = writing
    else:

        async def yielding(request: Any, context: _Context) -> AsyncIterator[Any]:
            await admit(context)
            async for response in streaming(request, context):
                yield response

        wrapped = yielding
    if handler.unary_stream is not None:
        return handler._replace(unary_stream=wrapped)  # type: ignore[attr-defined, no-any-return]
    return handler._replace(stream_stream=wrapped)  # type: ignore[attr-defined, no-any-return]


def _signature(path: Path) -> tuple[int, int, int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_ino, stat.st_dev, stat.st_size, stat.st_mtime_ns)
