"""Benchmarks: ophost against a bare gRPC baseline, side by side (see bench/README.md).

``python -m bench.run`` starts two server subprocesses (``python -m bench.ops`` hosts
the benchmark ops on an ``OpHostServer``, ``python -m bench.baseline`` a bare echo
service) and drives both from one client process. This module holds what the two
server entry points share: announce the port, serve until the parent goes away.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

__all__ = ["PORT_LINE_PREFIX", "PROFILE_ENV", "Served", "serve_until_stdin_closes"]

# The first line a server subprocess prints: "<prefix> <port>".
PORT_LINE_PREFIX = "bench-port"
# When set to a directory, a server subprocess runs under cProfile and writes
# <directory>/<name>.prof when it exits.
PROFILE_ENV = "OPHOST_BENCH_PROFILE_DIR"


class Served(Protocol):
    """What a server subprocess hosts: an async context manager that knows its port."""

    @property
    def port(self) -> int: ...


async def _serve(make: Callable[[], AbstractAsyncContextManager[Served]]) -> None:
    async with make() as server:
        print(f"{PORT_LINE_PREFIX} {server.port}", flush=True)
        # The parent holds our stdin open; EOF means it is done (or gone).
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.read)


def serve_until_stdin_closes(
    name: str, make: Callable[[], AbstractAsyncContextManager[Served]]
) -> None:
    """Run the server ``make()`` builds, print its port, and stop when stdin closes."""
    directory = os.environ.get(PROFILE_ENV)
    if not directory:
        asyncio.run(_serve(make))
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        asyncio.run(_serve(make))
    finally:
        profiler.disable()
        profiler.dump_stats(os.path.join(directory, f"{name}.prof"))
