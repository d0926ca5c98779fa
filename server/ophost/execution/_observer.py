"""The engine's one observation hook: the moment each attempt is handed to the executor.

Everything else about a run (when it started, each attempt's start and end, retries,
log lines, how it finished) is in the events :class:`~ophost.execution.OpRun` yields,
and whoever reads them can watch those. What the events cannot give is a say in the
context an attempt runs in: an executor starts the attempt's code (a worker thread, a
task) in a copy of the context current when :meth:`Executor.start
<ophost.execution.Executor.start>` is called. :meth:`RunObserver.attempt` wraps that
call, so a host can make, say, a tracing span current there and have the op body's own
spans and log lines belong to the attempt.

The engine stays free of any particular metrics, tracing or logging library: it only
calls the hook. The default does nothing.
"""

from __future__ import annotations

import contextlib
from typing import Protocol

__all__ = ["NO_RUN_OBSERVER", "RunObserver"]


class RunObserver(Protocol):
    """What an :class:`~ophost.execution.OpRun` tells its observer, on the event loop."""

    def attempt(self, attempt: int) -> contextlib.AbstractContextManager[object]:
        """A context manager entered around the executor's start of ``attempt``.

        Its body is the executor's ``start`` call only (the attempt runs on after
        it); what it makes current there is what the attempt's code runs in.
        """
        ...


class _NoRunObserver:
    __slots__ = ()

    def attempt(self, attempt: int) -> contextlib.AbstractContextManager[object]:
        return contextlib.nullcontext()


#: The observer of a run nobody watches.
NO_RUN_OBSERVER: RunObserver = _NoRunObserver()
