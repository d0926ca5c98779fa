"""``ophost executions``: list, show, follow and cancel the executions a server keeps.

::

    ophost executions list ADDRESS [--op NAME] [--state STATE] [--since TIME]
                                   [--until TIME] [--limit N] [--page-size N] [--json]
    ophost executions show ADDRESS ID [--json]
    ophost executions events ADDRESS ID [--after SEQ] [--no-follow] [--json]
    ophost executions cancel ADDRESS ID [--reason TEXT] [--json]

Like ``ops``, ``describe`` and ``run``, these commands go through :mod:`ophost_client`.
``--json`` prints the protobuf JSON form of the wire messages, one object per line:
``ophost.v1.Execution`` for ``list``, ``show`` and ``cancel``, ``ophost.v1.Event`` for
``events`` (the form ``ophost run --json`` prints). Times are printed in UTC, and a
``--since``/``--until`` time without an offset is read as UTC too, so a time copied
from the output means the same thing when typed back.

Exit codes: 0 success (``events`` too, whatever the execution's outcome: ``show``
tells it), 2 a usage error, 3 the server refused the request or could not be
reached (an unknown execution id included). A closed pipe (``| head``) ends a command
quietly with 0.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pprint
import re
import sys
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format

from ophost import AssetMaterialization, AssetObservation, ExpectationResult
from ophost.cli._client_commands import (
    EXIT_RPC,
    _client,
    _JsonPrinter,
    _rpc_failed,
    _table,
    add_connection_options,
)
from ophost.codec import events as events_codec
from ophost.codec import failures, values
from ophost.execution import (
    ErrorData,
    ExecutionEvent,
    ExecutionStarted,
    InputChecked,
    LogMessage,
    OutputProduced,
    RetryScheduled,
    StepFailed,
    StepRestarted,
    StepStarted,
    StepSucceeded,
)
from ophost.v1 import execution_pb2

if TYPE_CHECKING:
    from ophost_client import ExecutionInfo

__all__ = ["add_execution_commands", "parse_time"]

Handler = Callable[[argparse.Namespace], int]

# The state names ``--state`` accepts: the wire enum's, without their prefix.
_STATES = tuple(
    name.removeprefix("EXECUTION_STATE_")
    for name, _ in execution_pb2.ExecutionState.items()
    if name != "EXECUTION_STATE_UNSPECIFIED"
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGO = re.compile(r"(?:\d+(?:\.\d*)?[smhdw])+")
_AGO_PART = re.compile(r"(\d+(?:\.\d*)?)([smhdw])")
# The longest essentials of one event line, and of one output in ``show``.
_EVENT_TEXT_LIMIT = 300
_OUTPUT_TEXT_LIMIT = 4000


def add_execution_commands(subparsers: Any) -> None:
    """Register ``executions`` and its subcommands on the ``ophost`` argument parser."""
    executions = subparsers.add_parser(
        "executions",
        help="list, show, follow and cancel a server's executions",
        description="Inspect the executions a server keeps (running ones, and finished ones "
        "for its retention period), follow their events, cancel them.",
    )
    commands = executions.add_subparsers(title="commands", metavar="COMMAND", required=True)

    listing = commands.add_parser(
        "list",
        help="the executions, newest first",
        description="List the executions, newest first, in a table (or as JSON lines).",
    )
    listing.add_argument("address", help="host:port of the server")
    add_connection_options(listing)
    listing.add_argument("--op", metavar="NAME", help="only executions of this op")
    listing.add_argument(
        "--state",
        dest="states",
        type=_states,
        action="extend",
        default=[],
        metavar="STATE",
        help="only executions in this state: pending, running, cancel_requested, succeeded, "
        "failed or canceled, in any case; repeat it or separate with commas for several",
    )
    listing.add_argument(
        "--since",
        type=parse_time,
        metavar="TIME",
        help="only executions created at or after TIME: ISO-8601 (2026-12-06T10:00:00Z; UTC "
        "without an offset) or a span ago (30s, 10m, 2h, 3d, 1w, 1h30m)",
    )
    listing.add_argument(
        "--until",
        type=parse_time,
        metavar="TIME",
        help="only executions created before TIME (same forms as --since)",
    )
    listing.add_argument(
        "--limit",
        type=_count,
        default=50,
        metavar="N",
        help="list at most N executions; 0 lists every one (%(default)s)",
    )
    listing.add_argument(
        "--page-size",
        type=_count,
        default=0,
        metavar="N",
        help="executions per ListExecutions call; 0 leaves it to the server (%(default)s)",
    )
    listing.add_argument("--json", action="store_true", help="one JSON object per execution")
    listing.set_defaults(handler=_quiet_on_closed_pipe(_list))

    show = commands.add_parser(
        "show",
        help="one execution: state, times, outputs, error",
        description="Show one execution: its state, attempt, times, outputs and error.",
    )
    show.add_argument("address", help="host:port of the server")
    add_connection_options(show)
    show.add_argument("id", help="the execution's id")
    show.add_argument("--json", action="store_true", help="the execution as one JSON object")
    show.set_defaults(handler=_quiet_on_closed_pipe(_show))

    events = commands.add_parser(
        "events",
        help="an execution's events: those stored, then live ones to the end",
        description="Print an execution's stored events, then follow new ones until the "
        "execution finishes (with --no-follow, stop after the stored ones).",
    )
    events.add_argument("address", help="host:port of the server")
    add_connection_options(events)
    events.add_argument("id", help="the execution's id")
    events.add_argument(
        "--after",
        type=_count,
        default=0,
        metavar="SEQ",
        help="start after this event sequence (%(default)s: from the first event)",
    )
    events.add_argument(
        "--no-follow",
        dest="follow",
        action="store_false",
        help="stop after the events stored when the command starts",
    )
    events.add_argument("--json", action="store_true", help="one JSON object per event")
    events.set_defaults(handler=_quiet_on_closed_pipe(_events))

    cancel = commands.add_parser(
        "cancel",
        help="ask for an execution to be canceled",
        description="Ask for an execution to be canceled and print its state afterwards "
        "(usually cancel_requested; a finished execution is left as it is).",
    )
    cancel.add_argument("address", help="host:port of the server")
    add_connection_options(cancel)
    cancel.add_argument("id", help="the execution's id")
    cancel.add_argument("--reason", default="", metavar="TEXT", help="why, for the server's log")
    cancel.add_argument("--json", action="store_true", help="the execution as one JSON object")
    cancel.set_defaults(handler=_quiet_on_closed_pipe(_cancel))


# -- argument types ------------------------------------------------------------------------


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not 0 or more")
    return value


def _states(text: str) -> list[str]:
    found: list[str] = []
    for part in text.split(","):
        name = part.strip().upper().replace("-", "_").replace("CANCELLED", "CANCELED")
        if name not in _STATES:
            known = ", ".join(s.lower() for s in _STATES)
            raise argparse.ArgumentTypeError(f"{part.strip()!r} is not a state (one of {known})")
        found.append(name)
    return found


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """A ``--since``/``--until`` value as an aware UTC datetime.

    Either ISO-8601 (``2026-12-06T10:00:00Z``, ``2026-12-06 10:00``, ``2026-12-06``;
    UTC when it has no offset) or a span before ``now`` (default: the current time)
    made of numbers with units ``s``, ``m``, ``h``, ``d``, ``w`` (``90s``, ``1h30m``).
    """
    stripped = text.strip()
    if _AGO.fullmatch(stripped.lower()):
        seconds = sum(
            float(number) * _UNIT_SECONDS[unit]
            for number, unit in _AGO_PART.findall(stripped.lower())
        )
        try:
            return (now or datetime.now(timezone.utc)) - timedelta(seconds=seconds)
        except OverflowError:
            raise argparse.ArgumentTypeError(f"{text!r} is too long ago") from None
    iso = stripped[:-1] + "+00:00" if stripped.endswith(("z", "Z")) else stripped
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: write ISO-8601 (2026-12-06T10:00:00Z) "
            "or a span ago (10m, 2h, 3d)"
        ) from None
    if when.tzinfo is None:
        return when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


# -- shared --------------------------------------------------------------------------------


def _quiet_on_closed_pipe(handler: Handler) -> Handler:
    """Run ``handler``; if the reader of standard output went away, stop quietly with 0."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            code = handler(args)
            sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        except BrokenPipeError:
            # Send whatever is still buffered to /dev/null, so that the flush at exit
            # does not fail again and print a traceback.
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except (OSError, ValueError):
                pass
            return 0
        return code

    return run


