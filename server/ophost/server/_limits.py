"""The server's limits that shape executions and their streams."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits"]


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
    start may carry. ``first_flush_delay_seconds``: how long the first events of an
    attempt may be held back so that a quick op's events travel in one batch.
    """

    inline_threshold_bytes: int = 1 << 20
    chunk_size_bytes: int = 1 << 20
    max_message_bytes: int = 4 << 20
    max_batch_bytes: int = 1 << 20
    stream_window_events: int = 4096
    handoff_capacity: int = 1024
    cancel_grace_seconds: float = 5.0
    max_upload_bytes: int = 256 << 20
    first_flush_delay_seconds: float = 0.002
