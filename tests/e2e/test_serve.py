"""``ophost serve`` as a subprocess, driven by the bare generated stub; and the example ops.

Each test starts ``python -m ophost serve ... --port 0``, reads the bound address from
the line it prints, and kills the process in a ``finally`` whatever happens. Waits
are generous and nothing asserts on timing.
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from examples import ops as example_ops
from examples.run_in_process import RUNS
from ophost import OpDefinition, execute_in_process
from ophost.cli import main
from ophost.codec import values
from ophost.codec.status import find_status_details
from ophost.server import SERVICE_NAME
from ophost.v1 import event_pb2, execution_pb2, op_host_service_pb2_grpc, value_pb2
from ophost.v1 import op_host_service_pb2 as pb

if TYPE_CHECKING:
    from ophost.v1.op_host_service_pb2_grpc import OpHostServiceAsyncStub as Stub

REPO = Path(__file__).resolve().parents[2]
WAIT = 60.0  # seconds: generous, for slow machines; nothing asserts on timing
SERVING = re.compile(r"^ophost: serving (\d+) ops? from (.+) on (127\.0\.0\.1:(\d+))$")

OPS_FILE = """
import time

from ophost import Output, op


@op
def add(a: int, b: int) -> int:
    return a + b


@op(required_resource_keys={"greeting"})
def greet(context, name: str) -> str:
    return f"{context.resources.greeting}, {name}"


@op
def long_op(context, steps: int = 60_000):
    for step in range(steps):
        time.sleep(0.01)
        context.raise_if_cancel_requested()
        context.log.info("step %d", step)
    yield Output(steps)


@op
def stuck(context) -> int:
    context.log.info("sleeping")
    time.sleep(600)  # ignores cancel requests
    return 1


@op
def not_hosted() -> int:
    return 0


ophost_ops = [add, greet, long_op, stuck]
ophost_resources = {"greeting": "hello"}
"""


@dataclass
class Served:
    """A running ``ophost serve`` process and what it printed."""

    process: asyncio.subprocess.Process
    stderr_path: Path
    lines: list[str] = field(default_factory=list)
    executor_line: str = ""

    @property
    def address(self) -> str:
        match = SERVING.match(self.lines[0])
        assert match is not None, self.lines
        return match.group(3)

    async def next_line(self) -> str:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), WAIT)
        line = raw.decode().rstrip("\n")
        assert line, f"ophost serve printed nothing more; stderr:\n{self.stderr()}"
        self.lines.append(line)
        return line

    async def exit_code(self) -> int:
        """Wait for the process to exit; collect the rest of what it printed."""
        code = await asyncio.wait_for(self.process.wait(), WAIT)
        assert self.process.stdout is not None
        rest = await asyncio.wait_for(self.process.stdout.read(), WAIT)
        self.lines.extend(rest.decode().splitlines())
        return code

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


async def run_ophost(*args: str, cwd: Path, stderr_path: Path) -> asyncio.subprocess.Process:
    with stderr_path.open("wb") as stderr:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ophost",
            *args,
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )


@asynccontextmanager
async def serving(*args: str, cwd: Path, tmp_path: Path) -> AsyncIterator[Served]:
    """``ophost serve *args --port 0``, up and printing its address; killed on the way out."""
    stderr_path = tmp_path / "stderr.txt"
    process = await run_ophost("serve", *args, "--port", "0", cwd=cwd, stderr_path=stderr_path)
    served = Served(process, stderr_path)
    try:
        await served.next_line()
        assert (await served.next_line()).startswith("ophost: executions are kept in ")
        # Where op bodies run: checked by the tests that care, kept out of ``lines``.
        served.executor_line = await served.next_line()
        served.lines.pop()
        assert served.executor_line.startswith("ophost: op bodies run in ")
        yield served
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        assert process.stdout is not None
        await process.stdout.read()


@asynccontextmanager
async def connect(address: str) -> AsyncIterator[tuple[Stub, Any]]:
    """The raw service stub and a health stub on one channel."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub: Stub = op_host_service_pb2_grpc.OpHostServiceStub(channel)
        health: Any = health_pb2_grpc.HealthStub(channel)  # typed for sync channels
        yield stub, health


def start(op_name: str, /, **inputs: object) -> execution_pb2.ExecutionStart:
    message = execution_pb2.ExecutionStart(op_name=op_name)
    for name, value in inputs.items():
        message.inputs.add(name=name).value.CopyFrom(values.to_proto(value))
    return message


