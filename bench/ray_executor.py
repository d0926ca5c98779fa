"""The Ray benchmark: op bodies as Ray tasks, beside bare Ray calls of the same run.

The run starts a local Ray (two CPUs, no dashboard) in this process, then a ``bench.ops``
server whose op bodies run as Ray tasks on that Ray (``OPHOST_BENCH_EXECUTOR=ray``). Each
repeat measures, interleaved, the trivial op's round trip and executions per second with
32 callers through the host, and the same two figures for a bare remote function that
adds two numbers (``ray.get(add.remote(1, 2))``): what Ray itself costs, so the ratio is
what the host adds; those rows carry no target. It also measures the throughput of
CPU-bound executions two at a time through the Ray executor against the run's own
ophost server (threads), taking turns, as the executor benchmarks do for worker processes.
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any

import grpc

from bench.executors import SPIN_STEPS, two_at_a_time
from bench.measure import (
    Clients,
    ServerProcess,
    Settings,
    calls_per_second,
    interleaved,
    median,
    percentile,
    round_trips,
)
from bench.ops import OpHostClient

__all__ = ["bench_ray"]


async def bench_ray(c: Clients, s: Settings) -> dict[str, Any]:
    # Loopback only, as the host's own Ray would be (read when Ray is first imported).
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError as exc:
        return {"missing": f"Ray is not installed ({exc}); pip install 'ophost[ray]'"}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        address = ray.get_runtime_context().gcs_address
        server = ServerProcess(
            "bench.ops",
            profile_dir=None,
            env={"OPHOST_BENCH_EXECUTOR": "ray", "OPHOST_BENCH_RAY_ADDRESS": address},
        )
        try:
            return await _measure(ray, server, c.ophost_server, s)
        finally:
            server.stop()
    finally:
        ray.shutdown()


async def _measure(
    ray: Any, server: ServerProcess, threads: ServerProcess, s: Settings
) -> dict[str, Any]:
    add: Any = ray.remote(num_cpus=1)(_add)

    async def bare() -> object:
        return await add.remote(1, 2)

    async with grpc.aio.insecure_channel(server.address) as channel:
        client = OpHostClient(channel)
        request = OpHostClient.request("add", a=1, b=2)

        async def ophost() -> object:
            return await client.execute(request)

        calls = {"ophost": ophost, "bare": bare}
        calls_count = max(20, s.latency_calls // 4)  # a Ray call takes milliseconds
        for call in calls.values():
            await round_trips(call, max(5, s.warmup_calls // 4))
            await calls_per_second(call, concurrency=s.concurrency, seconds=s.warmup_seconds)
        latency: dict[str, list[float]] = {side: [] for side in calls}
        throughput: dict[str, list[float]] = {side: [] for side in calls}
        began = time.perf_counter()
        for _, side in interleaved(list(calls), s.repeats):
            gc.collect()
            times = await round_trips(calls[side], calls_count)
            latency[side].append(percentile(times, 0.5) * 1e3)
            done, seconds = await calls_per_second(
                calls[side], concurrency=s.concurrency, seconds=s.throughput_seconds
            )
            throughput[side].append(done / seconds)
        cpu = await _cpu_bound(client, threads, s)
    return {
        "latency_p50_ms": {side: median(v) for side, v in latency.items()},
        "per_second": {side: median(v) for side, v in throughput.items()},
        "cpu_executions_per_second": {side: median(v) for side, v in cpu.items()},
        "spin_steps": SPIN_STEPS,
        "seconds": time.perf_counter() - began,
        "repeats": {
            "latency_p50_ms": latency,
            "per_second": throughput,
            "cpu_executions_per_second": cpu,
        },
    }


async def _cpu_bound(
    ray_client: OpHostClient, threads: ServerProcess, s: Settings
) -> dict[str, list[float]]:
    """CPU-bound executions per second, two at a time: Ray tasks against host threads."""

    async with grpc.aio.insecure_channel(threads.address) as channel:
        clients = {"ray": ray_client, "thread": OpHostClient(channel)}
        spin = OpHostClient.request("spin", n=SPIN_STEPS)
        for client in clients.values():
            await two_at_a_time(client, OpHostClient.request("spin", n=SPIN_STEPS // 10), 1)
        cpu: dict[str, list[float]] = {side: [] for side in clients}
        for _, side in interleaved(list(clients), s.repeats):
            gc.collect()
            cpu[side].append(await two_at_a_time(clients[side], spin, rounds=2))
    return cpu


def _add(a: int, b: int) -> int:
    return a + b
