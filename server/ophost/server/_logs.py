"""The host's log lines: which execution each is about, op log messages, text or JSON.

Every log record about an execution carries three attributes: ``execution_id``,
``op_name`` and ``attempt`` (the attempt number as events carry it: 0 for the first
try). Code that logs about an execution it is not running passes them with
``extra=execution_fields(...)``; code running *in* an execution (the host's task for
it, and the op body's thread or task, which start in a copy of that context) gets them
from a context variable, which :class:`ExecutionFieldsFilter` copies onto each
record. With tracing on, the execution's ``trace_id`` and ``span_id`` come along.

:class:`LogObserver` is the host observer that writes an execution's story as log
lines (logger ``ophost.execution``: started and attempts at DEBUG, retries and the
end at INFO) and passes the op's own ``context.log`` messages on to logger
``ophost.op`` at their level, stamped with the time the op logged them (whether the
body ran in a thread of the host or in a worker process, which sends them as events).

:func:`configure_logging` is what ``ophost serve --log-format --log-level`` calls: one
handler on the root logger, writing :class:`TextFormatter` or :class:`JsonFormatter`
lines to stderr. A library user of :class:`~ophost.server.OpHostServer` configures
logging as they like; the filter and formatters are theirs to use.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TextIO

from ophost.definitions import (
    ErrorData,
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    LogLevel,
    LogMessage,
    RetryScheduled,
    StepRestarted,
    StepStarted,
)
from ophost.execution import EncodedEvent, EngineEvent
from ophost.server._observe import ExecutionWatch
from ophost.v1 import event_pb2

__all__ = [
    "LOG_FORMAT_ENV",
    "LOG_LEVEL_ENV",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "ExecutionFieldsFilter",
    "JsonFormatter",
    "LogFields",
    "LogObserver",
    "TextFormatter",
    "configure_from_environment",
    "configure_logging",
    "current_fields",
    "execution_context",
    "execution_fields",
]

LOG_FORMATS = ("text", "json")
# ``ophost serve`` passes its log options to its worker processes in these.
LOG_FORMAT_ENV = "OPHOST_LOG_FORMAT"
LOG_LEVEL_ENV = "OPHOST_LOG_LEVEL"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

# The protocol's log levels (ophost.v1.LogLevel), for messages a worker process sent.
_WIRE_LEVELS = {
    event_pb2.LOG_LEVEL_DEBUG: logging.DEBUG,
    event_pb2.LOG_LEVEL_INFO: logging.INFO,
    event_pb2.LOG_LEVEL_WARNING: logging.WARNING,
    event_pb2.LOG_LEVEL_ERROR: logging.ERROR,
    event_pb2.LOG_LEVEL_CRITICAL: logging.CRITICAL,
}
_LEVELS = {
    LogLevel.DEBUG: logging.DEBUG,
    LogLevel.INFO: logging.INFO,
    LogLevel.WARNING: logging.WARNING,
    LogLevel.ERROR: logging.ERROR,
    LogLevel.CRITICAL: logging.CRITICAL,
}
# Error messages in the host's own lines are cut to this many characters (the event
# keeps the whole message and stack).
_MAX_ERROR_TEXT = 500


class LogFields:
    """The execution a log line is about (mutable: the attempt moves on)."""

    __slots__ = ("attempt", "execution_id", "op_name", "span_id", "trace_id")

    def __init__(self, execution_id: str, op_name: str, attempt: int = 0) -> None:
        self.execution_id = execution_id
        self.op_name = op_name
        self.attempt = attempt
        self.trace_id = ""
        self.span_id = ""


_CURRENT: contextvars.ContextVar[LogFields | None] = contextvars.ContextVar(
    "ophost_log_fields", default=None
)


def current_fields() -> LogFields | None:
    """The fields of the execution the running code belongs to, if any."""
    return _CURRENT.get()


@contextlib.contextmanager
def execution_context(execution_id: str, op_name: str, attempt: int) -> Iterator[LogFields]:
    """Make an attempt's fields current for the block (a worker process starting one)."""
    fields = LogFields(execution_id, op_name, attempt)
    token = _CURRENT.set(fields)
    try:
        yield fields
    finally:
        _CURRENT.reset(token)


