"""Run the benchmarks: ophost against a bare gRPC baseline, side by side.

Usage: ``python -m bench.run [--quick] [--json PATH] [--only NAME,...] [--profile DIR]``

Both servers run in their own subprocess (``bench.ops``, ``bench.baseline``); this
process is the client of both, on one asyncio loop. Each benchmark warms up, then
runs its sides interleaved (ophost, baseline, baseline, ophost, ...) and reports the
median over the repeats. The table goes to stdout, then the JSON document with every
figure. The exit status is 0 whether or not the targets are met (the table says).
See bench/README.md for what each benchmark measures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import platform
import pstats
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import grpc

import ophost
from bench.baseline import BaselineClient
from bench.dagster import bench_dagster
from bench.executors import bench_executors
from bench.http_door import bench_http_door
from bench.measure import (
    FULL,
    MIB,
    QUICK,
    ROOT,
    Clients,
    CpuMeter,
    ServerProcess,
    Settings,
    calls_per_second,
    interleaved,
    latency_sides,
    measure_peak_growth,
    median,
    progress,
)
from bench.ops import OpHostClient
from bench.ray_executor import bench_ray
from bench.security import bench_security
from bench.stores import bench_stores, bench_workers
from ophost.v1 import op_host_service_pb2

__all__ = ["FULL", "QUICK", "Settings", "main"]

LAYOUT = (
    "each server in its own subprocess (python -m bench.ops / python -m bench.baseline), "
    "one client process driving both over 127.0.0.1 on one asyncio loop"
)
BENCHMARKS = (
    "latency",
    "throughput",
    "events",
    "large",
    "upload",
    "stores",
    "workers",
    "executors",
    "security",
    "ray",
    "http_door",
    "dagster",
)


# Small request payload for the baseline: about the size of the ophost start message.
_PAYLOAD = b"add:a=1;b=2;" * 2


async def bench_latency(c: Clients, s: Settings) -> dict[str, Any]:
    start = OpHostClient.request("add", a=1, b=2)
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "ophost": lambda: c.ophost.execute(start),
        "bidi": lambda: c.baseline.five(_PAYLOAD),
        "unary": lambda: c.baseline.unary(_PAYLOAD),
    }
    servers = {"ophost": c.ophost_server, "bidi": c.baseline_server, "unary": c.baseline_server}
    return await latency_sides(calls, servers, s)


async def bench_throughput(c: Clients, s: Settings) -> dict[str, Any]:
    start = OpHostClient.request("add", a=1, b=2)
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "ophost": lambda: c.ophost.execute(start),
        "bidi": lambda: c.baseline.five(_PAYLOAD),
        "unary": lambda: c.baseline.unary(_PAYLOAD),
    }
    servers = {"ophost": c.ophost_server, "bidi": c.baseline_server, "unary": c.baseline_server}
    for call in calls.values():
        await calls_per_second(call, concurrency=s.concurrency, seconds=s.warmup_seconds)
    runs: dict[str, list[dict[str, float]]] = {side: [] for side in calls}
    for _, side in interleaved(list(calls), s.repeats):
        gc.collect()
        meter = CpuMeter(servers[side])
        done, seconds = await calls_per_second(
            calls[side], concurrency=s.concurrency, seconds=s.throughput_seconds
        )
        client_cpu, server_cpu = meter.read()
        runs[side].append(
            {
                "per_second": done / seconds,
                "client_cpu_us_per_call": client_cpu / done * 1e6,
                "server_cpu_us_per_call": server_cpu / done * 1e6,
            }
        )
    return {
        side: {
            **{key: median([r[key] for r in repeats]) for key in repeats[0]},
            "concurrency": s.concurrency,
            "seconds_per_repeat": s.throughput_seconds,
            "repeats": repeats,
        }
        for side, repeats in runs.items()
    }


def _events_in(message: bytes) -> int:
    """How many events one ``ExecuteResponse`` carries (the client's work per message)."""
    return len(op_host_service_pb2.ExecuteResponse.FromString(message).events.events)


async def bench_events(c: Clients, s: Settings) -> dict[str, Any]:
    request = OpHostClient.request("many_events", n=s.events)
    await c.ophost.execute(OpHostClient.request("many_events", n=s.events // 10))
    # The baseline replays the batches of one real execution: the same pre-encoded
    # events, in the same batch sizes, as a bare server stream.
    sample = await c.ophost.execute(request, keep_batches=True)
    await c.baseline.load(sample.batches)
    expected = sample.events

    async def ophost_side() -> tuple[int, float]:
        result = await c.ophost.execute(request)
        return result.events, result.finished_after

    async def baseline_side() -> tuple[int, float]:
        return await c.baseline.replay(_events_in)

    sides: dict[str, tuple[ServerProcess, Callable[[], Awaitable[tuple[int, float]]]]] = {
        "ophost": (c.ophost_server, ophost_side),
        "baseline": (c.baseline_server, baseline_side),
    }
    await baseline_side()
    runs: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    for _, side in interleaved(list(sides), s.repeats):
        server, run = sides[side]
        gc.collect()
        meter = CpuMeter(server)
        events, seconds = await run()
        client_cpu, server_cpu = meter.read()
        if events < s.events:
            raise RuntimeError(f"{side} delivered {events} events, expected {s.events}+")
        runs[side].append(
            {
                "events_per_second": events / seconds,
                "seconds_to_last_event": seconds,
                "events": events,
                "client_cpu_seconds": client_cpu,
                "server_cpu_seconds": server_cpu,
            }
        )
    return {
        side: {
            **{key: median([r[key] for r in repeats]) for key in repeats[0]},
            "op_events": s.events,
            "events_per_execution": expected,
            "batches_replayed": len(sample.batches),
            "repeats": repeats,
        }
        for side, repeats in runs.items()
    }


Transfer = tuple[ServerProcess, Callable[[], Awaitable[float]]]


async def transfer_repeats(
    sides: dict[str, Transfer], size: int, s: Settings
) -> dict[str, dict[str, Any]]:
    """Warm up, then time each side's transfer of ``size`` bytes, interleaved.

    Each side's figures are medians over the repeats, with the server's peak RSS
    growth during each transfer (and its maximum) and every repeat's values.
    """
    for _, transfer in sides.values():
        await transfer()
    runs: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    for _, side in interleaved(list(sides), s.repeats):
        server, transfer = sides[side]
        gc.collect()
        meter = CpuMeter(server)
        seconds, growth, retained = await measure_peak_growth(server, transfer)
        client_cpu, server_cpu = meter.read()
        runs[side].append(
            {
                "mib_per_second": size / MIB / seconds,
                "seconds": seconds,
                "peak_rss_growth_mib": growth / MIB,
                "rss_retained_after_mib": retained / MIB,
                "client_cpu_seconds": client_cpu,
                "server_cpu_seconds": server_cpu,
            }
        )
    return {
        side: {
            **{key: median([r[key] for r in repeats]) for key in repeats[0]},
            "max_peak_rss_growth_mib": max(r["peak_rss_growth_mib"] for r in repeats),
            "value_bytes": size,
            "repeats": repeats,
        }
        for side, repeats in runs.items()
    }


async def bench_upload(c: Clients, s: Settings) -> dict[str, Any]:
    size = s.large_bytes
    limits = await c.ophost.limits()
    data = b"x" * size
    start, chunks = OpHostClient.upload_request(
        "byte_count",
        "data",
        data,
        inline_threshold=limits.inline_threshold_bytes,
        chunk_size=limits.chunk_size_bytes,
    )
    pieces = [chunk.chunk.data for chunk in chunks]  # the same pieces, as bare messages
    del data

    async def ophost_upload() -> float:
        began = time.perf_counter()
        result = await c.ophost.execute(start, chunks=chunks)
        seconds = time.perf_counter() - began
        if result.output is None or result.output.output.value.int_value != size:
            raise RuntimeError("byte_count did not count the uploaded bytes")
        return seconds

    async def baseline_upload() -> float:
        began = time.perf_counter()
        received = await c.baseline.upload(pieces)
        seconds = time.perf_counter() - began
        if received != sum(len(p) for p in pieces):
            raise RuntimeError(f"baseline Upload joined {received} bytes")
        return seconds

    sides: dict[str, Transfer] = {
        "ophost": (c.ophost_server, ophost_upload),
        "baseline": (c.baseline_server, baseline_upload),
    }
    runs = await transfer_repeats(sides, size, s)
    return {side: {**summary, "chunks": len(chunks)} for side, summary in runs.items()}


async def bench_large(c: Clients, s: Settings) -> dict[str, Any]:
    size = s.large_bytes
    start = OpHostClient.request("big_bytes", size=size)

    async def ophost_transfer() -> float:
        began = time.perf_counter()
        result = await c.ophost.execute(start, count_chunks=True)
        seconds = time.perf_counter() - began
        if result.chunk_bytes < size:
            raise RuntimeError(f"big_bytes delivered {result.chunk_bytes} bytes, expected {size}+")
        return seconds

    async def baseline_transfer() -> float:
        began = time.perf_counter()
        await c.baseline.chunks(size, c.chunk_size)
        return time.perf_counter() - began

    sides: dict[str, Transfer] = {
        "ophost": (c.ophost_server, ophost_transfer),
        "baseline": (c.baseline_server, baseline_transfer),
    }
    runs = await transfer_repeats(sides, size, s)
    return {side: {**summary, "chunk_size_bytes": c.chunk_size} for side, summary in runs.items()}


# -- the report ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    benchmark: str
    unit: str
    ophost: float
    baseline: float | None
    ratio: float | None  # ophost / baseline
    target: str  # what is compared, in words; "" for information only
    met: bool | None  # None: no target


def _check(value: float, op: str, bound: float) -> bool:
    return value <= bound if op == "<=" else value >= bound


def ratio_row(
    benchmark: str,
    unit: str,
    ophost_value: float,
    baseline_value: float,
    op: str = "",
    bound: float = 0.0,
    label: str = "",
) -> Row:
    ratio = ophost_value / baseline_value if baseline_value else math.inf
    if not op:
        return Row(benchmark, unit, ophost_value, baseline_value, ratio, "", None)
    target = f"ratio {op} {bound:g}" + (f" ({label})" if label else "")
    return Row(
        benchmark, unit, ophost_value, baseline_value, ratio, target, _check(ratio, op, bound)
    )


def absolute_row(
    benchmark: str,
    unit: str,
    ophost_value: float,
    baseline_value: float | None,
    op: str,
    bound: float,
    bound_text: str,
) -> Row:
    ratio = ophost_value / baseline_value if baseline_value else None
    return Row(
        benchmark,
        unit,
        ophost_value,
        baseline_value,
        ratio,
        f"ophost {op} {bound_text}",
        _check(ophost_value, op, bound),
    )


def build_rows(results: dict[str, Any], s: Settings) -> list[Row]:
    rows: list[Row] = []
    if "latency" in results:
        lat = results["latency"]
        o, b, u = lat["ophost"], lat["bidi"], lat["unary"]
        rows += [
            ratio_row("Round trip p50: Execute(add) vs bidi 1->5", "ms", o["p50_ms"],
                      b["p50_ms"], "<=", 1.2),
            ratio_row("Round trip p50: Execute(add) vs unary echo", "ms", o["p50_ms"],
                      u["p50_ms"], "<=", 1.5, "stretch"),
            ratio_row("Round trip p99: Execute(add) vs bidi 1->5", "ms", o["p99_ms"],
                      b["p99_ms"], "<=", 1.5),
            ratio_row("Round trip p99: Execute(add) vs unary echo", "ms", o["p99_ms"],
                      u["p99_ms"]),
        ]  # fmt: skip
    if "throughput" in results:
        thr = results["throughput"]
        o, b, u = thr["ophost"], thr["bidi"], thr["unary"]
        rows += [
            ratio_row(f"Calls/s, {s.concurrency} callers: Execute(add) vs bidi 1->5", "/s",
                      o["per_second"], b["per_second"], ">=", 1.0),
            ratio_row(f"Calls/s, {s.concurrency} callers: Execute(add) vs unary echo", "/s",
                      o["per_second"], u["per_second"], ">=", 0.5, "stretch"),
        ]  # fmt: skip
    if "events" in results:
        ev, bare = results["events"]["ophost"], results["events"]["baseline"]
        rows += [
            ratio_row(f"Events/s, {s.events:,} events vs the same batches, bare", "events/s",
                      ev["events_per_second"], bare["events_per_second"], ">=", 0.8),
            absolute_row(f"Events/s, op yielding {s.events:,} events", "events/s",
                         ev["events_per_second"], None, ">=", 100_000, "100,000/s"),
            ratio_row(f"Start to last event, {s.events:,} events", "s",
                      ev["seconds_to_last_event"], bare["seconds_to_last_event"]),
        ]  # fmt: skip
    if "large" in results:
        lg = results["large"]
        o, b = lg["ophost"], lg["baseline"]
        size = f"{s.large_bytes // MIB} MiB"
        rows += [
            ratio_row(f"{size} output vs bare chunked stream", "MiB/s", o["mib_per_second"],
                      b["mib_per_second"], ">=", 0.8),
            absolute_row(f"Server peak RSS growth, {size} transfer", "MiB",
                         o["peak_rss_growth_mib"], b["peak_rss_growth_mib"], "<=",
                         2 * s.large_bytes / MIB, f"{2 * s.large_bytes // MIB} MiB"),
        ]  # fmt: skip
    if "upload" in results:
        up = results["upload"]
        o, b = up["ophost"], up["baseline"]
        size = f"{s.large_bytes // MIB} MiB"
        rows += [
            ratio_row(f"{size} input vs bare chunked upload", "MiB/s", o["mib_per_second"],
                      b["mib_per_second"], ">=", 0.8),
            # A server receiving a large value holds its pieces and the value they make:
            # the bare upload grows by 2x too, so the row compares with it.
            ratio_row(f"Server peak RSS growth, {size} upload", "MiB",
                      o["peak_rss_growth_mib"], b["peak_rss_growth_mib"], "<=", 1.1),
        ]  # fmt: skip
    if "stores" in results:
        st = results["stores"]
        lat, per, ev = st["latency_p50_ms"], st["per_second"], st["events_per_second"]
        rows += [
            ratio_row("Round trip p50, Execute(add): SQLite store vs memory", "ms",
                      lat["sqlite"], lat["memory"], "<=", 1.15),
            ratio_row(f"Calls/s, {s.concurrency} callers: SQLite store vs memory", "/s",
                      per["sqlite"], per["memory"], ">=", 0.85),
        ]  # fmt: skip
        if "postgresql" in per:
            rows += [
                ratio_row("Round trip p50, Execute(add): PostgreSQL store vs memory", "ms",
                          lat["postgresql"], lat["memory"]),
                ratio_row(f"Calls/s, {s.concurrency} callers: PostgreSQL store vs memory", "/s",
                          per["postgresql"], per["memory"], ">=", 0.7),
            ]  # fmt: skip
        rows += [
            ratio_row(f"Events/s, {s.events:,} events: SQLite store vs memory", "events/s",
                      ev["sqlite"], ev["memory"], ">=", 0.8),
            absolute_row(f"Events/s persisted to SQLite, {s.events:,} events", "events/s",
                         ev["sqlite"], None, ">=", 100_000, "100,000/s"),
            absolute_row(f"Replay of {st['replayed_events']:,} stored events (SQLite)",
                         "events/s", st["replay_events_per_second"], None, ">=", 200_000,
                         "200,000/s"),
            Row("SQLite bytes on disk per 1M small events", "MiB",
                st["sqlite_bytes_per_million_events"] / MIB, None, None, "", None),
        ]  # fmt: skip
    if "executors" in results:
        ex = results["executors"]
        lat, per, ev = ex["latency_p50_ms"], ex["per_second"], ex["events_per_second"]
        cpu = ex["cpu_executions_per_second"]
        rows += [
            ratio_row("CPU-bound op, 2 at once: process executor vs thread", "/s",
                      cpu["process"], cpu["thread"], ">=", 1.7),
            ratio_row("Round trip p50, Execute(add): process executor vs thread", "ms",
                      lat["process"], lat["thread"], "<=", 1.3),
            ratio_row(f"Calls/s, {s.concurrency} callers: process executor vs thread", "/s",
                      per["process"], per["thread"], ">=", 0.8),
            ratio_row(f"Events/s, {s.events:,} events: process executor vs thread", "events/s",
                      ev["process"], ev["thread"], ">=", 0.8),
            absolute_row(f"Events/s from an op in a worker process, {s.events:,} events",
                         "events/s", ev["process"], None, ">=", 100_000, "100,000/s"),
        ]  # fmt: skip
    if "security" in results:
        sec = results["security"]
        o, b = sec["secure"], sec["plaintext"]
        rows += [
            ratio_row("Round trip p50, Execute(add): TLS + token + metrics vs plaintext", "ms",
                      o["p50_ms"], b["p50_ms"], "<=", 1.15),
            ratio_row("Round trip p99, Execute(add): TLS + token + metrics vs plaintext", "ms",
                      o["p99_ms"], b["p99_ms"]),
            ratio_row(f"Calls/s, {s.concurrency} callers: TLS + token + metrics vs plaintext",
                      "/s", o["per_second"], b["per_second"]),
            ratio_row("Server CPU per call: TLS + token + metrics vs plaintext", "us",
                      o["server_cpu_us_per_call"], b["server_cpu_us_per_call"]),
        ]  # fmt: skip
        for part, words in (("tls", "TLS"), ("token", "token file"), ("metrics", "metrics")):
            rows.append(
                ratio_row(f"Round trip p50, Execute(add): {words} alone vs plaintext", "ms",
                          sec[part]["p50_ms"], b["p50_ms"]),
            )  # fmt: skip
    if "http_door" in results:
        door = results["http_door"]
        grpc_p50 = door["grpc"]["p50_ms"]
        for side, words in (
            ("connect", "Connect (binary)"),
            ("connect_json", "Connect (JSON)"),
            ("grpc_web", "gRPC-Web"),
        ):
            rows.append(
                ratio_row(f"Round trip p50, StartExecution + StreamEvents(add): {words} door "
                          "vs the gRPC port", "ms", door[side]["p50_ms"], grpc_p50),
            )  # fmt: skip
        rows += [
            ratio_row("Round trip p99, StartExecution + StreamEvents(add): Connect (binary) "
                      "door vs the gRPC port", "ms", door["connect"]["p99_ms"],
                      door["grpc"]["p99_ms"]),
            ratio_row("Server CPU per call, StartExecution + StreamEvents(add): Connect "
                      "(binary) door vs the gRPC port", "us",
                      door["connect"]["server_cpu_us_per_call"],
                      door["grpc"]["server_cpu_us_per_call"]),
            ratio_row("Round trip p50, add: StartExecution + StreamEvents vs Execute, both on "
                      "the gRPC port", "ms", grpc_p50, door["execute"]["p50_ms"]),
        ]  # fmt: skip
    if "ray" in results and "missing" not in results["ray"]:
        ry = results["ray"]
        lat, per = ry["latency_p50_ms"], ry["per_second"]
        rows += [
            ratio_row("Round trip p50, Execute(add), Ray executor vs bare ray.get(f.remote())",
                      "ms", lat["ophost"], lat["bare"]),
            ratio_row(f"Calls/s, {s.concurrency} callers: Ray executor vs bare Ray calls", "/s",
                      per["ophost"], per["bare"]),
        ]  # fmt: skip
        if "cpu_executions_per_second" in ry:
            cpu = ry["cpu_executions_per_second"]
            rows.append(ratio_row("CPU-bound op, 2 at once: Ray executor vs thread", "/s",
                                  cpu["ray"], cpu["thread"], ">=", 1.5))  # fmt: skip
    if "dagster" in results and "missing" not in results["dagster"]:
        lat = results["dagster"]["latency_p50_ms"]
        rows += [
            ratio_row("Round trip p50, Execute: a Dagster op vs the same op written with ophost",
                      "ms", lat["dagster_op"], lat["ophost_op"]),
            ratio_row("Round trip p50: a Dagster op served by ophost vs Dagster's "
                      "execute_in_process of it", "ms", lat["dagster_op"],
                      lat["execute_in_process"]),
        ]  # fmt: skip
    if "workers" in results:
        per = results["workers"]["per_second"]
        for store, name in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
            if f"{store}_workers_2" in per:
                rows.append(
                    ratio_row(f"Calls/s, {s.concurrency} callers, {name}: --workers 2 vs 1",
                              "/s", per[f"{store}_workers_2"], per[f"{store}_workers_1"],
                              ">=", 1.6),
                )  # fmt: skip
                idle = results["workers"].get("idle_cpu_share", {}).get(f"{store}_workers_1")
                if idle is not None and idle < 1:
                    # All of the idle CPU put to work: the ceiling of the row above here.
                    rows.append(Row(f"Most --workers 2 could add: CPU idle under --workers 1 "
                                    f"({idle:.0%}) put to work", "x", 1 / (1 - idle), None,
                                    None, "", None))  # fmt: skip
    return rows


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:.3f} ms"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "x":
        return f"{value:.2f}x"
    if unit in ("/s", "events/s"):
        return f"{value:,.0f} {unit}"
    return f"{value:,.1f} {unit}"


def render_table(rows: Sequence[Row]) -> str:
    header = ("benchmark", "ophost", "baseline", "ratio", "target", "met?")
    lines = [
        (
            row.benchmark,
            _number(row.ophost, row.unit),
            _number(row.baseline, row.unit),
            "-" if row.ratio is None else f"{row.ratio:.2f}x",
            row.target or "(info)",
            "-" if row.met is None else ("met" if row.met else "MISSED"),
        )
        for row in rows
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=True)]
    aligns = ("<", ">", ">", ">", "<", "<")

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, aligns, widths, strict=True))

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(line) for line in lines)])


