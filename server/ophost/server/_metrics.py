"""Prometheus metrics of one host process, and the HTTP endpoint that serves them.

:class:`PrometheusMetrics` is three things at once, each counting what it sees:

- a ``grpc.aio`` server interceptor (:meth:`~PrometheusMetrics.interceptor`): calls by
  method and status code, their duration, and the response streams open;
- a host observer (:mod:`ophost.server._observe`): executions and attempts started and
  finished by op and outcome, their durations, retries, events recorded, events and
  bytes streamed, the executor's start latency and the events' hand-over lag;
- a store wrapper (:meth:`~PrometheusMetrics.timed_store`) timing every store call.

Gauges (executions in flight and the limit, attempts queued for a worker thread or
process, ready worker processes, bytes queued for the store's writer) are read when
scraped. Each host has a registry of its
own (several hosts in one process, as in tests, do not mix), served as Prometheus text
or OpenMetrics (as the scraper asks) at ``/metrics`` by a small HTTP server on a thread
(:meth:`~PrometheusMetrics.serve`). The names are listed in ``docs/observability.md``.
This module needs the ``metrics`` extra (prometheus-client); the host imports it only
when metrics are asked for.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.server
import socket
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import grpc
from prometheus_client import (
    CollectorRegistry,
    Gauge,
    GCCollector,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import choose_encoder

from ophost._version import __version__
from ophost.definitions import (
    ErrorSource,
    ExecutionFinished,
    ExecutionStarted,
    RetryScheduled,
    StepFailed,
    StepRestarted,
    StepStarted,
    StepSucceeded,
)
from ophost.execution import EngineEvent
from ophost.server._interceptors import wrap_call
from ophost.server._metric_values import LoopKeptMetrics
from ophost.server._observe import ExecutionWatch
from ophost.server.store import (
    ExecutionQuery,
    ExecutionRecord,
    ExecutionStore,
    ExecutionUpdate,
    LostExecution,
    NewExecution,
    PageKey,
)

if TYPE_CHECKING:
    from ophost.server._wire import Record, Tail

    _Handler = grpc.RpcMethodHandler[Any, Any]
    _Context = grpc.aio.ServicerContext[Any, Any]

__all__ = ["PrometheusMetrics"]

# Durations of executions, attempts and calls: from a trivial op to an hour-long one.
_LONG_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
)
# Latencies inside the host: a store call, an executor's start, an event's hand-over.
_SHORT_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    10.0,
)
_EVERY_EXECUTION = ExecutionQuery()
_STATUS = {
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "CANCELED": "canceled",
}


class PrometheusMetrics:
    """The metrics of one host: see the module's docstring."""

    def __init__(self) -> None:
        registry = self.registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        Info("ophost_build", "The ophost version serving.", registry=registry).info(
            {"version": __version__}
        )
        kept = LoopKeptMetrics()
        rpc = ("grpc_type", "grpc_service", "grpc_method")
        self._rpc_started = kept.family(
            "counter", "grpc_server_started", "Calls started, by method.", rpc
        )
        self._rpc_handled = kept.family(
            "counter",
            "grpc_server_handled",
            "Calls finished, by method and status code.",
            (*rpc, "grpc_code"),
        )
        self._rpc_seconds = kept.family(
            "histogram",
            "grpc_server_handling_seconds",
            "How long calls took, by method (a stream: from its start to its end).",
            rpc,
            buckets=_LONG_BUCKETS,
        )
        self._streams = kept.family(
            "gauge",
            "ophost_streams_in_flight",
            "Response streams open now, by method.",
            ("grpc_service", "grpc_method"),
        )
        self._streamed_events = kept.family(
            "counter",
            "ophost_streamed_events",
            "Events sent to clients on streams, by method.",
            ("grpc_method",),
        )
        self._streamed_bytes = kept.family(
            "counter",
            "ophost_streamed_bytes",
            "Bytes of events sent to clients on streams, by method.",
            ("grpc_method",),
        )
        self.executions_started = kept.family(
            "counter",
            "ophost_executions_started",
            "Executions started in this process, by op.",
            ("op",),
        )
        self.executions_finished = kept.family(
            "counter",
            "ophost_executions_finished",
            "Executions finished in this process, by op and outcome.",
            ("op", "outcome"),
        )
        self.execution_seconds = kept.family(
            "histogram",
            "ophost_execution_duration_seconds",
            "From an execution's start to its end, by op and outcome.",
            ("op", "outcome"),
            buckets=_LONG_BUCKETS,
        )
        self.attempts_started = kept.family(
            "counter",
            "ophost_attempts_started",
            "Attempts started (the first and each retry), by op.",
            ("op",),
        )
        self.attempts_finished = kept.family(
            "counter",
            "ophost_attempts_finished",
            "Attempts ended, by op and outcome.",
            ("op", "outcome"),
        )
        self.attempt_seconds = kept.family(
            "histogram",
            "ophost_attempt_duration_seconds",
            "From an attempt's start to its end, by op and outcome.",
            ("op", "outcome"),
            buckets=_LONG_BUCKETS,
        )
        self.retries = kept.family(
            "counter", "ophost_retries", "Retries scheduled, by op.", ("op",)
        )
        self.execution_events = kept.family(
            "counter",
            "ophost_execution_events",
            "Events executions produced (before streaming), by op.",
            ("op",),
        )
        self.executor_start = kept.family(
            "histogram",
            "ophost_executor_start_seconds",
            "How long the executor took to start an attempt.",
            buckets=_SHORT_BUCKETS,
        ).labels()
        self.handoff = kept.family(
            "histogram",
            "ophost_event_handoff_seconds",
            "From the oldest event of a batch being produced to the host recording the batch.",
            buckets=_SHORT_BUCKETS,
        ).labels()
        self._store_seconds = kept.family(
            "histogram",
            "ophost_store_operation_seconds",
            "How long calls to the execution store took, by operation.",
            ("operation",),
            buckets=_SHORT_BUCKETS,
        )
        self._in_flight = Gauge(
            "ophost_executions_in_flight",
            "Executions running in this process now.",
            registry=registry,
        )
        self._limit = Gauge(
            "ophost_executions_limit",
            "Executions this process runs at once at most (more are refused).",
            registry=registry,
        )
        self._queued = Gauge(
            "ophost_executor_queued_attempts",
            "Attempts waiting for a worker thread of the host's pool.",
            registry=registry,
        )
        self._workers = Gauge(
            "ophost_executor_worker_processes",
            "Worker processes of the process executor ready to run attempts.",
            registry=registry,
        )
        self._backlog = Gauge(
            "ophost_store_write_backlog_bytes",
            "Bytes of events queued for the store's writer, not yet committed.",
            registry=registry,
        )
        registry.register(kept)
        self._http: _MetricsHTTPServer | None = None

    # -- what is read at scrape time --------------------------------------------------

    def watch_host(
        self,
        running: Callable[[], int],
        limit: int,
        store: ExecutionStore,
        pool: concurrent.futures.ThreadPoolExecutor | None,
        executor: object,
    ) -> None:
        """Read the in-flight executions, the limit, the queues and the store's backlog.

        Attempts queue in the host's thread pool and, for a process executor (alone or
        routed to), for a free worker process; both are counted, as are the ready
        worker processes.
        """
        self._in_flight.set_function(lambda: float(running()))
        self._limit.set(limit)
        queue = getattr(pool, "_work_queue", None)  # the pool's own queue of waiting work
        executors = _executors(executor)

        def queued() -> float:
            waiting = queue.qsize() if queue is not None else 0
            return float(waiting + sum(_count(e, "queued") for e in executors))

        self._queued.set_function(queued)
        self._workers.set_function(lambda: float(sum(_count(e, "workers") for e in executors)))
        self._backlog.set_function(lambda: float(store.write_backlog_bytes))

    # -- the HTTP endpoint ----------------------------------------------------------------

    def serve(self, host: str, port: int) -> int:
        """Serve ``/metrics`` on ``host:port`` (0 picks a port) on a thread; returns the port."""
        server = _MetricsHTTPServer(host, port, self.registry)
        self._http = server
        return server.port

    def close(self) -> None:
        """Stop serving (the metrics themselves stay readable in :attr:`registry`)."""
        server, self._http = self._http, None
        if server is not None:
            server.close()

    # -- calls ----------------------------------------------------------------------------

    def interceptor(self) -> grpc.aio.ServerInterceptor:
        return _MetricsInterceptor(self)

    def begin_call(self, method: str, kind: str) -> Callable[[object], Callable[[Any], None]]:
        """The ``begin`` of :func:`~ophost.server._interceptors.wrap_call` for ``method``."""
        service, _, name = method.lstrip("/").partition("/")
        labels = (kind, service, name)
        started = self._rpc_started.labels(*labels)
        seconds = self._rpc_seconds.labels(*labels)
        streams = (
            self._streams.labels(service, name)
            if kind in ("server_stream", "bidi_stream")
            else None
        )

        def begin(context: object) -> Callable[[grpc.StatusCode], None]:
            started.inc()
            if streams is not None:
                streams.inc()
            began = time.perf_counter()

            def end(code: grpc.StatusCode) -> None:
                seconds.observe(time.perf_counter() - began)
                self._rpc_handled.labels(*labels, code.name).inc()
                if streams is not None:
                    streams.dec()

            return end

        return begin

    # -- the host observer -------------------------------------------------------------

    def execution(self, execution_id: str, op_name: str) -> ExecutionWatch:
        return _MetricsWatch(self, op_name)

    def streamed(self, method: str, events: int, size: int) -> None:
        self._streamed_events.labels(method).inc(events)
        self._streamed_bytes.labels(method).inc(size)

    # -- the store --------------------------------------------------------------------------

    def timed_store(self, store: ExecutionStore) -> ExecutionStore:
        """``store``, with the time of each call it answers counted."""
        return _TimedStore(store, self)

    def store_timer(self, operation: str) -> Any:
        return self._store_seconds.labels(operation)


