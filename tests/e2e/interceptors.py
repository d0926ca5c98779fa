"""gRPC interceptors the tests use to watch calls from both ends, on real servers.

:class:`CallRecorder` (server side) records every call's method and the metadata it
arrived with; :class:`Delay` (server side) holds chosen methods back before they are
handled; :class:`Tagging` (client side) adds a header to every call it sees and
records their methods, which proves the calls went through its channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import grpc

if TYPE_CHECKING:
    _Handler = grpc.RpcMethodHandler[Any, Any]


@dataclass(frozen=True)
class Call:
    method: str  # the method's short name: "GetServerInfo"
    metadata: tuple[tuple[str, str | bytes], ...]

    def get(self, key: str) -> list[str | bytes]:
        """Every value the call's metadata has for ``key``."""
        return [value for name, value in self.metadata if name == key]


@dataclass
class CallRecorder(grpc.aio.ServerInterceptor):
    """Records each call the server receives: its method and its invocation metadata."""

    calls: list[Call] = field(default_factory=list)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        metadata = tuple(
            (key, value) for key, value in handler_call_details.invocation_metadata or ()
        )
        method = handler_call_details.method.rsplit("/", 1)[-1]
        self.calls.append(Call(method, metadata))
        return await continuation(handler_call_details)

    def of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def tagged(self, key: str, value: str) -> list[str]:
        """The methods of the calls whose metadata had ``key: value``, in order."""
        return [call.method for call in self.calls if value in call.get(key)]


@dataclass
class Delay(grpc.aio.ServerInterceptor):
    """Holds calls of the given methods back for the given seconds before handling them."""

    seconds: Mapping[str, float]

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        method = handler_call_details.method.rsplit("/", 1)[-1]
        await asyncio.sleep(self.seconds.get(method, 0.0))
        return await continuation(handler_call_details)


class Tagging:
    """Client interceptors that add ``key: value`` to every call and record its method.

    A ``grpc.aio`` channel files each interceptor object under one call shape only
    (the first interceptor class it is an instance of), so :attr:`interceptors` holds
    one object per shape the client uses, all recording into :attr:`methods`.
    """

    def __init__(self, key: str, value: str) -> None:
        self.header = (key, value)
        self.methods: list[str] = []
        self.interceptors: list[grpc.aio.ClientInterceptor] = [
            _TagUnaryUnary(self),
            _TagUnaryStream(self),
            _TagStreamStream(self),
        ]

    def details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        """``details`` with the header added; records the method."""
        raw: Any = details.method  # bytes at run time, whatever the stubs say
        method = raw.decode() if isinstance(raw, bytes) else str(raw)
        self.methods.append(method.rsplit("/", 1)[-1])
        metadata = grpc.aio.Metadata(*(details.metadata or ()), self.header)
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )


class _TagUnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, tagging: Tagging) -> None:
        self.tagging = tagging

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(self.tagging.details(client_call_details), request)


class _TagUnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, tagging: Tagging) -> None:
        self.tagging = tagging

    async def intercept_unary_stream(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(self.tagging.details(client_call_details), request)


class _TagStreamStream(grpc.aio.StreamStreamClientInterceptor):
    def __init__(self, tagging: Tagging) -> None:
        self.tagging = tagging

    async def intercept_stream_stream(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: Iterable[Any] | AsyncIterable[Any],
    ) -> Any:
        return await continuation(self.tagging.details(client_call_details), request_iterator)
