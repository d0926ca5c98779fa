"""The client side of the ``ophost`` command: ``ops``, ``describe`` and ``run``.

These commands talk to a running server through :mod:`ophost_client`, the Python
client, exactly as any other caller would. Each takes the connection options of
:func:`add_connection_options`: TLS (``--tls``, ``--tls-ca``, ``--tls-cert``,
``--tls-key``) and a token (``--token``, or ``$OPHOST_TOKEN``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from google.protobuf import json_format

from ophost import AssetMaterialization, AssetObservation, ExpectationResult, OpSpec
from ophost.codec import events as events_codec
from ophost.definitions._config import Array, ConfigType, Enum, Field, Map, Noneable
from ophost.definitions._io import InputDefinition
from ophost.execution import (
    ExecutionEvent,
    ExecutionFinished,
    ExecutionStatus,
    InputChecked,
    LogMessage,
    OutputProduced,
    RetryScheduled,
    StepFailed,
    StepSucceeded,
)

__all__ = ["TOKEN_ENV", "add_client_commands", "add_connection_options"]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_RPC = 3
# The environment variable a token is read from when --token is not given.
TOKEN_ENV = "OPHOST_TOKEN"


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """Add the options that say how to reach the server: TLS and a token."""
    group = parser.add_argument_group("connection (docs/security.md)")
    group.add_argument(
        "--tls",
        action="store_true",
        help="connect with TLS, verifying the server with the system's CA certificates "
        "(implied by the options below)",
    )
    group.add_argument(
        "--tls-ca", metavar="FILE", help="verify the server with these PEM CA certificates"
    )
    group.add_argument(
        "--tls-cert", metavar="FILE", help="present this PEM client certificate (mTLS)"
    )
    group.add_argument("--tls-key", metavar="FILE", help="the PEM private key of --tls-cert")
    group.add_argument(
        "--token",
        metavar="TOKEN",
        help=f"send this token (authorization: Bearer); default: ${TOKEN_ENV}, which "
        "keeps it out of the process list (write --token=TOKEN for one that starts with -)",
    )


def add_client_commands(subparsers: Any) -> None:
    """Register ``ops``, ``describe`` and ``run`` on the ``ophost`` argument parser."""
    ops = subparsers.add_parser("ops", help="list the ops a server hosts")
    ops.add_argument("address", help="host:port of the server")
    add_connection_options(ops)
    ops.set_defaults(handler=_ops)

    describe = subparsers.add_parser("describe", help="show one op's signature")
    describe.add_argument("address", help="host:port of the server")
    describe.add_argument("op", help="the op's name")
    add_connection_options(describe)
    describe.set_defaults(handler=_describe)

    run = subparsers.add_parser("run", help="execute an op and print its events as they come")
    run.add_argument("address", help="host:port of the server")
    run.add_argument("op", help="the op's name")
    run.add_argument(
        "--input",
        "-i",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="an input value as JSON (repeat for each input)",
    )
    run.add_argument("--config", "-c", metavar="JSON", help="the op's config as JSON")
    run.add_argument(
        "--tag", action="append", default=[], metavar="KEY=VALUE", help="an execution tag"
    )
    run.add_argument("--json", action="store_true", help="print events as JSON lines")
    add_connection_options(run)
    run.set_defaults(handler=_run)


# -- helpers -------------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> Any:
    """The client the command's arguments describe (exits with 2 on a bad option)."""
    from ophost_client import OpHostClient

    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV) or None
    try:
        return OpHostClient(
            args.address,
            tls=True if args.tls else None,
            tls_ca=args.tls_ca,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            token=token,
        )
    except ValueError as exc:
        print(f"ophost: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_USAGE) from None


def _rpc_failed(exc: BaseException) -> int:
    message = str(exc)
    print(f"ophost: {message}", file=sys.stderr)
    for field, description in getattr(exc, "violations", ()) or ():
        if f"{field}: {description}" not in message:
            print(f"  {field}: {description}", file=sys.stderr)
    return EXIT_RPC


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


# -- ops -----------------------------------------------------------------------------------


def _ops(args: argparse.Namespace) -> int:
    from ophost_client import OpHostClientError

    try:
        with _client(args) as client:
            specs: list[OpSpec] = client.list_ops()
    except OpHostClientError as exc:
        return _rpc_failed(exc)
    if not specs:
        print("(no ops)")
        return 0
    rows = [
        (
            spec.name,
            _signature(spec),
            _first_line(spec.description),
        )
        for spec in specs
    ]
    _table(("OP", "SIGNATURE", "DESCRIPTION"), rows)
    return 0


def _signature(spec: OpSpec) -> str:
    inputs = ", ".join(f"{d.name}: {d.dagster_type.display_name}" for d in spec.inputs)
    outputs = ", ".join(f"{d.name}: {d.dagster_type.display_name}" for d in spec.outputs)
    return f"({inputs}) -> ({outputs})"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], out: TextIO | None = None) -> None:
    out = out if out is not None else sys.stdout
    all_rows = [tuple(header), *(tuple(r) for r in rows)]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(header))]
    for row in all_rows:
        line = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row))
        print(line.rstrip(), file=out)


