"""RPC errors as ``google.rpc.Status`` (docs/protocol.md, section 13).

A request the server refuses ends with a status code and a serialized
``google.rpc.Status`` in the trailers: exactly one ``ErrorInfo`` (``domain`` ``"ophost"``,
``reason`` an ``ErrorReason`` name without its ``ERROR_REASON_`` prefix), a
``BadRequest`` when there are field violations, and a ``RetryInfo`` when the client
may retry later. :class:`StatusError` holds one such error; the functions below build
the one for each case the server reports, and :func:`abort` ends an RPC with it.

Trailers are size-limited (gRPC's default soft limit for all received metadata is
8 KiB, and the message also travels percent-encoded in ``grpc-message``), so the
details are kept small: the message is cut to :data:`MAX_MESSAGE_BYTES`, each
description to :data:`MAX_DESCRIPTION_CHARS`, at most :data:`MAX_VIOLATIONS` field
violations are sent, and fewer when the serialized status would pass
:data:`MAX_DETAILS_BYTES`. The number of violations left out is sent as the
``ErrorInfo`` metadata entry ``omitted_violations``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped, unused-ignore]
from grpc_status import rpc_status  # type: ignore[import-untyped, unused-ignore]

from ophost.codec.chunks import ChunkError
from ophost.codec.status import DOMAIN, OMITTED_VIOLATIONS_KEY
from ophost.errors import ConfigErrorDetail, InvalidConfigError
from ophost.v1 import error_pb2

__all__ = [
    "MAX_DESCRIPTION_CHARS",
    "MAX_DETAILS_BYTES",
    "MAX_MESSAGE_BYTES",
    "MAX_VIOLATIONS",
    "StatusError",
    "abort",
    "draining",
    "execution_not_found",
    "internal",
    "invalid_chunk",
    "invalid_config",
    "invalid_inputs",
    "invalid_page_token",
    "malformed",
    "op_not_found",
    "out_of_order",
    "permission_denied",
    "request_id_conflict",
    "sequence_out_of_range",
    "too_long",
    "too_many",
    "too_many_executions",
    "too_many_executions_for_identity",
    "unauthenticated",
    "undecodable",
    "upload_buffer_full",
    "upload_too_large",
]

# The longest status message, in UTF-8 bytes (cut at a character boundary).
MAX_MESSAGE_BYTES = 1024
# The longest field violation description, and the longest ErrorInfo metadata value.
MAX_DESCRIPTION_CHARS = 512
# The longest field path of a field violation.
MAX_FIELD_CHARS = 256
# The most field violations one status carries.
MAX_VIOLATIONS = 50
# The most bytes the serialized google.rpc.Status may take; violations are left out
# until it fits.
MAX_DETAILS_BYTES = 4096
# How many known op names an OP_NOT_FOUND message lists.
_MAX_KNOWN_OPS = 10
# An OP_NOT_FOUND suggests the closest op name when (ops hosted) x (length of the name
# asked for + 16) is at most this: a few milliseconds of work at most.
_SUGGESTION_BUDGET = 16_384
_ELLIPSIS = "..."
_REASON_PREFIX = "ERROR_REASON_"


class StatusError(Exception):
    """An RPC the server refuses: a status code plus the ``google.rpc.Status`` details.

    ``reason`` is an ``ErrorReason`` name without its prefix (``"OP_NOT_FOUND"``);
    ``metadata`` goes into the ``ErrorInfo``; ``violations`` are ``(field, description)``
    pairs for a ``BadRequest``; ``retry_delay`` (seconds) adds a ``RetryInfo``.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str,
        metadata: Mapping[str, str] | None = None,
        violations: Iterable[tuple[str, str]] = (),
        retry_delay: float | None = None,
    ) -> None:
        if code is grpc.StatusCode.OK:
            raise ValueError("a StatusError cannot have status code OK")
        if reason == "UNSPECIFIED" or not _is_reason(reason):
            raise ValueError(f"{reason!r} is not an ErrorReason name (without its prefix)")
        if retry_delay is not None and not (math.isfinite(retry_delay) and retry_delay >= 0):
            raise ValueError(f"retry_delay must be a finite number >= 0, got {retry_delay}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.metadata = dict(metadata or {})
        self.violations = list(violations)
        self.retry_delay = retry_delay

    def __repr__(self) -> str:
        return f"StatusError({self.code.name}, {self.reason}, {self.message!r})"

    def to_status_proto(self) -> status_pb2.Status:
        """The ``google.rpc.Status``, cut down to fit :data:`MAX_DETAILS_BYTES`."""
        message = _cut_utf8(self.message, MAX_MESSAGE_BYTES)
        violations = [
            error_details_pb2.BadRequest.FieldViolation(
                field=_cut(path, MAX_FIELD_CHARS),
                description=_cut(description, MAX_DESCRIPTION_CHARS),
            )
            for path, description in self.violations[:MAX_VIOLATIONS]
        ]
        kept = len(violations)
        while True:
            status = self._build(message, violations[:kept], len(self.violations) - kept)
            if kept == 0 or status.ByteSize() <= MAX_DETAILS_BYTES:
                return status
            kept -= 1

    def _build(
        self,
        message: str,
        violations: Sequence[error_details_pb2.BadRequest.FieldViolation],
        omitted: int,
    ) -> status_pb2.Status:
        metadata = {key: _cut(value, MAX_DESCRIPTION_CHARS) for key, value in self.metadata.items()}
        if omitted:
            metadata[OMITTED_VIOLATIONS_KEY] = str(omitted)
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=DOMAIN, metadata=metadata)
        details = [_pack(info)]
        if violations:
            details.append(_pack(error_details_pb2.BadRequest(field_violations=violations)))
        if self.retry_delay is not None:
            delay = duration_pb2.Duration()
            delay.FromNanoseconds(round(self.retry_delay * 1e9))
            details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
        return status_pb2.Status(code=self.code.value[0], message=message, details=details)

    def to_status(self) -> grpc.Status:
        """The ``grpc.Status`` to end an RPC with (code, message, details trailer)."""
        status: grpc.Status = rpc_status.to_status(self.to_status_proto())
        return status


