"""What every benchmark measures with: the run's settings, the server subprocesses, the
clients, and the ways of timing calls (round trips, taken in turns, calls per second, CPU
used), with the medians and percentiles they are summed up by. ``bench.run`` and each
benchmark module use it; it uses none of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import os
import random
import select
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import PORT_LINE_PREFIX, PROFILE_ENV
from bench.baseline import BaselineClient
from bench.ops import OpHostClient

ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Settings:
    """How much each benchmark does; ``repeats`` is per side."""

    repeats: int
    latency_calls: int  # sequential round trips per repeat
    throughput_seconds: float  # how long the callers loop, per repeat
    concurrency: int = 32
    events: int = 100_000
    large_bytes: int = 64 * MIB
    warmup_calls: int = 100
    warmup_seconds: float = 0.5


FULL = Settings(repeats=9, latency_calls=400, throughput_seconds=1.5)
QUICK = Settings(
    repeats=5, latency_calls=60, throughput_seconds=0.3, warmup_calls=30, warmup_seconds=0.2
)


# -- server subprocesses -------------------------------------------------------------------


class ServerProcess:
    """A server subprocess (``python -m <module>``): its port and its memory."""

    def __init__(
        self, module: str, *, profile_dir: str | None, env: dict[str, str] | None = None
    ) -> None:
        extra = env or {}
        env = dict(os.environ) | extra
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        if profile_dir:
            env[PROFILE_ENV] = profile_dir
        else:
            env.pop(PROFILE_ENV, None)
        self.module = module
        self._proc = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.port = self._read_port(timeout=60.0)
        self.address = f"127.0.0.1:{self.port}"

    def _read_port(self, *, timeout: float) -> int:
        stdout = self._proc.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], timeout)
        line = stdout.readline().decode().strip() if ready else ""
        prefix, _, port = line.partition(" ")
        if prefix != PORT_LINE_PREFIX or not port.isdigit():
            self.stop()
            raise RuntimeError(f"{self.module} did not start (it said {line!r})")
        return int(port)

    def _status(self) -> dict[str, int]:
        """VmRSS and VmHWM of the server, in bytes."""
        found: dict[str, int] = {}
        with open(f"/proc/{self._proc.pid}/status", encoding="ascii") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    found[key] = int(value.split()[0]) * 1024
        return found

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the server so far, all its threads."""
        with open(f"/proc/{self._proc.pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
        # Fields 14 and 15 (utime, stime); fields[0] here is field 3 (state).
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def rss(self) -> int:
        return self._status()["VmRSS"]

    def peak_rss(self) -> int:
        return self._status()["VmHWM"]

    def reset_peak_rss(self) -> bool:
        """Reset the server's VmHWM to its current RSS (Linux >= 4.0); False if refused."""
        try:
            with open(f"/proc/{self._proc.pid}/clear_refs", "w", encoding="ascii") as refs:
                refs.write("5")
        except OSError:
            return False
        return True

    def stop(self) -> None:
        """Close its stdin (it stops serving and exits); kill it if it lingers."""
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


class PeakSampler:
    """Samples a server's VmRSS in a thread: the fallback when VmHWM cannot be reset."""

    def __init__(self, server: ServerProcess, interval: float = 0.002) -> None:
        self._server = server
        self._interval = interval
        self._stop = False
        self.peak = server.rss()

    def run(self) -> None:
        while not self._stop:
            self.peak = max(self.peak, self._server.rss())
            time.sleep(self._interval)

    def stop(self) -> None:
        self._stop = True


async def measure_peak_growth(
    server: ServerProcess, transfer: Callable[[], Awaitable[float]]
) -> tuple[float, int, int]:
    """Run ``transfer`` (it returns its seconds).

    Returns its seconds, the server's peak RSS growth during it, and the RSS it still
    holds afterwards (both in bytes, from the RSS just before).
    """
    gc.collect()
    if server.reset_peak_rss():
        before = server.rss()
        seconds = await transfer()
        return seconds, max(0, server.peak_rss() - before), server.rss() - before
    sampler = PeakSampler(server)
    before = sampler.peak
    thread = asyncio.get_running_loop().run_in_executor(None, sampler.run)
    try:
        seconds = await transfer()
    finally:
        sampler.stop()
        await thread
    return seconds, max(0, sampler.peak - before), server.rss() - before


# -- measuring -----------------------------------------------------------------------------


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in (0, 1])."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


async def round_trips(call: Callable[[], Awaitable[object]], count: int) -> list[float]:
    """``count`` sequential calls; the seconds each took."""
    times: list[float] = []
    clock = time.perf_counter
    for _ in range(count):
        began = clock()
        await call()
        times.append(clock() - began)
    return times


# Each turn in ``alternating_round_trips``: WARM_CALLS calls not counted (a server idle
# since its last turn answers the first ones slower: about 2.7 ms, then 2.2, 2.0, ...,
# level after ten or so), then TURN_CALLS counted. A round of turns of every side takes
# well under a second.
WARM_CALLS = 10
TURN_CALLS = 40


