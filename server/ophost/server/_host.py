"""``OpHostServer``: a ``grpc.aio`` server hosting ops, with health and reflection."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

from ophost.definitions._op import OpDefinition
from ophost.errors import InvalidArgumentError
from ophost.execution import Executor, ThreadExecutor
from ophost.server import _requests
from ophost.server._address import host_port
from ophost.server._auth import AccessInterceptor
from ophost.server._executions import ExecutionRunner
from ophost.server._interceptors import StatusInterceptor
from ophost.server._limits import MAX_NAME_CHARS, Limits
from ophost.server._logs import LogObserver
from ophost.server._observe import HostObserver, combine, require
from ophost.server._servicer import OpHostServicer
from ophost.server._status import StatusError
from ophost.server._tls import ServerCertificates, TlsFiles
from ophost.server._withhold import ErrorWithholder
from ophost.server.store import ExecutionStore, LostExecution, open_store
from ophost.v1 import op_host_service_pb2

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

    from ophost.server._http import HttpDoor
    from ophost.server._metrics import PrometheusMetrics

__all__ = ["KEEPALIVE_OPTIONS", "SERVICE_NAME", "OpHostServer", "is_loopback"]

_log = logging.getLogger("ophost.server")

_SERVICE = op_host_service_pb2.DESCRIPTOR.services_by_name["OpHostService"]
SERVICE_NAME = _SERVICE.full_name
_REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"

# Keepalive, matched by the clients: the server pings an idle connection every 60 s and
# lets clients ping it as often as every 10 s, also between calls (long watch streams
# sit idle while an op runs).
KEEPALIVE_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_ping_strikes", 0),
)


class OpHostServer:
    """Serve ``ops`` on ``host:port`` (port 0 picks a free one; read it from :attr:`port`).

    Use as an async context manager, or call :meth:`start` and :meth:`stop`. Stopping
    drains: health turns NOT_SERVING, new executions are refused with UNAVAILABLE,
    running ones get ``drain_grace_seconds`` to finish and are then canceled.

    Three seams: ``store`` keeps executions and their events: a store, or a store URL
    (:func:`~ophost.server.store.open_store`; default ``memory``, with the retention
    given). The server opens it at start, and closes it at stop when it made it;
    ``executor`` runs op bodies (default: a
    :class:`~ophost.execution.ThreadExecutor` with a pool of
    ``max_concurrent_executions + 4`` threads; an executor with ``open()`` and
    ``close()``, such as a :class:`~ophost.execution.ProcessExecutor`, is opened at
    start and closed at stop); ``interceptors`` (``grpc.aio`` server interceptors)
    wrap every call, outside the host's own (authentication is one:
    :class:`~ophost.server.AccessInterceptor`). ``check_resources=False`` leaves
    resources to the executor's worker processes (``resources`` is then unused).

    ``tls`` serves TLS with the certificate and key of :class:`TlsFiles` (and, with
    its ``client_ca``, requires verified client certificates: mTLS); the files are
    read now, and again by ``certificates.reload()``. ``withhold_errors`` keeps the
    details of op errors (messages, stacks) from clients, who get the failure kind
    and an error id (the host logs the rest); ``None`` (the default) withholds them
    unless ``host`` is a loopback address.

    Observability (``docs/observability.md``): ``metrics_port`` serves Prometheus
    metrics at ``http://metrics_host:metrics_port/metrics`` (0 picks a port: read it
    from :attr:`metrics_port`; ``metrics_host`` defaults to ``host``; needs the
    ``metrics`` extra). ``tracer_provider`` (an OpenTelemetry tracer provider; the
    ``tracing`` extra) makes a span for each call, execution and attempt; the server
    neither sets it globally nor shuts it down. Log records about an execution carry
    its id, op and attempt, and the ops' ``context.log`` lines go to logger
    ``ophost.op`` (:mod:`ophost.server._logs`); configuring handlers is the caller's.
    A missing extra raises :class:`~ophost.server._observe.MissingExtraError`.

    The browser door (``docs/http.md``; the ``http`` extra): ``http_port`` also serves
    the service over Connect and gRPC-Web, and the web console's files from
    ``console_dir`` (default: the console shipped in the package), on ``host`` (0 picks
    a port: read it from :attr:`http_port`), with the same TLS and the same token
    file (an :class:`~ophost.server.AccessInterceptor` among ``interceptors``); other
    interceptors apply to the gRPC port only. ``http_cors_origins`` lists the origins
    whose pages may call it from a browser (``*``: any); none by default.
    """

    def __init__(
        self,
        ops: Iterable[OpDefinition] | Mapping[str, OpDefinition],
        *,
        resources: Mapping[str, object] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        max_concurrent_executions: int = 64,
        event_retention_seconds: float = 600.0,
        max_retained_executions: int = 1000,
        drain_grace_seconds: float = 10.0,
        limits: Limits | None = None,
        store: ExecutionStore | str | None = None,
        executor: Executor | None = None,
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
        max_retained_bytes: int | None = None,
        lease_seconds: float = 10.0,
        reuse_port: bool = False,
        check_resources: bool = True,
        metrics_port: int | None = None,
        metrics_host: str | None = None,
        tracer_provider: TracerProvider | None = None,
        tls: TlsFiles | None = None,
        withhold_errors: bool | None = None,
        http_port: int | None = None,
        http_cors_origins: Sequence[str] = (),
        console_dir: Path | None = None,
    ) -> None:
        self._ops = _by_name(ops)
        self._check_resources = check_resources
        self.certificates = ServerCertificates(tls) if tls is not None else None
        if withhold_errors is None:
            withhold_errors = not is_loopback(host)
        self.withholds_errors = withhold_errors
        self._withhold = ErrorWithholder() if withhold_errors else None
        self._resources = dict(resources or {})
        self._host = host
        self._requested_port = port
        self._limits = limits or Limits()
        self._max_concurrent = max_concurrent_executions
        self._drain_grace = drain_grace_seconds
        self._reuse_port = reuse_port
        self._owns_store = not isinstance(store, ExecutionStore)
        if isinstance(store, ExecutionStore):
            self.store: ExecutionStore = store
        else:
            self.store = open_store(
                store or "memory",
                retention_seconds=event_retention_seconds,
                max_retained=max_retained_executions,
                max_retained_bytes=max_retained_bytes,
                lease_seconds=lease_seconds,
                follow_window=self._limits.stream_window_events,
            )
        self._upkeep: asyncio.Task[None] | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        if executor is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=max_concurrent_executions + 4, thread_name_prefix="ophost-op"
            )
            executor = ThreadExecutor(self._pool, capacity=self._limits.handoff_capacity)
        self.executor = executor
        observers: list[HostObserver] = [LogObserver()]
        own_interceptors: list[grpc.aio.ServerInterceptor] = []
        # The store the host works with: the store itself, or the store timed for metrics.
        self._store = self.store
        if tracer_provider is not None:
            require("opentelemetry.trace", "tracing", "tracing (tracer_provider)")
            from ophost.server._tracing import Tracing

            tracing = Tracing(tracer_provider)
            observers.append(tracing)
            own_interceptors.append(tracing.interceptor())
        self._metrics: PrometheusMetrics | None = None
        self._metrics_host = metrics_host if metrics_host is not None else host
        self._metrics_port = metrics_port
        self.metrics_port = 0
        if metrics_port is not None:
            require("prometheus_client", "metrics", "metrics (--metrics-port)")
            from ophost.server._metrics import PrometheusMetrics

            metrics = self._metrics = PrometheusMetrics()
            observers.append(metrics)
            own_interceptors.append(metrics.interceptor())
            self._store = metrics.timed_store(self.store)
        if http_port is not None:
            for module in ("connectrpc", "hypercorn", "starlette"):
                # connectrpc is for Python 3.11 and later: the extra leaves it out before.
                require(module, "http", "the browser door (--http-port; Python 3.11 or later)")
        self._http_port = http_port
        self._http_cors_origins = tuple(http_cors_origins)
        self._console_dir = console_dir
        self._access = next((i for i in interceptors if isinstance(i, AccessInterceptor)), None)
        self._door: HttpDoor | None = None
        self.http_port = 0
        self.observer = combine(observers)
        self._interceptors = [*own_interceptors, *interceptors]
        self.runner = ExecutionRunner(
            self._store,
            self._limits,
            executor,
            max_concurrent_executions,
            self.observer,
            withhold=self._withhold,
        )
        if self._metrics is not None:
            self._metrics.watch_host(
                lambda: self.runner.running,
                max_concurrent_executions,
                self.store,
                self._pool,
                executor,
            )
        self._server: grpc.aio.Server | None = None
        self._health: HealthServicer | None = None
        self.servicer: OpHostServicer | None = None
        self.port = 0

    @property
    def address(self) -> str:
        return host_port(self._host, self.port)

    @property
    def http_address(self) -> str | None:
        """``host:port`` of the browser door once serving (None without one)."""
        return self._door.address if self._door is not None else None

    @property
    def http_url(self) -> str | None:
        """The browser door's URL (``http://`` or ``https://``) once serving."""
        return self._door.url if self._door is not None else None

    @property
    def metrics_address(self) -> str | None:
        """``host:port`` of the metrics endpoint once serving (None without metrics)."""
        if self._metrics is None or not self.metrics_port:
            return None
        host = self._metrics_host
        return f"[{host}]:{self.metrics_port}" if ":" in host else f"{host}:{self.metrics_port}"

    async def start(self) -> None:
        limits = self._limits
        await self._store.open()
        opener = getattr(self.executor, "open", None)
        if opener is not None:
            try:
                await opener()
            except BaseException:
                if self._owns_store:
                    await self._store.close()
                raise
        server = grpc.aio.server(
            interceptors=[*self._interceptors, StatusInterceptor()],
            options=[
                *KEEPALIVE_OPTIONS,
                ("grpc.max_receive_message_length", limits.max_message_bytes),
                ("grpc.max_send_message_length", limits.max_message_bytes),
                # A second server on a taken port must fail, not share it silently,
                # unless several processes are meant to share it (``--workers``).
                ("grpc.so_reuseport", 1 if self._reuse_port else 0),
            ],
        )
        self.servicer = OpHostServicer(
            self._ops,
            self._resources,
            store=self._store,
            runner=self.runner,
            limits=limits,
            check_resources=self._check_resources,
            observer=self.observer,
            withhold=self._withhold,
        )
        _add_servicer(self.servicer, server)
        self._health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        for name in ("", SERVICE_NAME):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        _add_reflection(server)
        address = f"{self._host}:{self._requested_port}"
        if self.certificates is not None:
            self.port = server.add_secure_port(address, self.certificates.credentials())
        else:
            self.port = server.add_insecure_port(address)
        if self.port == 0:
            await self._close_executor()
            if self._owns_store:
                await self._store.close()
            raise OSError(f"could not bind {self._host}:{self._requested_port}")
        if self._metrics is not None and self._metrics_port is not None:
            try:
                self.metrics_port = self._metrics.serve(self._metrics_host, self._metrics_port)
            except OSError as exc:
                await server.stop(None)
                await self._close_executor()
                if self._owns_store:
                    await self._store.close()
                raise OSError(
                    f"could not serve metrics on {self._metrics_host}:{self._metrics_port}: {exc}"
                ) from exc
        if self._http_port is not None:
            try:
                await self._start_door(self.servicer)
            except BaseException:
                await server.stop(None)
                await self._close_executor()
                if self._owns_store:
                    await self._store.close()
                if self._metrics is not None:
                    self._metrics.close()
                raise
        await server.start()
        self._server = server
        self._upkeep = asyncio.get_running_loop().create_task(self._keep_store())

    async def _start_door(self, service: OpHostServicer) -> None:
        """Bind the browser door and serve it on this loop."""
        from ophost.server._http import CONSOLE_DIR, HttpDoor, door_app

        assert self._http_port is not None
        access = self._access
        metrics = self._metrics
        app = door_app(
            service,
            policy=(lambda: access.policy) if access is not None else (lambda: None),
            console_dir=self._console_dir or CONSOLE_DIR,
            cors_origins=self._http_cors_origins,
            max_message_bytes=self._limits.max_message_bytes,
            calls=(lambda method, kind: metrics.begin_call(method, kind)(None))
            if metrics is not None
            else None,
        )
        door = HttpDoor(
            app,
            host=self._host,
            port=self._http_port,
            certificates=self.certificates,
            reuse_port=self._reuse_port,
        )
        try:
            await door.start()
        except OSError as exc:
            raise OSError(
                f"could not serve the browser door on {self._host}:{self._http_port}: {exc}"
            ) from exc
        self._door = door
        self.http_port = door.port

    async def _keep_store(self) -> None:
        """Take over the executions of lost host processes; apply retention."""
        store = self._store
        loop = asyncio.get_running_loop()
        next_claim = next_sweep = loop.time()
        while True:
            now = loop.time()
            try:
                if store.claim_interval > 0 and now >= next_claim:
                    next_claim = now + store.claim_interval
                    for lost in await store.claim_lost():
                        await self._resume(lost)
                if store.sweep_interval > 0 and now >= next_sweep:
                    next_sweep = now + store.sweep_interval
                    await store.sweep()
            except Exception:  # noqa: BLE001 - upkeep goes on; the next round retries
                _log.exception("keeping the execution store failed")
            waits = [t for t in (next_claim, next_sweep) if t > now]
            await asyncio.sleep(max(0.01, min(waits, default=now + 1.0) - loop.time()))

    async def _resume(self, lost: LostExecution) -> None:
        servicer = self.servicer
        assert servicer is not None
        problem = ""
        prepared = None
        if lost.record.op_name not in self._ops:
            problem = f'this host does not serve op "{lost.record.op_name}"'
        else:
            try:
                prepared = servicer.prepare_kept(lost.start)
            except StatusError as exc:
                problem = f"its start request no longer validates: {exc.message}"
            except Exception as exc:  # noqa: BLE001 - a kept request that cannot be read
                problem = f"its start request cannot be read: {exc}"
        await self.runner.resume(lost, prepared, problem)

    async def stop(self, grace: float | None = None) -> None:
        """Drain and stop; ``grace`` overrides the drain grace period."""
        server = self._server
        if server is None:
            return
        self._server = None
        assert self.servicer is not None
        assert self._health is not None
        self.servicer.draining = True
        for name in ("", SERVICE_NAME):
            await self._health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        upkeep, self._upkeep = self._upkeep, None
        if upkeep is not None:
            upkeep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await upkeep
        await self.runner.drain(self._drain_grace if grace is None else grace)
        door, self._door = self._door, None
        if door is not None:
            await door.stop()
        await server.stop(1.0)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        await self._close_executor()
        if self._owns_store:
            await self._store.close()
        if self._metrics is not None:
            self._metrics.close()

    async def _close_executor(self) -> None:
        closer = getattr(self.executor, "close", None)
        if closer is not None:
            await closer(self._limits.cancel_grace_seconds)

    async def wait_for_termination(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()

    async def __aenter__(self) -> OpHostServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def _add_servicer(servicer: OpHostServicer, server: grpc.aio.Server) -> None:
    """Register the servicer's methods, as the service descriptor declares them.

    Unlike the generated helper, requests go through the wire layer's checks (bytes
    that do not decode are answered INVALID_ARGUMENT, not UNKNOWN) and responses the
    wire layer already serialized pass through: :func:`_requests.method_handlers`.
    """
    handlers = _requests.method_handlers(_SERVICE, servicer)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address to bind) is reachable only from this machine."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to any address


