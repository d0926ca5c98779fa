"""A trace that starts in the Go client goes on in the host's spans.

``client/go/bin/tracecall`` (``make go-build``) starts a span with the Go OpenTelemetry
SDK, lists the ops and calls one inside it, and prints its span's ids. The host runs
in this process with an in-memory span exporter; its spans must carry the Go span's
trace id, the call spans must be children of the Go span, and the execution and
attempt spans children of the ``Execute`` call's span.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from opentelemetry.trace import SpanKind

from ophost import op
from ophost.server import OpHostServer
from tests.tools import missing_tool

from .tracing import EXECUTE, Spans, hex_id, spans

__all__ = ["spans"]  # the fixture

pytestmark = pytest.mark.crosslang

TRACECALL = Path(__file__).resolve().parents[2] / "client/go/bin/tracecall"


@op
def add(a: int, b: int) -> int:
    return a + b


async def test_a_trace_started_in_the_go_client(spans: Spans) -> None:
    if not TRACECALL.exists():
        missing_tool(f"{TRACECALL} is not built (run `make go-build`)")
    async with OpHostServer([add], tracer_provider=spans.provider) as server:
        process = await asyncio.create_subprocess_exec(
            str(TRACECALL),
            *("-address", server.address, "-op", "add", "-inputs", '{"a": 2, "b": 5}'),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()
        printed = json.loads(out)
        assert printed["outputs"] == {"result": 7}
        await spans.wait_for(EXECUTE)
    trace_id, go_span = printed["trace_id"], printed["span_id"]
    calls = sorted(
        (s for s in spans.finished() if s.kind is SpanKind.SERVER),
        key=lambda span: span.start_time or 0,
    )
    assert [s.name for s in calls] == [
        "ophost.v1.OpHostService/ListOps",
        "ophost.v1.OpHostService/GetServerInfo",
        EXECUTE,
    ]
    for call in calls:
        assert call.parent is not None, call.name
        assert call.parent.is_remote
        assert hex_id(call.parent.span_id, 16) == go_span
    assert {hex_id(s.context.trace_id, 32) for s in spans.finished()} == {trace_id}
    [execution] = spans.children(calls[-1])
    assert execution.name == "execution add"
    [attempt] = spans.children(execution)
    assert attempt.name == "attempt add"
    assert attempt.attributes is not None
    assert attempt.attributes["ophost.attempt.outcome"] == "succeeded"
