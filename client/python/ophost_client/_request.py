"""Building ``ExecutionStart`` messages: inputs and config in wire form, inline or chunked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ophost.codec import values
from ophost.codec.chunks import split_value
from ophost.errors import CodecError
from ophost.v1 import execution_pb2, value_pb2
from ophost_client._info import ServerInfo

__all__ = ["UNSET", "StartRequest"]


class _Unset:
    """The default of ``config``: no config sent (``None`` sends a null config)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: object = _Unset()

_CHUNKED_UPLOAD = "chunked_upload"


@dataclass(frozen=True)
class StartRequest:
    """An execution's start, its values already encoded (so bad values fail early).

    ``encode`` checks every value when the request is made, and raises
    :class:`~ophost.errors.CodecError` naming the value (``inputs.x``, ``config``).
    """

    op_name: str
    inputs: tuple[tuple[str, value_pb2.Value], ...]
    config: value_pb2.Value | None
    tags: Mapping[str, str] = field(default_factory=dict)
    request_id: str = ""

    @classmethod
    def encode(
        cls,
        op_name: str,
        inputs: Mapping[str, object] | None,
        *,
        config: object,
        tags: Mapping[str, str] | None,
        request_id: str | None,
    ) -> StartRequest:
        try:
            encoded = tuple(
                (name, values.to_proto(value, path=f"inputs.{name}"))
                for name, value in (inputs or {}).items()
            )
            wire_config = None if config is UNSET else values.to_proto(config, path="config")
        except CodecError as exc:
            # Same path, and the op it was meant for: the caller may run several.
            raise CodecError(exc.path, f"{exc.reason} (calling op {op_name!r})") from None
        return cls(
            op_name=op_name,
            inputs=encoded,
            config=wire_config,
            tags=dict(tags or {}),
            request_id=request_id or "",
        )

    def _paths(self) -> list[tuple[str, value_pb2.Value]]:
        found = [(f"inputs.{name}", value) for name, value in self.inputs]
        if self.config is not None:
            found.append(("config", self.config))
        return found

    def _message(self) -> execution_pb2.ExecutionStart:
        message = execution_pb2.ExecutionStart(op_name=self.op_name, request_id=self.request_id)
        message.tags.update(self.tags)
        return message

    def inline(self, info: ServerInfo) -> execution_pb2.ExecutionStart:
        """The start for ``StartExecution``: every value inline, none over the threshold."""
        threshold = info.limits.inline_threshold_bytes
        for path, value in self._paths():
            size = value.ByteSize()
            if size > threshold:
                raise CodecError(
                    path,
                    f"the value is {size} bytes, over the server's inline threshold of "
                    f"{threshold} bytes; StartExecution cannot upload chunks, so start "
                    "this execution with execute() instead",
                )
        message = self._message()
        for name, value in self.inputs:
            message.inputs.add(name=name).value.CopyFrom(value)
        if self.config is not None:
            message.config.CopyFrom(self.config)
        return message

    def chunked(
        self, info: ServerInfo
    ) -> tuple[execution_pb2.ExecutionStart, list[value_pb2.ValueChunk]]:
        """The start for ``Execute``, and the chunks of the values too large to be inline."""
        limits = info.limits
        message = self._message()
        chunks: list[value_pb2.ValueChunk] = []
        for path, value in self._paths():
            wire, pieces = split_value(
                value,
                inline_threshold=limits.inline_threshold_bytes,
                chunk_size=max(limits.chunk_size_bytes, 1),
                value_id=path,  # unique within the call: inputs.<name> or config
            )
            if pieces and _CHUNKED_UPLOAD not in info.capabilities:
                raise CodecError(
                    path,
                    f"the value is {value.ByteSize()} bytes, over the server's inline "
                    f"threshold of {limits.inline_threshold_bytes} bytes, and the server "
                    "does not accept chunked uploads",
                )
            chunks.extend(pieces)
            if path == "config":
                message.config.CopyFrom(wire)
            else:
                message.inputs.add(name=path.removeprefix("inputs.")).value.CopyFrom(wire)
        return message, chunks