async def execute(
    stub: Stub, first: execution_pb2.ExecutionStart, running: asyncio.Event | None = None
) -> list[event_pb2.Event]:
    """Every event of one ``Execute`` call; sets ``running`` at the first log event."""

    async def requests() -> AsyncIterator[pb.ExecuteRequest]:
        yield pb.ExecuteRequest(start=first)

    events: list[event_pb2.Event] = []
    async for response in stub.Execute(requests()):
        if response.WhichOneof("kind") == "events":
            events.extend(response.events.events)
            if running is not None and any(e.WhichOneof("kind") == "log" for e in events):
                running.set()
    return events


def status_of(events: list[event_pb2.Event]) -> int:
    assert events, "no events"
    assert events[-1].WhichOneof("kind") == "execution_finished", events[-1]
    return events[-1].execution_finished.status


def output_value(events: list[event_pb2.Event]) -> object:
    output = next(e.output for e in events if e.WhichOneof("kind") == "output")
    return values.from_proto(output.value)


async def health_status(health: Any) -> int:
    reply = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
    status: int = reply.status
    return status


async def wait_for_health(health: Any, wanted: int) -> None:
    async def poll() -> None:
        # Health is another process's state, read over gRPC: polling is the only way.
        while await health_status(health) != wanted:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), WAIT)


@pytest.fixture
def ops_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_ops.py"
    path.write_text(textwrap.dedent(OPS_FILE), encoding="utf-8")
    return path


async def test_serve_lists_runs_and_drains_on_sigterm(ops_file: Path, tmp_path: Path) -> None:
    # A long grace, so the drain lasts until the second signal: no race with the checks.
    args = ("-f", str(ops_file), "--drain-grace", "600", "--max-concurrent-executions", "4")
    async with serving(*args, cwd=tmp_path, tmp_path=tmp_path) as served:
        match = SERVING.match(served.lines[0])
        assert match is not None, served.lines
        assert match.group(1, 2) == ("4", str(ops_file))
        async with connect(served.address) as (stub, health):
            listed = await stub.ListOps(pb.ListOpsRequest())
            assert [o.name for o in listed.ops] == ["add", "greet", "long_op", "stuck"]
            info = await stub.GetServerInfo(pb.GetServerInfoRequest())
            assert info.limits.max_concurrent_executions == 4

            events = await execute(stub, start("add", a=2, b=3))
            assert status_of(events) == event_pb2.EXECUTION_STATUS_SUCCEEDED
            assert output_value(events) == 5
            events = await execute(stub, start("greet", name="ada"))
            assert output_value(events) == "hello, ada"
            assert await health_status(health) == health_pb2.HealthCheckResponse.SERVING

            running = asyncio.Event()
            long_run = asyncio.ensure_future(execute(stub, start("long_op"), running))
            try:
                await asyncio.wait_for(running.wait(), WAIT)
                served.process.send_signal(signal.SIGTERM)
                assert "SIGTERM received; draining" in await served.next_line()
                await wait_for_health(health, health_pb2.HealthCheckResponse.NOT_SERVING)

                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await stub.StartExecution(
                        pb.StartExecutionRequest(start=start("add", a=1, b=1))
                    )
                assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
                found = find_status_details(refused.value.trailing_metadata())
                assert found is not None
                assert found.reason == "SERVER_DRAINING"
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await execute(stub, start("add", a=1, b=1))
                assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
                assert not long_run.done()

                # A second signal skips the rest of the grace period.
                served.process.send_signal(signal.SIGINT)
                long_events = await asyncio.wait_for(long_run, WAIT)
            finally:
                long_run.cancel()
        assert status_of(long_events) == event_pb2.EXECUTION_STATUS_CANCELED
        assert await served.exit_code() == 0
        assert "SIGINT received again; canceling running executions" in served.lines[3]
        assert served.lines[-1] == "ophost: stopped"


async def test_running_execution_is_canceled_when_the_grace_ends(
    ops_file: Path, tmp_path: Path
) -> None:
    args = ("-f", str(ops_file), "--drain-grace", "0.5")
    async with serving(*args, cwd=tmp_path, tmp_path=tmp_path) as served:
        async with connect(served.address) as (stub, _):
            running = asyncio.Event()
            long_run = asyncio.ensure_future(execute(stub, start("long_op"), running))
            try:
                await asyncio.wait_for(running.wait(), WAIT)
                served.process.send_signal(signal.SIGTERM)
                long_events = await asyncio.wait_for(long_run, WAIT)
            finally:
                long_run.cancel()
        assert status_of(long_events) == event_pb2.EXECUTION_STATUS_CANCELED
        assert long_events[-1].execution_finished.cancel_outcome == (
            event_pb2.CANCEL_OUTCOME_COOPERATIVE
        )
        assert await served.exit_code() == 0
        assert "waiting up to 0.5s for 1 running execution" in served.lines[2]
        assert served.lines[-1] == "ophost: stopped"


