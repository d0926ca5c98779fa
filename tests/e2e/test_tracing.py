"""OpenTelemetry spans of calls, executions and attempts, held by the SDK's in-memory exporter.

The host gets a tracer provider with an in-memory exporter; clients call it under a
span of their own (or send a ``traceparent`` by hand). The spans must form one trace:
the caller's span, the call's server span, the execution's span, one span per attempt,
and the spans the op body makes, each the child of the one before.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import grpc
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from ophost import RetryPolicy, op
from ophost.server import OpHostServer
from ophost.v1 import execution_pb2, op_host_service_pb2_grpc
from ophost.v1 import op_host_service_pb2 as pb
from ophost_client import AsyncOpHostClient, OpFailedError, OpHostClient, OpHostRpcError

from .observed import serve_process
from .tracing import EXECUTE, Spans, hex_id, spans

__all__ = ["spans"]  # the fixture

_attempts: dict[str, int] = {}


@op(required_resource_keys={"tracer"})
def add(context, a: int, b: int) -> int:  # type: ignore[no-untyped-def]
    with context.resources.tracer.start_as_current_span("inside add"):
        return a + b


@op(retry_policy=RetryPolicy(max_retries=2))
def flaky(context, key: str) -> str:  # type: ignore[no-untyped-def]
    _attempts[key] = _attempts.get(key, 0) + 1
    if _attempts[key] == 1:
        raise ConnectionError("the first attempt fails")
    return key


@op
def fails() -> int:
    raise ValueError("always")


def host(spans: Spans) -> OpHostServer:
    tracer = spans.provider.get_tracer("ops")
    return OpHostServer(
        [add, flaky, fails], resources={"tracer": tracer}, tracer_provider=spans.provider
    )


async def test_a_python_client_call_is_one_trace_down_to_the_op_body(spans: Spans) -> None:
    async with host(spans) as server, AsyncOpHostClient(server.address) as client:
        with spans.provider.get_tracer("test").start_as_current_span("caller") as caller:
            assert await client.call("add", {"a": 1, "b": 2}) == {"result": 3}
        await spans.wait_for(EXECUTE)
    root = spans.one("caller")
    assert root.context.trace_id == caller.get_span_context().trace_id
    # Every call the client made under the caller's span is its child.
    calls = spans.children(root)
    assert [c.name for c in calls] == ["ophost.v1.OpHostService/GetServerInfo", EXECUTE]
    execute = calls[1]
    assert execute.kind is SpanKind.SERVER
    assert execute.attributes is not None
    assert dict(execute.attributes) == {
        "rpc.system": "grpc",
        "rpc.service": "ophost.v1.OpHostService",
        "rpc.method": "Execute",
        "rpc.grpc.status_code": 0,
    }
    [execution] = spans.children(execute)
    assert execution.name == "execution add"
    assert execution.attributes is not None
    assert execution.attributes["ophost.op.name"] == "add"
    assert execution.attributes["ophost.execution.status"] == "succeeded"
    execution_id = execution.attributes["ophost.execution.id"]
    assert isinstance(execution_id, str)
    assert execution_id
    [attempt] = spans.children(execution)
    assert attempt.name == "attempt add"
    assert attempt.attributes is not None
    assert attempt.attributes["ophost.attempt"] == 0
    assert attempt.attributes["ophost.attempt.outcome"] == "succeeded"
    # The op body's own span runs in the attempt's context, in a worker thread.
    [inside] = spans.children(attempt)
    assert inside.name == "inside add"
    assert {s.context.trace_id for s in spans.finished()} == {root.context.trace_id}
    for child, parent in ((execution, execute), (attempt, execution), (inside, attempt)):
        assert child.start_time is not None
        assert parent.start_time is not None
        assert child.start_time >= parent.start_time


async def test_retries_and_failures_show_in_the_spans(spans: Spans) -> None:
    async with host(spans) as server, AsyncOpHostClient(server.address) as client:
        assert await client.call("flaky", {"key": "t1"}) == {"result": "t1"}
        with pytest.raises(OpFailedError):
            await client.call("fails")
        await spans.wait_for(EXECUTE, 2)
    flaky_span = spans.one("execution flaky")
    first, second = spans.children(flaky_span)
    assert (first.name, second.name) == ("attempt flaky", "attempt flaky")
    assert first.attributes is not None
    assert second.attributes is not None
    assert (first.attributes["ophost.attempt"], second.attributes["ophost.attempt"]) == (0, 1)
    assert first.status.status_code is StatusCode.ERROR
    assert first.attributes["error.type"] == "builtins.ConnectionError"
    assert first.attributes["ophost.attempt.outcome"] == "failed"
    assert second.attributes["ophost.attempt.outcome"] == "succeeded"
    assert flaky_span.status.status_code is StatusCode.UNSET
    [retry] = flaky_span.events
    assert retry.name == "retry scheduled"
    assert retry.attributes is not None
    assert retry.attributes["ophost.retry.next_attempt"] == 1
    failed = spans.one("execution fails")
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "builtins.ValueError: always"
    assert failed.attributes is not None
    assert failed.attributes["ophost.execution.status"] == "failed"
    # An op failure is an event on a stream that ends OK: the call itself did not fail.
    executes = spans.named(EXECUTE)
    assert [s.status.status_code for s in executes] == [StatusCode.UNSET] * 2


async def test_a_call_without_a_span_starts_a_trace(spans: Spans) -> None:
    async with host(spans) as server, AsyncOpHostClient(server.address) as client:
        await client.call("add", {"a": 1, "b": 1})
        await spans.wait_for(EXECUTE)
    execute = spans.one(EXECUTE)
    assert execute.parent is None
    assert spans.children(execute)[0].name == "execution add"


async def test_a_traceparent_in_the_metadata_is_the_parent(spans: Spans) -> None:
    trace_id, span_id = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    traceparent = f"00-{trace_id}-{span_id}-01"
    async with host(spans) as server, grpc.aio.insecure_channel(server.address) as channel:
        stub = op_host_service_pb2_grpc.OpHostServiceStub(channel)
        start = execution_pb2.ExecutionStart(op_name="fails")
        await stub.StartExecution(
            pb.StartExecutionRequest(start=start), metadata=(("traceparent", traceparent),)
        )
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.GetOp(pb.GetOpRequest(op_name="nope"), metadata=(("traceparent", "junk"),))
        assert info.value.code() is grpc.StatusCode.NOT_FOUND
        await spans.wait_for("execution fails")
    started = spans.one("ophost.v1.OpHostService/StartExecution")
    assert started.parent is not None
    assert hex_id(started.parent.span_id, 16) == span_id
    assert hex_id(started.context.trace_id, 32) == trace_id
    assert started.parent.is_remote
    # The execution outlives the call that started it, and is still its child.
    assert spans.children(started)[0].name == "execution fails"
    # A traceparent that does not parse starts a new trace; NOT_FOUND is the caller's
    # error, not the server's, so the span is not marked failed.
    get_op = spans.one("ophost.v1.OpHostService/GetOp")
    assert get_op.parent is None
    assert get_op.attributes is not None
    assert get_op.attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert get_op.status.status_code is StatusCode.UNSET


async def test_the_blocking_client_sends_the_callers_span(spans: Spans) -> None:
    async with host(spans) as server:

        def call() -> tuple[int, int]:
            tracer = spans.provider.get_tracer("test")
            with (
                tracer.start_as_current_span("blocking caller") as caller,
                OpHostClient(server.address) as client,
            ):
                client.call("add", {"a": 2, "b": 3})
                with pytest.raises(OpHostRpcError):
                    client.get_op("nope")
            context = caller.get_span_context()
            return context.trace_id, context.span_id

        trace_id, span_id = await asyncio.to_thread(call)
        await spans.wait_for(EXECUTE)
    for name in (EXECUTE, "ophost.v1.OpHostService/GetOp"):
        span = spans.one(name)
        assert span.parent is not None, name
        assert (span.context.trace_id, span.parent.span_id) == (trace_id, span_id)


async def test_without_a_tracer_provider_no_span_is_made(spans: Spans) -> None:
    async with OpHostServer([fails]) as server, AsyncOpHostClient(server.address) as client:
        with spans.provider.get_tracer("test").start_as_current_span("caller"):
            with pytest.raises(OpFailedError):
                await client.call("fails")
    assert [s.name for s in spans.finished()] == ["caller"]


# -- ophost serve --tracing ---------------------------------------------------------------

OPS_FILE = """
from ophost import op


