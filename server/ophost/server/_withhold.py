"""What leaves the host of an op's errors: everything, or the kind and an error id.

An op's exception travels to clients as ``ErrorData``: its type, message, stack and
causes. Messages and stacks can say more than a caller should learn (paths, hosts,
queries, values, the code itself). With :class:`ErrorWithholder` the host keeps
them: each error becomes its type name (the failure kind, beside the failure event's
``error_source``), a message saying the details were withheld, and an ``error_id``;
its causes keep their type names only. The full error is logged (logger
``ophost.server``, level ERROR) with that id, the execution's id and the op's name, so
an operator can find it from what the client shows.

Kept as they are: a cancel's own failure (source ``INTERRUPT``: ophost's words, no
user data), and what an op raised deliberately for its caller in a ``Failure``
(the ``user_failure`` description and metadata).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import replace

from ophost.definitions import (
    ErrorData,
    ErrorSource,
    EventBody,
    ExecutionFinished,
    RetryScheduled,
    StepFailed,
)
from ophost.execution import EncodedEvent, EngineEvent

__all__ = ["WITHHELD_MESSAGE", "ErrorWithholder", "ExecutionErrors", "describe_error"]

_log = logging.getLogger("ophost.server")

# The message of a withheld error; {error_id} is filled in.
WITHHELD_MESSAGE = "details withheld by the host; its log has them under error id {error_id}"


class ErrorWithholder:
    """Withholds the details of op errors from clients, logging them under an error id."""

    def __init__(
        self,
        *,
        logger: logging.Logger = _log,
        new_id: Callable[[], str] = lambda: secrets.token_hex(8),
    ) -> None:
        self._logger = logger
        self._new_id = new_id

    def execution(self, execution_id: str, op_name: str) -> ExecutionErrors:
        """The errors of one execution (one id per distinct error)."""
        return ExecutionErrors(self, execution_id, op_name)

    def withhold(self, error: ErrorData, *, execution_id: str, op_name: str) -> ErrorData:
        """``error`` as clients get it; the whole of it is logged under a new id."""
        error_id = self._new_id()
        self._logger.error(
            "execution %s of op %s failed with error %s (withheld from clients):\n%s",
            execution_id,
            op_name,
            error_id,
            describe_error(error),
        )
        return _stripped(error, error_id)

    def message(self, text: str, *, what: str) -> str:
        """A message of ophost's own that quotes user code (``what`` says whose):
        logged under a new id, replaced by one saying where it is."""
        error_id = self._new_id()
        self._logger.error("%s (error %s, withheld from clients): %s", what, error_id, text)
        return f"{what}: " + WITHHELD_MESSAGE.format(error_id=error_id)


class ExecutionErrors:
    """Withholds the errors of one execution's events; the same error keeps its id."""

    def __init__(self, withholder: ErrorWithholder, execution_id: str, op_name: str) -> None:
        self._withholder = withholder
        self._execution_id = execution_id
        self._op_name = op_name
        self._seen: dict[ErrorData, ErrorData] = {}

    def error(self, error: ErrorData) -> ErrorData:
        found = self._seen.get(error)
        if found is None:
            found = self._seen[error] = self._withholder.withhold(
                error, execution_id=self._execution_id, op_name=self._op_name
            )
        return found

    def event(self, event: EngineEvent) -> EngineEvent:
        """The event as it may leave the host (the same event when nothing is held)."""
        if isinstance(event.body, EncodedEvent):
            return event  # user code's own events (a worker wrote them): no op errors
        body = self.body(event.body)
        if body is event.body:
            return event
        return EngineEvent(event.attempt, event.timestamp, body, event.encoded)

    def body(self, body: EventBody) -> EventBody:
        """The event body as it may leave the host (the same body when nothing is held)."""
        if isinstance(body, StepFailed):
            if body.error_source is ErrorSource.INTERRUPT:
                return body
            return replace(body, error=self.error(body.error))
        if isinstance(body, RetryScheduled):
            return replace(body, error=self.error(body.error))
        if isinstance(body, ExecutionFinished) and body.error is not None:
            return replace(body, error=self.error(body.error))
        return body


def _stripped(error: ErrorData, error_id: str) -> ErrorData:
    return ErrorData(
        type_name=error.type_name,
        message=WITHHELD_MESSAGE.format(error_id=error_id),
        cause=_kind_only(error.cause),
        context=_kind_only(error.context),
        error_id=error_id,
    )


def _kind_only(error: ErrorData | None) -> ErrorData | None:
    if error is None:
        return None
    return ErrorData(
        type_name=error.type_name,
        message="",
        cause=_kind_only(error.cause),
        context=_kind_only(error.context),
    )


def describe_error(error: ErrorData) -> str:
    """The error as Python prints a traceback: causes first, each with its stack."""
    lines: list[str] = []
    _describe(error, lines)
    return "\n".join(lines)


def _describe(error: ErrorData, lines: list[str]) -> None:
    if error.cause is not None:
        _describe(error.cause, lines)
        lines += ["", "The above exception was the direct cause of the following exception:", ""]
    elif error.context is not None:
        _describe(error.context, lines)
        lines += ["", "During handling of the above exception, another exception occurred:", ""]
    if error.stack:
        lines.append("Traceback (most recent call last):")
        lines.extend(frame.rstrip("\n") for frame in error.stack)
    lines.append(f"{error.type_name}: {error.message}" if error.message else error.type_name)
