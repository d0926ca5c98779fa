"""``ophost serve``: host loaded ops until SIGTERM or SIGINT, then drain and stop.

:func:`serve` starts an :class:`OpHostServer`, prints one line with the bound address
(``ophost: serving 4 ops from examples/ops.py on 127.0.0.1:50051``) and waits for a
signal. The first SIGTERM or SIGINT drains: health turns NOT_SERVING, new executions
are refused with UNAVAILABLE, running ones get the drain grace period to finish and
are then canceled. A second signal during the drain cancels the running executions
at once. Every step is printed, so an operator (or a test) can follow it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from types import FrameType
from typing import Any, TextIO

from ophost.errors import OpHostError
from ophost.execution import ProcessExecutor, RayExecutor, RoutingExecutor
from ophost.execution._loader import LoadedOps
from ophost.execution._worker_process import WorkerStartError
from ophost.server._executors import build_executor
from ophost.server._host import OpHostServer
from ophost.server.store import StoreError, store_path

__all__ = ["STOP_SIGNALS", "ServeError", "abandoned_op_threads", "describe_store", "serve"]

# The signals that drain the server.
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT)
# The worker threads of OpHostServer (and execute_in_process) carry this prefix.
_OP_THREAD_PREFIX = "ophost-op"


class ServeError(OpHostError):
    """The server could not start (for example, the address is taken); ready to print."""


async def serve(
    loaded: LoadedOps,
    *,
    label: str | None = None,
    host: str = "127.0.0.1",
    port: int = 50051,
    max_concurrent_executions: int = 64,
    event_retention_seconds: float = 600.0,
    drain_grace_seconds: float = 10.0,
    out: TextIO | None = None,
    store: str = "memory",
    max_retained_executions: int = 1000,
    max_retained_bytes: int | None = None,
    lease_seconds: float = 10.0,
    reuse_port: bool = False,
    executor: str = "thread",
    pool_size: int | None = None,
    execution_timeout: float | None = None,
    execution_memory_limit: int = 0,
    ray_address: str | None = None,
) -> None:
    """Serve ``loaded`` on ``host:port`` (0 picks a free port) until SIGTERM or SIGINT.

    ``label`` names where the ops came from in the printed lines (default: the
    loader's ``source``). ``store`` is a store URL (see
    :func:`~ophost.server.store.open_store`). ``executor`` is where op bodies run
    (``process``, ``thread`` or ``ray``, see
    :func:`~ophost.server._executors.build_executor`); ``ray_address`` the Ray cluster
    of the ``ray`` executor (None: a Ray started by the host).
    Returns once the server has drained and stopped; raises :class:`ServeError` when it
    cannot start.
    """
    stream = out if out is not None else sys.stdout
    try:
        runs = build_executor(
            loaded,
            executor,
            pool_size=pool_size,
            timeout=execution_timeout,
            memory_limit=execution_memory_limit,
            max_concurrent=max_concurrent_executions,
            ray_address=ray_address,
        )
        server = OpHostServer(
            loaded.ops,
            resources=loaded.resources,
            host=host,
            port=port,
            max_concurrent_executions=max_concurrent_executions,
            event_retention_seconds=event_retention_seconds,
            max_retained_executions=max_retained_executions,
            max_retained_bytes=max_retained_bytes,
            drain_grace_seconds=drain_grace_seconds,
            store=store,
            lease_seconds=lease_seconds,
            reuse_port=reuse_port,
            executor=runs,
            check_resources=loaded.resources_built,
        )
    except OpHostError as exc:
        raise ServeError(str(exc)) from exc
    signals: asyncio.Queue[str] = asyncio.Queue()
    remove_handlers = _install_handlers(signals.put_nowait)
    try:
        try:
            await server.start()
        except (StoreError, WorkerStartError, OpHostError) as exc:
            # The store, or an executor (worker processes that do not start, a Ray
            # that cannot be reached), is not there.
            raise ServeError(str(exc)) from exc
        except (OSError, RuntimeError) as exc:
            raise ServeError(f"cannot serve on {host}:{port}: {exc}") from exc
        count = len(loaded.ops)
        _say(
            stream,
            f"serving {count} op{'' if count == 1 else 's'} from {label or loaded.source} "
            f"on {server.address}",
        )
        _say(stream, f"executions are kept in {describe_store(store)}")
        _say(stream, f"op bodies run in {_describe_executor(runs)}")
        name = await signals.get()
        running = _running(server)
        _say(
            stream,
            f"{name} received; draining: refusing new executions, waiting up to "
            f"{drain_grace_seconds:g}s for {running} running execution"
            f"{'' if running == 1 else 's'}",
        )
        stopping = asyncio.ensure_future(server.stop(drain_grace_seconds))
        again = asyncio.ensure_future(signals.get())
        forced = False
        try:
            while True:
                await asyncio.wait({stopping, again}, return_when=asyncio.FIRST_COMPLETED)
                if stopping.done():
                    break
                if forced:
                    _say(stream, f"{again.result()} received; still stopping")
                else:
                    forced = True
                    _say(stream, f"{again.result()} received again; canceling running executions")
                    await _cancel_running(server)
                again = asyncio.ensure_future(signals.get())
        finally:
            again.cancel()
        await stopping
        _say(stream, "stopped")
    finally:
        remove_handlers()
        await server.stop(0)


def describe_store(url: str) -> str:
    """The store a URL names, for people (a file's absolute path; no password)."""
    if url == "memory":
        return "memory (lost when the process stops)"
    path = store_path(url)
    if path is not None:
        return f"{url} ({path.resolve()})"
    parsed = urllib.parse.urlsplit(url)
    if parsed.password is not None:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


def _describe_executor(runs: RoutingExecutor) -> str:
    names: dict[str, str] = {"thread": "threads of this process"}
    pool = runs.executors.get("process")
    if isinstance(pool, ProcessExecutor):
        count = pool.size
        names["process"] = f"{count} worker process{'' if count == 1 else 'es'}"
    ray = runs.executors.get("ray")
    if isinstance(ray, RayExecutor):
        where = ray.address or "a Ray started by the host"
        names["ray"] = f"Ray tasks on {where}"
    text = names[runs.default]
    others = [
        f"{names[name]} for ops tagged ophost/executor={name}"
        for name in ("process", "thread", "ray")
        if name in runs.executors and name != runs.default
    ]
    if others:
        text += f" ({'; '.join(others)})"
    return text


def abandoned_op_threads(wait_seconds: float = 1.0) -> list[threading.Thread]:
    """Op worker threads still alive ``wait_seconds`` after the server stopped.

    Stopping shuts the worker pool down, so idle workers exit at once; the ones left
    are running sync op bodies that ignored their cancel. The interpreter would wait
    for them at exit, so ``ophost serve`` exits without waiting when there are any:
    an op that never returns must not keep a drained server alive.
    """
    deadline = time.monotonic() + wait_seconds
    threads = [t for t in threading.enumerate() if t.name.startswith(_OP_THREAD_PREFIX)]
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t for t in threads if t.is_alive()]


def _running(server: OpHostServer) -> int:
    return server.runner.running


async def _cancel_running(server: OpHostServer) -> None:
    await server.runner.cancel_all()


def _say(stream: TextIO, line: str) -> None:
    # Whoever read the output may be gone (a supervisor that died): serve on, quietly.
    with contextlib.suppress(BrokenPipeError, ValueError):
        print(f"ophost: {line}", file=stream, flush=True)


def _install_handlers(on_signal: Callable[[str], object]) -> Callable[[], None]:
    """Route SIGTERM and SIGINT to ``on_signal`` on the running loop; returns the undo."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    previous: dict[signal.Signals, Any] = {}

    def from_thread(signum: int, _frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(on_signal, signal.Signals(signum).name)

    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, on_signal, sig.name)
            installed.append(sig)
        except NotImplementedError:  # Windows event loops: fall back to signal.signal
            previous[sig] = signal.signal(sig, from_thread)

    def remove() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return remove