@pytest.mark.parametrize("executor", ["thread", "process"])
async def test_an_op_that_ignores_cancel_does_not_keep_the_process_alive(
    ops_file: Path, tmp_path: Path, executor: str
) -> None:
    args = ("-f", str(ops_file), "--drain-grace", "0", "--executor", executor)
    async with serving(*args, cwd=tmp_path, tmp_path=tmp_path) as served:
        async with connect(served.address) as (stub, _):
            started = await stub.StartExecution(pb.StartExecutionRequest(start=start("stuck")))
            request = pb.StreamEventsRequest(execution_id=started.execution.id)
            events: list[event_pb2.Event] = []
            running = asyncio.Event()

            async def follow() -> None:
                async for response in stub.StreamEvents(request):
                    events.extend(response.events)
                    if any(e.WhichOneof("kind") == "log" for e in response.events):
                        running.set()

            following = asyncio.ensure_future(follow())
            try:
                # Signal once the body runs (a cancel before that would not strand it).
                await asyncio.wait_for(running.wait(), WAIT)
                served.process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(following, WAIT)
            finally:
                following.cancel()
        assert status_of(events) == event_pb2.EXECUTION_STATUS_CANCELED
        outcome = events[-1].execution_finished.cancel_outcome
        # The body sleeps for 10 minutes. A thread cannot be stopped: without the
        # abandoned-thread exit the interpreter would wait for it, and this would time
        # out. A worker process is ended once the grace is over.
        assert await served.exit_code() == 0
        assert "ophost: stopped" in served.lines
        if executor == "thread":
            assert outcome == event_pb2.CANCEL_OUTCOME_ABANDONED
            assert "ignored the cancel" in served.lines[-1]
        else:
            assert outcome == event_pb2.CANCEL_OUTCOME_FORCED
            assert served.lines[-1] == "ophost: stopped"


async def test_serve_the_example_library_as_a_module(tmp_path: Path) -> None:
    async with serving(
        "-m", "examples.ops", "--store", "memory", cwd=REPO, tmp_path=tmp_path
    ) as served:
        match = SERVING.match(served.lines[0])
        assert match is not None, served.lines
        assert match.group(2) == "module examples.ops"
        async with connect(served.address) as (stub, _):
            listed = await stub.ListOps(pb.ListOpsRequest(page_size=100))
            assert [o.name for o in listed.ops] == list(example_op_names())
            events = await execute(stub, start("top_scores", n=2))
            assert output_value(events) == {"grace": 95.5, "ada": 91.0}
            # Over the 1 MiB inline threshold: the output travels in chunks.
            events = await execute(stub, start("large_blob", size_mb=2))
            assert status_of(events) == event_pb2.EXECUTION_STATUS_SUCCEEDED
            output = next(e.output for e in events if e.WhichOneof("kind") == "output")
            ref = output.value.chunked_value
            chunks = [e.value_chunk.data for e in events if e.WhichOneof("kind") == "value_chunk"]
            assert ref.chunk_count == len(chunks) > 1
            blob = values.from_proto(value_pb2.Value.FromString(b"".join(chunks)))
            assert blob == bytes(range(256)) * 4096 * 2
        served.process.send_signal(signal.SIGINT)
        assert await served.exit_code() == 0
        assert "waiting up to 10s for 0 running executions" in served.lines[2]


MISSING_RESOURCE = """
from ophost import op


@op(required_resource_keys={"db"})
def query(context) -> int:
    return 1
"""


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("missing-file", "cannot load ops: no such file: nowhere/ops.py"),
        ("missing-resource-file", "op 'query' requires resource 'db'"),
        ("missing-resource-module", "op 'query' requires resource 'db'"),
        ("missing-module", "cannot load ops: no module named 'no_such_ops_module'"),
    ],
)
async def test_load_errors_exit_2_with_the_loaders_message(
    tmp_path: Path, how: str, message: str
) -> None:
    (tmp_path / "needs_db.py").write_text(MISSING_RESOURCE, encoding="utf-8")
    source = {
        "missing-file": ("-f", "nowhere/ops.py"),
        "missing-resource-file": ("-f", "needs_db.py"),
        "missing-resource-module": ("-m", "needs_db"),
        "missing-module": ("-m", "no_such_ops_module"),
    }[how]
    stderr_path = tmp_path / "stderr.txt"
    process = await run_ophost(
        "serve", *source, "--port", "0", cwd=tmp_path, stderr_path=stderr_path
    )
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(), WAIT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    stderr = stderr_path.read_text(encoding="utf-8")
    assert process.returncode == 2, stderr
    assert message in stderr
    assert stderr.startswith("ophost: cannot load ops")
    assert stdout == b""


