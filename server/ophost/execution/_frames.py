"""Length-prefixed frames: how worker-protocol messages travel over a local socket.

A frame is a 4-byte big-endian length followed by that many bytes: one serialized
``WorkerMessage`` or ``HostMessage``. :class:`~ophost.execution._frame_channel.
FrameChannel` reads them and refuses a frame longer than the agreed maximum, so a
broken peer cannot make the reader allocate without bound.
"""

from __future__ import annotations

import struct

__all__ = ["LENGTH", "PROTOCOL_VERSION", "FrameError", "frame", "frames"]

# The version of the worker protocol (protos/ophost/v1/worker.proto) both sides speak.
PROTOCOL_VERSION = 1
#: A frame's length prefix: 4 bytes, big-endian.
LENGTH = struct.Struct(">I")


class FrameError(Exception):
    """The peer broke the framing (a frame too long, or a stream cut mid-frame)."""


def frame(message: bytes) -> bytes:
    """``message`` as one frame."""
    return LENGTH.pack(len(message)) + message


def frames(messages: list[bytes]) -> bytes:
    """Several messages as consecutive frames, in one buffer."""
    parts: list[bytes] = []
    for message in messages:
        parts.append(LENGTH.pack(len(message)))
        parts.append(message)
    return b"".join(parts)
