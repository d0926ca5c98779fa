"""The ``ophost`` command (also ``python -m ophost``): the top layer, above the host and the client.

``ophost serve -f ops.py`` (or ``-m package.module``) hosts ops over gRPC until
SIGTERM or SIGINT. Each subcommand is added by a registrar in :data:`COMMANDS`: a
function that adds its parser to the subparsers and sets ``handler`` (a function
from the parsed arguments to the exit code). The client commands (``ops``,
``describe``, ``run``) register from ``ophost.cli._client_commands`` the same way, and
``executions`` (``list``, ``show``, ``events``, ``cancel``: the executions a server
keeps) from ``ophost.cli._execution_commands``, and ``config check`` from
``ophost.cli._config_commands``. The options of ``serve`` are one table
(``ophost.cli._options``), read from flags, ``OPHOST_*`` variables and a config file
(``ophost.cli._settings``). Handlers import what they need when they run, so
``ophost --help`` stays fast and a client command never imports the server.

Exit codes: 0 success (including a drained ``serve``), 1 the server could not start
(or, for ``run``, the op did not succeed; for ``config check``, the file has problems),
2 a usage error (a bad config file of ``serve`` included) or ops that cannot be loaded,
3 a client command's request failed (refused by the server, an unknown execution, a
server that cannot be reached), 130 interrupted.
"""

from __future__ import annotations

import argparse
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
from ophost.cli._config_commands import add_config_commands
from ophost.cli._execution_commands import add_execution_commands
from ophost.cli._options import add_serve_flags
from ophost.cli._settings import Settings, resolve, serve_problems, worker_flags
from ophost.cli._token_commands import add_token_commands

__all__ = ["COMMANDS", "build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]


def _register_serve(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "serve",
        help="host the ops of a Python file or module over gRPC",
        description="Host the ops of a Python file or module over gRPC until SIGTERM or "
        "SIGINT, then drain: refuse new executions, give running ones the drain grace "
        "period, cancel the rest. Module-level ops are hosted (or the ophost_ops "
        "collection), with the resources in ophost_resources. SIGHUP reloads the TLS "
        "files and the token file (so does a change to one of them). Each option can also "
        "be set in a TOML config file (--config) or in an OPHOST_* environment variable "
        "(named below): flags override the environment, which overrides the file.",
        epilog="Security (docs/security.md): without --tls-cert the traffic is plaintext, and "
        "without --token-file every caller may list, run, read and cancel everything. On "
        "an address other than loopback, serve with TLS and a token file.",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="read options from this TOML file (docs/serving.md#config-file); the "
        "OPHOST_* environment variables override it, and flags override both",
    )
    add_serve_flags(parser)
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(handler=_serve, serve_parser=parser)


def _tls_files(args: argparse.Namespace) -> TlsFiles | None:
    """The TLS files the (checked) options name."""
    from ophost.server._tls import TlsFiles

    if args.tls_cert is None or args.tls_key is None:
        return None
    return TlsFiles(cert=args.tls_cert, key=args.tls_key, client_ca=args.tls_client_ca)


def _resolve_serve_options(args: argparse.Namespace) -> Settings | None:
    """Put each option's value from the highest layer on ``args``; None after printing the
    problems, when there are any."""
    import os

    settings, problems = resolve(vars(args), os.environ, args.config)
    problems += serve_problems(settings)
    if problems:
        for problem in problems:
            print(f"ophost serve: {problem}", file=sys.stderr, flush=True)
        return None
    if settings["file"] is None and settings["module"] is None:
        parser: argparse.ArgumentParser = args.serve_parser
        parser.error(
            "give the ops to serve: -f FILE or -m MODULE (or file or module in the config "
            "file, or OPHOST_FILE or OPHOST_MODULE)"
        )
    for name, setting in settings.values.items():
        setattr(args, name, setting.value)
    return settings


def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import os

    from ophost.execution import executor_names
    from ophost.execution._loader import LoadError, build_resources, load_ops
    from ophost.server._logs import LOG_FORMAT_ENV, LOG_LEVEL_ENV, configure_logging
    from ophost.server._serve import ServeError, abandoned_op_threads, serve
    from ophost.server.store import DEFAULT_STORE_URL

    settings = _resolve_serve_options(args)
    if settings is None:
        return 2
    configure_logging(args.log_format, args.log_level)
    # The worker processes running op bodies log the same way.
    os.environ[LOG_FORMAT_ENV], os.environ[LOG_LEVEL_ENV] = args.log_format, args.log_level
    tls = _tls_files(args)
    store = args.store or DEFAULT_STORE_URL
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

        # Each worker gets every option as a flag: flags override the config file and
        # the environment, so a worker serves with exactly these settings.
        return serve_workers(args, store, tls, worker_flags(settings))
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
                http_port=args.http_port,
                http_cors_origins=args.http_cors_origin or (),
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
    add_config_commands,
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
