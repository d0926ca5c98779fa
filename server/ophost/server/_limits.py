"""The server's limits: what shapes executions and their streams, and what one request may cost.

:class:`Limits` holds the sizes a host is configured with. The ``MAX_*`` constants
bound the strings and lists of a request (checked by the wire layer before a handler
runs, :mod:`ophost.server._requests`); they are fixed, so that every client can rely
on them. :class:`UploadBuffer` counts the chunk bytes every ``Execute`` stream of the
host buffers, against ``Limits.max_upload_buffer_bytes``. docs/security.md lists
them all.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "MAX_INPUTS",
    "MAX_NAME_CHARS",
    "MAX_PAGE_TOKEN_CHARS",
    "MAX_STATES",
    "MAX_TAGS",
    "MAX_TAG_VALUE_CHARS",
    "MAX_TEXT_CHARS",
    "OFF_LOOP_BYTES",
    "Limits",
    "UploadBuffer",
]

# The longest name or id in a request: op, input and value names, execution and
# request ids, tag keys. The host refuses to serve an op (or input) with a longer name.
MAX_NAME_CHARS = 256
# The longest free text in a request (a cancel's reason).
MAX_TEXT_CHARS = 4096
# The longest tag value, and the most tags one start may carry.
MAX_TAG_VALUE_CHARS = 4096
MAX_TAGS = 64
# The most inputs one start may name.
MAX_INPUTS = 1024
# The longest page token (the host's own are under 200 characters).
MAX_PAGE_TOKEN_CHARS = 1024
# The most entries of ListExecutionsRequest.states.
MAX_STATES = 16
# A start whose serialized size (inline values included) passes this many bytes is
# decoded and checked off the event loop, in a worker thread: below it, the work
# takes well under a millisecond.
OFF_LOOP_BYTES = 16 * 1024


@dataclass(frozen=True)
class Limits:
    """Sizes and counts the host keeps executions and their streams within.

    ``inline_threshold_bytes``: a value whose serialized ``Value`` is longer travels as
    chunks of ``chunk_size_bytes``. ``max_message_bytes``: the largest gRPC message,
    either way. ``max_batch_bytes``: events are sent in batches of about this size.
    ``stream_window_events``: how far the slowest stream of an execution may fall
    behind before its op waits. ``handoff_capacity``: how many events a sync op body
    may get ahead of the event loop. ``cancel_grace_seconds``: how long a canceled op
    has to stop. ``max_upload_bytes``: the most bytes of chunked inputs and config one
    start may announce (per stream). ``max_upload_buffer_bytes``: the most chunk bytes
    all streams of the host may hold at once while their uploads are incomplete (host
    wide). ``first_flush_delay_seconds``: how long the first events of an attempt may
    be held back so that a quick op's events travel in one batch.
    """

    inline_threshold_bytes: int = 1 << 20
    chunk_size_bytes: int = 1 << 20
    max_message_bytes: int = 4 << 20
    max_batch_bytes: int = 1 << 20
    stream_window_events: int = 4096
    handoff_capacity: int = 1024
    cancel_grace_seconds: float = 5.0
    max_upload_bytes: int = 256 << 20
    max_upload_buffer_bytes: int = 1 << 30
    first_flush_delay_seconds: float = 0.002

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_upload_buffer_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Limits.{name} must be an int of 1 or more, got {value!r}")


class UploadBuffer:
    """The chunk bytes the host's ``Execute`` streams hold, under one cap (``limit``).

    A stream :meth:`take`\\ s room for each chunk before buffering it and
    :meth:`give_back`\\ s all it took when its upload ends, complete or not. Runs on
    the event loop only: no lock.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def take(self, size: int) -> bool:
        """Room for ``size`` more bytes: True and counted, or False when over the limit."""
        if self.held + size > self.limit:
            return False
        self.held += size
        return True

    def give_back(self, size: int) -> None:
        self.held -= size
