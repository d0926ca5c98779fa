"""Choosing an executor per op: the host's default, or the one an op's tag names.

An op tagged ``ophost/executor: thread`` runs in the host's threads even when the
host runs the rest in worker processes (trusted, latency-critical ops), and the other
way round. :class:`RoutingExecutor` holds the host's executors by name and sends each
attempt to the one its op asks for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ophost.definitions._op import OpDefinition
from ophost.errors import OpHostError
from ophost.execution._attempt import Attempt, AttemptRequest, Executor

__all__ = ["EXECUTOR_TAG", "RoutingExecutor", "executor_names"]

# The op tag that picks an executor for the op's attempts.
EXECUTOR_TAG = "ophost/executor"


def executor_names(ops: Iterable[OpDefinition], default: str) -> set[str]:
    """The executors ``ops`` need: ``default`` and every one a tag names."""
    names = {default}
    for op in ops:
        tagged = op.tags.get(EXECUTOR_TAG)
        if tagged is not None:
            names.add(str(tagged))
    return names


class RoutingExecutor:
    """Runs each attempt on the executor its op's ``ophost/executor`` tag names.

    Raises :class:`~ophost.errors.OpHostError` up front when an op names an executor
    that is not given.
    """

    def __init__(
        self, executors: Mapping[str, Executor], default: str, ops: Iterable[OpDefinition]
    ) -> None:
        if default not in executors:
            raise OpHostError(f'no executor named "{default}" (have: {", ".join(executors)})')
        self.executors = dict(executors)
        self.default = default
        self._by_op: dict[str, Executor] = {}
        for op in ops:
            tagged = op.tags.get(EXECUTOR_TAG)
            if tagged is None:
                continue
            chosen = self.executors.get(str(tagged))
            if chosen is None:
                raise OpHostError(
                    f'op "{op.name}": its tag {EXECUTOR_TAG} is "{tagged}"; '
                    f"expected one of {', '.join(sorted(self.executors))}"
                )
            self._by_op[op.name] = chosen
        self._default = self.executors[default]

    def start(self, request: AttemptRequest) -> Attempt:
        executor = self._by_op.get(request.prepared.op_def.name, self._default)
        return executor.start(request)

    async def open(self) -> None:
        for executor in self.executors.values():
            opener = getattr(executor, "open", None)
            if opener is not None:
                await opener()

    async def close(self, grace: float = 2.0) -> None:
        for executor in self.executors.values():
            closer = getattr(executor, "close", None)
            if closer is not None:
                await closer(grace)