def execution_fields(execution_id: str, op_name: str, attempt: int) -> dict[str, object]:
    """``extra=`` for a log call about an execution from outside it."""
    return {"execution_id": execution_id, "op_name": op_name, "attempt": attempt}


class ExecutionFieldsFilter(logging.Filter):
    """Adds the current execution's fields to records that do not carry their own."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "execution_id"):
            fields = _CURRENT.get()
            if fields is not None:
                record.execution_id = fields.execution_id
                record.op_name = fields.op_name
                record.attempt = fields.attempt
                if fields.trace_id:
                    record.trace_id = fields.trace_id
                    record.span_id = fields.span_id
        return True


def _time(record: logging.LogRecord) -> str:
    stamp = datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


# The record attributes that become fields of a line, in order, by their field name.
_FIELDS = (
    ("execution_id", "execution_id"),
    ("op_name", "op"),
    ("attempt", "attempt"),
    ("op_logger", "op_logger"),
    ("trace_id", "trace_id"),
    ("span_id", "span_id"),
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line.

    Fields: ``time`` (UTC, ISO 8601, milliseconds), ``level``, ``logger``,
    ``message``, ``pid``, then when known ``execution_id``, ``op``, ``attempt``,
    ``op_logger`` (the logger name an op used), ``trace_id`` and ``span_id``, and
    ``exception`` (the formatted traceback).
    """

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for attribute, name in _FIELDS:
            value = getattr(record, attribute, None)
            if value is not None and value != "":
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``2026-01-02T03:04:05.678Z INFO ophost.op [execution=… op=add attempt=0] message``."""

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(
            f"{name}={value}"
            for attribute, name in _FIELDS
            if (value := getattr(record, attribute, None)) is not None and value != ""
        )
        ids = ids.replace("execution_id=", "execution=", 1)
        text = f"{_time(record)} {record.levelname} {record.name}"
        if ids:
            text += f" [{ids}]"
        text += f" {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return text


def configure_logging(
    log_format: str = "text", level: str = "warning", stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record at ``level`` or above to ``stream`` (stderr), as ``log_format``.

    Replaces the root logger's handlers (this is for the ``ophost serve`` process).
    The ``grpc`` loggers stay at ``info`` or above even at ``debug``.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}: {log_format!r}")
    if level.lower() not in LOG_LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}: {level!r}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ExecutionFieldsFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # grpc's own debug lines (one per call) would bury the host's: info at most.
    logging.getLogger("grpc").setLevel(max(logging.INFO, root.level))
    return handler


def configure_from_environment() -> bool:
    """:func:`configure_logging` as ``$OPHOST_LOG_FORMAT`` and ``$OPHOST_LOG_LEVEL`` say.

    What a worker process of ``ophost serve`` does, so that its lines (an op body's
    own ``logging`` calls) look like the host's. False, and nothing done, without them.
    """
    log_format = os.environ.get(LOG_FORMAT_ENV)
    level = os.environ.get(LOG_LEVEL_ENV)
    if not log_format and not level:
        return False
    try:
        configure_logging(log_format or "text", level or "warning")
    except ValueError:
        return False
    return True


def _error_text(error: ErrorData | None) -> str:
    if error is None:
        return ""
    message = error.message.strip().splitlines()[0] if error.message.strip() else ""
    if len(message) > _MAX_ERROR_TEXT:
        message = message[:_MAX_ERROR_TEXT] + "..."
    return f"{error.type_name}: {message}" if message else error.type_name


class _LogWatch:
    __slots__ = ("_fields", "_started_at")

    def __init__(self, fields: LogFields) -> None:
        self._fields = fields
        self._started_at: float | None = None

    def attempt(self, attempt: int) -> contextlib.AbstractContextManager[object]:
        self._fields.attempt = attempt
        return contextlib.nullcontext()

    def events(self, batch: Sequence[EngineEvent]) -> None:
        fields = self._fields
        for event in batch:
            body = event.body
            kind = type(body)
            if kind is LogMessage:
                assert isinstance(body, LogMessage)
                _op_message(fields, event.attempt, event.timestamp, body)
            elif kind is EncodedEvent:  # from a worker process: already serialized
                assert isinstance(body, EncodedEvent)
                if body.kind == "log" and _OP_LOG.isEnabledFor(logging.CRITICAL):
                    _encoded_op_message(fields, event.attempt, body.tail)
            elif kind is StepStarted or kind is StepRestarted:
                fields.attempt = event.attempt
                if _EXECUTION_LOG.isEnabledFor(logging.DEBUG):
                    _EXECUTION_LOG.debug("attempt %d started", event.attempt)
            elif kind is ExecutionStarted:
                self._started_at = event.timestamp
                if _EXECUTION_LOG.isEnabledFor(logging.DEBUG):
                    _EXECUTION_LOG.debug("execution started")
            elif kind is RetryScheduled:
                assert isinstance(body, RetryScheduled)
                _EXECUTION_LOG.info(
                    "attempt %d failed; attempt %d runs in %gs: %s",
                    body.failed_attempt,
                    body.next_attempt,
                    body.delay_seconds,
                    _error_text(body.error),
                )
            elif kind is ExecutionFinished:
                assert isinstance(body, ExecutionFinished)
                self._finished(event, body)

    def _finished(self, event: EngineEvent, body: ExecutionFinished) -> None:
        if not _EXECUTION_LOG.isEnabledFor(logging.INFO):
            return
        took = ""
        if self._started_at is not None:
            took = f" in {max(0.0, event.timestamp - self._started_at):.3f}s"
        status = body.status.value.lower()
        if body.status is ExecutionStatus.FAILED:
            _EXECUTION_LOG.info("execution %s%s: %s", status, took, _error_text(body.error))
        elif body.status is ExecutionStatus.CANCELED and body.cancel_outcome is not None:
            outcome = body.cancel_outcome.value.lower().replace("_", " ")
            _EXECUTION_LOG.info("execution %s%s (%s)", status, took, outcome)
        else:
            _EXECUTION_LOG.info("execution %s%s", status, took)

    def close(self) -> None:
        pass


_EXECUTION_LOG = logging.getLogger("ophost.execution")
_OP_LOG = logging.getLogger("ophost.op")


def _op_message(fields: LogFields, attempt: int, timestamp: float, body: LogMessage) -> None:
    """Pass an op's ``context.log`` line on."""
    _op_record(fields, attempt, timestamp, _LEVELS[body.level], body.message, body.logger_name)


