"""Building the executors ``ophost serve`` runs op bodies with.

``--executor process`` (the default) runs bodies in a pool of worker processes that
load the same file or module as the host; ``thread`` runs them in the host's threads;
``ray`` runs them as Ray tasks (``--ray-address``, or a Ray the host starts), which
needs the optional dependency ``ophost[ray]``. An op's ``ophost/executor`` tag
overrides the default for that op, so the host builds every executor some op asks for
and routes each attempt to its op's.
"""

from __future__ import annotations

from ophost.errors import OpHostError
from ophost.execution import (
    Executor,
    ProcessExecutor,
    RayExecutor,
    RoutingExecutor,
    SessionTerms,
    ThreadExecutor,
    executor_names,
    python_workers,
)
from ophost.execution._loader import LoadedOps
from ophost.server._limits import Limits

__all__ = ["EXECUTOR_KINDS", "build_executor"]

# The executors a host can run op bodies with, the default first.
EXECUTOR_KINDS = ("process", "thread", "ray")


def build_executor(
    loaded: LoadedOps,
    default: str,
    *,
    pool_size: int | None = None,
    timeout: float | None = None,
    memory_limit: int = 0,
    max_concurrent: int = 64,
    limits: Limits | None = None,
    ray_address: str | None = None,
) -> RoutingExecutor:
    """The executors ``loaded``'s ops need, with ``default`` for untagged ops.

    Raises :class:`~ophost.errors.OpHostError` for an unknown executor, and (a
    :class:`~ophost.execution.RayUnavailableError`) when an op needs Ray and Ray is
    not installed.
    """
    limits = limits or Limits()
    names = executor_names(loaded.ops.values(), default)
    unknown = sorted(names - set(EXECUTOR_KINDS))
    if unknown:
        raise OpHostError(
            f"unknown executor {', '.join(unknown)} (known: {', '.join(EXECUTOR_KINDS)})"
        )
    executors: dict[str, Executor] = {}
    if "thread" in names:
        executors["thread"] = ThreadExecutor(
            capacity=limits.handoff_capacity, threads=max_concurrent + 4
        )
    if "process" in names:
        executors["process"] = ProcessExecutor(
            loaded.ops,
            python_workers(loaded.file, loaded.module_name),
            size=pool_size,
            timeout=timeout,
            memory_limit=memory_limit,
            terms=SessionTerms(
                inline_threshold_bytes=limits.inline_threshold_bytes,
                chunk_size_bytes=limits.chunk_size_bytes,
                max_unacked_events=limits.handoff_capacity,
            ),
        )
    if "ray" in names:
        executors["ray"] = RayExecutor(
            loaded.ops,
            file=loaded.file,
            module=loaded.module_name,
            address=ray_address,
            timeout=timeout,
            terms=SessionTerms(
                inline_threshold_bytes=limits.inline_threshold_bytes,
                chunk_size_bytes=limits.chunk_size_bytes,
                max_unacked_events=limits.handoff_capacity,
            ),
        )
    return RoutingExecutor(executors, default, loaded.ops.values())