def _failed(exc: BaseException, args: argparse.Namespace) -> int:
    """Print why a call failed, in one line where it can, and return the exit code."""
    import grpc

    from ophost_client import OpHostRpcError

    execution_id = getattr(args, "id", None)
    if isinstance(exc, OpHostRpcError):
        if exc.reason == "EXECUTION_NOT_FOUND" and execution_id is not None:
            print(
                f"ophost: no execution with id {execution_id!r} on {args.address} "
                "(it never existed, or the server no longer keeps it)",
                file=sys.stderr,
            )
            return EXIT_RPC
        if exc.code is grpc.StatusCode.UNAVAILABLE and not exc.reason:
            print(f"ophost: cannot reach {args.address}: {exc.message}", file=sys.stderr)
            return EXIT_RPC
    return _rpc_failed(exc)


def _utc_text(when: datetime | None, *, millis: bool = False) -> str:
    if when is None:
        return "-"
    when = when.astimezone(timezone.utc)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if millis:
        text += f".{when.microsecond // 1000:03d}"
    return text + "Z"


def _duration_text(seconds: float) -> str:
    if seconds < 0.01:
        return f"{seconds * 1000:.1f}ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _duration(info: ExecutionInfo) -> str:
    if info.start_time is None or info.finish_time is None:
        return "-"
    return _duration_text((info.finish_time - info.start_time).total_seconds())