async def abort(context: grpc.aio.ServicerContext[Any, Any], error: StatusError) -> NoReturn:
    """End the RPC served through ``context`` with ``error``."""
    await context.abort_with_status(error.to_status())


def op_not_found(name: str, known: Iterable[str]) -> StatusError:
    """``NOT_FOUND`` / ``OP_NOT_FOUND``: no op called ``name``; ``known`` are the ops hosted."""
    names = list(known)
    message = f"no op named {name!r} on this server"
    # A suggestion compares the name with every op's: bounded, as it runs on the loop.
    affordable = len(names) * (len(name) + 16) <= _SUGGESTION_BUDGET
    close = difflib.get_close_matches(name, names, n=1) if affordable else []
    if close:
        message += f"; did you mean {close[0]!r}?"
    elif not names:
        message += " (it hosts no ops)"
    else:
        shown = ", ".join(names[:_MAX_KNOWN_OPS])
        more = len(names) - _MAX_KNOWN_OPS
        message += f" (ops: {shown}{f' and {more} more' if more > 0 else ''})"
    return StatusError(
        grpc.StatusCode.NOT_FOUND,
        message,
        reason=_reason(error_pb2.ERROR_REASON_OP_NOT_FOUND),
        metadata={"op": name},
    )


def execution_not_found(execution_id: str) -> StatusError:
    """``NOT_FOUND`` / ``EXECUTION_NOT_FOUND``: no such execution (or it has expired)."""
    return StatusError(
        grpc.StatusCode.NOT_FOUND,
        f"no execution with id {execution_id!r} (it never existed, or its retention expired)",
        reason=_reason(error_pb2.ERROR_REASON_EXECUTION_NOT_FOUND),
        metadata={"execution_id": execution_id},
    )


