"""Per-call options: a call's deadline, and the metadata sent with each of its RPCs.

Every client method takes ``timeout`` and ``metadata``. :class:`CallOptions` is one
call's options in use: the deadline is fixed when the call starts and shared by every
RPC the call makes (the pages of a listing, the server-info look-up before an upload,
the re-attaches of a stream), each of which gets the time that is left. The metadata
also carries the caller's OpenTelemetry span, if any (:mod:`ophost_client._trace`),
taken when the call starts, unless the caller's own metadata has a ``traceparent``.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

import grpc

from ophost_client._trace import trace_metadata
from ophost_client.errors import OpHostRpcError

__all__ = [
    "CLIENT_TIMEOUT",
    "CallOptions",
    "Metadata",
    "MetadataPairs",
    "Timeout",
    "check_timeout",
    "merge_metadata",
]

# What ``metadata=`` takes: ``(key, value)`` pairs, ``bytes`` values for ``-bin`` keys.
Metadata: TypeAlias = Iterable[tuple[str, str | bytes]]
# The same, kept: a tuple that can be sent again (with every re-attach).
MetadataPairs: TypeAlias = tuple[tuple[str, str | bytes], ...]


class _ClientTimeout(enum.Enum):
    TIMEOUT = "the client's timeout"

    def __repr__(self) -> str:
        return "CLIENT_TIMEOUT"


# The default of ``timeout=`` on unary methods: the timeout the client was made with.
CLIENT_TIMEOUT: Final = _ClientTimeout.TIMEOUT
# What ``timeout=`` takes on unary methods: seconds, ``None`` (no deadline), or the default.
Timeout: TypeAlias = "float | Literal[_ClientTimeout.TIMEOUT] | None"


def check_timeout(timeout: float | None, name: str = "timeout") -> None:
    """Raise ``ValueError`` unless ``timeout`` is ``None`` or a number of seconds > 0."""
    if timeout is not None and not timeout > 0:
        raise ValueError(f"{name} must be > 0 or None, got {timeout}")


def merge_metadata(base: MetadataPairs, extra: MetadataPairs) -> MetadataPairs:
    """``extra`` after ``base``; a key ``extra`` sets replaces every value ``base`` gave it."""
    replaced = {key for key, _ in extra}
    return (*((key, value) for key, value in base if key not in replaced), *extra)


@dataclass(frozen=True, slots=True)
class CallOptions:
    """One call's options in use: when its deadline passes, and its metadata."""

    deadline: float | None  # on the time.monotonic() clock; None: no deadline
    metadata: MetadataPairs

    @classmethod
    def begin(cls, timeout: float | None, metadata: Metadata | None) -> CallOptions:
        """Start a call now: its deadline is ``timeout`` seconds away (``None``: none)."""
        check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        pairs = tuple(metadata or ())
        traced = trace_metadata()
        if traced and not any(key.lower() == "traceparent" for key, _ in pairs):
            pairs = (*traced, *pairs)
        return cls(deadline=deadline, metadata=pairs)

    def remaining(self) -> float | None:
        """Seconds left before the deadline (``None`` without one).

        Raises :class:`~ophost_client.errors.OpHostRpcError` ``DEADLINE_EXCEEDED``
        once it has passed, so no RPC starts after the deadline.
        """
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise OpHostRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "the call's deadline passed")
        return left
