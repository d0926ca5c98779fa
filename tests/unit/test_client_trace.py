"""The Python client sends the caller's OpenTelemetry span as ``traceparent``, if any."""

from __future__ import annotations

import pytest

pytest.importorskip("opentelemetry.sdk.trace", reason="the tracing extra is not installed")

from opentelemetry.sdk.trace import TracerProvider

from ophost_client import _trace
from ophost_client._options import CallOptions

TRACER = TracerProvider().get_tracer("test")


def test_no_span_no_metadata() -> None:
    assert _trace.trace_metadata() == ()
    assert CallOptions.begin(None, [("x-user", "1")]).metadata == (("x-user", "1"),)


def test_the_current_span_goes_as_traceparent() -> None:
    with TRACER.start_as_current_span("caller") as span:
        context = span.get_span_context()
        options = CallOptions.begin(5.0, [("x-user", "1")])
    flags = int(context.trace_flags)
    traceparent = f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"
    assert ("traceparent", traceparent) in options.metadata
    assert options.metadata[-1] == ("x-user", "1")


def test_the_callers_own_traceparent_wins() -> None:
    mine = "00-11111111111111111111111111111111-2222222222222222-01"
    with TRACER.start_as_current_span("caller"):
        options = CallOptions.begin(None, [("traceparent", mine)])
    assert options.metadata == (("traceparent", mine),)


def test_without_opentelemetry_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_trace, "_trace", None)
    with TRACER.start_as_current_span("caller"):
        assert _trace.trace_metadata() == ()
        assert CallOptions.begin(None, None).metadata == ()