def invalid_inputs(op: str, problems: Sequence[ConfigErrorDetail]) -> StatusError:
    """``INVALID_ARGUMENT`` / ``INVALID_INPUT``: one violation per problem (``inputs.x``)."""
    return StatusError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"inputs for op {op!r} are invalid: " + "; ".join(str(p) for p in problems),
        reason=_reason(error_pb2.ERROR_REASON_INVALID_INPUT),
        metadata={"op": op},
        violations=[(p.path, p.message) for p in problems],
    )


def invalid_config(op: str, error: InvalidConfigError) -> StatusError:
    """``INVALID_ARGUMENT`` / ``INVALID_CONFIG``: one violation per problem (``config.db.port``)."""
    return StatusError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"{error.preamble}: " + "; ".join(str(e) for e in error.errors),
        reason=_reason(error_pb2.ERROR_REASON_INVALID_CONFIG),
        metadata={"op": op},
        violations=[(e.path, e.message) for e in error.errors],
    )


def malformed(message: str, field: str | None = None) -> StatusError:
    """``INVALID_ARGUMENT`` / ``MALFORMED_REQUEST``; ``field`` adds one violation."""
    return StatusError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"{field}: {message}" if field else message,
        reason=_reason(error_pb2.ERROR_REASON_MALFORMED_REQUEST),
        violations=[(field, message)] if field else (),
    )


def undecodable(
    message_type: str, field: str, problem: str, *, index: int | None = None
) -> StatusError:
    """``INVALID_ARGUMENT`` / ``MALFORMED_REQUEST``: request bytes that do not parse.

    ``message_type`` is the full name of the message expected; ``field`` the path of
    the field at fault, or empty when it is not known; ``index`` the message's place
    on a client stream (from 1).
    """
    short = message_type.rpartition(".")[2]
    what = f"the {short}" if index is None else f"message {index} of the stream (an {short})"
    where = f"{field}: " if field else ""
    metadata = {"message": message_type}
    if index is not None:
        metadata["message_index"] = str(index)
    return StatusError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"{what} does not decode: {where}{problem}",
        reason=_reason(error_pb2.ERROR_REASON_MALFORMED_REQUEST),
        metadata=metadata,
        violations=[(field, problem)] if field else (),
    )


def too_long(field: str, length: int, limit: int) -> StatusError:
    """``INVALID_ARGUMENT`` / ``MALFORMED_REQUEST``: a string over its length limit."""
    return malformed(f"{length} characters, more than the limit of {limit}", field)


def too_many(field: str, count: int | None, limit: int, what: str = "entries") -> StatusError:
    """``INVALID_ARGUMENT`` / ``MALFORMED_REQUEST``: a list or map over its size limit
    (``count`` is None when counting stopped past the limit)."""
    if count is None:
        return malformed(f"more than the limit of {limit} {what}", field)
    return malformed(f"{count} {what}, more than the limit of {limit}", field)


def upload_too_large(error: ChunkError, limit: int) -> StatusError:
    """``RESOURCE_EXHAUSTED`` / ``UPLOAD_TOO_LARGE``: a start announcing more chunk
    bytes than one stream may upload (retrying cannot help: no ``RetryInfo``)."""
    return StatusError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        str(error),
        reason=_reason(error_pb2.ERROR_REASON_UPLOAD_TOO_LARGE),
        metadata={"limit": str(limit)},
        violations=[(error.path, error.reason)],
    )


def upload_buffer_full(limit: int, retry_after: float) -> StatusError:
    """``RESOURCE_EXHAUSTED`` / ``UPLOAD_BUFFER_FULL`` with a ``RetryInfo``: the host
    holds as many uploaded bytes as it buffers at once."""
    return StatusError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        f"the server already buffers its maximum of {limit} bytes of uploaded chunks; retry later",
        reason=_reason(error_pb2.ERROR_REASON_UPLOAD_BUFFER_FULL),
        metadata={"limit": str(limit)},
        retry_delay=retry_after,
    )


