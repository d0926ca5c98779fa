"""The host's cross-cutting concerns, as ``grpc.aio`` server interceptors.

Handlers speak only the protocol. What applies to every call sits here, around them:
:class:`StatusInterceptor` turns a :class:`StatusError` a handler raises into the
RPC's status (with its ``google.rpc.Status`` details) and an unexpected exception
into ``INTERNAL``, logged here with its stack, which never reaches the caller.
Authentication, metrics and tracing are further interceptors, passed to
``OpHostServer(interceptors=...)``; no handler changes for them.

:func:`wrap_handler` is the one helper an interceptor needs to put code around a
handler of any of the four shapes.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc

from ophost.server import _status
from ophost.server._status import StatusError
from ophost.server.store import StoreFullError, StoreUnavailableError

__all__ = ["StatusInterceptor", "wrap_handler"]

_log = logging.getLogger("ophost.server")
if TYPE_CHECKING:
    _Context = grpc.aio.ServicerContext[Any, Any]
    _Handler = grpc.RpcMethodHandler[Any, Any]
    # Runs one call of a handler: (the call, as a coroutine function, its context, method).
    Around = Callable[[Callable[[], Awaitable[Any]], _Context, str], Awaitable[Any]]


class StatusInterceptor(grpc.aio.ServerInterceptor):
    """Ends every call that raised with the status its exception stands for."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        return wrap_handler(handler, _statuses, handler_call_details.method)


async def _statuses(call: Callable[[], Awaitable[Any]], context: _Context, method: str) -> Any:
    try:
        return await call()
    except StatusError as error:
        await context.abort_with_status(error.to_status())
    except StoreFullError as error:
        await context.abort_with_status(_status.store_full(str(error)).to_status())
    except StoreUnavailableError as error:
        status = _status.store_unavailable(str(error), retry_after=1.0)
        await context.abort_with_status(status.to_status())
    except grpc.aio.AbortError:
        raise  # the handler (or an inner interceptor) already ended the call
    except Exception:
        if context.done():
            raise
        _log.exception("%s failed", method)
        await context.abort(grpc.StatusCode.INTERNAL, f"{method} failed on the server")


def wrap_handler(handler: _Handler, around: Around, method: str) -> _Handler:
    """``handler`` with every call run through ``around`` (the four RPC shapes alike).

    For a streaming response, ``around`` runs once per message the handler produces:
    a call that raises there ends the stream as ``around`` decides. A streaming handler
    that sends with ``context.write`` instead of yielding (a coroutine, such as health's
    ``Watch``) runs through ``around`` once, as a whole.
    """
    if handler.unary_unary is not None:
        unary: Any = handler.unary_unary

        async def unary_unary(request: Any, context: _Context) -> Any:
            return await around(lambda: unary(request, context), context, method)

        return handler._replace(unary_unary=unary_unary)  # type: ignore[attr-defined, no-any-return]
    if handler.stream_unary is not None:
        client_stream: Any = handler.stream_unary

        async def stream_unary(requests: Any, context: _Context) -> Any:
            return await around(lambda: client_stream(requests, context), context, method)

        return handler._replace(stream_unary=stream_unary)  # type: ignore[attr-defined, no-any-return]
    if handler.unary_stream is not None:
        server_stream: Any = handler.unary_stream
        if not inspect.isasyncgenfunction(server_stream):
            # A handler that sends with context.write (health's Watch) is a coroutine.
            async def writing_unary_stream(request: Any, context: _Context) -> Any:
                return await around(lambda: server_stream(request, context), context, method)

            return handler._replace(unary_stream=writing_unary_stream)  # type: ignore[attr-defined, no-any-return]

        async def unary_stream(request: Any, context: _Context) -> AsyncIterator[Any]:
            async for response in _each(server_stream(request, context), around, context, method):
                yield response

        return handler._replace(unary_stream=unary_stream)  # type: ignore[attr-defined, no-any-return]
    bidi: Any = handler.stream_stream
    assert bidi is not None
    if not inspect.isasyncgenfunction(bidi):

        async def writing_stream_stream(requests: Any, context: _Context) -> Any:
            return await around(lambda: bidi(requests, context), context, method)

        return handler._replace(stream_stream=writing_stream_stream)  # type: ignore[attr-defined, no-any-return]

    async def stream_stream(requests: Any, context: _Context) -> AsyncIterator[Any]:
        async for response in _each(bidi(requests, context), around, context, method):
            yield response

    return handler._replace(stream_stream=stream_stream)  # type: ignore[attr-defined, no-any-return]


_END = object()


async def _each(
    responses: AsyncIterator[Any], around: Around, context: _Context, method: str
) -> AsyncIterator[Any]:
    """The responses of a streaming handler, each one produced through ``around``."""
    iterator = responses.__aiter__()

    async def step() -> Any:
        try:
            return await iterator.__anext__()
        except StopAsyncIteration:
            return _END

    try:
        while True:
            response = await around(step, context, method)
            if response is _END:
                return
            yield response
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
