"""The ``ophost`` command (also ``python -m ophost``): the top layer, above the host and the client.

``ophost serve -f ops.py`` (or ``-m package.module``) hosts ops over gRPC until
SIGTERM or SIGINT. Each subcommand is added by a registrar in :data:`COMMANDS`: a
function that adds its parser to the subparsers and sets ``handler`` (a function
from the parsed arguments to the exit code). The client commands (``ops``,
``describe``, ``run``) register from ``ophost.cli._client_commands`` the same way, and
``executions`` (``list``, ``show``, ``events``, ``cancel``: the executions a server
keeps) from ``ophost.cli._execution_commands``. Handlers import what they need when
they run, so ``ophost --help`` stays fast and a client command never imports the server.

Exit codes: 0 success (including a drained ``serve``), 1 the server could not start
(or, for ``run``, the op did not succeed), 2 a usage error or ops that cannot be loaded,
3 a client command's request failed (refused by the server, an unknown execution, a
server that cannot be reached), 130 interrupted.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ophost._version import __version__

if TYPE_CHECKING:
    # argparse names the type of add_subparsers()' result only privately.
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]  # noqa: SLF001

    from ophost.server._tls import TlsFiles

from ophost.cli._client_commands import add_client_commands
from ophost.cli._execution_commands import add_execution_commands
from ophost.cli._token_commands import add_token_commands

__all__ = ["COMMANDS", "build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]


def _port(text: str) -> int:
    value = _integer(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0 to 65535; 0 picks one)")
    return value


def _positive_int(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not 1 or more")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def _register_serve(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "serve",
        help="host the ops of a Python file or module over gRPC",
        description="Host the ops of a Python file or module over gRPC until SIGTERM or "
        "SIGINT, then drain: refuse new executions, give running ones the drain grace "
        "period, cancel the rest. Module-level ops are hosted (or the ophost_ops "
        "collection), with the resources in ophost_resources. SIGHUP reloads the TLS "
        "files and the token file (so does a change to one of them).",
        epilog="Security (docs/security.md): without --tls-cert the traffic is plaintext, and "
        "without --token-file every caller may list, run, read and cancel everything. On "
        "an address other than loopback, serve with TLS and a token file.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("-f", "--file", metavar="PATH", help="a Python file defining ops")
    source.add_argument("-m", "--module", metavar="MODULE", help="a dotted module name")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (%(default)s)")
    parser.add_argument(
        "--port", type=_port, default=50051, help="port to bind; 0 picks a free one (%(default)s)"
    )
    parser.add_argument(
        "--max-concurrent-executions",
        type=_positive_int,
        default=64,
        metavar="N",
        help="executions running at once; more are refused (%(default)s)",
    )
    parser.add_argument(
        "--event-retention",
        type=_seconds,
        default=600.0,
        metavar="SECONDS",
        help="how long a finished execution's events are kept (%(default)s)",
    )
    parser.add_argument(
        "--drain-grace",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="on SIGTERM/SIGINT, how long running executions may finish (%(default)s)",
    )
    parser.add_argument(
        "--store",
        default=None,
        metavar="URL",
        help="where executions are kept: sqlite:///path/file.db, postgresql://user@host/db "
        "or memory (default: $OPHOST_STORE, else sqlite:///.ophost/ophost.db in the "
        "working directory)",
    )
    parser.add_argument(
        "--max-retained-executions",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="finished executions kept at most; the oldest go first (%(default)s)",
    )
    parser.add_argument(
        "--max-retained-bytes",
        type=_size,
        default=None,
        metavar="SIZE",
        help="finished executions' events kept at most, in bytes (K, M, G suffixes); "
        "the oldest go first (default: no limit)",
    )
    parser.add_argument(
        "--lease",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="how long a host process that stopped answering keeps its running "
        "executions before another process sharing the store takes them over (%(default)s)",
    )
    parser.add_argument(
        "--max-upload-bytes",
        type=_size,
        default=None,
        metavar="SIZE",
        help="the most bytes of chunked inputs and config one Execute stream may upload "
        "(default: 256M); more is refused with RESOURCE_EXHAUSTED",
    )
    parser.add_argument(
        "--max-upload-buffer-bytes",
        type=_size,
        default=None,
        metavar="SIZE",
        help="the most bytes of incomplete uploads the server buffers at once, over all "
        "streams (default: 1G); a chunk past it is refused with RESOURCE_EXHAUSTED and "
        "a retry delay",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        metavar="N",
        help="server processes sharing the port and the store (%(default)s); needs a "
        "sqlite or postgresql store",
    )
    parser.add_argument(
        "--executor",
        choices=("process", "thread", "ray"),
        default="process",
        help="where op bodies run: a pool of worker processes, isolated from the host and "
        "each other; the host's own threads; or Ray tasks (needs ophost[ray]); an op's "
        "ophost/executor tag overrides it (%(default)s)",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDRESS",
        help="the Ray cluster of the ray executor: auto (the cluster this machine is part "
        "of), ray://HOST:PORT (a Ray Client server, such as a KubeRay head service) or a "
        "GCS address HOST:PORT (default: start a Ray for this host alone, on loopback)",
    )
    parser.add_argument(
        "--pool-size",
        type=_positive_int,
        default=None,
        metavar="N",
        help="worker processes of the process executor, each running one execution at a "
        "time (default: the number of cores)",
    )
    parser.add_argument(
        "--execution-timeout",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="wall-clock limit of each attempt in a worker process; an op's ophost/timeout "
        "tag overrides it (default: none)",
    )
    parser.add_argument(
        "--execution-memory-limit",
        type=_size,
        default=None,
        metavar="SIZE",
        help="memory an attempt may add to its worker process (K, M, G suffixes); beyond "
        "it the attempt fails with MEMORY_LIMIT (default: none)",
    )
    security = parser.add_argument_group("security (docs/security.md)")
    security.add_argument(
        "--tls-cert",
        metavar="FILE",
        type=Path,
        help="serve TLS with this PEM certificate chain (needs --tls-key)",
    )
    security.add_argument(
        "--tls-key", metavar="FILE", type=Path, help="the PEM private key of --tls-cert"
    )
    security.add_argument(
        "--tls-client-ca",
        metavar="FILE",
        type=Path,
        help="require client certificates that chain to these PEM CA certificates (mTLS)",
    )
    security.add_argument(
        "--token-file",
        metavar="FILE",
        type=Path,
        help="authenticate callers as the identities of this TOML file (or .yaml), each "
        "with its ops and actions; without it every caller may do everything",
    )
    security.add_argument(
        "--reload-interval",
        type=_seconds,
        default=1.0,
        metavar="SECONDS",
        help="how often the TLS files and the token file are checked for changes, which "
        "reloads them (%(default)s; 0: only on SIGHUP)",
    )
    security.add_argument(
        "--withhold-errors",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep op error messages and stacks from clients, who get the error's type and "
        "an error id (the full error is logged with it); default: withheld unless --host "
        "is a loopback address",
    )
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    watch = parser.add_argument_group(
        "observability", "metrics, traces and logs (docs/observability.md)"
    )
    watch.add_argument(
        "--metrics-port",
        type=_port,
        default=None,
        metavar="PORT",
        help="serve Prometheus metrics at http://HOST:PORT/metrics (0 picks a port); with "
        "--workers N, worker i serves on PORT+i-1; needs ophost[metrics] (default: off)",
    )
    watch.add_argument(
        "--metrics-host",
        default=None,
        metavar="HOST",
        help="address the metrics endpoint binds (default: --host)",
    )
    watch.add_argument(
        "--tracing",
        action="store_true",
        help="make OpenTelemetry spans for calls, executions and attempts, exported as the "
        "OTEL_* environment variables say (OTEL_TRACES_EXPORTER: otlp, console, none); "
        "needs ophost[tracing], and ophost[otlp] for OTLP",
    )
    watch.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="log lines on stderr as text or as one JSON object each (%(default)s)",
    )
    watch.add_argument(
        "--log-level",
        type=str.lower,
        choices=("debug", "info", "warning", "error", "critical"),
        default="warning",
        help="the least severe log lines written; info adds a line per execution and the "
        "ops' context.log messages at info (%(default)s)",
    )
    parser.set_defaults(handler=_serve)


def _size(text: str) -> int:
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    cleaned = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = cleaned[-1:] if cleaned[-1:] in units else ""
    try:
        value = int(float(cleaned[: len(cleaned) - len(unit)]) * units[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (such as 500M or 2G)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size of 1 byte or more")
    return value


def _tls_files(args: argparse.Namespace) -> TlsFiles | str | None:
    """The TLS files the arguments name, or a usage error to print."""
    from ophost.server._tls import TlsFiles

    if args.tls_cert is None and args.tls_key is None:
        if args.tls_client_ca is not None:
            return "--tls-client-ca needs --tls-cert and --tls-key (mTLS is TLS first)"
        return None
    if args.tls_cert is None or args.tls_key is None:
        return "--tls-cert and --tls-key go together"
    return TlsFiles(cert=args.tls_cert, key=args.tls_key, client_ca=args.tls_client_ca)


def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import os

    from ophost.execution import executor_names
    from ophost.execution._loader import LoadError, build_resources, load_ops
    from ophost.server._logs import LOG_FORMAT_ENV, LOG_LEVEL_ENV, configure_logging
    from ophost.server._serve import ServeError, abandoned_op_threads, serve
    from ophost.server.store import DEFAULT_STORE_URL

    if args.workers > 1 and args.metrics_port and args.metrics_port + args.workers - 1 > 65535:
        print(
            f"ophost: --metrics-port {args.metrics_port} leaves no port for worker "
            f"{args.workers} (worker i serves metrics on PORT+i-1)",
            file=sys.stderr,
            flush=True,
        )
        return 2
    configure_logging(args.log_format, args.log_level)
    # The worker processes running op bodies log the same way.
    os.environ[LOG_FORMAT_ENV], os.environ[LOG_LEVEL_ENV] = args.log_format, args.log_level
    tls = _tls_files(args)
    if isinstance(tls, str):
        print(f"ophost serve: {tls}", file=sys.stderr, flush=True)
        return 2
    store = args.store or os.environ.get("OPHOST_STORE") or DEFAULT_STORE_URL
    if args.workers > 1 and args.executor == "ray" and not args.ray_address:
        print(
            "ophost: --workers with --executor ray needs --ray-address (a cluster the "
            "processes share); each would start a Ray of its own",
            file=sys.stderr,
            flush=True,
        )
        return 2
    if args.workers > 1:
        from ophost.server._workers import serve_workers

        if store == "memory":
            print(
                "ophost: --workers needs a store the processes can share "
                "(sqlite:///... or postgresql://...), not memory",
                file=sys.stderr,
                flush=True,
            )
            return 2
        return serve_workers(args, store, tls)
    try:
        loaded = load_ops(file=args.file, module=args.module, resources=False)
        if "thread" in executor_names(loaded.ops.values(), args.executor):
            loaded = build_resources(loaded)  # some op's body runs in this process
    except LoadError as error:
        print(f"ophost: {error}", file=sys.stderr, flush=True)
        return 2
    label = args.file if args.file is not None else f"module {args.module}"
    try:
        asyncio.run(
            serve(
                loaded,
                label=label,
                host=args.host,
                port=args.port,
                max_concurrent_executions=args.max_concurrent_executions,
                event_retention_seconds=args.event_retention,
                drain_grace_seconds=args.drain_grace,
                store=store,
                max_retained_executions=args.max_retained_executions,
                max_retained_bytes=args.max_retained_bytes,
                lease_seconds=args.lease,
                reuse_port=args.reuse_port,
                executor=args.executor,
                pool_size=args.pool_size,
                execution_timeout=args.execution_timeout,
                execution_memory_limit=args.execution_memory_limit or 0,
                metrics_port=args.metrics_port,
                metrics_host=args.metrics_host,
                tracing=args.tracing,
                tls=tls,
                token_file=args.token_file,
                withhold_errors=args.withhold_errors,
                watch_interval=args.reload_interval,
                max_upload_bytes=args.max_upload_bytes,
                max_upload_buffer_bytes=args.max_upload_buffer_bytes,
                ray_address=args.ray_address,
            )
        )
    except ServeError as error:
        print(f"ophost: {error}", file=sys.stderr, flush=True)
        return 1
    stuck = abandoned_op_threads()
    if stuck:
        print(
            f"ophost: {len(stuck)} op thread(s) ignored the cancel; exiting without them",
            flush=True,
        )
        sys.stderr.flush()
        os._exit(0)
    return 0


# The subcommands, in the order `ophost --help` lists them.
COMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    _register_serve,
    add_client_commands,
    add_execution_commands,
    add_token_commands,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ophost", description="Host Dagster-style Python ops and call them over gRPC."
    )
    parser.add_argument("--version", action="version", version=f"ophost {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ophost`` command with ``argv`` (default: ``sys.argv[1:]``)."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("ophost: interrupted", file=sys.stderr, flush=True)
        return 130
