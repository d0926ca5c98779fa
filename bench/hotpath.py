"""The host's own cost per execution, without gRPC: ``python -m bench.hotpath``.

Runs the trivial op ``add`` through everything the host does for an ``Execute``
except the network: the start is checked and prepared, the execution created in the
store, the engine run with the host's executor, its events written and recorded, and
a follower reads every batch back as response bytes. It prints the CPU time per
execution of the whole process (every thread), so a change to the hot path can be
measured in isolation, with far less noise than the end-to-end benchmarks.

    python -m bench.hotpath                  # 4,000 executions, 32 at a time
    python -m bench.hotpath --loop           # op bodies on the event loop (no thread hop)
    python -m bench.hotpath --profile        # cProfile of the main thread, top 30
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from collections.abc import Sequence

from bench.ops import OPS, OpHostClient
from ophost.definitions._coerce import coerce_return
from ophost.execution import (
    AttemptOutcome,
    AttemptRequest,
    AttemptRules,
    EngineEvent,
)
from ophost.server import OpHostServer, _wire

__all__ = ["main"]


class _LoopAttempt:
    """One attempt run to its end on the calling thread (sync bodies that never block)."""

    def __init__(self, request: AttemptRequest) -> None:
        self._events: list[EngineEvent] = []
        rules = AttemptRules(request, self._events.append, lambda: False)
        op_def = rules.op_def
        decorated = op_def.decorated_fn
        assert decorated is not None
        try:
            rules.check_inputs()
            args, kwargs = decorated.arguments(rules.context, rules.body_inputs())
            returned = decorated.fn(*args, **kwargs)
            for item in coerce_return(op_def.name, returned, op_def.output_defs):
                rules.handle(item)
            self._outcome: AttemptOutcome = rules.finish()
        except Exception as exc:  # noqa: BLE001 - how the attempt ends
            self._outcome = rules.outcome_of(exc)

    def take(self) -> tuple[list[EngineEvent], AttemptOutcome | None]:
        events, self._events = self._events, []
        return events, self._outcome

    async def wait(self, timeout: float | None = None) -> bool:
        return True

    def cancel(self, grace: float) -> None:
        """Nothing to stop: the attempt ended when it was made."""


class _LoopExecutor:
    def start(self, request: AttemptRequest) -> _LoopAttempt:
        return _LoopAttempt(request)


async def _run(executions: int, concurrency: int, *, loop: bool, profile: bool) -> None:
    server = OpHostServer(OPS, executor=_LoopExecutor() if loop else None)
    await server.start()
    servicer = server.servicer
    assert servicer is not None
    start = OpHostClient.request("add", a=1, b=2).start

    async def one() -> None:
        record = await servicer._start(start)  # noqa: SLF001 - the host's own start path
        async for records in server.store.follow(record.id, 0, max_batch_bytes=1 << 20):
            _wire.execute_events_response(records)

    async def caller(count: int) -> None:
        for _ in range(count):
            await one()

    await asyncio.gather(*(caller(50) for _ in range(concurrency)))  # warm up
    profiler = cProfile.Profile() if profile else None
    per_caller = max(1, executions // concurrency)
    began, cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    await asyncio.gather(*(caller(per_caller) for _ in range(concurrency)))
    if profiler is not None:
        profiler.disable()
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    done = per_caller * concurrency
    where = "on the event loop" if loop else "in worker threads"
    print(
        f"{done} executions of add, {concurrency} at a time, bodies {where}: "
        f"{cpu / done * 1e6:.0f} us of CPU each (all threads), {done / seconds:,.0f}/s"
        + (" (under cProfile: slower)" if profiler else "")
    )
    await server.stop()
    if profiler is not None:
        pstats.Stats(profiler).sort_stats(pstats.SortKey.TIME).print_stats(30)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hotpath", description=__doc__)
    parser.add_argument("--executions", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--loop", action="store_true", help="run op bodies on the event loop")
    parser.add_argument("--profile", action="store_true", help="cProfile the main thread")
    args = parser.parse_args(argv)
    asyncio.run(_run(args.executions, args.concurrency, loop=args.loop, profile=args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