# -- running -------------------------------------------------------------------------------


async def run_all(settings: Settings, only: Sequence[str], profile_dir: str | None) -> Any:
    servers: list[ServerProcess] = []
    try:
        progress("starting the servers")
        ophost_server = ServerProcess("bench.ops", profile_dir=profile_dir)
        servers.append(ophost_server)
        baseline_server = ServerProcess("bench.baseline", profile_dir=profile_dir)
        servers.append(baseline_server)
        async with (
            grpc.aio.insecure_channel(ophost_server.address) as ophost_channel,
            grpc.aio.insecure_channel(baseline_server.address) as baseline_channel,
        ):
            ophost_client = OpHostClient(ophost_channel)
            clients = Clients(
                ophost=ophost_client,
                baseline=BaselineClient(baseline_channel),
                ophost_server=ophost_server,
                baseline_server=baseline_server,
                chunk_size=await ophost_client.chunk_size_bytes(),
            )
            steps: dict[str, Callable[[Clients, Settings], Awaitable[dict[str, Any]]]] = {
                "latency": bench_latency,
                "throughput": bench_throughput,
                "events": bench_events,
                "large": bench_large,
                "upload": bench_upload,
                "stores": bench_stores,
                "workers": bench_workers,
                "executors": bench_executors,
                "ray": bench_ray,
                "dagster": bench_dagster,
                "security": bench_security,
                "http_door": bench_http_door,
            }
            results: dict[str, Any] = {}
            for name in only:
                progress(f"{name} ...")
                began = time.perf_counter()
                results[name] = await steps[name](clients, settings)
                progress(f"{name} done in {time.perf_counter() - began:.1f} s")
            return results
    finally:
        for server in servers:
            server.stop()


