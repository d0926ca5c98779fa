"""Reading the ``google.rpc.Status`` an ophost server puts in an error's trailers.

An RPC that fails carries a serialized ``google.rpc.Status`` in the trailing metadata
key ``grpc-status-details-bin`` (docs/protocol.md, section 13): one ``ErrorInfo``
(``domain = "ophost"``, ``reason`` an ``ErrorReason`` name without its prefix), and,
where they apply, a ``BadRequest`` with field violations and a ``RetryInfo``.
:func:`parse_status_details` turns those bytes into a :class:`StatusDetails`. Pure:
no grpc import, so clients can use it with any transport.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from google.protobuf import any_pb2
from google.protobuf.message import DecodeError, Message
from google.rpc import (  # type: ignore[import-untyped, unused-ignore]
    code_pb2,
    error_details_pb2,
    status_pb2,
)

from ophost.errors import CodecError

__all__ = [
    "DOMAIN",
    "OMITTED_VIOLATIONS_KEY",
    "STATUS_DETAILS_KEY",
    "StatusDetails",
    "find_status_details",
    "parse_status_details",
]

# The trailing metadata key that carries the serialized ``google.rpc.Status``.
STATUS_DETAILS_KEY = "grpc-status-details-bin"
# ``ErrorInfo.domain`` of every error an ophost server reports.
DOMAIN = "ophost"
# ``ErrorInfo.metadata`` key set when field violations were left out to keep the
# trailers small: how many were left out (a base-10 number).
OMITTED_VIOLATIONS_KEY = "omitted_violations"

_ERROR_INFO = "google.rpc.ErrorInfo"
_BAD_REQUEST = "google.rpc.BadRequest"
_RETRY_INFO = "google.rpc.RetryInfo"


@dataclass(frozen=True)
class StatusDetails:
    """What a ``google.rpc.Status`` says, in plain Python.

    ``code`` is the numeric status code (``google.rpc.Code``, the same numbers as
    gRPC's). ``reason``, ``domain`` and ``metadata`` come from the first
    ``ErrorInfo`` (empty when there is none). ``violations`` are the ``BadRequest``
    field violations as ``(field, description)`` pairs. ``retry_delay`` is the
    ``RetryInfo`` delay in seconds, or ``None`` when there is no ``RetryInfo``.
    """

    code: int
    message: str
    reason: str = ""
    domain: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    violations: list[tuple[str, str]] = field(default_factory=list)
    retry_delay: float | None = None

    @property
    def code_name(self) -> str:
        """The code's name (``NOT_FOUND``), or its number as text when it is not a known code."""
        try:
            name: str = code_pb2.Code.Name(self.code)
        except ValueError:
            return str(self.code)
        return name

    @property
    def omitted_violations(self) -> int:
        """How many field violations the server left out to keep the details small."""
        text = self.metadata.get(OMITTED_VIOLATIONS_KEY, "")
        return int(text) if text.isascii() and text.isdigit() else 0


def parse_status_details(data: bytes) -> StatusDetails:
    """Parse the bytes of a ``grpc-status-details-bin`` trailer.

    Detail types other than ``ErrorInfo``, ``BadRequest`` and ``RetryInfo`` are
    ignored, as are every ``ErrorInfo`` and ``RetryInfo`` after the first. Raises
    :class:`~ophost.errors.CodecError` when the bytes are not a ``google.rpc.Status``
    or a known detail does not parse.
    """
    status = status_pb2.Status()
    try:
        status.ParseFromString(data)
    except DecodeError as exc:
        raise CodecError(STATUS_DETAILS_KEY, f"not a google.rpc.Status ({exc})") from exc
    reason = ""
    domain = ""
    metadata: dict[str, str] = {}
    violations: list[tuple[str, str]] = []
    retry_delay: float | None = None
    seen_info = False
    for index, detail in enumerate(status.details):
        where = f"{STATUS_DETAILS_KEY}.details[{index}]"
        if detail.TypeName() == _ERROR_INFO:
            if not seen_info:
                info = error_details_pb2.ErrorInfo()
                _unpack(detail, info, where)
                reason, domain, metadata = info.reason, info.domain, dict(info.metadata)
                seen_info = True
        elif detail.TypeName() == _BAD_REQUEST:
            bad_request = error_details_pb2.BadRequest()
            _unpack(detail, bad_request, where)
            violations.extend((v.field, v.description) for v in bad_request.field_violations)
        elif detail.TypeName() == _RETRY_INFO and retry_delay is None:
            retry = error_details_pb2.RetryInfo()
            _unpack(detail, retry, where)
            retry_delay = retry.retry_delay.ToNanoseconds() / 1e9
    return StatusDetails(
        code=status.code,
        message=status.message,
        reason=reason,
        domain=domain,
        metadata=metadata,
        violations=violations,
        retry_delay=retry_delay,
    )


def find_status_details(
    trailing_metadata: Iterable[tuple[str, str | bytes]] | None,
) -> StatusDetails | None:
    """Parse the ``grpc-status-details-bin`` entry of a call's trailing metadata, if any."""
    for key, value in trailing_metadata or ():
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            return parse_status_details(value)
    return None


def _unpack(detail: any_pb2.Any, target: Message, where: str) -> None:
    try:
        ok = detail.Unpack(target)
    except DecodeError as exc:
        raise CodecError(where, f"the detail does not parse ({exc})") from exc
    if not ok:  # pragma: no cover - the caller checked the type name
        raise CodecError(where, "the detail does not have the expected type")
