"""Helpers for the observability tests: scraping metrics, waiting, ``ophost serve`` processes.

:func:`scrape` reads a metrics endpoint over HTTP (in a thread, so the test's own
server keeps serving) and :class:`Scrape` finds samples by name and labels.
:func:`serve_process` runs ``python -m ophost serve`` with stdout piped (its
``ophost: ...`` lines) and stderr in a file (its log lines).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

WAIT = 60.0
SERVING = re.compile(r"^ophost: serving .* on (\S+?)(?: with \d+ worker processes)?$")
METRICS = re.compile(r"^ophost(?:\[worker (\d+)\])?: metrics at http://(\S+)/metrics$")


class Scrape:
    """The samples of one scrape, by name and labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: list[tuple[str, dict[str, str], float]] = [
            (sample.name, dict(sample.labels), sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named ``name`` whose labels include ``labels`` (0: none)."""
        return sum(
            value
            for sample, found, value in self.samples
            if sample == name and all(found.get(k) == v for k, v in labels.items())
        )

    def names(self) -> set[str]:
        return {name for name, _, _ in self.samples}


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


async def get(url: str) -> tuple[int, str, str]:
    """GET ``url``: status, content type and body."""
    return await asyncio.to_thread(_get, url)


async def scrape(address: str) -> Scrape:
    """``GET http://address/metrics``, parsed."""
    status, _, body = await get(f"http://{address}/metrics")
    assert status == 200, body
    return Scrape(body)


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20.0) -> None:
    """Wait until ``check()`` is true (it is polled), failing with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class ServeProcess:
    """A running ``ophost serve`` and what it printed on stdout so far."""

    process: asyncio.subprocess.Process
    stderr_path: Path
    address: str = ""
    metrics: dict[int, str] = field(default_factory=dict)  # worker (0: none) -> host:port
    lines: list[str] = field(default_factory=list)

    async def read_line(self) -> str:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), WAIT)
        line = raw.decode().rstrip("\n")
        if not line:
            await asyncio.wait_for(self.process.wait(), WAIT)
            raise AssertionError(
                f"ophost serve exited ({self.process.returncode}) after printing:\n"
                + "\n".join(self.lines)
                + f"\nstderr:\n{self.stderr()}"
            )
        self.lines.append(line)
        return line

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    async def stop(self) -> int:
        """SIGTERM (drain and stop); the exit code."""
        if self.process.returncode is None:
            self.process.terminate()
        code = await asyncio.wait_for(self.process.wait(), WAIT)
        assert self.process.stdout is not None
        rest = await asyncio.wait_for(self.process.stdout.read(), WAIT)
        self.lines.extend(rest.decode().splitlines())
        return code


async def run_serve(
    *args: str, cwd: Path, stderr_path: Path, env: Mapping[str, str] | None = None
) -> asyncio.subprocess.Process:
    """``python -m ophost serve *args``: stdout piped, stderr into ``stderr_path``."""
    with stderr_path.open("wb") as stderr:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ophost",
            "serve",
            *args,
            cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )


@contextlib.asynccontextmanager
async def serve_process(
    *args: str,
    cwd: Path,
    metrics_lines: int = 0,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[ServeProcess]:
    """``ophost serve *args`` once serving (and ``metrics_lines`` metrics lines read);
    killed on the way out if still running."""
    stderr_path = cwd / f"stderr-{time.monotonic_ns()}.txt"
    process = await run_serve(*args, cwd=cwd, stderr_path=stderr_path, env=env)
    served = ServeProcess(process, stderr_path)
    try:
        while not served.address or len(served.metrics) < metrics_lines:
            line = await served.read_line()
            serving = SERVING.match(line)
            if serving is not None:
                served.address = serving.group(1)
            metrics = METRICS.match(line)
            if metrics is not None:
                served.metrics[int(metrics.group(1) or 0)] = metrics.group(2)
        yield served
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        assert process.stdout is not None
        await process.stdout.read()
