"""Exceptions as data (``ErrorData``) <-> ``ophost.v1.ErrorData``."""

from __future__ import annotations

from ophost.definitions._execution_events import ErrorData
from ophost.v1 import error_pb2

__all__ = ["from_proto", "to_proto"]


def to_proto(error: ErrorData) -> error_pb2.ErrorData:
    message = error_pb2.ErrorData(
        type_name=error.type_name,
        message=error.message,
        stack=list(error.stack),
        error_id=error.error_id,
    )
    if error.cause is not None:
        message.cause.CopyFrom(to_proto(error.cause))
    if error.context is not None:
        message.context.CopyFrom(to_proto(error.context))
    return message


def from_proto(message: error_pb2.ErrorData) -> ErrorData:
    return ErrorData(
        type_name=message.type_name,
        message=message.message,
        stack=tuple(message.stack),
        cause=from_proto(message.cause) if message.HasField("cause") else None,
        context=from_proto(message.context) if message.HasField("context") else None,
        error_id=message.error_id,
    )
