"""Starting worker processes: a command, or a fork of a warm server process.

A launcher starts one worker with one end of a connected socket and returns a
:class:`Launched`: its pid, a way to send it signals and to wait for its exit code
(negative: the signal that ended it).

- :class:`CommandLauncher` runs a command (any program that speaks the worker
  protocol; the socket's descriptor is appended as the last argument).
- :class:`ForkLauncher` starts Python workers cheaply: a fork server (one per
  launcher, started at its first launch) imports ophost's worker runtime and the
  served code once, then forks each worker from that warm state, so a worker starts
  in milliseconds instead of importing everything again. The host hands it the
  worker's socket over a Unix socket (``SCM_RIGHTS``); nothing is pickled.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import select
import signal
import socket
import struct
import sys
from collections.abc import Callable, Sequence
from typing import Protocol

from ophost.execution._loader import LoadError, load_ops
from ophost.execution._worker_program import run_worker_process

__all__ = ["CommandLauncher", "ForkLauncher", "Launched", "Launcher", "serve_forks"]


class Launched(Protocol):
    """A started worker process."""

    pid: int

    def signal(self, signum: int) -> None: ...

    async def wait(self) -> int: ...

    def returncode(self) -> int | None: ...


class Launcher(Protocol):
    """Starts one worker process on ``sock`` (the worker's end of a socket pair)."""

    async def launch(self, sock: socket.socket) -> Launched: ...


class CommandLauncher:
    """Runs ``command`` with the socket's descriptor appended, in a new session."""

    def __init__(self, command: Sequence[str]) -> None:
        self.command = list(command)

    async def launch(self, sock: socket.socket) -> Launched:
        process = await asyncio.create_subprocess_exec(
            *self.command,
            str(sock.fileno()),
            pass_fds=(sock.fileno(),),
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        return _Subprocess(process)


class _Subprocess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.pid = process.pid

    def signal(self, signum: int) -> None:
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signum)

    async def wait(self) -> int:
        return await self._process.wait()

    def returncode(self) -> int | None:
        return self._process.returncode


class ForkLauncher:
    """Forks Python workers loading ``file`` or ``module`` from a warm fork server.

    The fork server is ``python -m ophost.worker --fork-server`` with the same source,
    started at the first launch: it imports the worker runtime and the served code
    (without building resources) and then only forks. Each worker it forks reports
    its pid; each exit comes back as the worker's exit code. It dies with the host.
    """

    def __init__(self, file: str | None, module: str | None) -> None:
        self.file = os.path.abspath(file) if file is not None else None
        self.module = module
        self._server: _ForkServer | None = None
        self._starting = asyncio.Lock()

    async def launch(self, sock: socket.socket) -> Launched:
        async with self._starting:
            if self._server is None or self._server.closed:
                self._server = await _ForkServer.start(self.file, self.module)
        return await self._server.fork(sock)

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()


class _ForkServer:
    """The host's side of its fork server: fork requests out, pids and exits back."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        control: socket.socket,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self._process = process
        self._control = control
        self._reader = reader
        self._writer = writer  # held: a dropped writer closes the connection
        self._waiting: collections.deque[asyncio.Future[int]] = collections.deque()
        self._children: dict[int, _Forked] = {}
        self._early: dict[int, int] = {}  # exits read before the pid's fork answer
        self.closed = False
        self._task = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls, file: str | None, module: str | None) -> _ForkServer:
        ours, theirs = socket.socketpair()
        source = ["--file", file] if file is not None else ["--module", str(module)]
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "ophost.worker",
                "--fork-server",
                *source,
                "--fd",
                str(theirs.fileno()),
                pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            theirs.close()
        ours.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=ours)
        return cls(process, ours, reader, writer)

    async def fork(self, sock: socket.socket) -> Launched:
        if self.closed:
            raise ConnectionError("the fork server has stopped")
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append(answer)
        socket.send_fds(self._control, [b"F"], [sock.fileno()])
        pid = await answer
        child = _Forked(pid)
        self._children[pid] = child
        if pid in self._early:
            child.exited(self._early.pop(pid))
        return child

    async def _read(self) -> None:
        try:
            while True:
                kind, pid, code = _REPORT.unpack(await self._reader.readexactly(_REPORT.size))
                if kind == b"P":
                    if self._waiting:
                        self._waiting.popleft().set_result(pid)
                elif kind == b"X":
                    child = self._children.pop(pid, None)
                    if child is not None:
                        child.exited(code)
                    else:
                        self._early[pid] = code
                elif kind == b"E" and self._waiting:
                    self._waiting.popleft().set_exception(
                        ConnectionError(f"the fork server could not fork (errno {code})")
                    )
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self.closed = True
            for answer in self._waiting:
                if not answer.done():
                    answer.set_exception(ConnectionError("the fork server has stopped"))
            for child in self._children.values():
                child.lost()

    async def close(self) -> None:
        self.closed = True
        self._writer.close()  # closes the control socket through its transport
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
        await self._process.wait()
        self._task.cancel()


# A report from the fork server: kind (P: forked, X: exited, E: fork failed), pid, code.
_REPORT = struct.Struct(">cii")


class _Forked:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._code: int | None = None
        self._done = asyncio.get_running_loop().create_future()

    def exited(self, code: int) -> None:
        self._code = code
        if not self._done.done():
            self._done.set_result(code)

    def lost(self) -> None:
        """The fork server is gone: its children were killed with it."""
        self.signal(signal.SIGKILL)
        self.exited(-signal.SIGKILL)

    def signal(self, signum: int) -> None:
        if self._code is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    async def wait(self) -> int:
        return int(await asyncio.shield(self._done))

    def returncode(self) -> int | None:
        return self._code


def serve_forks(
    control: socket.socket,
    *,
    file: str | None,
    module: str | None,
    worker: Callable[[socket.socket], int] | None = None,
) -> int:
    """The fork server's loop (in ``python -m ophost.worker --fork-server``).

    Imports what workers need, then forks one worker per request, reporting each pid
    and, when it ends, its exit code (negative: the signal). A forked worker runs
    ``worker`` on its socket (default: :func:`run_worker_process` with ``file`` or
    ``module``). Returns when the host closes the control socket.
    """
    if worker is None:

        def worker(sock: socket.socket) -> int:
            return run_worker_process(sock, file=file, module=module)

    _prepare_fork_server(file, module)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    control.setblocking(True)
    while True:
        ready, _, _ = select.select([control.fileno(), wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 512)
            _report_exits(control)
        if control.fileno() in ready:
            try:
                message, fds, _flags, _address = socket.recv_fds(control, 1, 1)
            except OSError:
                return 0
            if not message:
                return 0
            if fds:
                _fork_one(control, fds[0], worker, (wake_r, wake_w))


def _prepare_fork_server(file: str | None, module: str | None) -> None:
    # The worker runtime is imported already (this module imports it); the served code
    # is imported here once, without its resources, so each fork finds it warm.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(LoadError):  # a worker reports it, when it loads again
        load_ops(file=file, module=module, resources=False)


def _fork_one(
    control: socket.socket,
    fd: int,
    worker: Callable[[socket.socket], int],
    wake: tuple[int, int],
) -> None:
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(fd)
        control.sendall(_REPORT.pack(b"E", 0, exc.errno or 0))
        return
    if pid == 0:  # the worker
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for end in wake:
                os.close(end)
            control.close()
            code = worker(socket.socket(fileno=fd))
        finally:
            os._exit(code)
    os.close(fd)
    control.sendall(_REPORT.pack(b"P", pid, 0))


def _report_exits(control: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        code = os.waitstatus_to_exitcode(status)
        control.sendall(_REPORT.pack(b"X", pid, code))
