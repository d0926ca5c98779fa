"""One worker process of a pool, seen from the host: its start, its session, its end.

:class:`WorkerProcess` starts ``python -m ophost.worker`` (or any command that speaks
the worker protocol) with one end of a socket pair, reads its hello and registration,
checks each registered definition against the host's own, and then relays: the host's
assignments, cancels and acknowledgements go out; the worker's events and outcomes
come back to the attempt they belong to (a :class:`HeldAttempt`: the pool's
``ProcessAttempt``). A message that does not decode, a stream that breaks, a lease that runs
out or a process that exits ends the session; whatever attempt the worker held then
fails with a reason that says which.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from google.protobuf import duration_pb2
from google.protobuf.message import DecodeError

from ophost.definitions import ErrorSource
from ophost.execution._frame_channel import FrameChannel
from ophost.execution._frames import PROTOCOL_VERSION, FrameError, frame
from ophost.execution._launchers import CommandLauncher, ForkLauncher, Launched, Launcher
from ophost.v1 import op_pb2, worker_pb2

__all__ = [
    "HeldAttempt",
    "SessionTerms",
    "WorkerEnded",
    "WorkerProcess",
    "definition_mismatch",
    "launcher_for",
    "python_workers",
    "worker_command",
]


_log = logging.getLogger("ophost.execution")


@dataclass(frozen=True)
class SessionTerms:
    """What the host tells every worker in its welcome, and how long it waits."""

    ping_interval: float = 1.0
    lease_timeout: float = 10.0
    start_timeout: float = 60.0
    max_unacked_events: int = 1024
    max_unacked_bytes: int = 16 << 20
    inline_threshold_bytes: int = 1 << 20
    chunk_size_bytes: int = 1 << 20
    max_frame_bytes: int = 64 << 20


@dataclass(frozen=True)
class WorkerEnded:
    """Why a session ended: what the attempt it held fails with."""

    source: ErrorSource
    type_name: str
    message: str


class HeldAttempt(Protocol):
    """What a worker relays its messages to: the attempt it runs (the pool's own kind)."""

    attempt_id: str
    fence: int

    def add_events(self, tails: Sequence[bytes], count: int) -> str:
        """Take a batch of the attempt's events; a non-empty answer says what was wrong."""
        ...

    def finish_from(self, message: worker_pb2.AttemptFinished) -> None:
        """The attempt's outcome, as the worker reported it."""
        ...

    def worker_ended(self, ending: WorkerEnded) -> None:
        """The worker running the attempt is gone, for the reason ``ending`` gives."""
        ...


class WorkerProcess:
    """One worker process and its session. Call :meth:`start`, then :meth:`assign`."""

    def __init__(
        self,
        number: int,
        launcher: Launcher,
        expected: Mapping[str, bytes],
        terms: SessionTerms,
        on_free: Callable[[WorkerProcess], None],
        on_end: Callable[[WorkerProcess, WorkerEnded | None], None],
    ) -> None:
        self.number = number
        self._launcher = launcher
        self._expected = expected  # op name -> the host's definition, serialized
        self._terms = terms
        self._on_free = on_free
        self._on_end = on_end
        self.session_id = uuid.uuid4().hex
        self.pid = 0
        self.accepted: set[str] = set()
        self.refused: dict[str, str] = {}
        self.attempt: HeldAttempt | None = None
        self.ready = False
        self.ended = False
        self.retiring = False
        self._process: Launched | None = None
        self._channel: FrameChannel | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._last_seen = time.monotonic()
        self._ending: WorkerEnded | None = None
        self._fences = 0

    # -- start ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the process and hold the session until it is ready; raises if it is not."""
        ours, theirs = socket.socketpair()
        try:
            self._process = await self._launcher.launch(theirs)
        finally:
            theirs.close()
        self.pid = self._process.pid
        self._channel = FrameChannel(ours, asyncio.get_running_loop(), self._terms.max_frame_bytes)
        try:
            await asyncio.wait_for(self._handshake(), self._terms.start_timeout)
        except (TimeoutError, WorkerStartError, FrameError, _Undecodable, ConnectionError) as exc:
            code = await self._stop_process()
            raise WorkerStartError(
                f"worker process {self.number} (pid {self.pid}) did not start: "
                f"{_start_problem(exc, code)}"
            ) from None
        self.ready = True
        self._last_seen = time.monotonic()
        self._reader_task = asyncio.get_running_loop().create_task(self._read_loop())

    async def _handshake(self) -> None:
        hello = await self._expect("hello")
        if PROTOCOL_VERSION not in hello.hello.protocol_versions:
            raise WorkerStartError(
                f"it speaks protocol versions {list(hello.hello.protocol_versions)}, "
                f"the host speaks {PROTOCOL_VERSION}"
            )
        register = await self._expect("register")
        registered = worker_pb2.WorkerRegistered()
        for definition in register.register.ops:
            reason = self._check(definition)
            registered.ops.add(name=definition.name, accepted=not reason, reason=reason)
            if reason:
                self.refused[definition.name] = reason
                _log.error(
                    "worker process %d: op %s refused: %s", self.number, definition.name, reason
                )
            else:
                self.accepted.add(definition.name)
        terms = self._terms
        self._send(
            worker_pb2.HostMessage(
                welcome=worker_pb2.WorkerWelcome(
                    session_id=self.session_id,
                    protocol_version=PROTOCOL_VERSION,
                    ping_interval=_duration(terms.ping_interval),
                    lease_timeout=_duration(terms.lease_timeout),
                    max_unacked_events=terms.max_unacked_events,
                    max_unacked_bytes=terms.max_unacked_bytes,
                    inline_threshold_bytes=terms.inline_threshold_bytes,
                    chunk_size_bytes=terms.chunk_size_bytes,
                    max_frame_bytes=terms.max_frame_bytes,
                )
            ),
            worker_pb2.HostMessage(registered=registered),
        )

    def _check(self, definition: op_pb2.OpDefinition) -> str:
        """Why the host refuses a registered definition; empty when it matches the host's."""
        return definition_mismatch(self._expected, definition)

    async def _expect(self, kind: str) -> worker_pb2.WorkerMessage:
        message = await self._read()
        if message is None:
            raise WorkerStartError(f"it closed the session before its {kind}")
        got = message.WhichOneof("kind")
        if got != kind:
            raise WorkerStartError(f"its first messages must be hello and register, got {got}")
        return message

    async def _read(self) -> worker_pb2.WorkerMessage | None:
        assert self._channel is not None
        data = await self._channel.read()
        if data is None:
            return None
        return _decoded(data)

    # -- the session ------------------------------------------------------------------------

    def _send(self, *messages: worker_pb2.HostMessage) -> None:
        if self._channel is None or self._channel.closed:
            return
        self._channel.send(b"".join(frame(m.SerializeToString()) for m in messages))

    def send(self, *messages: worker_pb2.HostMessage) -> None:
        """Send messages to the worker (dropped once the session has ended)."""
        if not self.ended:
            self._send(*messages)

    def next_fence(self) -> int:
        self._fences += 1
        return self._fences

    def assign(self, attempt: HeldAttempt, frames: bytes) -> None:
        """Hand ``attempt`` to this worker; ``frames`` are its assignment, serialized."""
        self.attempt = attempt
        if not self.ended and self._channel is not None:
            self._channel.send(frames)

    def release(self, attempt: HeldAttempt) -> None:
        """The attempt ended; the worker is free for another."""
        if self.attempt is attempt:
            self.attempt = None
            if not self.ended and not self.retiring:
                self._on_free(self)

    async def _read_loop(self) -> None:
        ending: WorkerEnded | None = None
        assert self._channel is not None
        try:
            # Each message is handled as soon as its bytes are read, in that turn of the loop.
            await self._channel.listen(self._on_frame)
        except _Undecodable as exc:
            ending = WorkerEnded(
                ErrorSource.WORKER_LOST,
                "ophost.WorkerProtocolError",
                f"the worker process (pid {self.pid}) sent {exc}; its session was ended",
            )
        except (FrameError, _Broken) as exc:
            ending = WorkerEnded(
                ErrorSource.WORKER_LOST,
                "ophost.WorkerProtocolError",
                f"the worker process (pid {self.pid}) broke the protocol: {exc}; "
                "its session was ended",
            )
        except (ConnectionError, OSError):
            pass
        await self._end(ending)

    def _on_frame(self, data: bytes) -> None:
        message = _decoded(data)
        self._last_seen = time.monotonic()
        self._handle(message)

    def _handle(self, message: worker_pb2.WorkerMessage) -> None:
        kind = message.WhichOneof("kind")
        attempt = self.attempt
        if kind == "events":
            batch = message.events
            if not _current(attempt, batch.attempt_id, batch.fence):
                return  # late events of an attempt taken back: fencing refuses them
            assert attempt is not None
            problem = attempt.add_events(batch.events, batch.count)
            if problem:
                raise _Broken(problem)
        elif kind == "finished":
            finished = message.finished
            if not _current(attempt, finished.attempt_id, finished.fence):
                return
            assert attempt is not None
            attempt.finish_from(finished)
        elif kind == "ping":
            self.send(worker_pb2.HostMessage(pong=worker_pb2.WorkerPong()))
        elif kind == "capacity":
            # No free slots: the worker is going away (or draining); assign it nothing.
            self.retiring = message.capacity.free_slots == 0
        elif kind == "accepted":
            pass
        else:
            raise _Broken(f"it sent {kind or 'an empty message'} after its registration")

    def overdue(self, now: float) -> bool:
        """True when nothing came from the worker for longer than its lease."""
        return self.ready and not self.ended and now - self._last_seen > self._terms.lease_timeout

    def end(self, ending: WorkerEnded) -> None:
        """End the session now (the process is killed); the held attempt fails with ``ending``."""
        if self._ending is None:
            self._ending = ending
        self._kill()

    def _kill(self) -> None:
        if self._process is not None:
            self._process.signal(signal.SIGKILL)

    async def _end(self, ending: WorkerEnded | None) -> None:
        if self.ended:
            return
        if ending is not None and self._ending is None:
            self._ending = ending
            self._kill()
        code = await self._stop_process()
        self.ended = True
        self.ready = False
        if self._ending is None and self.attempt is not None:
            self._ending = WorkerEnded(
                ErrorSource.WORKER_CRASHED,
                "ophost.WorkerCrashed",
                f"the worker process (pid {self.pid}) running the attempt {_exit_text(code)}",
            )
        self._on_end(self, self._ending)

    async def _stop_process(self, grace: float = 2.0) -> int | None:
        if self._channel is not None:
            self._channel.close()
        process = self._process
        if process is None:
            return None
        if process.returncode() is None:
            try:
                return await asyncio.wait_for(asyncio.shield(process.wait()), grace)
            except TimeoutError:
                self._kill()
        return await process.wait()

    async def close(self, grace: float) -> None:
        """Stop the worker: drain, close its connection, then end it."""
        if self.ended:
            return
        self._ending = self._ending or WorkerEnded(
            ErrorSource.INTERRUPT, "ophost.WorkerStopped", "the host stopped its worker processes"
        )
        self.send(worker_pb2.HostMessage(drain=worker_pb2.WorkerDrain(deadline=_duration(grace))))
        if self._process is not None:
            self._process.signal(signal.SIGTERM)
        await self._stop_process(grace)
        if self._reader_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task


class WorkerStartError(Exception):
    """A worker process did not get through its start; the message says why."""


class _Undecodable(Exception):
    pass


class _Broken(Exception):
    pass


def _decoded(data: bytes) -> worker_pb2.WorkerMessage:
    try:
        return worker_pb2.WorkerMessage.FromString(data)
    except DecodeError as exc:
        raise _Undecodable(f"a message of {len(data)} bytes does not decode ({exc})") from None


def _current(attempt: HeldAttempt | None, attempt_id: str, fence: int) -> bool:
    return attempt is not None and attempt.attempt_id == attempt_id and attempt.fence == fence


def _duration(seconds: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(round(seconds * 1e9))
    return duration


def _exit_text(code: int | None) -> str:
    if code is None:
        return "ended"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name} ({-code})"
    return f"exited with code {code}"


def _start_problem(exc: BaseException, code: int | None) -> str:
    if isinstance(exc, TimeoutError):
        return "it did not say hello in time"
    if code is not None and code != 0 and not isinstance(exc, WorkerStartError):
        return f"it {_exit_text(code)} (its own error is above, on stderr)"
    if code is not None and code != 0:
        return f"{exc}; it {_exit_text(code)} (its own error is above, on stderr)"
    return str(exc)


def definition_mismatch(expected: Mapping[str, bytes], definition: op_pb2.OpDefinition) -> str:
    """Why the host refuses ``definition`` from a worker; empty when it matches the host's.

    ``expected`` maps op names to the host's definitions, serialized deterministically.
    """
    mine = expected.get(definition.name)
    if mine is None:
        return f'the host serves no op named "{definition.name}"'
    if definition.SerializeToString(deterministic=True) != mine:
        return (
            f'its definition of op "{definition.name}" differs from the host\'s '
            f"({_first_difference(op_pb2.OpDefinition.FromString(mine), definition)})"
        )
    return ""


def _first_difference(mine: op_pb2.OpDefinition, theirs: op_pb2.OpDefinition) -> str:
    for descriptor in op_pb2.OpDefinition.DESCRIPTOR.fields:
        name = descriptor.name
        a = getattr(mine, name)
        b = getattr(theirs, name)
        if a != b:
            return f"field {name}"
    return "its serialized form"


def worker_command(file: str | None, module: str | None) -> list[str]:
    """The command that starts a Python worker loading ``file`` or ``module``; the
    socket's file descriptor is appended when it starts."""
    source = ["--file", os.path.abspath(file)] if file is not None else ["--module", str(module)]
    return [sys.executable, "-m", "ophost.worker", *source, "--fd"]


def python_workers(file: str | None, module: str | None) -> Launcher:
    """Python workers loading ``file`` or ``module``, forked from a warm fork server."""
    return ForkLauncher(file, module)


def launcher_for(start: Sequence[str] | Launcher) -> Launcher:
    """A launcher, given one or a command."""
    if isinstance(start, (list, tuple)):
        return CommandLauncher(start)
    assert not isinstance(start, str)
    return start  # type: ignore[return-value]