def _executors(executor: object) -> list[object]:
    """The executor, and those a routing executor picks from."""
    inner = getattr(executor, "executors", None)
    if isinstance(inner, dict):
        return [executor, *inner.values()]
    return [executor]


def _count(executor: object, name: str) -> int:
    """An executor's count named ``name`` (0 for an executor that keeps none)."""
    value = getattr(executor, name, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class _MetricsInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, metrics: PrometheusMetrics) -> None:
        self._metrics = metrics
        self._begins: dict[tuple[str, str], Callable[[_Context], Callable[[Any], None]]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        kind = _kind(handler)
        key = (handler_call_details.method, kind)
        begin = self._begins.get(key)
        if begin is None:
            begin = self._begins[key] = self._metrics.begin_call(*key)
        return wrap_call(handler, begin)


def _kind(handler: _Handler) -> str:
    if handler.request_streaming:
        return "bidi_stream" if handler.response_streaming else "client_stream"
    return "server_stream" if handler.response_streaming else "unary"


class _MetricsWatch:
    """One execution's counts; time stamps come from its events."""

    __slots__ = ("_attempt_at", "_metrics", "_op", "_started_at")

    def __init__(self, metrics: PrometheusMetrics, op_name: str) -> None:
        self._metrics = metrics
        self._op = op_name
        self._started_at: float | None = None
        self._attempt_at: float | None = None

    def attempt(self, attempt: int) -> contextlib.AbstractContextManager[object]:
        return _Timed(self._metrics.executor_start)

    def events(self, batch: Sequence[EngineEvent]) -> None:
        metrics = self._metrics
        op = self._op
        if batch:
            metrics.handoff.observe(max(0.0, time.time() - batch[0].timestamp))
            metrics.execution_events.labels(op).inc(len(batch))
        for event in batch:
            kind = type(event.body)
            if kind is StepStarted or kind is StepRestarted:
                self._attempt_at = event.timestamp
                metrics.attempts_started.labels(op).inc()
            elif kind is StepSucceeded:
                self._attempt_ended(event, "succeeded")
            elif kind is StepFailed:
                body = event.body
                assert isinstance(body, StepFailed)
                interrupted = body.error_source is ErrorSource.INTERRUPT
                self._attempt_ended(event, "canceled" if interrupted else "failed")
            elif kind is RetryScheduled:
                metrics.retries.labels(op).inc()
            elif kind is ExecutionStarted:
                self._started_at = event.timestamp
                metrics.executions_started.labels(op).inc()
            elif kind is ExecutionFinished:
                body = event.body
                assert isinstance(body, ExecutionFinished)
                outcome = _STATUS[body.status.value]
                metrics.executions_finished.labels(op, outcome).inc()
                if self._started_at is not None:
                    duration = max(0.0, event.timestamp - self._started_at)
                    metrics.execution_seconds.labels(op, outcome).observe(duration)

    def _attempt_ended(self, event: EngineEvent, outcome: str) -> None:
        metrics = self._metrics
        metrics.attempts_finished.labels(self._op, outcome).inc()
        if self._attempt_at is not None:
            duration = max(0.0, event.timestamp - self._attempt_at)
            metrics.attempt_seconds.labels(self._op, outcome).observe(duration)
            self._attempt_at = None

    def close(self) -> None:
        pass


class _Timed:
    """A context manager observing how long its body took."""

    __slots__ = ("_began", "_histogram")

    def __init__(self, histogram: Any) -> None:
        self._histogram = histogram
        self._began = 0.0

    def __enter__(self) -> None:
        self._began = time.perf_counter()

    def __exit__(self, *_exc: object) -> None:
        self._histogram.observe(time.perf_counter() - self._began)


class _TimedStore(ExecutionStore):
    """A store whose every call (but ``follow``'s stream) is timed into the metrics."""

    def __init__(self, inner: ExecutionStore, metrics: PrometheusMetrics) -> None:
        self.inner = inner
        self._timer = metrics.store_timer
        self._copy_settings()

    def _copy_settings(self) -> None:
        inner = self.inner
        self.retention_seconds = inner.retention_seconds
        self.durable = inner.durable
        self.claim_interval = inner.claim_interval
        self.sweep_interval = inner.sweep_interval

    @property
    def write_backlog_bytes(self) -> int:
        return self.inner.write_backlog_bytes

    async def open(self) -> None:
        await self.inner.open()
        self._copy_settings()

    async def close(self) -> None:
        await self.inner.close()

    async def create(self, new: NewExecution) -> tuple[ExecutionRecord, bool]:
        with _Timed(self._timer("create")):
            return await self.inner.create(new)

    async def find_request(self, request_id: str) -> ExecutionRecord | None:
        with _Timed(self._timer("find_request")):
            return await self.inner.find_request(request_id)

    async def append(
        self, execution_id: str, tails: Sequence[Tail], update: ExecutionUpdate | None = None
    ) -> int:
        with _Timed(self._timer("append")):
            return await self.inner.append(execution_id, tails, update)

    async def get(self, execution_id: str) -> ExecutionRecord | None:
        with _Timed(self._timer("get")):
            return await self.inner.get(execution_id)

    async def start_request(self, execution_id: str) -> bytes | None:
        with _Timed(self._timer("start_request")):
            return await self.inner.start_request(execution_id)

    async def executions(
        self,
        query: ExecutionQuery = _EVERY_EXECUTION,
        *,
        before: PageKey | None = None,
        limit: int | None = None,
    ) -> list[ExecutionRecord]:
        with _Timed(self._timer("executions")):
            return await self.inner.executions(query, before=before, limit=limit)

    async def unfinished(self) -> list[ExecutionRecord]:
        with _Timed(self._timer("unfinished")):
            return await self.inner.unfinished()

    def follow(
        self,
        execution_id: str,
        after: int,
        *,
        max_batch_bytes: int,
        max_batch_events: int = 10_000,
        stop: Callable[[], bool] | None = None,
    ) -> AsyncIterator[list[Record]]:
        return self.inner.follow(
            execution_id,
            after,
            max_batch_bytes=max_batch_bytes,
            max_batch_events=max_batch_events,
            stop=stop,
        )

    def wake(self, execution_id: str) -> None:
        self.inner.wake(execution_id)

    async def request_cancel(self, execution_id: str) -> ExecutionRecord | None:
        with _Timed(self._timer("request_cancel")):
            return await self.inner.request_cancel(execution_id)

    def on_cancel(self, execution_id: str, callback: Callable[[], None]) -> Callable[[], None]:
        return self.inner.on_cancel(execution_id, callback)

    async def sweep(self) -> int:
        with _Timed(self._timer("sweep")):
            return await self.inner.sweep()

    async def claim_lost(self) -> list[LostExecution]:
        with _Timed(self._timer("claim_lost")):
            return await self.inner.claim_lost()


class _MetricsHTTPServer:
    """``GET /metrics`` (and ``/``) on a thread; anything else is 404."""

    def __init__(self, host: str, port: int, registry: CollectorRegistry) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = urllib.parse.urlsplit(self.path).path
                if path not in ("/metrics", "/"):
                    self.send_error(404, "the metrics are at /metrics")
                    return
                encode, content_type = choose_encoder(self.headers.get("Accept", ""))
                body = encode(registry)
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # a scrape every few seconds is not worth a log line

        class Server(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
            daemon_threads = True

        self._server = Server((host, port), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ophost-metrics", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
