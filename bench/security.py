"""The cost of serving securely: TLS, a token file and metrics against plaintext.

``bench.ops`` subprocesses started for this benchmark, identical but for
``OPHOST_BENCH_SECURE_DIR`` and ``OPHOST_BENCH_SECURE_PARTS``:

- ``plaintext``: no TLS, no token file, no metrics;
- ``secure``: TLS (a certificate made by trustme for 127.0.0.1, in a temporary folder),
  every call authenticated against a token file (one identity, its token's SHA-256),
  and Prometheus metrics served on a port of its own;
- ``tls``, ``token``, ``metrics``: one of the three alone, to show what each costs.

The client sends the token on each call (``authorization: Bearer``) to the servers that
check tokens, over a TLS channel that trusts the CA to the servers that serve TLS.

Figures, the sides interleaved: the trivial op's round trip (p50, with p99) on every
side, the sides taking short turns (``bench.measure.round_trips_between``), and on
``plaintext`` and ``secure`` the server's CPU time per round trip and calls per second
with 32 callers (each side's load between two parts of the round trips). Before the
repeats, the run checks that security is on (a call without the token is refused with
UNAUTHENTICATED); after them, that the metrics endpoint counted the secure server's
executions.
"""

from __future__ import annotations

import gc
import re
import tempfile
import urllib.request
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import trustme

from bench.measure import (
    Clients,
    CpuMeter,
    ServerProcess,
    Settings,
    calls_per_second,
    median,
    percentile,
    round_trips,
    round_trips_between,
)
from bench.ops import SECURE_ENV, SECURE_PARTS, SECURE_PARTS_ENV, OpHostClient, metrics_port_file
from ophost.server import hash_token

__all__ = ["SIDES", "bench_security"]

# Each side and the parts of security its server has on.
SIDES: dict[str, tuple[str, ...]] = {
    "plaintext": (),
    "secure": SECURE_PARTS,
    "tls": ("tls",),
    "token": ("token",),
    "metrics": ("metrics",),
}
# The sides whose calls per second and server CPU are measured too.
_FULL_SIDES = ("plaintext", "secure")
_TOKEN = "bench-" + "t" * 40
_FINISHED = re.compile(r'^ophost_executions_finished_total\{[^}]*op="add"[^}]*\} (\S+)$', re.M)


def write_secure_dir(folder: Path) -> bytes:
    """The server's certificate, key and token file in ``folder``; returns the CA (PEM)."""
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    (folder / "server.pem").write_bytes(b"".join(p.bytes() for p in issued.cert_chain_pems))
    (folder / "server.key").write_bytes(issued.private_key_pem.bytes())
    (folder / "tokens.toml").write_text(
        "[identities.bench]\n"
        f'token_hash = "{hash_token(_TOKEN)}"\n'
        'ops = ["*"]\n'
        'actions = ["list", "run", "read", "cancel"]\n',
        encoding="utf-8",
    )
    return ca.cert_pem.bytes()


@dataclass
class _Side:
    server: ServerProcess
    channel: grpc.aio.Channel
    client: OpHostClient


async def bench_security(c: Clients, s: Settings) -> dict[str, Any]:
    del c  # this benchmark starts servers of its own
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ophost-bench-")))
        ca = write_secure_dir(folder)
        sides: dict[str, _Side] = {}
        try:
            for name, parts in SIDES.items():
                sides[name] = _start(folder, ca, parts)
            await _check_refused_without_token(sides["secure"].channel)
            result = await _measure(sides, s)
            result["metrics_counted_executions"] = _counted(
                folder / metrics_port_file("+".join(SECURE_PARTS))
            )
            result["sides"] = {name: list(parts) for name, parts in SIDES.items()}
            return result
        finally:
            for side in sides.values():
                await side.channel.close()
                side.server.stop()


def _start(folder: Path, ca: bytes, parts: tuple[str, ...]) -> _Side:
    env = {SECURE_ENV: str(folder), SECURE_PARTS_ENV: ",".join(parts)} if parts else {}
    server = ServerProcess("bench.ops", profile_dir=None, env=env)
    if "tls" in parts:
        credentials = grpc.ssl_channel_credentials(root_certificates=ca)
        channel = grpc.aio.secure_channel(server.address, credentials)
    else:
        channel = grpc.aio.insecure_channel(server.address)
    metadata = (("authorization", f"Bearer {_TOKEN}"),) if "token" in parts else None
    return _Side(server, channel, OpHostClient(channel, metadata=metadata))


async def _check_refused_without_token(channel: grpc.aio.Channel) -> None:
    try:
        await OpHostClient(channel).execute(OpHostClient.request("add", a=1, b=2))
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
            return
        raise
    raise RuntimeError("the secure server ran an op for a caller without a token")


def _counted(port_file: Path) -> float:
    """The finished ``add`` executions the secure server's metrics endpoint counted."""
    url = f"http://127.0.0.1:{int(port_file.read_text(encoding='ascii'))}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    counted = sum(float(m) for m in _FINISHED.findall(text))
    if counted < 1:
        raise RuntimeError(f"the metrics endpoint counted no executions of add ({url})")
    return counted


async def _measure(sides: dict[str, _Side], s: Settings) -> dict[str, Any]:
    add = OpHostClient.request("add", a=1, b=2)
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        name: _caller(side.client, add) for name, side in sides.items()
    }
    for name, call in calls.items():
        await round_trips(call, s.warmup_calls)
        if name in _FULL_SIDES:
            await calls_per_second(call, concurrency=s.concurrency, seconds=s.warmup_seconds)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in calls}
    per_second: dict[str, float] = {}
    # The servers' CPU seconds while some side was under load, not counted per call.
    under_load_cpu: dict[str, float] = {}

    async def under_load(name: str) -> None:
        gc.collect()
        before = {full: sides[full].server.cpu_seconds() for full in _FULL_SIDES}
        done, seconds = await calls_per_second(
            calls[name], concurrency=s.concurrency, seconds=s.throughput_seconds
        )
        per_second[name] = done / seconds
        for full, began in before.items():
            under_load_cpu[full] += sides[full].server.cpu_seconds() - began

    for repeat in range(s.repeats):
        meters = {name: CpuMeter(sides[name].server) for name in _FULL_SIDES}
        under_load_cpu.update(dict.fromkeys(_FULL_SIDES, 0.0))
        order = _FULL_SIDES if repeat % 2 == 0 else _FULL_SIDES[::-1]
        times = await round_trips_between(calls, s.latency_calls, order, under_load)
        for name, taken in times.items():
            figures = {
                "p50_ms": percentile(taken, 0.50) * 1e3,
                "p99_ms": percentile(taken, 0.99) * 1e3,
            }
            if name in meters:
                server_cpu = meters[name].read()[1] - under_load_cpu[name]
                figures["server_cpu_us_per_call"] = server_cpu / len(taken) * 1e6
                figures["per_second"] = per_second[name]
            runs[name].append(figures)
    return {
        name: {
            **{key: median([r[key] for r in repeats]) for key in repeats[0]},
            "calls_per_repeat": s.latency_calls,
            "repeats": repeats,
        }
        for name, repeats in runs.items()
    }


def _caller(client: OpHostClient, request: Any) -> Callable[[], Awaitable[object]]:
    return lambda: client.execute(request)