def _state_word(info: ExecutionInfo) -> str:
    return info.state.value.lower()


def _execution_message(info: ExecutionInfo) -> execution_pb2.Execution:
    """The ``ophost.v1.Execution`` the client decoded ``info`` from, for ``--json``."""
    from ophost_client import ChunkedOutput

    message = execution_pb2.Execution(
        id=info.id,
        op_name=info.op_name,
        request_id=info.request_id,
        state=info.state.to_proto(),
        attempt=info.attempt,
        last_sequence=info.last_sequence,
        tags=info.tags,
    )
    for name, value in info.outputs.items():
        named = message.outputs.add(name=name)
        if isinstance(value, ChunkedOutput):
            ref = named.value.chunked_value
            ref.value_id = value.value_id
            ref.total_size_bytes = value.total_size_bytes
            ref.chunk_count = value.chunk_count
        else:
            named.value.CopyFrom(values.to_proto(value, path=f"outputs.{name}"))
    if info.error is not None:
        message.error.CopyFrom(failures.to_proto(info.error))
    for stamp, when in (
        (message.create_time, info.create_time),
        (message.start_time, info.start_time),
        (message.finish_time, info.finish_time),
    ):
        if when is not None:
            stamp.FromDatetime(when)
    return message


def _print_json(info: ExecutionInfo) -> None:
    print(json.dumps(json_format.MessageToDict(_execution_message(info))), flush=True)


