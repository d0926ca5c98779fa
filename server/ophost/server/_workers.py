"""``ophost serve --workers N``: N server processes sharing one port and one store.

The supervisor (this module, in the process the user started) picks the port (when
``--port 0``), starts N ``ophost serve`` processes on it with ``SO_REUSEPORT`` (the
kernel spreads incoming connections over them), and prints one ``serving`` line once
all of them serve. Their own lines are passed through, each prefixed with its worker
number. SIGTERM or SIGINT is passed on to every worker (so each drains); a worker that
exits while the supervisor is not stopping is replaced. SIGHUP is passed on too: each
worker reloads its TLS files and token file (which the supervisor checks once before
starting any worker, so that a bad file fails the start with one clear message). On
Linux a worker also gets SIGTERM when the supervisor dies any other way (even by
SIGKILL). The workers share the store, so they behave as one host: any of them answers
for any execution.

Metrics are per process, so each worker serves its own: with ``--metrics-port P``,
worker *i* (1 to N) serves on port P+i-1, a replacement on the same port as the worker
it replaces (with ``--metrics-port 0`` each picks a free one). Sharing one port the way
the gRPC port is shared would hand each scrape to a random worker: counts that jump
about. Scrape every worker, and add them up in the queries.
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

from ophost.errors import OpHostError
from ophost.execution._worker_program import parent_death_signal
from ophost.server._address import host_port
from ophost.server._auth import AccessInterceptor
from ophost.server._tls import ServerCertificates, TlsFiles

__all__ = ["serve_workers"]

# One line at a time on standard output: the workers' lines are relayed by threads.
_OUTPUT = threading.Lock()
# A worker that does not serve within this many seconds fails the start.
_READY_TIMEOUT = 120.0


class _Worker:
    def __init__(self, number: int, command: list[str]) -> None:
        self.number = number
        self.command = command
        self.ready = threading.Event()
        self.process: subprocess.Popen[str] | None = None
        self.started_at = 0.0

    def start(self) -> None:
        self.ready.clear()
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            self.command,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only a prctl call, no locks taken
        )
        threading.Thread(target=self._relay, args=(self.process,), daemon=True).start()

    def _relay(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            text = line.rstrip("\n")
            if text.startswith("ophost: serving "):
                self.ready.set()
            text = text.removeprefix("ophost: ")
            _say(f"ophost[worker {self.number}]: {text}")

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)


def _say(line: str) -> None:
    """Print one whole line (``print`` writes the text and its newline separately, so
    lines printed by two threads at once could run together)."""
    with _OUTPUT:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _die_with_parent() -> None:
    """In a new worker: get SIGTERM if the supervisor dies, even by SIGKILL, so that no
    worker outlives it holding the port."""
    parent_death_signal(signal.SIGTERM)


def serve_workers(
    args: argparse.Namespace, store: str, tls: TlsFiles | None, flags: Sequence[str]
) -> int:
    """Run ``args.workers`` server processes on one port until SIGTERM or SIGINT.

    ``flags`` are the command-line options every worker gets: all the options of
    ``serve`` as resolved (from the defaults, a config file, the environment and the
    flags), less the ones this function sets for each worker (port, store, metrics port).
    """
    problem = _check_security(args, tls)
    if problem is not None:
        print(f"ophost: {problem}", file=sys.stderr, flush=True)
        return 1
    holder, port = _hold_port(args.host, args.port)
    # The browser door's port is shared the same way.
    http_holder, http_port = (
        _hold_port(args.host, args.http_port) if args.http_port is not None else (None, None)
    )
    if http_port is not None:
        flags = [*flags, "--http-port", str(http_port)]
    workers = [
        _Worker(n, _worker_command(args, flags, store, port, n)) for n in range(1, args.workers + 1)
    ]
    stopping = threading.Event()
    signals: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        signals.append(signum)
        stopping.set()
        for worker in workers:
            worker.signal(signum)

    def relay(signum: int, _frame: FrameType | None) -> None:
        for worker in workers:
            worker.signal(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, relay)
    try:
        for worker in workers:
            worker.start()
        if not _all_ready(workers, stopping):
            for worker in workers:
                worker.signal(signal.SIGKILL)
            print("ophost: the worker processes could not all start", file=sys.stderr, flush=True)
            return 1
        source = args.file if args.file is not None else f"module {args.module}"
        address = host_port(args.host, port)
        _say(f"ophost: serving {source} on {address} with {len(workers)} worker processes")
        if http_port is not None:
            door = host_port(args.host, http_port)
            _say(f"ophost: browser door on {door}, shared by the worker processes")
        _supervise(workers, stopping)
        _say("ophost: stopped")
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        holder.close()
        if http_holder is not None:
            http_holder.close()


def _hold_port(host: str, port: int) -> tuple[socket.socket, int]:
    """A socket bound to the port (a free one for 0), letting others share it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    holder = socket.socket(family, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind((host, port))
    return holder, int(holder.getsockname()[1])


def _worker_command(
    args: argparse.Namespace, flags: Sequence[str], store: str, port: int, number: int
) -> list[str]:
    """The ``ophost serve`` command line of worker ``number`` (1 to N)."""
    command = [
        sys.executable,
        "-m",
        "ophost",
        "serve",
        *flags,
        "--port",
        str(port),
        "--store",
        store,
        "--reuse-port",
    ]
    if args.metrics_port is not None:
        metrics_port = args.metrics_port + number - 1 if args.metrics_port else 0
        command += ["--metrics-port", str(metrics_port)]
    return command


def _check_security(args: argparse.Namespace, tls: TlsFiles | None) -> str | None:
    """Load the TLS files and the token file once, as each worker will; the problem, if any."""
    try:
        if tls is not None:
            ServerCertificates(tls)
        if args.token_file is not None:
            AccessInterceptor.from_file(
                args.token_file,
                client_certificates=tls is not None and tls.client_ca is not None,
            )
    except OpHostError as exc:
        return str(exc)
    return None


def _all_ready(workers: list[_Worker], stopping: threading.Event) -> bool:
    deadline = time.monotonic() + _READY_TIMEOUT
    for worker in workers:
        while not worker.ready.wait(0.05):
            process = worker.process
            if stopping.is_set() or time.monotonic() > deadline:
                return False
            if process is not None and process.poll() is not None:
                return False
    return True


def _supervise(workers: list[_Worker], stopping: threading.Event) -> None:
    """Wait for the workers; replace one that exits unless stopping."""
    while True:
        alive = 0
        for worker in workers:
            process = worker.process
            if process is None:
                continue
            code = process.poll()
            if code is None:
                alive += 1
                continue
            if stopping.is_set():
                continue
            _say(f"ophost: worker {worker.number} exited with code {code}; starting another")
            if time.monotonic() - worker.started_at < 1.0:
                time.sleep(1.0)  # one that dies at once is not restarted in a tight loop
            worker.start()
            alive += 1
        if alive == 0 and stopping.is_set():
            return
        time.sleep(0.05)
