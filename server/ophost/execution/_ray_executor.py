"""The Ray executor: op bodies run as Ray tasks, on a cluster or on a Ray the host starts.

:class:`RayExecutor` connects to Ray when it opens: to ``address`` (``auto`` for the
cluster of this machine, ``ray://host:port`` for a Ray Client server such as a KubeRay
head service, or a GCS address), or, with no address, to a Ray it starts for itself
(listening on loopback only). Each attempt is one Ray task
(:func:`~ophost.execution._ray_task.run_attempt`) that loads the served module in its
Ray worker process (once per process, resources included), runs the body exactly as a
worker process would, and sends back worker protocol messages through a mailbox actor
(see :mod:`~ophost.execution._ray_task` for why an actor and not a streaming
generator). The host reads them with the same rules as a worker process's
(:mod:`~ophost.execution._attempt_reports`).

What crosses into a task is ``ophost.v1`` bytes (``WorkerWelcome``, ``AttemptAssign``)
plus the file or module name and the mailbox handle: no client value is pickled.

Cancel: the mailbox tells the task, whose body sees it as a cooperative cancel; a task
still queued in Ray is canceled there at once; a body still running when the grace
ends is stopped with ``ray.cancel(force=True)``, which ends its Ray worker process. A
task whose worker process or node dies fails the attempt (``WORKER_CRASHED``,
``WORKER_LOST``, or ``MEMORY_LIMIT`` when Ray's memory monitor killed it) with what
Ray said, and the op's retry policy applies; Ray's own retries are off.

Per-op resource requests come from the op's tags (:data:`RAY_TAGS`); an attempt
waits in Ray's queue until a node has them. An op's ``ophost/timeout`` tag, or the
executor's ``timeout``, limits an attempt's wall-clock time as in the process
executor.

Ray is an optional dependency (``pip install 'ophost[ray]'``): this module imports it
only when an executor is made, and says how to install it when it is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import os
import re
import signal
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping
from types import ModuleType
from typing import Any

from google.protobuf.message import DecodeError

from ophost.codec import definitions as definitions_codec
from ophost.definitions import CancelOutcome, ErrorSource
from ophost.definitions._op import OpDefinition
from ophost.errors import OpHostError
from ophost.execution._attempt import (
    AttemptCanceled,
    AttemptOutcome,
    AttemptRequest,
    AttemptSucceeded,
    EngineEvent,
)
from ophost.execution._attempt_reports import (
    cancel_outcome,
    failed_outcome,
    read_tails,
    synthetic_failure,
)
from ophost.execution._frames import PROTOCOL_VERSION
from ophost.execution._process_executor import TIMEOUT_TAG
from ophost.execution._worker_process import SessionTerms, definition_mismatch
from ophost.v1 import execution_pb2, op_pb2, worker_pb2

__all__ = [
    "MEMORY_TAG",
    "NUM_CPUS_TAG",
    "NUM_GPUS_TAG",
    "RAY_TAGS",
    "RESOURCES_TAG",
    "RayAttempt",
    "RayExecutor",
    "RayUnavailableError",
    "import_ray",
    "ray_failure",
    "ray_options",
]

# The op tags that request resources for the op's Ray tasks.
NUM_CPUS_TAG = "ophost/ray/num_cpus"  # CPUs (a number, fractions allowed; default 1)
NUM_GPUS_TAG = "ophost/ray/num_gpus"  # GPUs (a number, fractions allowed; default 0)
MEMORY_TAG = "ophost/ray/memory"  # bytes, with an optional K, M, G or T suffix
RESOURCES_TAG = "ophost/ray/resources"  # custom resources: a JSON object of name: amount
RAY_TAGS = (NUM_CPUS_TAG, NUM_GPUS_TAG, MEMORY_TAG, RESOURCES_TAG)

# Makes a Ray started by this process listen on loopback only (read when Ray is imported).
_LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
# The host's long-poll for an attempt's messages waits this long per call.
_POLL_SECONDS = 10.0
# Extra time a task gets, after a cancel's grace, to report that its body stopped.
_REPORT_MARGIN = 0.5
# How long a timed-out attempt's body gets to stop before its task is ended.
_TIMEOUT_GRACE = 1.0
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}

_log = logging.getLogger("ophost.execution")

# Ray connections are per process: the executors of one process share one, and the
# last to close shuts down a Ray that one of them started.
_users = 0
_started_ray = False


class RayUnavailableError(OpHostError):
    """Ray is not installed (or cannot be imported); the message says how to install it."""


def import_ray(*, local: bool = False) -> ModuleType:
    """The ``ray`` module, imported now; ``local`` when this process will start its own
    Ray (which then listens on loopback only, unless Ray was imported already)."""
    if local and "ray" not in sys.modules:
        os.environ.setdefault(_LOOPBACK_ENV, "0")
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailableError(
            f"the Ray executor needs Ray, which cannot be imported here ({exc}); "
            "install it with: pip install 'ophost[ray]'"
        ) from exc
    module: ModuleType = ray
    return module


def ray_options(op_def: OpDefinition) -> dict[str, Any]:
    """The Ray task options ``op_def``'s tags ask for; raises :class:`OpHostError` for a
    tag whose value is not what it should be."""
    tags = op_def.tags
    options: dict[str, Any] = {}

    def problem(tag: str, expected: str) -> OpHostError:
        return OpHostError(
            f'op "{op_def.name}": its tag {tag} is "{tags[tag]}"; expected {expected}'
        )

    for tag, option in ((NUM_CPUS_TAG, "num_cpus"), (NUM_GPUS_TAG, "num_gpus")):
        if tag in tags:
            try:
                amount = float(tags[tag])
            except ValueError:
                raise problem(tag, "a number of 0 or more") from None
            if not math.isfinite(amount) or amount < 0:
                raise problem(tag, "a number of 0 or more")
            options[option] = int(amount) if amount.is_integer() else amount
    if MEMORY_TAG in tags:
        match = _SIZE.match(str(tags[MEMORY_TAG]))
        if match is None:
            raise problem(MEMORY_TAG, "a number of bytes, such as 512M or 2G")
        options["memory"] = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if RESOURCES_TAG in tags:
        try:
            custom = json.loads(tags[RESOURCES_TAG])
        except ValueError:
            custom = None
        if not isinstance(custom, dict) or not all(
            isinstance(name, str)
            and isinstance(amount, (int, float))
            and not isinstance(amount, bool)
            and amount >= 0
            for name, amount in custom.items()
        ):
            raise problem(RESOURCES_TAG, 'a JSON object of resource amounts, such as {"TPU": 1}')
        options["resources"] = custom
    return options


class RayExecutor:
    """Runs attempts as Ray tasks; see the module docstring.

    ``ops`` are the host's definitions (the Ray workers' must match); ``file`` or
    ``module`` is where Ray workers load them from; ``address`` the Ray to connect to
    (None: start one, with ``init_options`` passed to ``ray.init``; a Ray this process
    is connected to already is used as it is). ``timeout`` is the default wall-clock
    limit of an attempt. Call :meth:`open` before the first attempt and :meth:`close`
    at the end. Raises :class:`RayUnavailableError` when Ray is not installed and
    :class:`OpHostError` for an op with a bad resource tag.
    """

    def __init__(
        self,
        ops: Mapping[str, OpDefinition],
        *,
        file: str | None = None,
        module: str | None = None,
        address: str | None = None,
        timeout: float | None = None,
        terms: SessionTerms | None = None,
        init_options: Mapping[str, Any] | None = None,
    ) -> None:
        if (file is None) == (module is None):
            raise OpHostError("the Ray executor needs exactly one of a file or a module")
        self._ray = import_ray(local=not address)
        self.address = address
        self._file = os.path.abspath(file) if file is not None else None
        self._module = module
        self._ops = dict(ops)
        self._options = {name: ray_options(op) for name, op in self._ops.items()}
        self._expected = {
            name: definitions_codec.to_proto(op).SerializeToString(deterministic=True)
            for name, op in self._ops.items()
        }
        self._timeout = timeout
        self.terms = terms or SessionTerms()
        self._init_options = dict(init_options or {})
        self._welcome = worker_pb2.WorkerWelcome(
            session_id=uuid.uuid4().hex,
            protocol_version=PROTOCOL_VERSION,
            max_unacked_events=self.terms.max_unacked_events,
            max_unacked_bytes=self.terms.max_unacked_bytes,
            inline_threshold_bytes=self.terms.inline_threshold_bytes,
            chunk_size_bytes=self.terms.chunk_size_bytes,
            max_frame_bytes=self.terms.max_frame_bytes,
        ).SerializeToString()
        self._session = uuid.uuid4().hex[:12]
        self._ids = itertools.count(1)
        self._opened = False
        self._connected = False
        self._closing = False
        self._mailbox: Any = None
        self._task: Any = None
        self._calls: dict[str, Any] = {}
        self.attempts: set[RayAttempt] = set()
        self.refused: dict[str, str] = {}

    # -- connecting ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect to Ray (or start it), start the mailbox and check the ops Ray loads.

        Raises :class:`OpHostError` when Ray cannot be reached or its workers cannot
        load any of the host's ops.
        """
        global _users, _started_ray  # noqa: PLW0603 - one Ray connection per process
        if self._opened:
            return
        self._opened = True
        ray = self._ray
        if not ray.is_initialized():
            if self.address:
                await _check_reachable(self.address, min(10.0, self.terms.start_timeout))
            try:
                with _signal_handlers_kept():
                    if self.address:
                        ray.init(address=self.address)
                    else:
                        # "local": a Ray of its own, even where RAY_ADDRESS is set or
                        # a `ray start` cluster runs on this machine.
                        options = {"address": "local", "include_dashboard": False}
                        ray.init(**(options | self._init_options))
            except Exception as exc:
                where = f"at {self.address}" if self.address else "on this machine"
                raise OpHostError(f"cannot connect to Ray {where}: {exc}") from exc
            _started_ray = not self.address
        _users += 1
        self._connected = True
        try:
            from ophost.execution import _ray_task

            # Ray's own retries are off: the op's retry policy decides, as for any failure.
            self._task = ray.remote(max_retries=0, retry_exceptions=False)(_ray_task.run_attempt)
            for name, options in self._options.items():
                self._calls[name] = self._task.options(name=f"ophost:{name}", **options)
            self._mailbox = self._new_mailbox()
            await asyncio.wait_for(self._mailbox.ping.remote(), self.terms.start_timeout)
            await self._check_ops(_ray_task)
        except BaseException:
            await self.close(0.0)
            raise

    def _new_mailbox(self) -> Any:
        from ophost.execution import _ray_task

        options: dict[str, Any] = {"num_cpus": 0, "max_concurrency": 100_000, "max_restarts": 0}
        with contextlib.suppress(Exception):  # not in Ray Client mode: keep it near the host
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            node = self._ray.get_runtime_context().get_node_id()
            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=True)
        actor = self._ray.remote(_ray_task.Mailbox).options(**options)
        terms = self.terms
        return actor.remote(max(4, terms.max_unacked_events // 256), terms.max_unacked_bytes)

    async def _check_ops(self, task_module: ModuleType) -> None:
        """Load the ops in a Ray worker and refuse those whose definitions differ."""
        describe = self._ray.remote(task_module.describe_ops).options(
            num_cpus=0, max_retries=0, name="ophost:describe_ops"
        )
        try:
            described: list[bytes] = await asyncio.wait_for(
                describe.remote(self._file, self._module), self.terms.start_timeout
            )
        except asyncio.TimeoutError:
            raise OpHostError(
                f"Ray did not load the ops within {self.terms.start_timeout:g}s"
            ) from None
        except Exception as exc:
            raise OpHostError(f"Ray workers cannot load the ops: {_ray_said(exc)}") from exc
        found: set[str] = set()
        for data in described:
            definition = op_pb2.OpDefinition.FromString(data)
            found.add(definition.name)
            reason = definition_mismatch(self._expected, definition)
            if reason and definition.name in self._expected:
                self.refused[definition.name] = reason
        for name in self._expected.keys() - found:
            self.refused[name] = "Ray workers loading the same source do not define it"
        for name, reason in sorted(self.refused.items()):
            _log.error("Ray executor: op %s refused: %s", name, reason)
        if self._expected and len(self.refused) == len(self._expected):
            raise OpHostError(
                "Ray workers cannot run any of the host's ops: "
                + "; ".join(f"{name}: {why}" for name, why in sorted(self.refused.items()))
            )

    async def close(self, grace: float = 2.0) -> None:
        """Stop the attempts still running (they fail as interrupted), the mailbox, and a
        Ray this process started once no other executor uses it."""
        global _users, _started_ray  # noqa: PLW0603 - one Ray connection per process
        self._closing = True
        for attempt in list(self.attempts):
            attempt.interrupt()
        readers = [a.reader for a in self.attempts if a.reader is not None]
        if readers:
            await asyncio.wait(readers, timeout=max(0.1, grace))
        if self._mailbox is not None:
            with contextlib.suppress(Exception):
                self._ray.kill(self._mailbox)
            self._mailbox = None
        if self._connected:
            self._connected = False
            _users -= 1
            if _users == 0 and _started_ray:
                _started_ray = False
                self._ray.shutdown()

    # -- attempts ---------------------------------------------------------------------------

    def start(self, request: AttemptRequest) -> RayAttempt:
        name = request.prepared.op_def.name
        attempt_id = f"{self._session}.{next(self._ids)}"
        attempt = RayAttempt(self, request, attempt_id, self._limit(request))
        if self._closing:
            attempt.fail_now(ErrorSource.INTERRUPT, "ophost.WorkerStopped", "the host is stopping")
        elif not self._connected:
            attempt.fail_now(
                ErrorSource.FRAMEWORK, "ophost.NotOpened", "the Ray executor was not opened"
            )
        elif name in self.refused:
            attempt.fail_now(
                ErrorSource.FRAMEWORK,
                "ophost.OpNotInWorkers",
                f'op "{name}" cannot run in Ray: {self.refused[name]}',
            )
        elif not request.start:
            attempt.fail_now(
                ErrorSource.FRAMEWORK,
                "ophost.MissingStart",
                "the Ray executor needs the execution's start request",
            )
        else:
            if self._mailbox is None:
                self._mailbox = self._new_mailbox()
            call = self._calls.get(name) or self._task.options(name=f"ophost:{name}")
            attempt.submit(call, self._mailbox)
        return attempt

    def _limit(self, request: AttemptRequest) -> float | None:
        timeout = self._timeout
        tagged = request.prepared.op_def.tags.get(TIMEOUT_TAG)
        if tagged is not None:
            with contextlib.suppress(ValueError):
                timeout = float(tagged) if float(tagged) > 0 else None
        return timeout

    def assignment(self, attempt: RayAttempt) -> bytes:
        request = attempt.request
        return worker_pb2.AttemptAssign(
            attempt_id=attempt.attempt_id,
            fence=1,
            execution_id=request.run_id,
            attempt=request.attempt,
            start=execution_pb2.ExecutionStart.FromString(request.start),
        ).SerializeToString()

    def task_arguments(self, attempt: RayAttempt) -> tuple[str | None, str | None, bytes, bytes]:
        return (self._file, self._module, self._welcome, self.assignment(attempt))

    def mailbox_lost(self, mailbox: Any) -> None:
        """A mailbox call failed for good: the next attempt gets a new mailbox."""
        if self._mailbox is mailbox:
            self._mailbox = None

    @property
    def ray(self) -> ModuleType:
        return self._ray


class RayAttempt:
    """One attempt run by a Ray task, read by the engine on the loop."""

    def __init__(
        self, executor: RayExecutor, request: AttemptRequest, attempt_id: str, timeout: float | None
    ) -> None:
        self._executor = executor
        self._ray = executor.ray
        self.request = request
        self.attempt_id = attempt_id
        self.timeout = timeout
        self.op_name = request.prepared.op_def.name
        self._loop = asyncio.get_running_loop()
        self._capacity = max(1, executor.terms.max_unacked_events)
        self._events: list[EngineEvent] = []
        self._outcome: AttemptOutcome | None = None
        self._ready = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._accepted = False
        self._received = 0
        self._cancel_requested = False
        self._timed_out = False
        self._timers: list[asyncio.TimerHandle] = []
        self._ref: Any = None
        self._mailbox: Any = None
        self._closed = False
        self.reader: asyncio.Task[None] | None = None

    @property
    def done(self) -> bool:
        return self._outcome is not None

    # -- the engine's side --------------------------------------------------------------------

    def take(self) -> tuple[list[EngineEvent], AttemptOutcome | None]:
        events = self._events
        if events:
            self._events = []
            self._space.set()
        return events, self._outcome

    async def wait(self, timeout: float | None = None) -> bool:
        if self._events or self._outcome is not None:
            return True
        self._ready.clear()
        if timeout is None:
            await self._ready.wait()
            return True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)
        return bool(self._events) or self._outcome is not None

    def cancel(self, grace: float) -> None:
        if self._cancel_requested or self._outcome is not None:
            return
        self._cancel_requested = True
        self._stop(grace)

    # -- running in Ray -----------------------------------------------------------------------

    def submit(self, call: Any, mailbox: Any) -> None:
        self._mailbox = mailbox
        try:
            self._ref = call.remote(*self._executor.task_arguments(self), mailbox)
        except Exception as exc:  # noqa: BLE001 - Ray cannot take the task: the attempt fails
            self.fail_now(
                ErrorSource.WORKER_LOST, "ophost.WorkerLost", f"Ray refused the task: {exc}"
            )
            return
        self._executor.attempts.add(self)
        self.reader = self._loop.create_task(self._read())
        if self.timeout is not None:
            self._timers.append(self._loop.call_later(self.timeout, self._time_out))

    async def _read(self) -> None:
        """Relay the task's messages until the attempt ends."""
        mailbox = self._mailbox
        ended: asyncio.Future[Any] = asyncio.ensure_future(self._ended())
        take: asyncio.Future[list[bytes]] = asyncio.ensure_future(
            mailbox.take.remote(self.attempt_id, _POLL_SECONDS)
        )
        try:
            while self._outcome is None:
                await asyncio.wait({take, ended}, return_when=asyncio.FIRST_COMPLETED)
                if not take.done():
                    # The task ended: what it sent before is in the mailbox. Closing the
                    # box answers the pending take at once, and returns the rest.
                    rest = await self._close()
                    self._handle(await take)
                    self._handle(rest)
                    break
                self._handle(take.result())
                if self.done:
                    break
                if ended.done():
                    self._handle(await self._close())
                    break
                while len(self._events) >= self._capacity and self._outcome is None:
                    self._space.clear()
                    await self._space.wait()
                take = asyncio.ensure_future(mailbox.take.remote(self.attempt_id, _POLL_SECONDS))
            if self._outcome is None:
                self._finish(self._without_report(ended.result()))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the mailbox is gone: the attempt is lost
            self._executor.mailbox_lost(mailbox)
            self._lost(
                "ophost.WorkerLost",
                f"the Ray actor relaying the attempt's events was lost: {_ray_said(exc)}",
            )
        finally:
            for future in (take, ended):
                future.cancel()
            self._executor.attempts.discard(self)
            if not self._closed:
                self._closed = True
                with contextlib.suppress(Exception):
                    mailbox.close.remote(self.attempt_id)

    async def _ended(self) -> BaseException | None:
        """Wait for the task's end; what Ray raised for it, or None."""
        try:
            await self._ref
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - every way the task ends is an answer
            return exc
        return None

    async def _close(self) -> list[bytes]:
        self._closed = True
        rest: list[bytes] = await self._mailbox.close.remote(self.attempt_id)
        return rest

    def _handle(self, messages: list[bytes]) -> None:
        for data in messages:
            if self._outcome is not None:
                return
            try:
                message = worker_pb2.WorkerMessage.FromString(data)
            except DecodeError:
                self._broken(f"it sent a message of {len(data)} bytes that does not decode")
                return
            kind = message.WhichOneof("kind")
            if kind == "accepted":
                self._accepted = True
            elif kind == "events":
                events = message.events
                batch = read_tails(events.events, self.request.attempt, self.op_name)
                self._events.extend(batch.events)
                if batch.problem:
                    self._broken(batch.problem)
                    return
                self._received += len(events.events)
                if events.count != self._received:
                    self._broken(f"its event count says {events.count}, {self._received} arrived")
                    return
                self._ready.set()
            elif kind == "finished":
                finished = message.finished
                if finished.count != self._received:
                    self._broken(f"it reported {finished.count} events, {self._received} arrived")
                    return
                self._finish(self._reported(finished))
            else:
                self._broken(f"it sent a message of kind {kind or 'none'}")
                return

    def _reported(self, message: worker_pb2.AttemptFinished) -> AttemptOutcome:
        which = message.WhichOneof("outcome")
        outcome: AttemptOutcome
        if which == "succeeded":
            outcome = AttemptSucceeded({})
        elif which == "canceled":
            outcome = self._stopped_outcome(cancel_outcome(message.canceled.outcome))
        else:
            outcome = failed_outcome(message.failed, self.request)
        if self._timed_out and isinstance(outcome, AttemptSucceeded):
            outcome = self._stopped_outcome(CancelOutcome.COOPERATIVE)
        return outcome

    def _without_report(self, error: BaseException | None) -> AttemptOutcome:
        """The outcome of a task that ended without reporting one."""
        if self._timed_out:
            return self._stopped_outcome(CancelOutcome.FORCED)
        if self._cancel_requested:
            # A task canceled while queued in Ray never started its body.
            return AttemptCanceled(
                CancelOutcome.FORCED if self._accepted else CancelOutcome.COOPERATIVE
            )
        return self._failure(*ray_failure(self._ray.exceptions, error))

    def _failure(self, source: ErrorSource, type_name: str, message: str) -> AttemptOutcome:
        return synthetic_failure(self.request, source, type_name, message)

    def _broken(self, problem: str) -> None:
        """The task broke the worker protocol: end it; the attempt is lost."""
        self._kill()
        self._lost("ophost.WorkerProtocolError", f"the Ray task running the attempt {problem}")

    def _lost(self, type_name: str, message: str) -> None:
        if self._outcome is not None:
            return
        if self._cancel_requested or self._timed_out:
            self._finish(self._stopped_outcome(CancelOutcome.FORCED))
        else:
            self._finish(self._failure(ErrorSource.WORKER_LOST, type_name, message))

    # -- stopping ---------------------------------------------------------------------------

    def _time_out(self) -> None:
        if self._outcome is not None:
            return
        self._timed_out = True
        self._stop(_TIMEOUT_GRACE)

    def _stop(self, grace: float) -> None:
        grace = max(0.0, grace)
        with contextlib.suppress(Exception):
            self._mailbox.cancel.remote(self.attempt_id, grace)
        if not self._accepted:
            # Still queued in Ray (or just starting): it need not start at all.
            with contextlib.suppress(Exception):
                self._ray.cancel(self._ref)
        self._timers.append(self._loop.call_later(grace + _REPORT_MARGIN, self._force))

    def _force(self) -> None:
        """The body did not stop within its grace: end its Ray worker process."""
        if self._outcome is not None:
            return
        self._kill()
        self._finish(self._stopped_outcome(CancelOutcome.FORCED))

    def _kill(self) -> None:
        if self._ref is not None:
            try:
                self._ray.cancel(self._ref, force=True)
            except Exception:  # noqa: BLE001 - the task may have ended meanwhile
                _log.debug("ray.cancel(force=True) failed", exc_info=True)

    def interrupt(self) -> None:
        """The host is stopping: end the task now; the attempt fails as interrupted."""
        if self._outcome is not None:
            return
        self._kill()
        self._finish(
            self._failure(ErrorSource.INTERRUPT, "ophost.WorkerStopped", "the host is stopping")
        )

    def _stopped_outcome(self, how: CancelOutcome) -> AttemptOutcome:
        if self._timed_out:
            return self._failure(
                ErrorSource.TIMEOUT,
                "ophost.AttemptTimeout",
                f"the attempt ran longer than its limit of {self.timeout:g}s and "
                + ("stopped" if how is CancelOutcome.COOPERATIVE else "was stopped"),
            )
        return AttemptCanceled(how)

    def fail_now(self, source: ErrorSource, type_name: str, message: str) -> None:
        self._finish(self._failure(source, type_name, message))

    def _finish(self, outcome: AttemptOutcome) -> None:
        if self._outcome is not None:
            return
        self._outcome = outcome
        for timer in self._timers:
            timer.cancel()
        self._space.set()
        self._ready.set()
        if self._mailbox is not None and not self._closed:
            # Wakes the reader's pending take; whatever comes later is dropped.
            self._closed = True
            with contextlib.suppress(Exception):
                self._mailbox.close.remote(self.attempt_id)


async def _check_reachable(address: str, timeout: float) -> None:
    """Fail at once when nothing answers at a ``host:port`` or ``ray://host:port``
    address: ``ray.init`` would wait for it for minutes."""
    where = address.removeprefix("ray://")
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit():
        return  # auto, or a form Ray resolves itself
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host.strip("[]"), int(port)), timeout
        )
    except (OSError, asyncio.TimeoutError) as exc:
        raise OpHostError(
            f"cannot connect to Ray at {address}: nothing answers at {where} "
            f"({exc or type(exc).__name__})"
        ) from None
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def ray_failure(
    ray_exceptions: ModuleType, error: BaseException | None
) -> tuple[ErrorSource, str, str]:
    """How an attempt whose Ray task ended with ``error`` (and without a report of its
    own) fails: its error source, type name and message, which quotes what Ray said.

    ``ray_exceptions`` is ``ray.exceptions``.
    """
    said = _ray_said(error) if error is not None else "it returned without a report"
    if isinstance(error, ray_exceptions.OutOfMemoryError):
        return (
            ErrorSource.MEMORY_LIMIT,
            "ophost.MemoryLimitExceeded",
            f"Ray's memory monitor ended the task running the attempt: {said}",
        )
    if isinstance(error, ray_exceptions.WorkerCrashedError):
        return (
            ErrorSource.WORKER_CRASHED,
            "ophost.WorkerCrashed",
            f"the Ray worker process running the attempt died: {said}",
        )
    if isinstance(error, ray_exceptions.TaskCancelledError):
        return (
            ErrorSource.INTERRUPT,
            "ophost.WorkerStopped",
            f"the Ray task running the attempt was canceled outside the host: {said}",
        )
    if isinstance(
        error,
        (
            ray_exceptions.RuntimeEnvSetupError,
            ray_exceptions.TaskUnschedulableError,
            ray_exceptions.RayTaskError,
        ),
    ):
        return (ErrorSource.FRAMEWORK, "ophost.RayTaskError", f"the Ray task failed: {said}")
    where = "node" if isinstance(error, ray_exceptions.NodeDiedError) else "worker"
    return (
        ErrorSource.WORKER_LOST,
        "ophost.WorkerLost",
        f"the Ray {where} running the attempt was lost: {said}",
    )


@contextlib.contextmanager
def _signal_handlers_kept() -> Iterator[None]:
    """Put back this process's SIGTERM and SIGINT handlers after the block.

    Connecting to Ray installs Ray's own handlers for fatal signals, SIGTERM among
    them, which would end the host at once instead of letting it drain.
    """
    kept: list[tuple[signal.Signals, Any]] = []
    if threading.current_thread() is threading.main_thread():
        kept = [(number, signal.getsignal(number)) for number in (signal.SIGTERM, signal.SIGINT)]
    try:
        yield
    finally:
        for number, handler in kept:
            if handler is not None:
                with contextlib.suppress(OSError, ValueError):
                    signal.signal(number, handler)


def _ray_said(exc: BaseException) -> str:
    """What Ray said, on one line: the exception's type and the first lines of its text."""
    text = " ".join(str(exc).split())
    if len(text) > 2000:
        text = text[:2000] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