def out_of_order(message: str) -> StatusError:
    """``FAILED_PRECONDITION`` / ``OUT_OF_ORDER``: a message out of protocol order."""
    return StatusError(
        grpc.StatusCode.FAILED_PRECONDITION,
        message,
        reason=_reason(error_pb2.ERROR_REASON_OUT_OF_ORDER),
    )


def request_id_conflict(request_id: str, *, another_identity: bool = False) -> StatusError:
    """``FAILED_PRECONDITION`` / ``REQUEST_ID_CONFLICT``: a request id reused differently.

    ``another_identity``: the request id was used by another identity's start.
    """
    what = (
        "by another identity"
        if another_identity
        else "for a different start (op, inputs, config or tags differ)"
    )
    return StatusError(
        grpc.StatusCode.FAILED_PRECONDITION,
        f"request id {request_id!r} was already used {what}",
        reason=_reason(error_pb2.ERROR_REASON_REQUEST_ID_CONFLICT),
        metadata={"request_id": request_id},
    )


def draining(retry_after: float | None = None) -> StatusError:
    """``UNAVAILABLE`` / ``SERVER_DRAINING``: the server is shutting down.

    UNAVAILABLE (not FAILED_PRECONDITION) because retrying elsewhere, or after a
    restart, is exactly what a client should do. ``retry_after`` (seconds) adds a
    ``RetryInfo``.
    """
    return StatusError(
        grpc.StatusCode.UNAVAILABLE,
        "the server is shutting down and accepts no new executions; retry on another server",
        reason=_reason(error_pb2.ERROR_REASON_SERVER_DRAINING),
        retry_delay=retry_after,
    )


def too_many_executions(limit: int, retry_after: float) -> StatusError:
    """``RESOURCE_EXHAUSTED`` / ``TOO_MANY_EXECUTIONS`` with a ``RetryInfo``."""
    return StatusError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        f"the server already runs its maximum of {limit} concurrent executions",
        reason=_reason(error_pb2.ERROR_REASON_TOO_MANY_EXECUTIONS),
        metadata={"limit": str(limit)},
        retry_delay=retry_after,
    )


def too_many_executions_for_identity(identity: str, limit: int, retry_after: float) -> StatusError:
    """``RESOURCE_EXHAUSTED`` / ``TOO_MANY_EXECUTIONS_FOR_IDENTITY`` with a ``RetryInfo``."""
    return StatusError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        f"identity {identity!r} already runs its maximum of {limit} concurrent executions "
        "on this server",
        reason=_reason(error_pb2.ERROR_REASON_TOO_MANY_EXECUTIONS_FOR_IDENTITY),
        metadata={"identity": identity, "limit": str(limit)},
        retry_delay=retry_after,
    )


def unauthenticated(message: str) -> StatusError:
    """``UNAUTHENTICATED`` / ``UNAUTHENTICATED``: no credentials the server accepts.

    ``message`` says what was wrong with them; it must never quote a token.
    """
    return StatusError(
        grpc.StatusCode.UNAUTHENTICATED,
        message,
        reason=_reason(error_pb2.ERROR_REASON_UNAUTHENTICATED),
    )


def permission_denied(
    identity: str,
    action: str,
    *,
    op: str | None = None,
    execution_id: str | None = None,
    method: str | None = None,
) -> StatusError:
    """``PERMISSION_DENIED`` / ``PERMISSION_DENIED``: ``identity`` may not do ``action``.

    ``op``, ``execution_id`` or ``method`` names what it was refused; the ``ErrorInfo``
    metadata carries the identity, the action and the op or execution id.
    """
    metadata = {"identity": identity, "action": action}
    if op is not None:
        metadata["op"] = op
        message = f"identity {identity!r} may not {action} op {op!r}"
    elif execution_id is not None:
        metadata["execution_id"] = execution_id
        message = f"identity {identity!r} may not {action} execution {execution_id!r}"
    else:
        message = f"identity {identity!r} lacks the action {action!r}"
        if method is not None:
            message += f" that {method} needs"
    return StatusError(
        grpc.StatusCode.PERMISSION_DENIED,
        message,
        reason=_reason(error_pb2.ERROR_REASON_PERMISSION_DENIED),
        metadata=metadata,
    )


