"""The errors the Python client raises.

The tree::

    OpHostClientError
    ├── OpHostRpcError          an RPC failed: the status code, message and the
    │                           google.rpc details the server attached (reason,
    │                           field violations, retry delay); also transport
    │                           failures (UNAVAILABLE, DEADLINE_EXCEEDED, ...)
    ├── ExecutionError          the execution ran, and did not succeed
    │   ├── OpFailedError       the op failed (its StepFailed and ExecutionFinished events)
    │   └── ExecutionCanceledError
    │                           the execution was canceled
    ├── StreamBrokenError       an event stream broke and re-attaching gave up
    ├── ClientClosedError       the client was closed before or during the call
    └── ProtocolError           the server broke the protocol (a gap in the
                                sequences, a message out of order)

A value that cannot be put on the wire (a ``datetime`` input, say) raises ophost's own
:class:`ophost.CodecError`, naming the path (``inputs.x``), before anything is sent.

Op failures and RPC failures stay apart: an op that raises is an *event* on a stream
that ends with status OK, and only the helpers that wait for a result
(``call``, ``ExecutionStream.result``) turn it into :class:`OpFailedError`. Every
RPC problem is an :class:`OpHostRpcError` (never a raw ``grpc.aio.AioRpcError``),
raised ``from`` the grpc error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import grpc

from ophost.definitions import (
    ErrorData,
    ExecutionEvent,
    ExecutionFinished,
    StepFailed,
    UserFailure,
)

__all__ = [
    "ClientClosedError",
    "ExecutionCanceledError",
    "ExecutionError",
    "OpFailedError",
    "OpHostClientError",
    "OpHostRpcError",
    "ProtocolError",
    "StreamBrokenError",
]


class OpHostClientError(Exception):
    """Root of every error the ophost client raises on purpose."""


class OpHostRpcError(OpHostClientError):
    """An RPC failed with a status code.

    ``reason`` and ``domain`` come from the ``google.rpc.ErrorInfo`` an ophost server
    attaches (``OP_NOT_FOUND``, ``INVALID_INPUT``, ...; empty for errors raised by the
    transport), ``metadata`` is its metadata, ``violations`` the ``BadRequest`` field
    violations as ``(field, description)`` pairs (``("inputs.b", "...")``) and
    ``retry_delay`` the ``RetryInfo`` delay in seconds, when the server gave one.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str = "",
        domain: str = "",
        metadata: Mapping[str, str] | None = None,
        violations: Sequence[tuple[str, str]] = (),
        retry_delay: float | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.metadata = dict(metadata or {})
        self.violations = list(violations)
        self.retry_delay = retry_delay
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"{self.code.name}: {self.message}" if self.message else self.code.name
        if self.reason:
            text += f" [{self.reason}]"
        for field, description in self.violations:
            text += f"\n  {field}: {description}"
        return text

    @property
    def fields(self) -> list[str]:
        """The paths of the field violations (``inputs.b``, ``config.db.port``)."""
        return [field for field, _ in self.violations]


class ExecutionError(OpHostClientError):
    """An execution finished without succeeding; ``finished`` is its terminal event."""

    def __init__(self, message: str, *, execution_id: str, finished: ExecutionEvent) -> None:
        super().__init__(message)
        self.execution_id = execution_id
        self.finished = finished

    @property
    def finished_body(self) -> ExecutionFinished:
        body = self.finished.body
        assert isinstance(body, ExecutionFinished)
        return body


class OpFailedError(ExecutionError):
    """The op failed (after its retries, if it had any).

    ``failure`` is the last ``StepFailed`` event (``None`` if the stream showed none,
    for example when attached after it), ``finished`` the ``ExecutionFinished`` one.
    ``error`` is the op's exception as data: ``error.type_name``, ``error.message``,
    ``error.stack`` and its causes. ``user_failure`` is set when the op raised
    ``Failure``: its description and metadata.
    """

    def __init__(
        self, execution_id: str, failure: ExecutionEvent | None, finished: ExecutionEvent
    ) -> None:
        self.failure = failure
        step = failure.body if failure is not None else None
        error = step.error if isinstance(step, StepFailed) else None
        if error is None and isinstance(finished.body, ExecutionFinished):
            error = finished.body.error
        self.error: ErrorData | None = error
        self.user_failure: UserFailure | None = (
            step.user_failure if isinstance(step, StepFailed) else None
        )
        what = f"execution {execution_id} of op {finished.op_name!r} failed"
        if error is not None:
            what += f": {error.type_name}: {error.message}"
        description = self.user_failure.description if self.user_failure is not None else None
        if description is not None and (error is None or description != error.message):
            what += f" ({description})"
        super().__init__(what, execution_id=execution_id, finished=finished)


class ExecutionCanceledError(ExecutionError):
    """The execution was canceled; ``cancel_outcome`` says how (see the protocol, 10.4)."""

    def __init__(self, execution_id: str, finished: ExecutionEvent) -> None:
        body = finished.body
        outcome = body.cancel_outcome if isinstance(body, ExecutionFinished) else None
        self.cancel_outcome = outcome
        how = f" ({outcome.value.lower()})" if outcome is not None else ""
        super().__init__(
            f"execution {execution_id} of op {finished.op_name!r} was canceled{how}",
            execution_id=execution_id,
            finished=finished,
        )


class StreamBrokenError(OpHostClientError):
    """An event stream broke and could not be re-attached.

    ``last_sequence`` is the last event sequence fully delivered (re-attach with
    ``client.attach(execution_id, after_sequence=last_sequence)`` to continue);
    ``last_error`` the error of the last attempt (also the ``__cause__``), if any.
    """

    def __init__(
        self,
        execution_id: str,
        *,
        last_sequence: int,
        attempts: int,
        last_error: OpHostRpcError | None,
    ) -> None:
        self.execution_id = execution_id
        self.last_sequence = last_sequence
        self.attempts = attempts
        self.last_error = last_error
        why = f": {last_error}" if last_error is not None else ""
        super().__init__(
            f"the event stream of execution {execution_id} broke after sequence "
            f"{last_sequence} and {attempts} re-attach attempt(s) failed{why}"
        )


class ClientClosedError(OpHostClientError):
    """The client was closed: before a call, or while one of its streams was open."""


class ProtocolError(OpHostClientError):
    """The server sent something the protocol does not allow."""
