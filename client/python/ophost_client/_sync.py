"""The blocking facade: :class:`AsyncOpHostClient` driven from a private event loop.

Nothing here talks to the server itself. :class:`OpHostClient` owns an event loop that
runs in a daemon thread, makes an :class:`AsyncOpHostClient` on it, and runs that
client's coroutines there (``asyncio.run_coroutine_threadsafe``), waiting for each.
Per-call options (``timeout``, ``metadata``) are passed through unchanged.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import grpc

from ophost.definitions import ExecutionEvent, ExecutionFinished, OpSpec
from ophost_client._client import AsyncOpHostClient
from ophost_client._info import ExecutionInfo, ExecutionState, ServerInfo
from ophost_client._options import CLIENT_TIMEOUT, Metadata, Timeout
from ophost_client._request import UNSET
from ophost_client._security import Pem
from ophost_client._stream import ExecutionStream
from ophost_client._target import Target
from ophost_client.errors import ClientClosedError

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["OpHostClient", "SyncExecutionStream"]

_T = TypeVar("_T")


async def _await(awaitable: Awaitable[_T]) -> _T:
    return await awaitable


class _Loop:
    """An event loop running in a daemon thread, and a way to run coroutines on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="ophost-client-loop", daemon=True
        )
        self.thread.start()

    def run(self, awaitable: Awaitable[_T]) -> _T:
        if threading.current_thread() is self.thread:
            _discard(awaitable)
            raise RuntimeError("OpHostClient cannot be used from its own event loop thread")
        if self.loop.is_closed():
            _discard(awaitable)
            raise ClientClosedError("the client is closed")
        future = asyncio.run_coroutine_threadsafe(_await(awaitable), self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. KeyboardInterrupt while waiting: stop the coroutine too
            raise

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        if self.loop.is_running():
            self.run(_cancel_remaining_tasks())
            # On the loop's own thread: the caller's thread may run an event loop of its
            # own, and a thread can run only one at a time.
            self.run(self.loop.shutdown_asyncgens())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
        self.loop.close()


def _discard(awaitable: Awaitable[object]) -> None:
    """Close a coroutine that will never be awaited (no "never awaited" warning)."""
    if inspect.iscoroutine(awaitable):
        awaitable.close()


async def _cancel_remaining_tasks() -> None:
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class OpHostClient:
    """The blocking client: the methods of :class:`AsyncOpHostClient`, waited for.

    Use it as a context manager, or call :meth:`close`, to stop its channel and loop
    thread. ``execute`` and ``attach`` return :class:`SyncExecutionStream`\\ s, plain
    iterators over the same events. Every method takes the per-call ``timeout`` and
    ``metadata`` of its :class:`AsyncOpHostClient` counterpart. ``target`` takes the
    same forms, several addresses (balanced round robin) included.

    ``tls``, ``tls_ca``, ``tls_cert``, ``tls_key`` and ``token`` are those of
    :class:`AsyncOpHostClient`. To use a channel of your own (client interceptors,
    other options), pass ``channel_factory``: a function of no arguments returning a
    ``grpc.aio.Channel``.
    A ``grpc.aio`` channel belongs to the event loop it is made on, and this client
    runs its own loop in a thread of its own, so a channel made by the caller (on
    another loop, or none) could not be used: the client calls the factory once, on
    its loop thread, and closes the channel in :meth:`close` (it cannot outlive the
    loop it belongs to). ``target`` is then only a label.
    """

    def __init__(
        self,
        target: Target,
        *,
        channel_factory: Callable[[], grpc.aio.Channel] | None = None,
        timeout: float | None = 30.0,
        reattach_attempts: int = 5,
        reattach_backoff: float = 0.2,
        tls: bool | None = None,
        tls_ca: Pem | None = None,
        tls_cert: Pem | None = None,
        tls_key: Pem | None = None,
        token: str | None = None,
    ) -> None:
        self._loop = _Loop()
        self._channel: grpc.aio.Channel | None = None

        async def make() -> AsyncOpHostClient:
            # The channel belongs to the loop it is made on: make it there.
            if channel_factory is not None:
                self._channel = channel_factory()
            return AsyncOpHostClient(
                target,
                channel=self._channel,
                timeout=timeout,
                reattach_attempts=reattach_attempts,
                reattach_backoff=reattach_backoff,
                tls=tls,
                tls_ca=tls_ca,
                tls_cert=tls_cert,
                tls_key=tls_key,
                token=token,
            )

        try:
            self._client = self._loop.run(make())
        except BaseException:
            self._loop.stop()
            raise

    def __repr__(self) -> str:
        return f"OpHostClient({self._client.target!r})"

    @property
    def async_client(self) -> AsyncOpHostClient:
        """The async client doing the work (usable only on this client's loop)."""
        return self._client

    def close(self) -> None:
        """Close the channel (also one from ``channel_factory``), then stop the loop thread."""
        if self._loop.loop.is_closed():
            return
        try:
            self._loop.run(self._close_channels())
        finally:
            self._loop.stop()

    async def _close_channels(self) -> None:
        await self._client.close()
        if self._channel is not None:
            await self._channel.close()

    def __enter__(self) -> OpHostClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def server_info(
        self, *, timeout: Timeout = CLIENT_TIMEOUT, metadata: Metadata | None = None
    ) -> ServerInfo:
        return self._loop.run(self._client.server_info(timeout=timeout, metadata=metadata))

    def list_ops(
        self,
        full: bool = False,
        *,
        timeout: Timeout = CLIENT_TIMEOUT,
        metadata: Metadata | None = None,
    ) -> list[OpSpec]:
        return self._loop.run(self._client.list_ops(full, timeout=timeout, metadata=metadata))

    def get_op(
        self, name: str, *, timeout: Timeout = CLIENT_TIMEOUT, metadata: Metadata | None = None
    ) -> OpSpec:
        return self._loop.run(self._client.get_op(name, timeout=timeout, metadata=metadata))

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
    ) -> SyncExecutionStream:
        stream = self._client.execute(
            op_name,
            inputs,
            config=config,
            tags=tags,
            request_id=request_id,
            timeout=timeout,
            metadata=metadata,
        )
        return SyncExecutionStream(self._loop, stream)

    def start(
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
        return self._loop.run(
            self._client.start(
                op_name,
                inputs,
                config=config,
                tags=tags,
                request_id=request_id,
                timeout=timeout,
                metadata=metadata,
            )
        )

    def call(
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
        return self._loop.run(
            self._client.call(
                op_name,
                inputs,
                config=config,
                tags=tags,
                request_id=request_id,
                timeout=timeout,
                metadata=metadata,
            )
        )

    def attach(
        self,
        execution_id: str,
        after_sequence: int = 0,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> SyncExecutionStream:
        stream = self._client.attach(
            execution_id, after_sequence, timeout=timeout, metadata=metadata
        )
        return SyncExecutionStream(self._loop, stream)

    def cancel(
        self,
        execution_id: str,
        *,
        reason: str = "",
        timeout: Timeout = CLIENT_TIMEOUT,
        metadata: Metadata | None = None,
    ) -> ExecutionInfo:
        return self._loop.run(
            self._client.cancel(execution_id, reason=reason, timeout=timeout, metadata=metadata)
        )

    def get_execution(
        self,
        execution_id: str,
        *,
        timeout: Timeout = CLIENT_TIMEOUT,
        metadata: Metadata | None = None,
    ) -> ExecutionInfo:
        return self._loop.run(
            self._client.get_execution(execution_id, timeout=timeout, metadata=metadata)
        )

    def list_executions(
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
        return self._loop.run(
            self._client.list_executions(
                op_name,
                states,
                created_after=created_after,
                created_before=created_before,
                limit=limit,
                page_size=page_size,
                timeout=timeout,
                metadata=metadata,
            )
        )


class SyncExecutionStream(Iterator[ExecutionEvent]):
    """An :class:`ExecutionStream` as a plain iterator (see its documentation)."""

    def __init__(self, loop: _Loop, stream: ExecutionStream) -> None:
        self._loop = loop
        self._stream = stream

    @property
    def execution_id(self) -> str | None:
        return self._stream.execution_id

    @property
    def execution(self) -> ExecutionInfo | None:
        return self._stream.execution

    @property
    def outputs(self) -> dict[str, object]:
        return self._stream.outputs

    @property
    def finished(self) -> ExecutionFinished | None:
        return self._stream.finished

    @property
    def last_sequence(self) -> int:
        return self._stream.last_sequence

    @property
    def reattach_count(self) -> int:
        return self._stream.reattach_count

    def __iter__(self) -> SyncExecutionStream:
        return self

    def __next__(self) -> ExecutionEvent:
        try:
            return self._loop.run(self._stream.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def accepted(self) -> str:
        return self._loop.run(self._stream.accepted())

    def result(self) -> dict[str, object]:
        return self._loop.run(self._stream.result())

    def cancel(
        self,
        reason: str = "",
        *,
        timeout: Timeout = CLIENT_TIMEOUT,
        metadata: Metadata | None = None,
    ) -> None:
        self._loop.run(self._stream.cancel(reason, timeout=timeout, metadata=metadata))

    def close(self) -> None:
        if not self._loop.loop.is_closed():
            self._loop.run(self._stream.aclose())

    def __enter__(self) -> SyncExecutionStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