# -- describe ------------------------------------------------------------------------------


def _describe(args: argparse.Namespace) -> int:
    from ophost_client import OpHostClientError

    try:
        with _client(args) as client:
            spec: OpSpec = client.get_op(args.op)
    except OpHostClientError as exc:
        return _rpc_failed(exc)
    print(f"op {spec.name}")
    if spec.description:
        for line in spec.description.strip().splitlines():
            print(f"  {line}")
    print("inputs:")
    if not spec.inputs:
        print("  (none)")
    for d in spec.inputs:
        print(f"  {d.name}: {d.dagster_type.display_name}{_input_note(d)}")
        if d.description:
            print(f"      {d.description}")
    print("outputs:")
    if not spec.outputs:
        print("  (none)")
    for o in spec.outputs:
        note = "" if o.is_required else " (optional)"
        print(f"  {o.name}: {o.dagster_type.display_name}{note}")
        if o.description:
            print(f"      {o.description}")
    print("config:")
    for line in _config_lines(spec.config, name=None, indent=1):
        print(line)
    policy = spec.retry_policy
    if policy is not None:
        parts = [f"max_retries={policy.max_retries}"]
        if policy.delay is not None:
            parts.append(f"delay={policy.delay:g}s")
        if policy.backoff is not None:
            parts.append(f"backoff={policy.backoff.value}")
        if policy.jitter is not None:
            parts.append(f"jitter={policy.jitter.value}")
        print(f"retry policy: {', '.join(parts)}")
    else:
        print("retry policy: none")
    if spec.tags:
        print("tags: " + ", ".join(f"{k}={v}" for k, v in sorted(spec.tags.items())))
    if spec.code_version:
        print(f"code version: {spec.code_version}")
    if spec.required_resource_keys:
        print("resources: " + ", ".join(sorted(spec.required_resource_keys)))
    return 0


def _input_note(d: InputDefinition) -> str:
    if d.dagster_type.is_nothing:
        return " (ordering only, no value)"
    if d.has_default_value:
        default = d.default_value
        shown = (
            "a default"
            if type(default).__name__ == "_RemoteDefault"
            else json.dumps(_jsonable(default))
        )
        return f" = {shown}"
    return " (required)"


def _config_lines(field: Field, *, name: str | None, indent: int) -> list[str]:
    pad = "  " * indent
    label = f"{name}: " if name is not None else ""
    notes: list[str] = []
    if field.default_provided:
        notes.append(f"default {json.dumps(_jsonable(field.default_value))}")
    elif field.is_required:
        notes.append("required")
    else:
        notes.append("optional")
    if field.description:
        notes.append(field.description)
    lines = [f"{pad}{label}{_config_type_name(field.config_type)}  ({'; '.join(notes)})"]
    fields = getattr(field.config_type, "fields", None)
    if isinstance(fields, Mapping):
        for child_name, child in fields.items():
            lines.extend(_config_lines(child, name=child_name, indent=indent + 1))
    return lines


def _config_type_name(config_type: ConfigType) -> str:
    if isinstance(config_type, Array):
        return f"[{_config_type_name(config_type.inner)}]"
    if isinstance(config_type, Noneable):
        return f"{_config_type_name(config_type.inner)}?"
    if isinstance(config_type, Map):
        key = _config_type_name(config_type.key_type)
        return f"{{{key}: {_config_type_name(config_type.inner_type)}}}"
    if isinstance(config_type, Enum):
        values = "|".join(v.config_value for v in config_type.values)
        return f"enum {config_type.name} ({values})"
    return str(config_type.kind.value).lower()


# -- run -----------------------------------------------------------------------------------


def _parse_run_args(args: argparse.Namespace) -> tuple[dict[str, object], object, dict[str, str]]:
    inputs: dict[str, object] = {}
    for item in args.input:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--input {item!r}: write NAME=JSON")
        try:
            inputs[name] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--input {name}: not valid JSON ({exc.msg})") from None
    config: object = None
    if args.config is not None:
        try:
            config = json.loads(args.config)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--config: not valid JSON ({exc.msg})") from None
    tags: dict[str, str] = {}
    for item in args.tag:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--tag {item!r}: write KEY=VALUE")
        tags[key] = value
    return inputs, config, tags


