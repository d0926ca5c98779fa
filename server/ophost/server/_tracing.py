"""OpenTelemetry spans for each call, execution and attempt.

:class:`Tracing` is an interceptor and a host observer (:mod:`ophost.server._observe`)
on a tracer provider of the caller's:

- each call gets a server span named ``<service>/<method>`` (``ophost.v1.OpHostService/
  Execute``), whose parent is the caller's span, read from the call's metadata with the
  global propagator (W3C ``traceparent``, and baggage, unless ``OTEL_PROPAGATORS`` says
  otherwise). The span is current while the handler runs;
- an execution gets a span ``execution <op>``, child of the span current where it was
  started (the ``Execute`` or ``StartExecution`` call's); it ends with the execution;
- each attempt gets a span ``attempt <op>``, child of the execution's, current while
  the executor starts the attempt, so spans the op body makes are its children.

Span and attribute names are listed in ``docs/observability.md``. Execution and
attempt spans end at the time stamps of the events that end them.

:func:`environment_tracer_provider` is what ``ophost serve --tracing`` uses: the
OpenTelemetry SDK configured from the standard ``OTEL_*`` environment variables.
This module needs the ``tracing`` extra (OTLP export: the ``otlp`` extra).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from ophost._version import __version__
from ophost.definitions import (
    ErrorData,
    ErrorSource,
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    RetryScheduled,
    StepFailed,
    StepSucceeded,
)
from ophost.execution import EngineEvent
from ophost.server._interceptors import wrap_call
from ophost.server._logs import current_fields
from ophost.server._observe import ExecutionWatch, require

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

    _Handler = grpc.RpcMethodHandler[Any, Any]
    _Context = grpc.aio.ServicerContext[Any, Any]

__all__ = ["Tracing", "environment_tracer_provider"]

# Status codes that mark a server span as failed (OpenTelemetry's RPC conventions:
# the others are the caller's doing, not the server's).
_SERVER_ERRORS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
# Error messages in span statuses are cut to this many characters.
_MAX_DESCRIPTION = 500


class _MetadataGetter(Getter[Sequence[Any]]):
    """Reads propagation headers from a call's invocation metadata ((key, value) pairs)."""

    def get(self, carrier: Sequence[Any], key: str) -> list[str] | None:
        values = [str(value) for name, value in carrier if name == key]
        return values or None

    def keys(self, carrier: Sequence[Any]) -> list[str]:
        return [name for name, _ in carrier]


_GETTER = _MetadataGetter()


class Tracing:
    """Spans for calls, executions and attempts, made by ``provider``'s tracer."""

    def __init__(self, provider: trace.TracerProvider) -> None:
        self.tracer = provider.get_tracer("ophost", __version__)

    # -- calls ----------------------------------------------------------------------------

    def interceptor(self) -> grpc.aio.ServerInterceptor:
        return _TracingInterceptor(self.tracer)

    # -- the host observer -------------------------------------------------------------

    def execution(self, execution_id: str, op_name: str) -> ExecutionWatch:
        span = self.tracer.start_span(
            f"execution {op_name}",
            kind=SpanKind.INTERNAL,
            attributes={"ophost.execution.id": execution_id, "ophost.op.name": op_name},
        )
        # Current in the execution's own context: the attempts' spans are its children.
        otel_context.attach(trace.set_span_in_context(span))
        fields = current_fields()
        span_context = span.get_span_context()
        if fields is not None and span_context.is_valid:
            fields.trace_id = trace.format_trace_id(span_context.trace_id)
            fields.span_id = trace.format_span_id(span_context.span_id)
        return _TracingWatch(self.tracer, span, op_name)

    def streamed(self, method: str, events: int, size: int) -> None:
        pass


class _TracingInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        metadata = handler_call_details.invocation_metadata or ()
        tracer = self._tracer

        def begin(context: _Context) -> Callable[[grpc.StatusCode], None]:
            parent = propagate.extract(metadata, getter=_GETTER)
            service, _, name = method.lstrip("/").partition("/")
            span = tracer.start_span(
                method.lstrip("/"),
                context=parent,
                kind=SpanKind.SERVER,
                attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
            )
            token = otel_context.attach(trace.set_span_in_context(span, parent))

            def end(code: grpc.StatusCode) -> None:
                span.set_attribute("rpc.grpc.status_code", code.value[0])
                if code in _SERVER_ERRORS:
                    span.set_status(Status(StatusCode.ERROR, code.name))
                span.end()
                # A stream abandoned by the server's shutdown may end in another
                # context than it began in: the span is what matters, not the token.
                with contextlib.suppress(ValueError, RuntimeError):
                    otel_context.detach(token)

            return end

        return wrap_call(handler, begin)


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def _describe(error: ErrorData | None) -> str:
    if error is None:
        return ""
    text = f"{error.type_name}: {error.message}" if error.message else error.type_name
    return text[:_MAX_DESCRIPTION]