def _by_name(ops: Iterable[OpDefinition] | Mapping[str, OpDefinition]) -> dict[str, OpDefinition]:
    items = ops.values() if isinstance(ops, Mapping) else ops
    result: dict[str, OpDefinition] = {}
    for op in items:
        if not isinstance(op, OpDefinition):
            raise InvalidArgumentError(f"OpHostServer hosts OpDefinitions, got {type(op).__name__}")
        for name in (op.name, *(d.name for d in op.input_defs)):
            if len(name) > MAX_NAME_CHARS:
                raise InvalidArgumentError(
                    f'op "{op.name[:40]}...": the name "{name[:40]}..." is longer than the '
                    f"{MAX_NAME_CHARS} characters a request may name"
                )
        if op.name in result and result[op.name] is not op:
            raise InvalidArgumentError(f'two different ops are named "{op.name}"')
        result[op.name] = op
    return result


def _add_reflection(server: grpc.aio.Server) -> None:
    """Serve reflection as v1alpha (grpcio-reflection) and v1 (the same messages, renamed)."""
    pool = descriptor_pool.Default()
    _register_v1_reflection_descriptor(pool)
    names = (SERVICE_NAME, "grpc.health.v1.Health", reflection.SERVICE_NAME, _REFLECTION_V1)
    servicer = reflection.aio.ReflectionServicer(names, pool=pool)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    # grpc.reflection.v1 has the same messages as v1alpha, field for field, so the
    # v1alpha servicer answers v1 requests too.
    handler = grpc.method_handlers_generic_handler(
        _REFLECTION_V1,
        {
            "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                servicer.ServerReflectionInfo,
                request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((handler,))


def _register_v1_reflection_descriptor(pool: descriptor_pool.DescriptorPool) -> None:
    """Describe grpc.reflection.v1 in ``pool`` (a renamed copy of v1alpha) for reflection."""
    try:
        pool.FindFileByName("grpc/reflection/v1/reflection.proto")
        return
    except KeyError:
        pass
    renamed = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(renamed)
    renamed.name = "grpc/reflection/v1/reflection.proto"
    renamed.package = "grpc.reflection.v1"
    for message in renamed.message_type:
        for field in message.field:
            if field.type_name.startswith(".grpc.reflection.v1alpha."):
                field.type_name = field.type_name.replace(".v1alpha.", ".v1.", 1)
    for service in renamed.service:
        for method in service.method:
            method.input_type = method.input_type.replace(".v1alpha.", ".v1.", 1)
            method.output_type = method.output_type.replace(".v1alpha.", ".v1.", 1)
    pool.AddSerializedFile(renamed.SerializeToString())