def _run(args: argparse.Namespace) -> int:
    try:
        return _run_and_print(args)
    except BrokenPipeError:
        # The reader went away (``ophost run ... | head``): stop quietly.
        sys.stderr.close()
        return 0


def _run_and_print(args: argparse.Namespace) -> int:
    from ophost_client import OpHostClientError

    try:
        inputs, config, tags = _parse_run_args(args)
    except ValueError as exc:
        print(f"ophost run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    printer = _JsonPrinter() if args.json else _TextPrinter(sys.stdout, sys.stderr)
    finished: ExecutionFinished | None = None
    try:
        with _client(args) as client:
            stream = client.execute(
                args.op, inputs, **({"config": config} if config is not None else {}), tags=tags
            )
            try:
                for event in stream:
                    printer.show(event)
                    if isinstance(event.body, ExecutionFinished):
                        finished = event.body
            except KeyboardInterrupt:
                print("ophost run: canceling...", file=sys.stderr)
                stream.cancel()
                for event in stream:
                    printer.show(event)
                    if isinstance(event.body, ExecutionFinished):
                        finished = event.body
    except OpHostClientError as exc:
        printer.close()
        return _rpc_failed(exc)
    printer.close()
    if finished is None:
        return EXIT_FAILED
    return 0 if finished.status is ExecutionStatus.SUCCEEDED else EXIT_FAILED


class _JsonPrinter:
    """One JSON object per event: the event's protobuf JSON form."""

    def show(self, event: ExecutionEvent) -> None:
        message = events_codec.to_proto(event)
        print(json.dumps(json_format.MessageToDict(message), sort_keys=False), flush=True)

    def close(self) -> None:
        return None


class _TextPrinter:
    """Readable lines, with a one-line progress display on a terminal."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err
        self.started = time.monotonic()
        self.count = 0
        self.progress = err.isatty()
        self._progress_shown = False

    def show(self, event: ExecutionEvent) -> None:
        self.count += 1
        line = _describe_event(event)
        if line is not None:
            self._clear()
            print(line, file=self.out, flush=True)
        if self.progress and not isinstance(event.body, ExecutionFinished):
            elapsed = time.monotonic() - self.started
            self.err.write(
                f"\r  running {event.op_name}: attempt {event.attempt}, "
                f"{self.count} events, {elapsed:.1f}s "
            )
            self.err.flush()
            self._progress_shown = True

    def _clear(self) -> None:
        if self._progress_shown:
            self.err.write("\r\033[K")
            self.err.flush()
            self._progress_shown = False

    def close(self) -> None:
        self._clear()


def _describe_event(event: ExecutionEvent) -> str | None:
    body = event.body
    prefix = f"[{event.sequence:>4}]"
    if isinstance(body, InputChecked):
        if body.type_check.success:
            return None
        return (
            f"{prefix} input {body.input_name} failed its type check: {body.type_check.description}"
        )
    if isinstance(body, OutputProduced):
        return f"{prefix} output {body.output_name} = {_short(body.value)}"
    if isinstance(body, LogMessage):
        return f"{prefix} {body.level.value:<8} {body.message}"
    if isinstance(body, AssetMaterialization):
        labels = ", ".join(e.label for e in body.metadata_entries)
        return f"{prefix} materialized {body.asset_key.to_user_string()}" + (
            f" ({labels})" if labels else ""
        )
    if isinstance(body, AssetObservation):
        labels = ", ".join(e.label for e in body.metadata_entries)
        return f"{prefix} observed {body.asset_key.to_user_string()}" + (
            f" ({labels})" if labels else ""
        )
    if isinstance(body, ExpectationResult):
        return f"{prefix} expectation {body.label}: {'passed' if body.success else 'FAILED'}"
    if isinstance(body, RetryScheduled):
        return (
            f"{prefix} retry: attempt {body.next_attempt} in {body.delay_seconds:.2f}s "
            f"after {body.error.type_name}: {body.error.message}"
        )
    if isinstance(body, StepFailed):
        head = f"{prefix} step failed ({body.error_source.value.lower()}): "
        text = f"{head}{body.error.type_name}: {body.error.message}"
        if body.user_failure is not None and body.user_failure.description:
            text += f"\n       {body.user_failure.description}"
        cause = body.error.cause
        while cause is not None:
            text += f"\n       caused by {cause.type_name}: {cause.message}"
            cause = cause.cause
        return text
    if isinstance(body, StepSucceeded):
        return f"{prefix} step succeeded in {body.duration_seconds:.3f}s"
    if isinstance(body, ExecutionFinished):
        return f"{prefix} execution {body.status.value.lower()}"
    return None


def _short(value: object, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _jsonable(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)