def _encoded_op_message(fields: LogFields, attempt: int, tail: bytes) -> None:
    """The same for a line a worker process sent, as the event it wrote."""
    event = event_pb2.Event.FromString(tail)
    log = event.log
    timestamp = event.timestamp.seconds + event.timestamp.nanos / 1e9
    level = _WIRE_LEVELS.get(log.level, logging.INFO)
    _op_record(fields, attempt, timestamp, level, log.message, log.logger_name)


def _op_record(
    fields: LogFields, attempt: int, timestamp: float, level: int, message: str, logger: str
) -> None:
    """Log an op's message at its level, stamped with the time the op logged it."""
    if not _OP_LOG.isEnabledFor(level):
        return
    extra: Mapping[str, object] = {
        "execution_id": fields.execution_id,
        "op_name": fields.op_name,
        "attempt": attempt,
        "op_logger": logger,
    }
    record = _OP_LOG.makeRecord(_OP_LOG.name, level, "", 0, message, (), None, extra=extra)
    record.created = timestamp
    record.msecs = (timestamp - int(timestamp)) * 1000
    if fields.trace_id:
        record.trace_id = fields.trace_id
        record.span_id = fields.span_id
    _OP_LOG.handle(record)


class LogObserver:
    """Host observer: each execution's fields for its log lines, and its story as lines."""

    __slots__ = ()

    def execution(self, execution_id: str, op_name: str) -> ExecutionWatch:
        fields = LogFields(execution_id, op_name)
        _CURRENT.set(fields)  # in the execution's own task: its lines, and its attempts'
        return _LogWatch(fields)

    def streamed(self, method: str, events: int, size: int) -> None:
        pass
