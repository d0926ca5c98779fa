"""The caller's trace context, sent with each call when OpenTelemetry is installed.

When ``opentelemetry-api`` can be imported and a span is current where a call starts,
the call's metadata carries that span's context: what the global propagator writes
(W3C ``traceparent``, ``tracestate`` and ``baggage`` by default; ``OTEL_PROPAGATORS``
changes it), and always a ``traceparent``. The server makes its spans children of
it. Without OpenTelemetry, or without a current span, nothing is added. The client
does not depend on OpenTelemetry: it is looked for once, at import.
"""

from __future__ import annotations

from typing import Any

__all__ = ["trace_metadata"]

_trace: Any
_propagate: Any
_tracecontext: Any
try:
    from opentelemetry import propagate as _propagate
    from opentelemetry import trace as _trace
    from opentelemetry.trace.propagation import tracecontext as _tracecontext
except ImportError:  # pragma: no cover - OpenTelemetry is optional
    _trace = _propagate = _tracecontext = None


def trace_metadata() -> tuple[tuple[str, str], ...]:
    """The current span's context as metadata pairs (none without a span)."""
    if _trace is None:
        return ()
    if not _trace.get_current_span().get_span_context().is_valid:
        return ()
    carrier: dict[str, str] = {}
    _propagate.inject(carrier)
    if "traceparent" not in carrier:  # a propagator without W3C trace context
        _tracecontext.TraceContextTextMapPropagator().inject(carrier)
    return tuple((key.lower(), value) for key, value in carrier.items())
