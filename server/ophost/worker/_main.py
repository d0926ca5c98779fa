"""The worker program's start: arguments, signals, loading the ops, the session."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import signal
import socket
import sys
from collections.abc import Sequence

from ophost.execution._loader import LoadedOps, LoadError, load_ops
from ophost.execution._worker_runtime import WorkerProtocolError, run_worker
from ophost.server._logs import configure_from_environment, execution_context

__all__ = ["main"]

_PR_SET_PDEATHSIG = 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ophost.worker", description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", metavar="PATH", help="a Python file defining ops")
    source.add_argument("--module", metavar="MODULE", help="a dotted module name")
    parser.add_argument("--fd", type=int, required=True, help="the connected socket's descriptor")
    args = parser.parse_args(argv)
    _die_with_host()
    # Log as the host does (ophost serve --log-format, --log-level), each attempt's lines
    # with its execution's id, op and attempt.
    configure_from_environment()
    # The host decides when to stop; a Ctrl-C in its terminal is its to handle.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        loaded = load_ops(file=args.file, module=args.module)
    except LoadError as exc:
        print(f"ophost worker: {exc}", file=sys.stderr, flush=True)
        return 3
    sock = socket.socket(fileno=args.fd)
    try:
        asyncio.run(_serve(sock, loaded))
    except WorkerProtocolError as exc:
        print(f"ophost worker: {exc}", file=sys.stderr, flush=True)
        return 4
    finally:
        _tear_down(loaded)
    return 0


async def _serve(sock: socket.socket, loaded: LoadedOps) -> None:
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        await run_worker(reader, writer, loaded, execution_context)
    finally:
        writer.close()


def _tear_down(loaded: LoadedOps) -> None:
    """Close the resources this worker built (those with a ``close()`` method)."""
    for resource in loaded.resources.values():
        close = getattr(resource, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):
                close()


def _die_with_host() -> None:
    """Linux: be killed when the host dies, even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
