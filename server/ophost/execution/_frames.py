"""Length-prefixed frames: how worker-protocol messages travel over a local socket.

A frame is a 4-byte big-endian length followed by that many bytes: one serialized
``WorkerMessage`` or ``HostMessage``. :class:`FrameReader` reads them from an asyncio
stream and refuses a frame longer than the agreed maximum, so a broken peer cannot
make the reader allocate without bound.
"""

from __future__ import annotations

import asyncio
import struct

__all__ = ["PROTOCOL_VERSION", "FrameError", "FrameReader", "frame", "frames"]

# The version of the worker protocol (protos/ophost/v1/worker.proto) both sides speak.
PROTOCOL_VERSION = 1
_LENGTH = struct.Struct(">I")


class FrameError(Exception):
    """The peer broke the framing (a frame too long, or a stream cut mid-frame)."""


def frame(message: bytes) -> bytes:
    """``message`` as one frame."""
    return _LENGTH.pack(len(message)) + message


def frames(messages: list[bytes]) -> bytes:
    """Several messages as consecutive frames, in one buffer."""
    parts: list[bytes] = []
    for message in messages:
        parts.append(_LENGTH.pack(len(message)))
        parts.append(message)
    return b"".join(parts)


class FrameReader:
    """Reads frames from ``reader``; frames above ``max_bytes`` are refused."""

    def __init__(self, reader: asyncio.StreamReader, max_bytes: int) -> None:
        self._reader = reader
        self.max_bytes = max_bytes

    async def read(self) -> bytes | None:
        """The next frame's bytes; None at a clean end of stream (between frames)."""
        try:
            head = await self._reader.readexactly(4)
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                return None
            raise FrameError("the stream ended inside a frame's length") from None
        (size,) = _LENGTH.unpack(head)
        if size > self.max_bytes:
            raise FrameError(f"a frame of {size} bytes is above the limit of {self.max_bytes}")
        try:
            return await self._reader.readexactly(size)
        except asyncio.IncompleteReadError as exc:
            raise FrameError(
                f"the stream ended inside a frame ({len(exc.partial)} of {size} bytes)"
            ) from None