def _print_profiles(directory: str) -> None:
    for name in ("ophost", "client", "baseline"):
        path = Path(directory) / f"{name}.prof"
        if not path.exists():
            continue
        print(f"\n== profile: {name} (main thread; top 25 by own time) ==", file=sys.stderr)
        stats = pstats.Stats(str(path), stream=sys.stderr)
        stats.sort_stats(pstats.SortKey.TIME).print_stats(25)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--json",
        metavar="PATH",
        default=str(ROOT / "bench" / "results" / "latest.json"),
        help="also write the JSON document to PATH (default: bench/results/latest.json)",
    )
    parser.add_argument(
        "--only",
        metavar="NAME,...",
        help=f"run only these benchmarks (of {', '.join(BENCHMARKS)})",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="run the servers and this client under cProfile; write DIR/<name>.prof",
    )
    args = parser.parse_args(argv)
    only = BENCHMARKS if not args.only else tuple(n.strip() for n in args.only.split(","))
    unknown = [n for n in only if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    settings = QUICK if args.quick else FULL
    profile_dir = args.profile
    if profile_dir:
        os.makedirs(profile_dir, exist_ok=True)

    began = time.perf_counter()
    if profile_dir:
        import cProfile

        profiler = cProfile.Profile()
        results = profiler.runcall(asyncio.run, run_all(settings, only, profile_dir))
        profiler.dump_stats(os.path.join(profile_dir, "client.prof"))
    else:
        results = asyncio.run(run_all(settings, only, None))
    elapsed = time.perf_counter() - began

    rows = build_rows(results, settings)
    document = {
        "mode": "quick" if args.quick else "full",
        "layout": LAYOUT,
        "environment": {
            "ophost": ophost.__version__,
            "python": platform.python_version(),
            "grpcio": grpc.__version__,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "settings": asdict(settings),
        "wall_seconds": elapsed,
        "rows": [asdict(row) for row in rows],
        "all_targets_met": all(row.met is not False for row in rows),
        "results": results,
    }
    mode = "quick smoke run" if args.quick else "full run"
    print(
        f"ophost benchmarks ({mode}: median of {settings.repeats} interleaved repeats "
        f"per side; {elapsed:.0f} s)"
    )
    print(render_table(rows))
    print()
    text = json.dumps(document, indent=2)
    print(text)
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
        progress(f"wrote {path}")
    if profile_dir:
        _print_profiles(profile_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