async def alternating_round_trips(
    calls: Mapping[str, Callable[[], Awaitable[object]]], count: int
) -> dict[str, list[float]]:
    """``count`` sequential calls per side, the sides taking turns of ``TURN_CALLS``
    counted calls, each after ``WARM_CALLS`` that are not; the seconds each counted call
    took, per side.

    This machine's speed drifts by 20 % and more over seconds. Sides measured one after
    the other (a few hundred calls each) catch different moments of that drift; sides
    that take short turns share it, so their ratio shows the servers, not the moment.
    Each round of turns goes in a new order (shuffled with a fixed seed), never starting
    with the side that ended the round before: a side whose two turns came back to back
    would find its server warmer than the others find theirs, and a fixed order would
    have each side always follow the same one. Only one call is in flight at a time, as
    in ``round_trips``."""
    times: dict[str, list[float]] = {side: [] for side in calls}
    turns = list(calls.items())
    shuffle = random.Random(len(turns) * 7919 + count).shuffle
    clock = time.perf_counter
    last: str | None = None
    for index in range(math.ceil(count / TURN_CALLS)):
        shuffle(turns)
        if len(turns) > 1 and turns[0][0] == last:
            turns.append(turns.pop(0))
        last = turns[-1][0]
        for side, call in turns:
            for _ in range(WARM_CALLS):
                await call()
            for _ in range(min(TURN_CALLS, count - index * TURN_CALLS)):
                began = clock()
                await call()
                times[side].append(clock() - began)
    return times


async def round_trips_between(
    calls: Mapping[str, Callable[[], Awaitable[object]]],
    count: int,
    order: Sequence[str],
    between: Callable[[str], Awaitable[None]],
) -> dict[str, list[float]]:
    """One repeat: ``alternating_round_trips`` of ``count`` calls per side, made in one
    part per side of ``order``, each part followed by ``between(side)`` (that side's
    measurements under load). So no side's load starts right after another's: the
    servers have the part's time to settle, as they would between a side's own round
    trips and its load."""
    times: dict[str, list[float]] = {side: [] for side in calls}
    for index, side in enumerate(order):
        part = count // len(order) + (1 if index < count % len(order) else 0)
        for name, taken in (await alternating_round_trips(calls, part)).items():
            times[name] += taken
        await between(side)
    return times


async def calls_per_second(
    call: Callable[[], Awaitable[object]], *, concurrency: int, seconds: float
) -> tuple[int, float]:
    """``concurrency`` callers each loop ``call`` until ``seconds`` pass: (calls, seconds)."""
    done = 0
    clock = time.perf_counter
    began = clock()
    deadline = began + seconds

    async def caller() -> None:
        nonlocal done
        while clock() < deadline:
            await call()
            done += 1

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return done, clock() - began


class CpuMeter:
    """CPU seconds used since it was made, by this (client) process and by one server."""

    def __init__(self, server: ServerProcess) -> None:
        self._server = server
        self._client_began = time.process_time()
        self._server_began = server.cpu_seconds()

    def read(self) -> tuple[float, float]:
        """(client CPU seconds, server CPU seconds); every thread of each process counts."""
        return (
            time.process_time() - self._client_began,
            self._server.cpu_seconds() - self._server_began,
        )


def interleaved(sides: Sequence[str], repeats: int) -> Iterator[tuple[int, str]]:
    """(repeat, side) in an order that alternates which side goes first."""
    for repeat in range(repeats):
        order = sides if repeat % 2 == 0 else list(reversed(sides))
        for side in order:
            yield repeat, side


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


@dataclass
class Clients:
    ophost: OpHostClient
    baseline: BaselineClient
    ophost_server: ServerProcess
    baseline_server: ServerProcess
    chunk_size: int


async def latency_sides(
    calls: Mapping[str, Callable[[], Awaitable[object]]],
    servers: Mapping[str, ServerProcess],
    s: Settings,
) -> dict[str, Any]:
    """Each side's round trips, the sides interleaved: p50, p99, mean and the client's and
    its server's CPU per call, medians over the repeats (with the repeats themselves)."""
    for call in calls.values():
        await round_trips(call, s.warmup_calls)
    runs: dict[str, list[dict[str, float]]] = {side: [] for side in calls}
    for _, side in interleaved(list(calls), s.repeats):
        gc.collect()
        meter = CpuMeter(servers[side])
        times = await round_trips(calls[side], s.latency_calls)
        client_cpu, server_cpu = meter.read()
        runs[side].append(
            {
                "p50_ms": percentile(times, 0.50) * 1e3,
                "p99_ms": percentile(times, 0.99) * 1e3,
                "mean_ms": statistics.fmean(times) * 1e3,
                "client_cpu_us_per_call": client_cpu / len(times) * 1e6,
                "server_cpu_us_per_call": server_cpu / len(times) * 1e6,
            }
        )
    return {
        side: {
            **{key: median([r[key] for r in repeats]) for key in repeats[0]},
            "calls_per_repeat": s.latency_calls,
            "repeats": repeats,
        }
        for side, repeats in runs.items()
    }
