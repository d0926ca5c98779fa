"""The host's cross-cutting concerns, as ``grpc.aio`` server interceptors.

Handlers speak only the protocol. What applies to every call sits here, around them:
:class:`StatusInterceptor` turns a :class:`StatusError` a handler raises into the
RPC's status (with its ``google.rpc.Status`` details) and an unexpected exception
into ``INTERNAL``, logged here with its stack, which never reaches the caller.
Authentication is a further interceptor, passed to ``OpHostServer(interceptors=...)``;
metrics and tracing (:mod:`._metrics`, :mod:`._tracing`) are interceptors the server
adds itself when asked to; no handler changes for them.

:func:`wrap_handler` puts code around each step of a handler of any of the four
shapes; :func:`wrap_call` around a whole call, however many messages it streams,
learning the status it ended with.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc

from ophost.server._service import refusal
from ophost.server._status import StatusError
from ophost.server.store import StoreFullError, StoreUnavailableError

__all__ = ["Begin", "StatusInterceptor", "call_code", "wrap_call", "wrap_handler"]

_log = logging.getLogger("ophost.server")
if TYPE_CHECKING:
    _Context = grpc.aio.ServicerContext[Any, Any]
    _Handler = grpc.RpcMethodHandler[Any, Any]
    # Runs one call of a handler: (the call, as a coroutine function, its context, method).
    Around = Callable[[Callable[[], Awaitable[Any]], _Context, str], Awaitable[Any]]
    # Called as a call starts (in its task, with its context); returns what to call
    # once as it ends, with the status code it ends with.
    Begin = Callable[[_Context], Callable[[grpc.StatusCode], None]]


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
    except (StatusError, StoreFullError, StoreUnavailableError) as error:
        status = refusal(error)
        assert status is not None
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
        if inspect.iscoroutinefunction(server_stream):
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
    if inspect.iscoroutinefunction(bidi):

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


def call_code(context: _Context, error: BaseException | None) -> grpc.StatusCode:
    """The status a call ends with, given what its handler raised (None: nothing)."""
    if isinstance(error, (asyncio.CancelledError, GeneratorExit)):
        return grpc.StatusCode.CANCELLED
    code: grpc.StatusCode | None = context.code()  # None until the call has a status
    if isinstance(code, grpc.StatusCode):
        return code
    if error is None:
        return grpc.StatusCode.OK
    # An inner interceptor ends every failing call with a status (an abort), so an
    # error without one is rare: an abort that did not record its code.
    return grpc.StatusCode.UNKNOWN


def wrap_call(handler: _Handler, begin: Begin) -> _Handler:
    """``handler`` with ``begin`` called as each call starts and its result as it ends.

    The end is called exactly once, with the call's status code, after the last
    message of a streaming response (or when the stream is abandoned: CANCELLED).
    """
    if handler.unary_unary is not None:
        unary: Any = handler.unary_unary

        async def unary_unary(request: Any, context: _Context) -> Any:
            end = begin(context)
            try:
                response = await unary(request, context)
            except BaseException as error:
                end(call_code(context, error))
                raise
            end(call_code(context, None))
            return response

        return handler._replace(unary_unary=unary_unary)  # type: ignore[attr-defined, no-any-return]
    if handler.stream_unary is not None:
        client_stream: Any = handler.stream_unary

        async def stream_unary(requests: Any, context: _Context) -> Any:
            end = begin(context)
            try:
                response = await client_stream(requests, context)
            except BaseException as error:
                end(call_code(context, error))
                raise
            end(call_code(context, None))
            return response

        return handler._replace(stream_unary=stream_unary)  # type: ignore[attr-defined, no-any-return]
    if handler.unary_stream is not None:
        server_stream: Any = handler.unary_stream

        async def unary_stream(request: Any, context: _Context) -> AsyncIterator[Any]:
            async for response in _ended(server_stream(request, context), begin, context):
                yield response

        return handler._replace(unary_stream=unary_stream)  # type: ignore[attr-defined, no-any-return]
    bidi: Any = handler.stream_stream
    assert bidi is not None

    async def stream_stream(requests: Any, context: _Context) -> AsyncIterator[Any]:
        async for response in _ended(bidi(requests, context), begin, context):
            yield response

    return handler._replace(stream_stream=stream_stream)  # type: ignore[attr-defined, no-any-return]


async def _ended(
    iterator: AsyncIterator[Any], begin: Begin, context: _Context
) -> AsyncIterator[Any]:
    """A streaming handler's responses, between ``begin`` and the end it returns."""
    end = begin(context)
    try:
        async for response in iterator:
            yield response
    except BaseException as error:
        end(call_code(context, error))
        raise
    else:
        end(call_code(context, None))
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
