"""``ophost serve``: host loaded ops until SIGTERM or SIGINT, then drain and stop.

:func:`serve` starts an :class:`OpHostServer`, prints one line with the bound address
(``ophost: serving 4 ops from examples/ops.py on 127.0.0.1:50051``) and waits for a
signal. The first SIGTERM or SIGINT drains: health turns NOT_SERVING, new executions
are refused with UNAVAILABLE, running ones get the drain grace period to finish and
are then canceled. A second signal during the drain cancels the running executions
at once. Every step is printed, so an operator (or a test) can follow it.

With ``metrics_port`` it also serves Prometheus metrics (and prints where); with
``tracing`` it makes OpenTelemetry spans, with the SDK configured from the standard
``OTEL_*`` environment variables (:func:`~ophost.server._tracing.environment_tracer_provider`),
and flushes them on the way out. See ``docs/observability.md``.

SIGHUP reloads what can change under a running server: the TLS certificate, key and
client CA, and the token file. They are also reloaded when one of their files
changes (checked every ``watch_interval`` seconds). Files that do not load leave what
is in use in place, and the line printed says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from ophost.errors import OpHostError
from ophost.execution import ProcessExecutor, RayExecutor, RoutingExecutor
from ophost.execution._loader import LoadedOps
from ophost.execution._worker_process import WorkerStartError
from ophost.server._auth import AccessInterceptor
from ophost.server._executors import build_executor
from ophost.server._host import OpHostServer, is_loopback
from ophost.server._limits import Limits
from ophost.server._tls import TlsError, TlsFiles
from ophost.server._token_file import TokenFileError
from ophost.server.store import StoreError, store_path

__all__ = [
    "RELOAD_SIGNAL",
    "STOP_SIGNALS",
    "ServeError",
    "abandoned_op_threads",
    "describe_store",
    "serve",
]

# The signals that drain the server.
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT)
# The signal that reloads the TLS files and the token file.
RELOAD_SIGNAL = signal.SIGHUP
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
    metrics_port: int | None = None,
    metrics_host: str | None = None,
    tracing: bool = False,
    http_port: int | None = None,
    http_cors_origins: Sequence[str] = (),
    tls: TlsFiles | None = None,
    token_file: Path | None = None,
    withhold_errors: bool | None = None,
    watch_interval: float = 1.0,
    max_upload_bytes: int | None = None,
    max_upload_buffer_bytes: int | None = None,
    ray_address: str | None = None,
) -> None:
    """Serve ``loaded`` on ``host:port`` (0 picks a free port) until SIGTERM or SIGINT.

    ``label`` names where the ops came from in the printed lines (default: the
    loader's ``source``). ``store`` is a store URL (see
    :func:`~ophost.server.store.open_store`). ``executor`` is where op bodies run
    (``process``, ``thread`` or ``ray``, see
    :func:`~ophost.server._executors.build_executor`); ``ray_address`` the Ray cluster
    of the ``ray`` executor (None: a Ray started by the host).
    ``metrics_port`` (0 picks one) serves Prometheus metrics on ``metrics_host``
    (default: ``host``); ``tracing`` makes OpenTelemetry spans as the ``OTEL_*``
    environment variables say. ``http_port`` (0 picks one) also serves the browser door
    and the web console, with CORS for ``http_cors_origins`` (docs/http.md). ``tls``,
    ``token_file``, ``withhold_errors`` and ``watch_interval`` are the security options
    (docs/security.md).
    ``max_upload_bytes`` and ``max_upload_buffer_bytes`` override those
    :class:`~ophost.server.Limits` (the chunked upload of one stream, and the upload
    bytes buffered over all streams). Returns once the server has drained and stopped;
    raises :class:`ServeError` when it cannot start (a missing extra included).
    """
    stream = out if out is not None else sys.stdout
    chosen = {
        "max_upload_bytes": max_upload_bytes,
        "max_upload_buffer_bytes": max_upload_buffer_bytes,
    }
    provider, shutdown = _tracer_provider() if tracing else (None, _nothing)
    try:
        limits = Limits(**{name: value for name, value in chosen.items() if value is not None})
        runs = build_executor(
            loaded,
            executor,
            pool_size=pool_size,
            timeout=execution_timeout,
            memory_limit=execution_memory_limit,
            max_concurrent=max_concurrent_executions,
            limits=limits,
            ray_address=ray_address,
        )
        access = (
            AccessInterceptor.from_file(
                token_file, client_certificates=tls is not None and tls.client_ca is not None
            )
            if token_file is not None
            else None
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
            metrics_port=metrics_port,
            metrics_host=metrics_host,
            tracer_provider=provider,
            tls=tls,
            withhold_errors=withhold_errors,
            interceptors=[access] if access is not None else (),
            limits=limits,
            http_port=http_port,
            http_cors_origins=http_cors_origins,
        )
    except (OpHostError, ValueError) as exc:
        shutdown()
        raise ServeError(str(exc)) from exc
    try:
        await _serve(
            server,
            loaded,
            label,
            stream,
            host,
            port,
            store,
            drain_grace_seconds,
            _describe_executor(runs),
            _Security(access, tls, token_file, watch_interval, "*" in http_cors_origins),
        )
    finally:
        shutdown()


@dataclass(frozen=True)
class _Security:
    access: AccessInterceptor | None
    tls: TlsFiles | None
    token_file: Path | None
    watch_interval: float
    any_origin: bool = False


async def _serve(
    server: OpHostServer,
    loaded: LoadedOps,
    label: str | None,
    stream: TextIO,
    host: str,
    port: int,
    store: str,
    drain_grace_seconds: float,
    bodies: str,
    security: _Security,
) -> None:
    access, tls, token_file = security.access, security.tls, security.token_file
    watch_interval = security.watch_interval
    signals: asyncio.Queue[str] = asyncio.Queue()
    reloader = _Reloader(server, access, stream)
    remove_handlers = _install_handlers(signals.put_nowait, reloader.on_signal)
    watcher: asyncio.Task[None] | None = None
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
        _say(stream, f"op bodies run in {bodies}")
        if server.http_url is not None:
            _say(stream, f"browser door (Connect, gRPC-Web) and web console at {server.http_url}")
        if server.metrics_address is not None:
            _say(stream, f"metrics at http://{server.metrics_address}/metrics")
        for line in _security_lines(server, access, token_file, host):
            _say(stream, line)
        if security.any_origin and access is None:
            _say(
                stream,
                "warning: the browser door lets pages from any origin (*) call it, and "
                "without a token file they may run every op (see docs/http.md)",
            )
        if watch_interval > 0 and (tls is not None or access is not None):
            watcher = asyncio.ensure_future(reloader.watch(watch_interval))
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
        if watcher is not None:
            watcher.cancel()
        await server.stop(0)


def _nothing() -> None:
    pass


def _tracer_provider() -> tuple[Any, Callable[[], None]]:
    """The tracer provider ``--tracing`` asks for, and what flushes it at the end."""
    try:
        from ophost.server._observe import require

        require("opentelemetry.trace", "tracing", "tracing (--tracing)")
        from ophost.server._tracing import environment_tracer_provider

        provider, made = environment_tracer_provider()
    except (OpHostError, ValueError) as exc:
        raise ServeError(str(exc)) from exc
    shutdown = getattr(provider, "shutdown", None) if made else None
    return provider, shutdown if callable(shutdown) else _nothing


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


def _security_lines(
    server: OpHostServer, access: AccessInterceptor | None, token_file: Path | None, host: str
) -> list[str]:
    """What protects the server, in the lines ``serve`` prints at start.

    Nothing on a loopback address without security options (the output stays as it
    was); off loopback, a warning for each protection missing.
    """
    lines = []
    exposed = not is_loopback(host)
    certificates = server.certificates
    if certificates is not None:
        files = certificates.files
        if files.client_ca is not None:
            lines.append(
                f"TLS with {files.cert}; client certificates required (mTLS, CA {files.client_ca})"
            )
        else:
            lines.append(f"TLS with {files.cert}")
    elif exposed:
        lines.append(
            f"warning: {host} is not a loopback address, and the traffic is plaintext "
            "(--tls-cert and --tls-key; see docs/security.md)"
        )
    if access is not None:
        count = len(access.policy.identities)
        lines.append(
            f"callers authenticate as one of {count} identit{'y' if count == 1 else 'ies'} "
            f"of {token_file}"
        )
    elif exposed:
        lines.append(
            "warning: without a token file, every caller may list, run, read and cancel "
            "everything (--token-file; see docs/security.md)"
        )
    if server.withholds_errors:
        lines.append("op error details are withheld from clients (logged with an error id)")
    return lines


class _Reloader:
    """Reloads the TLS files and the token file on SIGHUP, and when they change."""

    def __init__(
        self, server: OpHostServer, access: AccessInterceptor | None, stream: TextIO
    ) -> None:
        self._server = server
        self._access = access
        self._stream = stream

    def on_signal(self, name: str) -> None:
        _say(self._stream, f"{name} received; reloading the TLS files and the token file")
        self._reload(changed_only=False)

    async def watch(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self._reload(changed_only=True)

    def _reload(self, *, changed_only: bool) -> None:
        certificates = self._server.certificates
        if certificates is not None:
            try:
                if certificates.reload_if_changed() if changed_only else certificates.reload():
                    _say(
                        self._stream, f"reloaded the TLS certificate from {certificates.files.cert}"
                    )
                elif not changed_only:
                    _say(self._stream, "the TLS files are unchanged")
            except TlsError as exc:
                _say(self._stream, f"kept the TLS certificate in use: {exc}")
        access = self._access
        if access is not None:
            try:
                if access.reload_if_changed() if changed_only else access.reload():
                    count = len(access.policy.identities)
                    _say(
                        self._stream,
                        f"reloaded the token file {access.path} ({count} "
                        f"identit{'y' if count == 1 else 'ies'})",
                    )
            except TokenFileError as exc:
                _say(self._stream, f"kept the token file in use: {exc}")


def _install_handlers(
    on_signal: Callable[[str], object], on_reload: Callable[[str], object] | None = None
) -> Callable[[], None]:
    """Route SIGTERM and SIGINT to ``on_signal``, and SIGHUP to ``on_reload``, on the
    running loop; returns the undo."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    previous: dict[signal.Signals, Any] = {}
    routes: list[tuple[signal.Signals, Callable[[str], object]]] = [
        (sig, on_signal) for sig in STOP_SIGNALS
    ]
    if on_reload is not None and hasattr(signal, "SIGHUP"):
        routes.append((RELOAD_SIGNAL, on_reload))

    for sig, handler in routes:

        def from_thread(
            signum: int, _frame: FrameType | None, handler: Callable[[str], object] = handler
        ) -> None:
            loop.call_soon_threadsafe(handler, signal.Signals(signum).name)

        try:
            loop.add_signal_handler(sig, handler, sig.name)
            installed.append(sig)
        except NotImplementedError:  # Windows event loops: fall back to signal.signal
            previous[sig] = signal.signal(sig, from_thread)

    def remove() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return remove