def invalid_chunk(error: ChunkError) -> StatusError:
    """``INVALID_ARGUMENT`` / ``INVALID_CHUNK``: chunks that do not match their reference."""
    return StatusError(
        grpc.StatusCode.INVALID_ARGUMENT,
        str(error),
        reason=_reason(error_pb2.ERROR_REASON_INVALID_CHUNK),
        violations=[(error.path, error.reason)],
    )


def sequence_out_of_range(after: int, last: int) -> StatusError:
    """``OUT_OF_RANGE`` / ``SEQUENCE_OUT_OF_RANGE``: ``after_sequence`` past the last event."""
    return StatusError(
        grpc.StatusCode.OUT_OF_RANGE,
        f"after_sequence {after} is beyond the execution's last sequence {last}",
        reason=_reason(error_pb2.ERROR_REASON_SEQUENCE_OUT_OF_RANGE),
        metadata={"after_sequence": str(after), "last_sequence": str(last)},
        violations=[("after_sequence", f"must be at most {last}")],
    )


def invalid_page_token() -> StatusError:
    """``INVALID_ARGUMENT`` / ``INVALID_PAGE_TOKEN``: a token not issued for this query."""
    return StatusError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "the page token was not issued by this server for this query",
        reason=_reason(error_pb2.ERROR_REASON_INVALID_PAGE_TOKEN),
        violations=[("page_token", "not a token this server issued for this query")],
    )


def store_full(message: str) -> StatusError:
    """``RESOURCE_EXHAUSTED`` / ``STORE_FULL``: the store cannot take more writes."""
    return StatusError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        message,
        reason=_reason(error_pb2.ERROR_REASON_STORE_FULL),
    )


def store_unavailable(message: str, retry_after: float | None = None) -> StatusError:
    """``UNAVAILABLE`` / ``STORE_UNAVAILABLE``: the store cannot be reached now."""
    return StatusError(
        grpc.StatusCode.UNAVAILABLE,
        message,
        reason=_reason(error_pb2.ERROR_REASON_STORE_UNAVAILABLE),
        retry_delay=retry_after,
    )


def internal(message: str) -> StatusError:
    """``INTERNAL`` / ``INTERNAL``: a bug in the server."""
    return StatusError(
        grpc.StatusCode.INTERNAL,
        message,
        reason=_reason(error_pb2.ERROR_REASON_INTERNAL),
    )


def _reason(value: error_pb2.ErrorReason.ValueType) -> str:
    return error_pb2.ErrorReason.Name(value).removeprefix(_REASON_PREFIX)


def _is_reason(name: str) -> bool:
    try:
        error_pb2.ErrorReason.Value(_REASON_PREFIX + name)
    except ValueError:
        return False
    return True


def _pack(detail: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(detail)
    return packed


def _cut(text: str, limit: int) -> str:
    """``text`` at most ``limit`` characters long, marked with "..." where it was cut."""
    text = _valid(text)
    return text if len(text) <= limit else text[: limit - len(_ELLIPSIS)] + _ELLIPSIS


def _cut_utf8(text: str, limit: int) -> str:
    """``text`` at most ``limit`` UTF-8 bytes long, cut at a character boundary."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return data.decode("utf-8")
    return data[: limit - len(_ELLIPSIS)].decode("utf-8", "ignore") + _ELLIPSIS


def _valid(text: str) -> str:
    """``text`` with any lone surrogate replaced by "?": protobuf strings must be valid UTF-8."""
    return text.encode("utf-8", "replace").decode("utf-8")
