"""``ophost serve`` processes for tests that kill, restart and share them.

:func:`start_host` runs ``python -m ophost serve`` with the arguments given and waits
for its ``serving`` line; :class:`HostProcess` reads the rest of what it prints in the
background, and stops it with a real signal (SIGTERM to drain, SIGKILL to crash).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import grpc

from ophost.v1 import op_host_service_pb2 as pb

REPO = Path(__file__).resolve().parents[2]
SERVING = re.compile(r"^ophost: serving .* on (\S+?)(?: with \d+ worker processes)?$")
WAIT = 60.0

# Slow ops for runs that a kill interrupts; written next to the store.
OPS_SOURCE = """
import time

from ophost import RetryPolicy, op


@op
def add(a: int, b: int) -> int:
    return a + b


@op
def ticks(context, n: int, pause: float = 0.05) -> int:
    for i in range(n):
        context.raise_if_cancel_requested()
        context.log.info(f"tick {i}")
        time.sleep(pause)
    return n


@op
def chatter(context, n: int, size: int) -> int:
    for i in range(n):
        context.log.info(f"{i} " + "x" * size)
    return n


@op(retry_policy=RetryPolicy(max_retries=2))
def ticks_retried(context, n: int, pause: float = 0.05) -> int:
    for i in range(n):
        context.log.info(f"tick {i} of attempt {context.retry_number}")
        time.sleep(pause)
    return n
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_ops(folder: Path) -> Path:
    path = folder / "durable_ops.py"
    path.write_text(OPS_SOURCE, encoding="utf-8")
    return path


class HostProcess:
    """A running ``ophost serve`` and the lines it printed."""

    def __init__(self, process: asyncio.subprocess.Process, address: str, lines: list[str]):
        self.process = process
        self.address = address
        self.lines = lines
        self._reader = asyncio.ensure_future(self._read_rest())

    async def _read_rest(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            self.lines.append(raw.decode().rstrip("\n"))

    @property
    def pid(self) -> int:
        return self.process.pid

    async def kill(self) -> None:
        """SIGKILL: the host gets no chance to write anything more."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.process.wait(), WAIT)
        await self._ended()

    async def stop(self) -> int:
        """SIGTERM: drain and stop; returns the exit code."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), WAIT)
        await self._ended()
        return code

    async def _ended(self) -> None:
        """Read what is left, then close the pipes now rather than when collected."""
        await asyncio.wait_for(self._reader, WAIT)
        self.process._transport.close()  # type: ignore[attr-defined]


async def start_host(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> HostProcess:
    """``ophost serve *args``, once it prints its ``serving`` line (``env``: variables
    set for it, over this process's environment)."""
    process = await spawn_host(*args, cwd=cwd, env=env)
    assert process.stdout is not None
    lines: list[str] = []
    try:
        while True:
            raw = await asyncio.wait_for(process.stdout.readline(), WAIT)
            if not raw:
                raise AssertionError("ophost serve exited before serving:\n" + "\n".join(lines))
            line = raw.decode().rstrip("\n")
            lines.append(line)
            match = SERVING.match(line)
            if match is not None:
                return HostProcess(process, match.group(1), lines)
    except BaseException:
        if process.returncode is None:
            process.kill()
        await process.wait()
        process._transport.close()  # type: ignore[attr-defined]
        raise


# Run as root without the capabilities that let root ignore file permissions, so that a
# file's mode applies to the host as it would to any other user.
WITHOUT_FILE_OVERRIDES = (
    "setpriv",
    "--bounding-set=-dac_override,-dac_read_search",
    "--inh-caps=-dac_override,-dac_read_search",
)


async def spawn_host(
    *args: str,
    cwd: Path,
    honour_file_modes: bool = False,
    env: Mapping[str, str] | None = None,
) -> asyncio.subprocess.Process:
    """``ophost serve *args`` started (output on stdout, stderr joined in).

    ``honour_file_modes``: when running as root, drop root's power to ignore file modes.
    ``env``: variables set for it, over this process's environment.
    """
    env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    runner = list(WITHOUT_FILE_OVERRIDES) if honour_file_modes and os.geteuid() == 0 else []
    return await asyncio.create_subprocess_exec(
        *runner,
        sys.executable,
        "-m",
        "ophost",
        "serve",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


@contextlib.asynccontextmanager
async def hosts(*started: HostProcess) -> AsyncIterator[None]:
    """Kill whatever is still running on the way out."""
    try:
        yield
    finally:
        for host in started:
            if host.process.returncode is None:
                await host.kill()


async def raw_events(address: str, execution_id: str, after: int = 0) -> bytes:
    """The execution's events as the server sends them: the responses' bytes, joined.

    A ``StreamEventsResponse`` is a list of events, so joining the responses gives the
    same bytes however the server batched them.
    """
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_stream(
            "/ophost.v1.OpHostService/StreamEvents",
            request_serializer=pb.StreamEventsRequest.SerializeToString,
            response_deserializer=lambda data: data,
        )
        parts = [
            bytes(part)
            async for part in call(
                pb.StreamEventsRequest(execution_id=execution_id, after_sequence=after),
                timeout=WAIT,
            )
        ]
    return b"".join(parts)
