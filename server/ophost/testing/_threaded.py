"""``running_host_in_thread``: the test host for blocking tests, on an event loop thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

from ophost.execution import Executor
from ophost.server import Limits, OpHostServer
from ophost.server.store import ExecutionStore
from ophost.testing._host import Ops, ServerSpec
from ophost_client import OpHostClient

__all__ = ["THREAD_NAME", "RunningHostInThread", "running_host_in_thread"]

# The name of the thread whose event loop runs the server.
THREAD_NAME = "ophost-test-host"

_T = TypeVar("_T")


class _LoopThread:
    """An event loop running in a thread of its own until :meth:`stop`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coroutine`` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def stop(self) -> None:
        """Cancel what is left on the loop, stop it, join the thread, close the loop."""
        self.run(_cancel_other_tasks())
        self.run(self.loop.shutdown_asyncgens())
        self.run(self.loop.shutdown_default_executor())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


async def _cancel_other_tasks() -> None:
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@dataclass(frozen=True)
class RunningHostInThread:
    """A server running on a background event loop, and a blocking client of it.

    ``client`` is an :class:`~ophost_client.OpHostClient`; make further ones with
    ``OpHostClient(host.address, ...)`` (and close them). ``server`` lives on the
    background loop: read its attributes, but call its coroutines only there.
    """

    server: OpHostServer
    client: OpHostClient

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``: what a client connects to."""
        return self.server.address

    @property
    def port(self) -> int:
        return self.server.port


@contextlib.contextmanager
def running_host_in_thread(
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
) -> Iterator[RunningHostInThread]:
    """:func:`~ophost.testing.running_host` for blocking code: a ``with`` block.

    The server runs on an event loop in a background thread (``ophost-test-host``);
    the yielded :class:`RunningHostInThread` holds it and a connected
    :class:`~ophost_client.OpHostClient`. On the way out, error or not, the client is
    closed, the server stopped, and both threads are joined. Do not use it from a
    running event loop's thread with blocking calls: use :func:`running_host` there.
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
    background = _LoopThread()
    try:
        server = background.run(_start(spec))
        try:
            with OpHostClient(server.address, timeout=client_timeout) as client:
                yield RunningHostInThread(server, client)
        finally:
            background.run(server.stop())
    finally:
        background.stop()


async def _start(spec: ServerSpec) -> OpHostServer:
    # Made on the loop it serves from: the server's asyncio objects belong to it.
    server = spec.server()
    await server.start()
    return server
