"""gRPC failures -> :class:`~ophost_client.errors.OpHostRpcError`, and which are transient."""

from __future__ import annotations

from collections.abc import Iterable

import grpc

from ophost.codec.status import find_status_details
from ophost.errors import CodecError
from ophost_client.errors import OpHostRpcError

__all__ = ["from_aio_error", "from_status", "is_transient"]

# Codes a broken connection or a reset stream produces without the server's logic
# having decided anything. They carry no ``google.rpc.Status`` from an ophost server.
_TRANSPORT_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.ABORTED,
    }
)


def from_status(
    code: grpc.StatusCode,
    details: str | None,
    trailing_metadata: Iterable[tuple[str, str | bytes]] | None,
) -> OpHostRpcError:
    """Build the error from a call's status code, details and trailing metadata."""
    try:
        found = find_status_details(trailing_metadata)
    except CodecError:
        found = None  # unreadable details: keep the code and message
    if found is None:
        return OpHostRpcError(code, details or "")
    return OpHostRpcError(
        code,
        details or found.message,
        reason=found.reason,
        domain=found.domain,
        metadata=found.metadata,
        violations=found.violations,
        retry_delay=found.retry_delay,
    )


def from_aio_error(error: grpc.aio.AioRpcError) -> OpHostRpcError:
    """Translate a grpc.aio error (raise the result ``from`` it)."""
    return from_status(error.code(), error.details(), error.trailing_metadata())


def is_transient(error: OpHostRpcError) -> bool:
    """Whether a stream that failed with ``error`` may be resumed by re-attaching.

    ``UNAVAILABLE`` always may (the server sends it, with a retry delay, when it
    cannot serve right now). The other transport codes may only when the error does
    not come from the server's logic, which always attaches an ``ErrorInfo``.
    """
    if error.code is grpc.StatusCode.UNAVAILABLE:
        return True
    return error.code in _TRANSPORT_CODES and not error.reason
