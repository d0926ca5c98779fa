"""The executor benchmarks: op bodies in worker processes against the host's threads.

Both sides are ``bench.ops`` subprocesses that differ only in their executor
(``OPHOST_BENCH_EXECUTOR``): the run's own ophost server (threads) and one running
bodies in a pool of two worker processes. Every figure is a ratio measured in the same
run with the sides interleaved: the trivial op's round trip (the sides taking short turns,
``bench.measure.round_trips_between``) and executions per second
with 32 callers, events per second from one op, and the throughput of CPU-bound
executions two at a time (a pure-Python loop holds the interpreter lock, so threads
share one core while worker processes use both).
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import grpc

from bench.measure import (
    Clients,
    ServerProcess,
    Settings,
    calls_per_second,
    median,
    percentile,
    round_trips,
    round_trips_between,
)
from bench.ops import OpHostClient

__all__ = ["EXECUTOR_ENV", "SPIN_STEPS", "bench_executors", "two_at_a_time"]

EXECUTOR_ENV = "OPHOST_BENCH_EXECUTOR"
# Steps of the CPU-bound op: about a quarter of a second of one core.
SPIN_STEPS = 2_000_000


async def bench_executors(c: Clients, s: Settings) -> dict[str, Any]:
    process = ServerProcess("bench.ops", profile_dir=None, env={EXECUTOR_ENV: "process"})
    try:
        return await _measure({"thread": c.ophost_server, "process": process}, s)
    finally:
        process.stop()


async def _measure(servers: dict[str, ServerProcess], s: Settings) -> dict[str, Any]:
    channels = {name: grpc.aio.insecure_channel(p.address) for name, p in servers.items()}
    try:
        clients = {name: OpHostClient(ch) for name, ch in channels.items()}
        add = OpHostClient.request("add", a=1, b=2)
        spin = OpHostClient.request("spin", n=SPIN_STEPS)
        many = OpHostClient.request("many_events", n=s.events)
        sides = list(servers)
        for client in clients.values():
            call = _caller(client, add)
            await round_trips(call, s.warmup_calls)
            await calls_per_second(call, concurrency=s.concurrency, seconds=s.warmup_seconds)
            await client.execute(OpHostClient.request("many_events", n=s.events // 10))
            await client.execute(OpHostClient.request("spin", n=SPIN_STEPS // 10))
        latency: dict[str, list[float]] = {side: [] for side in sides}
        throughput: dict[str, list[float]] = {side: [] for side in sides}
        events: dict[str, list[float]] = {side: [] for side in sides}
        cpu: dict[str, list[float]] = {side: [] for side in sides}
        adds = {side: _caller(clients[side], add) for side in sides}

        async def under_load(side: str) -> None:
            client = clients[side]
            gc.collect()
            done, seconds = await calls_per_second(
                adds[side], concurrency=s.concurrency, seconds=s.throughput_seconds
            )
            throughput[side].append(done / seconds)
            result = await client.execute(many)
            events[side].append(result.events / result.finished_after)
            cpu[side].append(await two_at_a_time(client, spin, rounds=2))

        for repeat in range(s.repeats):
            order = sides if repeat % 2 == 0 else sides[::-1]
            times = await round_trips_between(adds, s.latency_calls, order, under_load)
            for side, taken in times.items():
                latency[side].append(percentile(taken, 0.5) * 1e3)
    finally:
        for channel in channels.values():
            await channel.close()
    return {
        "latency_p50_ms": {side: median(v) for side, v in latency.items()},
        "per_second": {side: median(v) for side, v in throughput.items()},
        "events_per_second": {side: median(v) for side, v in events.items()},
        "cpu_executions_per_second": {side: median(v) for side, v in cpu.items()},
        "spin_steps": SPIN_STEPS,
        "repeats": {
            "latency_p50_ms": latency,
            "per_second": throughput,
            "events_per_second": events,
            "cpu_executions_per_second": cpu,
        },
    }


def _caller(client: OpHostClient, request: Any) -> Any:
    return lambda: client.execute(request)


async def two_at_a_time(client: OpHostClient, request: Any, rounds: int) -> float:
    """CPU-bound executions per second, two running at once, ``rounds`` times over."""
    began = time.perf_counter()
    for _ in range(rounds):
        await asyncio.gather(client.execute(request), client.execute(request))
    return 2 * rounds / (time.perf_counter() - began)