@op
def add(a: int, b: int) -> int:
    return a + b
"""


async def test_ophost_serve_tracing_follows_the_otel_environment(
    tmp_path: Path, spans: Spans
) -> None:
    (tmp_path / "ops.py").write_text(OPS_FILE, encoding="utf-8")
    env = {
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_SERVICE_NAME": "ops-under-test",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    args = ("-f", "ops.py", "--port", "0", "--store", "memory", "--tracing")
    async with serve_process(*args, cwd=tmp_path, env=env) as served:
        async with AsyncOpHostClient(served.address) as client:
            with spans.provider.get_tracer("test").start_as_current_span("caller") as caller:
                assert await client.call("add", {"a": 1, "b": 2}) == {"result": 3}
        assert await served.stop() == 0
    exported = served.stderr()  # the console exporter writes to stderr
    trace_id = hex_id(caller.get_span_context().trace_id, 32)
    assert f'"trace_id": "0x{trace_id}"' in exported
    assert '"name": "execution add"' in exported
    assert '"name": "attempt add"' in exported
    assert f'"name": "{EXECUTE}"' in exported
    assert '"service.name": "ops-under-test"' in exported


async def test_ophost_serve_tracing_refuses_an_unknown_exporter(tmp_path: Path) -> None:
    (tmp_path / "ops.py").write_text(OPS_FILE, encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "ophost", "serve", "-f", "ops.py", "--port", "0", "--tracing"),
        cwd=tmp_path,
        env={**os.environ, "OTEL_TRACES_EXPORTER": "zipkin"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert "unknown exporter 'zipkin'" in err.decode()