def _one_line(text: str, limit: int = _EVENT_TEXT_LIMIT) -> str:
    lines = text.strip().splitlines() or [""]
    line = lines[0] + (" ..." if len(lines) > 1 else "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


# -- list ----------------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    from ophost_client import OpHostClientError

    if args.since is not None and args.until is not None and args.since >= args.until:
        print("ophost executions list: --since must be before --until", file=sys.stderr)
        return 2
    try:
        with _client(args) as client:
            found: list[ExecutionInfo] = client.list_executions(
                args.op,
                args.states,
                created_after=args.since,
                created_before=args.until,
                limit=args.limit or None,
                page_size=args.page_size,
            )
    except OpHostClientError as exc:
        return _failed(exc, args)
    if args.json:
        for info in found:
            _print_json(info)
        return 0
    if not found:
        print("(no executions)")
        return 0
    rows = [
        (
            info.id,
            info.op_name,
            _state_word(info),
            str(info.attempt),
            _utc_text(info.create_time),
            _duration(info),
        )
        for info in found
    ]
    _table(("ID", "OP", "STATE", "ATTEMPT", "CREATED", "DURATION"), rows)
    return 0


# -- show ----------------------------------------------------------------------------------


def _show(args: argparse.Namespace) -> int:
    from ophost_client import OpHostClientError

    try:
        with _client(args) as client:
            info: ExecutionInfo = client.get_execution(args.id)
    except OpHostClientError as exc:
        return _failed(exc, args)
    if args.json:
        _print_json(info)
        return 0
    for line in _describe_execution(info):
        print(line)
    return 0


def _describe_execution(info: ExecutionInfo) -> list[str]:
    from ophost_client import ChunkedOutput

    fields: list[tuple[str, str]] = [
        ("execution", info.id),
        ("op", info.op_name),
        ("state", _state_word(info)),
        ("attempt", str(info.attempt)),
    ]
    if info.request_id:
        fields.append(("request id", info.request_id))
    if info.tags:
        fields.append(("tags", ", ".join(f"{k}={v}" for k, v in sorted(info.tags.items()))))
    fields += [
        ("created", _utc_text(info.create_time, millis=True)),
        ("started", _utc_text(info.start_time, millis=True)),
        ("finished", _utc_text(info.finish_time, millis=True)),
        ("duration", _duration(info)),
        ("events", str(info.last_sequence)),
    ]
    width = max(len(name) for name, _ in fields) + 2
    lines = [f"{name + ':':<{width}}{value}" for name, value in fields]
    lines.append("outputs:" if info.outputs else f"{'outputs:':<{width}}(none)")
    for name, value in info.outputs.items():
        if isinstance(value, ChunkedOutput):
            shown = (
                f"<{value.total_size_bytes} bytes, sent in {value.chunk_count} chunks: "
                "`ophost executions events` prints it>"
            )
        else:
            shown = pprint.pformat(value, width=88, compact=True, sort_dicts=False)
            if len(shown) > _OUTPUT_TEXT_LIMIT:
                shown = f"{shown[:_OUTPUT_TEXT_LIMIT]}... ({len(shown)} characters in all)"
        head, *rest = shown.splitlines() or [""]
        lines.append(f"  {name} = {head}")
        lines.extend(f"  {' ' * len(name)}   {line}" for line in rest)
    if info.error is not None:
        error = info.error
        lines.append(f"{'error:':<{width}}{error.type_name}: {_one_line(error.message)}")
        lines.extend(f"{'':<{width}}caused by {text}" for text in _causes(error))
    return lines


def _causes(error: ErrorData) -> Iterable[str]:
    cause = error.cause if error.cause is not None else error.context
    while cause is not None:
        yield f"{cause.type_name}: {_one_line(cause.message)}"
        cause = cause.cause if cause.cause is not None else cause.context


# -- events --------------------------------------------------------------------------------


def _events(args: argparse.Namespace) -> int:
    from ophost_client import OpHostClientError

    printer = _JsonPrinter() if args.json else None
    try:
        with _client(args) as client:
            # Asked first in any case: an unknown id or an unreachable server is then
            # one clear error, rather than a stream that keeps trying to re-attach.
            stored: int = client.get_execution(args.id).last_sequence
            bound = None if args.follow else stored
            if bound is not None and bound <= args.after:
                return 0
            with client.attach(args.id, args.after) as stream:
                for event in stream:
                    if printer is not None:
                        printer.show(event)
                    else:
                        print(_event_line(event), flush=True)
                    if bound is not None and event.sequence >= bound:
                        break
    except OpHostClientError as exc:
        return _failed(exc, args)
    return 0


def _event_line(event: ExecutionEvent) -> str:
    kind = events_codec.to_proto(event).WhichOneof("kind") or "unknown"
    when = _utc_text(datetime.fromtimestamp(event.timestamp, timezone.utc), millis=True)
    essentials = _one_line(_essentials(event))
    return f"{event.sequence:>5}  {when}  {kind:<21}  {essentials}".rstrip()


def _essentials(event: ExecutionEvent) -> str:
    body = event.body
    if isinstance(body, ExecutionStarted):
        return f"request id {body.request_id}" if body.request_id else ""
    if isinstance(body, (StepStarted, StepRestarted)):
        return f"attempt {event.attempt}"
    if isinstance(body, InputChecked):
        check = body.type_check
        verdict = "passed" if check.success else f"failed: {check.description or ''}"
        return f"{body.input_name} {verdict}"
    if isinstance(body, OutputProduced):
        return f"{body.output_name} = {_one_line(repr(body.value))}"
    if isinstance(body, LogMessage):
        return f"{body.level.value} {body.message}"
    if isinstance(body, (AssetMaterialization, AssetObservation)):
        labels = ", ".join(e.label for e in body.metadata_entries)
        return body.asset_key.to_user_string() + (f" ({labels})" if labels else "")
    if isinstance(body, ExpectationResult):
        return f"{body.label}: {'passed' if body.success else 'FAILED'}"
    if isinstance(body, RetryScheduled):
        return (
            f"attempt {body.next_attempt} in {body.delay_seconds:.2f}s after "
            f"{body.error.type_name}: {body.error.message}"
        )
    if isinstance(body, StepFailed):
        retry = ", will retry" if body.will_retry else ""
        return (
            f"({body.error_source.value.lower()}{retry}) "
            f"{body.error.type_name}: {body.error.message}"
        )
    if isinstance(body, StepSucceeded):
        return f"in {_duration_text(body.duration_seconds)}"
    # What is left is the terminal event.
    text = body.status.value.lower()
    if body.cancel_outcome is not None:
        text += f" (cancel: {body.cancel_outcome.value.lower()})"
    if body.error is not None:
        text += f": {body.error.type_name}: {body.error.message}"
    return text


# -- cancel --------------------------------------------------------------------------------


def _cancel(args: argparse.Namespace) -> int:
    from ophost_client import OpHostClientError

    try:
        with _client(args) as client:
            info: ExecutionInfo = client.cancel(args.id, reason=args.reason)
    except OpHostClientError as exc:
        return _failed(exc, args)
    if args.json:
        _print_json(info)
    else:
        print(f"execution {info.id}: {_state_word(info)}")
    return 0
