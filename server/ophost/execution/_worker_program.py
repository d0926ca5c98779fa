"""A worker process's life: signals, loading the ops, the session, tearing down.

Shared by the two ways a worker starts: ``python -m ophost.worker`` (a command) and a
fork of the host's warm fork server (:mod:`ophost.execution._launchers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys

from ophost.execution._loader import LoadedOps, LoadError, close_resources, load_ops
from ophost.execution._worker_runtime import (
    NO_ATTEMPT_CONTEXT,
    AttemptContext,
    WorkerProtocolError,
    run_worker,
)

__all__ = ["die_with_parent", "parent_death_signal", "run_worker_process"]

_PR_SET_PDEATHSIG = 1


def run_worker_process(
    sock: socket.socket,
    *,
    file: str | None,
    module: str | None,
    attempt_context: AttemptContext = NO_ATTEMPT_CONTEXT,
) -> int:
    """Serve the host connected on ``sock`` until it closes; returns the exit code.

    ``attempt_context`` makes an attempt's execution id, op and attempt current while
    it starts (for log lines), as :func:`~ophost.execution._worker_runtime.run_worker`.
    """
    die_with_parent()
    # The host decides when to stop; a Ctrl-C in its terminal is its to handle.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        loaded = load_ops(file=file, module=module)
    except LoadError as exc:
        print(f"ophost worker: {exc}", file=sys.stderr, flush=True)
        return 3
    try:
        asyncio.run(_serve(sock, loaded, attempt_context))
    except WorkerProtocolError as exc:
        print(f"ophost worker: {exc}", file=sys.stderr, flush=True)
        return 4
    finally:
        close_resources(loaded)
    return 0


async def _serve(sock: socket.socket, loaded: LoadedOps, attempt_context: AttemptContext) -> None:
    await run_worker(sock, loaded, attempt_context)


def die_with_parent() -> None:
    """In a session of its own (the terminal's Ctrl-C goes to the host only), and killed
    when the parent (the host, or its fork server) dies."""
    with contextlib.suppress(OSError):
        os.setsid()
    parent_death_signal(signal.SIGKILL)


def parent_death_signal(signum: int) -> None:
    """Linux: have ``signum`` sent to this process when its parent dies, even by SIGKILL
    (elsewhere: nothing)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signum)
