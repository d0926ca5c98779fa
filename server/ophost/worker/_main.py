"""The worker program's command line."""

from __future__ import annotations

import argparse
import socket
from collections.abc import Sequence

from ophost.execution._launchers import serve_forks
from ophost.execution._worker_program import die_with_parent, run_worker_process

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
    if args.fork_server:
        die_with_parent()
        return serve_forks(sock, file=args.file, module=args.module)
    return run_worker_process(sock, file=args.file, module=args.module)
