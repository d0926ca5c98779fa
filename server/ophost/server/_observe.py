"""The host's observation seam: what metrics, tracing and logs are told, and when.

Calls are observed by ``grpc.aio`` server interceptors (:mod:`ophost.server._interceptors`).
Executions are observed through one small seam, so that the runner, the recorder and
the servicer call a single object and know nothing of Prometheus or OpenTelemetry:

- :meth:`HostObserver.execution` is called once per execution run in this process,
  in the execution's own task (so what it makes current belongs to that execution),
  and returns an :class:`ExecutionWatch`;
- the watch sees each batch of the engine's events (:meth:`ExecutionWatch.events`)
  *before* the batch is stored, so by the time a client reads a terminal event the
  observers have seen it; wraps the start of each attempt (it is the engine's
  :class:`~ophost.execution.RunObserver`); and is closed when the execution's task
  ends, whatever happened;
- :meth:`HostObserver.streamed` counts the events and bytes each stream sends.

Each observer (:mod:`._logs`, :mod:`._metrics`, :mod:`._tracing`) implements the two
protocols; :func:`combine` makes one of several. Importing this module imports neither
prometheus-client nor OpenTelemetry: they are optional extras, loaded by the modules
that need them, and :func:`require` says which extra to install when one is missing.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Protocol

from ophost.errors import OpHostError
from ophost.execution import EngineEvent, RunObserver

__all__ = [
    "NO_OBSERVER",
    "ExecutionWatch",
    "HostObserver",
    "MissingExtraError",
    "combine",
    "require",
]


class MissingExtraError(OpHostError):
    """An optional feature was asked for without the package it needs."""


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtraError` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{feature} needs the module {module!r}, which cannot be imported ({exc}); "
            f"install it with: pip install 'ophost[{extra}]'"
        ) from exc


class ExecutionWatch(RunObserver, Protocol):
    """One execution, as an observer follows it (all calls on the event loop)."""

    def events(self, batch: Sequence[EngineEvent]) -> None:
        """A batch of the engine's events, before it is stored."""
        ...

    def close(self) -> None:
        """The execution's task has ended (after its terminal event, or failing)."""
        ...


class HostObserver(Protocol):
    """What the host tells an observer; every call is on the event loop."""

    def execution(self, execution_id: str, op_name: str) -> ExecutionWatch:
        """An execution starts running in this process (called in its own task)."""
        ...

    def streamed(self, method: str, events: int, size: int) -> None:
        """A stream of ``method`` sent one message: ``events`` events, ``size`` bytes."""
        ...


class _NoWatch:
    __slots__ = ()

    def attempt(self, attempt: int) -> contextlib.AbstractContextManager[object]:
        return contextlib.nullcontext()

    def events(self, batch: Sequence[EngineEvent]) -> None:
        pass

    def close(self) -> None:
        pass


_NO_WATCH = _NoWatch()


class _NoObserver:
    __slots__ = ()

    def execution(self, execution_id: str, op_name: str) -> ExecutionWatch:
        return _NO_WATCH

    def streamed(self, method: str, events: int, size: int) -> None:
        pass


#: The observer of a host nobody watches.
NO_OBSERVER: HostObserver = _NoObserver()


class _Watches:
    __slots__ = ("_watches",)

    def __init__(self, watches: Sequence[ExecutionWatch]) -> None:
        self._watches = tuple(watches)

    @contextlib.contextmanager
    def attempt(self, attempt: int) -> Iterator[object]:
        with contextlib.ExitStack() as stack:
            for watch in self._watches:
                stack.enter_context(watch.attempt(attempt))
            yield None

    def events(self, batch: Sequence[EngineEvent]) -> None:
        for watch in self._watches:
            watch.events(batch)

    def close(self) -> None:
        for watch in self._watches:
            watch.close()


class _Observers:
    __slots__ = ("_observers",)

    def __init__(self, observers: Sequence[HostObserver]) -> None:
        self._observers = tuple(observers)

    def execution(self, execution_id: str, op_name: str) -> ExecutionWatch:
        return _Watches([o.execution(execution_id, op_name) for o in self._observers])

    def streamed(self, method: str, events: int, size: int) -> None:
        for observer in self._observers:
            observer.streamed(method, events, size)


def combine(observers: Sequence[HostObserver]) -> HostObserver:
    """One observer telling each of ``observers`` in turn (no wrapper for zero or one)."""
    if not observers:
        return NO_OBSERVER
    if len(observers) == 1:
        return observers[0]
    return _Observers(observers)