async def test_a_taken_port_exits_1(ops_file: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        stderr_path = tmp_path / "stderr.txt"
        process = await run_ophost(
            "serve", "-f", str(ops_file), "--port", port, cwd=tmp_path, stderr_path=stderr_path
        )
        try:
            stdout, _ = await asyncio.wait_for(process.communicate(), WAIT)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    stderr = stderr_path.read_text(encoding="utf-8")
    assert process.returncode == 1, stderr
    assert f"ophost: cannot serve on 127.0.0.1:{port}" in stderr
    assert stdout == b""


@pytest.mark.parametrize(
    ("options", "limit"),
    [
        (["--max-upload-bytes", "2K"], 2048),
        (["--max-upload-buffer-bytes", "1500"], 1500),
        (["--max-upload-bytes", "1M", "--max-upload-buffer-bytes", "3K"], 3072),
    ],
)
async def test_the_upload_caps_are_options_of_serve(
    ops_file: Path, tmp_path: Path, options: list[str], limit: int
) -> None:
    ref = value_pb2.ChunkedValueRef(value_id="v", total_size_bytes=limit + 1, chunk_count=1)
    first = execution_pb2.ExecutionStart(op_name="add")
    first.inputs.add(name="a").value.chunked_value.CopyFrom(ref)
    async with (
        serving(
            "-f", str(ops_file), "--store", "memory", *options, cwd=tmp_path, tmp_path=tmp_path
        ) as served,
        connect(served.address) as (stub, _health),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await execute(stub, first)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    found = find_status_details(info.value.trailing_metadata())
    assert found is not None
    assert (found.reason, found.metadata["limit"]) == ("UPLOAD_TOO_LARGE", str(limit))


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["serve"],
        ["serve", "-f", "a.py", "--max-upload-buffer-bytes", "0"],
        ["serve", "-f", "a.py", "--max-upload-bytes", "lots"],
        ["serve", "-f", "a.py", "-m", "a"],
        ["serve", "-f", "a.py", "--port", "65536"],
        ["serve", "-f", "a.py", "--port", "http"],
        ["serve", "-f", "a.py", "--max-concurrent-executions", "0"],
        ["serve", "-f", "a.py", "--drain-grace", "-1"],
        ["serve", "-f", "a.py", "--event-retention", "nan"],
        ["nope"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "usage: ophost" in capsys.readouterr().err


# -- the example op library, in process ------------------------------------------------


def example_op_names() -> Iterator[str]:
    """The ops ``ophost serve -f examples/ops.py`` hosts, in definition order."""
    for value in vars(example_ops).values():
        if isinstance(value, OpDefinition):
            yield value.name


def test_the_demo_runs_every_example_op() -> None:
    assert [op_def.name for op_def, _, _ in RUNS] == list(example_op_names())


@pytest.mark.parametrize(
    ("op_def", "inputs", "config"), RUNS, ids=[op_def.name for op_def, _, _ in RUNS]
)
def test_example_op_runs_in_process(
    op_def: OpDefinition, inputs: dict[str, object], config: dict[str, object] | None
) -> None:
    result = execute_in_process(
        op_def, inputs=inputs, config=config, resources=example_ops.ophost_resources
    )
    assert result.success, result.failure
    assert result.outputs


def test_example_outputs() -> None:
    def run(op_def: OpDefinition, config: object = None, **inputs: object) -> object:
        resources = example_ops.ophost_resources
        result = execute_in_process(op_def, inputs=inputs, config=config, resources=resources)
        return result.outputs

    assert run(example_ops.long_running, {"step_seconds": 0.001}, steps=4) == {"result": 4}
    assert run(example_ops.large_blob, size_mb=0) == {"result": b""}
    assert run(example_ops.top_scores, n=1) == {"result": {"grace": 95.5}}
    assert run(example_ops.summarize, values=[1.0, 3.0]) == {"mean": 2.0, "spread": 1.0}
    flaky = execute_in_process(example_ops.flaky_fetch, inputs={"url": "u"}, sleep=_no_sleep)
    assert [e.attempt for e in flaky.events if type(e.body).__name__ == "RetryScheduled"] == [0, 1]
    assert flaky.outputs == {"result": "contents of u"}


async def _no_sleep(_seconds: float) -> None:
    return None
