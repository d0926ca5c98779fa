"""The worker program's command line."""

from __future__ import annotations

import argparse
import socket
from collections.abc import Sequence

from ophost.execution._launchers import serve_forks
from ophost.execution._worker_program import die_with_parent, run_worker_process
from ophost.server._logs import configure_from_environment, execution_context

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ophost.worker", description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", metavar="PATH", help="a Python file defining ops")
    source.add_argument("--module", metavar="MODULE", help="a dotted module name")
    parser.add_argument("--fd", type=int, required=True, help="the connected socket's descriptor")
    parser.add_argument(
        "--fork-server",
        action="store_true",
        help="fork a worker for each socket the host sends on --fd, instead of being one",
    )
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)

    def worker(connection: socket.socket) -> int:
        # Log as the host does (ophost serve --log-format, --log-level), each attempt's
        # lines with its execution's id, op and attempt.
        configure_from_environment()
        return run_worker_process(
            connection, file=args.file, module=args.module, attempt_context=execution_context
        )

    if args.fork_server:
        die_with_parent()
        return serve_forks(sock, file=args.file, module=args.module, worker=worker)
    return worker(sock)
