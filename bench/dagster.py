"""The Dagster benchmark: a trivial Dagster op served by ophost, beside two baselines.

The run starts ``python -m bench.dagster``: an ``OpHostServer`` (ophost's defaults, op
bodies in its threads) hosting ``dagster_add``, written with Dagster and adapted by
``ophost.dagster`` (each execution one step run by Dagster's machinery), and ``add``,
the same op written with ophost. Each repeat measures, interleaved, the round trip of
``Execute`` for each of the two, and Dagster's own ``execute_in_process`` of a job
running the Dagster op, in this process (no network): what Dagster itself costs for one
run of the op. The rows carry no target; they say what serving a Dagster op costs
beside an ophost op, and beside running it with Dagster alone.
"""

# No `from __future__ import annotations`: Dagster reads the op's annotations as types.
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc

from bench import serve_until_stdin_closes
from bench.measure import (
    Clients,
    ServerProcess,
    Settings,
    interleaved,
    median,
    percentile,
    round_trips,
)
from bench.ops import OpHostClient
from bench.ops import add as ophost_add
from ophost.server import OpHostServer

__all__ = ["bench_dagster"]


async def bench_dagster(c: Clients, s: Settings) -> dict[str, Any]:
    try:
        import dagster  # noqa: F401
    except ImportError as exc:
        return {"missing": f"dagster is not installed ({exc}); pip install 'ophost[dagster]'"}
    server = ServerProcess("bench.dagster", profile_dir=None)
    try:
        return await _measure(server.address, s)
    finally:
        server.stop()


async def _measure(address: str, s: Settings) -> dict[str, Any]:
    job = _job()
    run_config = {
        "ops": {"dagster_add": {"inputs": {"a": 1, "b": 2}}},
        "loggers": {"silent": {}},
    }

    async def in_process() -> object:
        # Synchronous, on the loop's thread: nothing else runs meanwhile.
        result = job.execute_in_process(run_config=run_config)
        return result.output_for_node("dagster_add")

    async with grpc.aio.insecure_channel(address) as channel:
        client = OpHostClient(channel)
        requests = {
            "dagster_op": OpHostClient.request("dagster_add", a=1, b=2),
            "ophost_op": OpHostClient.request("add", a=1, b=2),
        }

        def served(side: str) -> Any:
            async def call() -> object:
                return await client.execute(requests[side])

            return call

        calls = {
            "dagster_op": served("dagster_op"),
            "ophost_op": served("ophost_op"),
            "execute_in_process": in_process,
        }
        count = max(20, s.latency_calls // 10)  # a Dagster step takes milliseconds
        for call in calls.values():
            await round_trips(call, max(5, s.warmup_calls // 10))
        latency: dict[str, list[float]] = {side: [] for side in calls}
        began = time.perf_counter()
        for _, side in interleaved(list(calls), s.repeats):
            gc.collect()
            times = await round_trips(calls[side], count)
            latency[side].append(percentile(times, 0.5) * 1e3)
    return {
        "latency_p50_ms": {side: median(v) for side, v in latency.items()},
        "calls_per_repeat": count,
        "seconds": time.perf_counter() - began,
        "repeats": {"latency_p50_ms": latency},
    }


def _dagster_add() -> Any:
    import dagster as dg

    @dg.op
    def dagster_add(a: int, b: int) -> int:
        return a + b

    return dagster_add


def _job() -> Any:
    import dagster as dg

    op = _dagster_add()

    # A logger that keeps the events to itself (the default one prints each to stderr);
    # the served op's logger forwards only the op's own lines.
    silent = dg.LoggerDefinition(lambda _init: logging.Logger("bench.dagster.silent"))

    @dg.job(logger_defs={"silent": silent})
    def add_job() -> None:
        op()

    return add_job


@contextlib.asynccontextmanager
async def _served() -> AsyncIterator[OpHostServer]:
    from ophost.dagster import ophost_op

    ops = [ophost_op(_dagster_add(), {}), ophost_add]
    async with OpHostServer(ops, host="127.0.0.1", port=0) as server:
        yield server


def main() -> None:
    serve_until_stdin_closes("ophost", _served)


if __name__ == "__main__":
    main()