class _TracingWatch:
    """One execution's span and its attempts' spans."""

    __slots__ = ("_attempt", "_ended", "_op", "_span", "_tracer")

    def __init__(self, tracer: trace.Tracer, span: Span, op_name: str) -> None:
        self._tracer = tracer
        self._span = span
        self._op = op_name
        self._attempt: Span | None = None
        self._ended = False

    @contextlib.contextmanager
    def attempt(self, attempt: int) -> Iterator[object]:
        self._end_attempt(None)  # an attempt that ended without its event
        span = self._attempt = self._tracer.start_span(
            f"attempt {self._op}",
            context=trace.set_span_in_context(self._span),
            kind=SpanKind.INTERNAL,
            attributes={"ophost.op.name": self._op, "ophost.attempt": attempt},
        )
        with trace.use_span(span, end_on_exit=False, record_exception=False):
            yield span

    def _end_attempt(
        self, event: EngineEvent | None, outcome: str = "", error: ErrorData | None = None
    ) -> None:
        span, self._attempt = self._attempt, None
        if span is None:
            return
        if outcome:
            span.set_attribute("ophost.attempt.outcome", outcome)
        if error is not None:
            span.set_attribute("error.type", error.type_name)
            if outcome == "failed":
                span.set_status(Status(StatusCode.ERROR, _describe(error)))
        span.end(end_time=_ns(event.timestamp) if event is not None else None)

    def events(self, batch: Sequence[EngineEvent]) -> None:
        for event in batch:
            body = event.body
            kind = type(body)
            if kind is StepSucceeded:
                self._end_attempt(event, "succeeded")
            elif kind is StepFailed:
                assert isinstance(body, StepFailed)
                canceled = body.error_source is ErrorSource.INTERRUPT
                self._end_attempt(event, "canceled" if canceled else "failed", body.error)
            elif kind is RetryScheduled:
                assert isinstance(body, RetryScheduled)
                self._span.add_event(
                    "retry scheduled",
                    {
                        "ophost.attempt": body.failed_attempt,
                        "ophost.retry.next_attempt": body.next_attempt,
                        "ophost.retry.delay_seconds": body.delay_seconds,
                    },
                    timestamp=_ns(event.timestamp),
                )
            elif kind is ExecutionStarted:
                assert isinstance(body, ExecutionStarted)
                if body.request_id:
                    self._span.set_attribute("ophost.request_id", body.request_id)
            elif kind is ExecutionFinished:
                assert isinstance(body, ExecutionFinished)
                self._finish(event, body)

    def _finish(self, event: EngineEvent, body: ExecutionFinished) -> None:
        self._end_attempt(event)
        span = self._span
        span.set_attribute("ophost.execution.status", body.status.value.lower())
        span.set_attribute("ophost.attempts", event.attempt + 1)
        if body.cancel_requested:
            span.set_attribute("ophost.cancel_requested", True)
        if body.status is ExecutionStatus.FAILED:
            if body.error is not None:
                span.set_attribute("error.type", body.error.type_name)
            span.set_status(Status(StatusCode.ERROR, _describe(body.error)))
        span.end(end_time=_ns(event.timestamp))
        self._ended = True

    def close(self) -> None:
        self._end_attempt(None)
        if not self._ended:  # the terminal event never came (recording failed)
            self._ended = True
            self._span.end()


def environment_tracer_provider() -> tuple[trace.TracerProvider, bool]:
    """The tracer provider for ``ophost serve --tracing``, and whether it was made here.

    A provider set globally already (``opentelemetry-instrument ophost serve ...``) is
    used as it is. Otherwise an SDK provider is made from the standard environment
    variables and set as the global one (so op bodies' spans are exported too):
    ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` (service name ``ophost``
    unless they name one), ``OTEL_TRACES_SAMPLER`` and its argument, the batch
    processor's ``OTEL_BSP_*``, and ``OTEL_TRACES_EXPORTER``: ``otlp`` (the default;
    over gRPC unless ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` or
    ``OTEL_EXPORTER_OTLP_PROTOCOL`` says ``http/protobuf``, configured by the
    exporter's own ``OTEL_EXPORTER_OTLP_*`` variables), ``console`` (to stderr) or
    ``none``, or several, comma-separated. Raises
    :class:`~ophost.server._observe.MissingExtraError` when the
    SDK or the OTLP exporter is missing, ``ValueError`` for an unknown exporter.
    """
    current = trace.get_tracer_provider()
    if not isinstance(current, trace.ProxyTracerProvider):
        return current, False
    sdk_trace = require("opentelemetry.sdk.trace", "tracing", "tracing (--tracing)")
    resources = require("opentelemetry.sdk.resources", "tracing", "tracing (--tracing)")
    export = require("opentelemetry.sdk.trace.export", "tracing", "tracing (--tracing)")
    attributes: dict[str, str] = {}
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    if not named:
        attributes["service.name"] = "ophost"
    provider: SdkTracerProvider = sdk_trace.TracerProvider(
        resource=resources.Resource.create(attributes)
    )
    names = os.environ.get("OTEL_TRACES_EXPORTER", "otlp")
    for name in (n.strip().lower() for n in names.split(",")):
        if name in ("", "none"):
            continue
        if name == "console":
            exporter = export.ConsoleSpanExporter(out=sys.stderr)
        elif name == "otlp":
            exporter = _otlp_exporter()
        else:
            raise ValueError(
                f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} "
                "(ophost serve knows otlp, console and none)"
            )
        provider.add_span_processor(export.BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider, True


def _otlp_exporter() -> Any:
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "grpc"
    ).strip()
    feature = "exporting spans over OTLP (OTEL_TRACES_EXPORTER=otlp, the default)"
    if protocol == "grpc":
        module = require("opentelemetry.exporter.otlp.proto.grpc.trace_exporter", "otlp", feature)
    elif protocol == "http/protobuf":
        module = require("opentelemetry.exporter.otlp.proto.http.trace_exporter", "otlp", feature)
    else:
        raise ValueError(
            f"OTLP protocol {protocol!r} is not supported here (use grpc or http/protobuf)"
        )
    return module.OTLPSpanExporter()
