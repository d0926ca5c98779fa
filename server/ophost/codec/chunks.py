"""Large values as ordered chunks (docs/protocol.md, section 5).

A value whose serialized ``Value`` is longer than the inline threshold travels as a
``ChunkedValueRef`` followed by its ``ValueChunk``\\ s. :func:`encode_value` (and
:func:`split_value` for an already encoded ``Value``) produce the reference and the
chunks; :class:`ChunkAssembler` checks incoming chunks against their references and
rebuilds the ``Value``. Pure: no grpc, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import cast

from google.protobuf.message import DecodeError

from ophost.codec import values
from ophost.errors import CodecError
from ophost.v1 import value_pb2

__all__ = [
    "ChunkAssembler",
    "ChunkError",
    "ChunkLimitError",
    "ChunkPiece",
    "EncodedValue",
    "encode_value",
    "encode_value_pieces",
    "read_varint",
    "split_value",
    "varint",
]

# A chunk's description (a ValueChunk without its data) and the data itself, as a view
# into the value where possible, so a transport can copy it straight into its message.
ChunkPiece = tuple["value_pb2.ValueChunk", "bytes | memoryview"]


@dataclass(frozen=True, slots=True)
class EncodedValue:
    """A value in wire form, ready to send.

    ``message`` is the ``Value`` itself when it travels inline, or a ``chunked_value``
    reference; then ``chunks`` yields its pieces, in order, to send after it (it is
    empty for an inline value). The pieces are made lazily, as views into the value
    where possible.
    """

    message: value_pb2.Value
    chunks: Iterator[ChunkPiece]

    @property
    def chunked(self) -> bool:
        return self.message.WhichOneof("kind") == "chunked_value"


# ``ValueChunk.index`` and ``ChunkedValueRef.chunk_count`` are uint32.
_MAX_CHUNK_COUNT = 2**32 - 1


class ChunkError(CodecError):
    """Chunks do not match their ``ChunkedValueRef``, or the reassembled bytes do not parse.

    ``path`` names the value the chunks belong to (``inputs.x``, ``config``), or
    ``chunk.value_id`` for a chunk whose value id was never announced. The server
    reports it as ``INVALID_ARGUMENT`` / ``INVALID_CHUNK``.
    """


class ChunkLimitError(ChunkError):
    """Chunked values announce more bytes than an assembler may hold (``limit``).

    Not a malformed upload but one over a size cap: the server reports it as
    ``RESOURCE_EXHAUSTED`` / ``UPLOAD_TOO_LARGE``.
    """

    def __init__(self, path: str, reason: str, *, limit: int) -> None:
        super().__init__(path, reason)
        self.limit = limit


def encode_value(
    value: object, *, path: str, inline_threshold: int, chunk_size: int, value_id: str
) -> tuple[value_pb2.Value, list[value_pb2.ValueChunk]]:
    """Encode ``value``, inline or as a reference plus its chunks.

    Returns the inline ``Value`` and no chunks when the serialized ``Value`` is at
    most ``inline_threshold`` bytes long; otherwise a ``Value`` holding only a
    ``chunked_value`` reference and the chunks, in index order. Raises
    :class:`~ophost.errors.CodecError` (naming ``path``) for a value with no wire form.
    """
    return split_value(
        values.to_proto(value, path=path),
        inline_threshold=inline_threshold,
        chunk_size=chunk_size,
        value_id=value_id,
    )


def split_value(
    message: value_pb2.Value, *, inline_threshold: int, chunk_size: int, value_id: str
) -> tuple[value_pb2.Value, list[value_pb2.ValueChunk]]:
    """Like :func:`encode_value`, for a ``Value`` that is already encoded.

    ``message`` itself is returned when it is small enough to travel inline.
    """
    if inline_threshold < 0:
        raise ValueError(f"inline_threshold must be >= 0, got {inline_threshold}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if not value_id:
        raise ValueError("value_id must not be empty")
    if message.WhichOneof("kind") == "chunked_value":
        raise ValueError("a chunked_value reference cannot itself be chunked")
    data = message.SerializeToString()
    total = len(data)
    if total <= inline_threshold:
        return message, []
    count = -(-total // chunk_size)
    if count > _MAX_CHUNK_COUNT:
        raise ValueError(
            f"{total} bytes in chunks of {chunk_size} need {count} chunks, "
            f"more than the {_MAX_CHUNK_COUNT} a reference can announce"
        )
    view = memoryview(data)
    chunks = [
        value_pb2.ValueChunk(
            value_id=value_id,
            index=index,
            offset=offset,
            data=bytes(view[offset : offset + chunk_size]),
            last=index == count - 1,
        )
        for index, offset in enumerate(range(0, total, chunk_size))
    ]
    ref = value_pb2.Value(
        chunked_value=value_pb2.ChunkedValueRef(
            value_id=value_id, total_size_bytes=total, chunk_count=count
        )
    )
    return ref, chunks


_ONE_BYTE = [bytes((n,)) for n in range(0x80)]


def varint(number: int) -> bytes:
    """``number`` (>= 0) as a protobuf varint."""
    if number < 0x80:
        return _ONE_BYTE[number]
    if number < 0x4000:
        return bytes((number & 0x7F | 0x80, number >> 7))
    if number < 0x200000:
        return bytes((number & 0x7F | 0x80, (number >> 7) & 0x7F | 0x80, number >> 14))
    if number < 0x10000000:
        return bytes(
            (
                number & 0x7F | 0x80,
                (number >> 7) & 0x7F | 0x80,
                (number >> 14) & 0x7F | 0x80,
                number >> 21,
            )
        )
    if number < 0x800000000:  # 5 bytes: nanoseconds, seconds since 1970
        return bytes(
            (
                number & 0x7F | 0x80,
                (number >> 7) & 0x7F | 0x80,
                (number >> 14) & 0x7F | 0x80,
                (number >> 21) & 0x7F | 0x80,
                number >> 28,
            )
        )
    out = bytearray()
    while True:
        low = number & 0x7F
        number >>= 7
        if number:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


# A Value holding only ``bytes_value`` (field 6, length-delimited) serializes as this tag,
# the length as a varint, then the bytes themselves.
_BYTES_VALUE_TAG = b"\x32"


def read_varint(data: bytes | memoryview, pos: int, end: int) -> tuple[int, int]:
    """The protobuf varint at ``pos`` (read no further than ``end``): (value, position
    after it), or (-1, pos) when it is cut off or longer than 10 bytes."""
    result = 0
    shift = 0
    start = pos
    while pos < end and pos - start < 10:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
    return -1, start


def encode_value_pieces(
    value: object, *, path: str, inline_threshold: int, chunk_size: int, value_id: str
) -> EncodedValue:
    """Like :func:`encode_value`, but lazily, and with each chunk's data kept apart from
    its description (a ``ValueChunk`` without ``data``).

    A large ``bytes`` value is never serialized as a whole: its chunks are views into
    the value behind the few header bytes its ``Value`` starts with, so nothing is
    copied until the caller writes a chunk out. Other values are encoded and
    serialized once, then sliced.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = memoryview(value).cast("B")
        header = _BYTES_VALUE_TAG + varint(len(data))
        total = len(header) + len(data)
        if total > inline_threshold and chunk_size >= len(header):
            return EncodedValue(
                _reference(value_id, total, chunk_size),
                _pieces(header, data, total, chunk_size, value_id),
            )
    message = values.to_proto(value, path=path)
    serialized = message.SerializeToString()
    if len(serialized) <= inline_threshold:
        return EncodedValue(message, iter(()))
    return EncodedValue(
        _reference(value_id, len(serialized), chunk_size),
        _pieces(b"", memoryview(serialized), len(serialized), chunk_size, value_id),
    )


def _pieces(
    header: bytes, body: memoryview, total: int, chunk_size: int, value_id: str
) -> Iterator[ChunkPiece]:
    count = -(-total // chunk_size)
    skip = len(header)
    for index in range(count):
        start = index * chunk_size
        end = min(start + chunk_size, total)
        piece: bytes | memoryview
        if start < skip:
            piece = header[start:end] + bytes(body[: max(0, end - skip)])
        else:
            piece = body[start - skip : end - skip]
        meta = value_pb2.ValueChunk(
            value_id=value_id, index=index, offset=start, last=index == count - 1
        )
        yield meta, piece


def _reference(value_id: str, total: int, chunk_size: int) -> value_pb2.Value:
    count = -(-total // chunk_size)
    if count > _MAX_CHUNK_COUNT:
        raise ValueError(
            f"{total} bytes in chunks of {chunk_size} need {count} chunks, "
            f"more than the {_MAX_CHUNK_COUNT} a reference can announce"
        )
    return value_pb2.Value(
        chunked_value=value_pb2.ChunkedValueRef(
            value_id=value_id, total_size_bytes=total, chunk_count=count
        )
    )


@dataclass
class _Pending:
    """One announced value: where it goes, its reference, and the bytes so far."""

    path: str
    total: int
    count: int
    buffer: bytearray = field(default_factory=bytearray)
    next_index: int = 0

    @property
    def received(self) -> int:
        return len(self.buffer)

    @property
    def complete(self) -> bool:
        return self.next_index == self.count


class ChunkAssembler:
    """Rebuilds chunked values from their references and chunks, checking each step.

    Announce every reference with :meth:`expect`, feed chunks in arrival order with
    :meth:`add` (chunks of different values may be interleaved, chunks of one value
    come in index order), and :meth:`take` each value once :meth:`complete` says so.
    Every mismatch raises :class:`ChunkError` and leaves the assembler unchanged.

    ``max_total_bytes`` bounds the memory held: the announced sizes of all values
    held at once (announced and not yet taken) may not add up to more than it
    (:class:`ChunkLimitError` otherwise). An announcement costs no memory: a value's
    buffer grows with the chunks that arrive (:attr:`received_bytes`), so a peer that
    announces a large value and sends nothing holds nothing.
    ``max_chunk_bytes``, if given, is the longest ``data`` one chunk may carry.
    """

    def __init__(self, *, max_total_bytes: int, max_chunk_bytes: int | None = None) -> None:
        if max_total_bytes < 0:
            raise ValueError(f"max_total_bytes must be >= 0, got {max_total_bytes}")
        if max_chunk_bytes is not None and max_chunk_bytes < 1:
            raise ValueError(f"max_chunk_bytes must be >= 1, got {max_chunk_bytes}")
        self._max_total_bytes = max_total_bytes
        self._max_chunk_bytes = max_chunk_bytes
        self._values: dict[str, _Pending] = {}
        self._held_bytes = 0
        self._received_bytes = 0

    @property
    def held_bytes(self) -> int:
        """The announced sizes of the values held now (announced and not yet taken)."""
        return self._held_bytes

    @property
    def received_bytes(self) -> int:
        """The bytes of chunks buffered now (in values announced and not yet taken)."""
        return self._received_bytes

    def expect(self, ref: value_pb2.ChunkedValueRef, *, path: str) -> None:
        """Announce a reference whose chunks will follow; ``path`` names the value."""
        value_id = ref.value_id
        total = ref.total_size_bytes
        count = ref.chunk_count
        if not value_id:
            raise ChunkError(path, "a chunked value reference has an empty value_id")
        if value_id in self._values:
            other = self._values[value_id].path
            raise ChunkError(
                path, f"value id {value_id!r} is already used by {other} (ids must be unique)"
            )
        if total < 1:
            raise ChunkError(path, f"chunked value {value_id!r} announces 0 bytes")
        if count < 1:
            raise ChunkError(path, f"chunked value {value_id!r} announces 0 chunks")
        if count > total:
            raise ChunkError(
                path,
                f"chunked value {value_id!r} announces {count} chunks for only {total} bytes "
                "(every chunk holds at least one byte)",
            )
        if self._max_chunk_bytes is not None and total > count * self._max_chunk_bytes:
            raise ChunkError(
                path,
                f"chunked value {value_id!r} announces {total} bytes in {count} chunks, more "
                f"than chunks of at most {self._max_chunk_bytes} bytes can hold",
            )
        if self._held_bytes + total > self._max_total_bytes:
            raise ChunkLimitError(
                path,
                f"chunked value {value_id!r} announces {total} bytes; with the "
                f"{self._held_bytes} bytes already announced that is over the limit of "
                f"{self._max_total_bytes} bytes",
                limit=self._max_total_bytes,
            )
        self._values[value_id] = _Pending(path=path, total=total, count=count)
        self._held_bytes += total

    def add(self, chunk: value_pb2.ValueChunk) -> None:
        """Check ``chunk`` against its reference and copy its bytes into place."""
        value_id = chunk.value_id
        pending = self._values.get(value_id)
        if pending is None:
            raise ChunkError(
                "chunk.value_id", f"no chunked value with id {value_id!r} was announced"
            )
        path = pending.path
        index = chunk.index
        size = len(chunk.data)
        if pending.complete:
            raise ChunkError(
                path,
                f"chunk {index} of {value_id!r} arrived after all {pending.count} announced chunks",
            )
        if index != pending.next_index:
            raise ChunkError(
                path,
                f"chunk {index} of {value_id!r} arrived where chunk {pending.next_index} was "
                "expected (the chunks of a value are sent in index order)",
            )
        if chunk.offset != pending.received:
            raise ChunkError(
                path,
                f"chunk {index} of {value_id!r} has offset {chunk.offset}, expected "
                f"{pending.received} (the length of the chunks before it)",
            )
        if size == 0:
            raise ChunkError(path, f"chunk {index} of {value_id!r} holds no bytes")
        if self._max_chunk_bytes is not None and size > self._max_chunk_bytes:
            raise ChunkError(
                path,
                f"chunk {index} of {value_id!r} holds {size} bytes, more than the chunk size "
                f"limit of {self._max_chunk_bytes}",
            )
        end = pending.received + size
        if end > pending.total:
            raise ChunkError(
                path,
                f"chunk {index} of {value_id!r} ends at byte {end}, past the announced "
                f"total of {pending.total} bytes",
            )
        is_final = index == pending.count - 1
        if chunk.last != is_final:
            if chunk.last:
                problem = f"is marked last, but {pending.count} chunks were announced"
            else:
                problem = f"is the final one of {pending.count} but is not marked last"
            raise ChunkError(path, f"chunk {index} of {value_id!r} {problem}")
        if is_final and end != pending.total:
            raise ChunkError(
                path,
                f"the {pending.count} chunks of {value_id!r} hold {end} bytes, but the "
                f"reference announced {pending.total}",
            )
        pending.buffer += chunk.data
        self._received_bytes += size
        pending.next_index += 1

    def complete(self, value_id: str) -> bool:
        """Whether every chunk of an announced value has arrived; ``KeyError`` if unknown."""
        return self._values[value_id].complete

    def path_of(self, value_id: str) -> str:
        """The path an announced value was announced with; ``KeyError`` if unknown."""
        return self._values[value_id].path

    def pending(self) -> list[str]:
        """The ids of the announced values still waiting for chunks, in announcement order."""
        return [value_id for value_id, p in self._values.items() if not p.complete]

    def take(self, value_id: str) -> value_pb2.Value:
        """Parse a complete value and forget it (freeing its buffer).

        Raises ``KeyError`` for an id not announced (or already taken), ``ValueError``
        for a value still waiting for chunks, and :class:`ChunkError` when the bytes
        do not parse as a ``Value`` or hold another chunked reference.
        """
        pending = self._take(value_id)
        return _parse(pending, value_id)

    def take_decoded(self, value_id: str) -> object:
        """Decode a complete value straight to Python and forget it.

        Like :meth:`take` followed by :func:`ophost.codec.values.from_proto`, with fewer
        copies: a ``bytes`` value comes out of the reassembled buffer with one copy,
        without a ``Value`` message in between. Raises as :meth:`take` does, and
        ``CodecError`` (naming the value's path) for a value with no Python form.
        """
        pending = self._take(value_id)
        data = _bytes_value(pending.buffer)
        if data is not None:
            return data
        return values.from_proto(_parse(pending, value_id), path=pending.path)

    def _take(self, value_id: str) -> _Pending:
        pending = self._values[value_id]
        if not pending.complete:
            raise ValueError(
                f"chunked value {value_id!r} is not complete: {pending.next_index} of "
                f"{pending.count} chunks arrived"
            )
        del self._values[value_id]
        self._held_bytes -= pending.total
        self._received_bytes -= pending.received
        return pending


def _bytes_value(buffer: bytearray) -> bytes | None:
    """The payload of a serialized ``Value`` that holds only ``bytes_value``, else None."""
    if not buffer or buffer[0:1] != _BYTES_VALUE_TAG:
        return None
    size = 0
    shift = 0
    position = 1
    while position < len(buffer) and position <= 10:
        byte = buffer[position]
        size |= (byte & 0x7F) << shift
        position += 1
        if not byte & 0x80:
            if position + size == len(buffer):
                return bytes(memoryview(buffer)[position:])
            return None
        shift += 7
    return None


def _parse(pending: _Pending, value_id: str) -> value_pb2.Value:
    try:
        # Parse the buffer in place: the runtime takes any bytes-like object (the
        # stubs say ``bytes``), and a copy would double the memory of a large value.
        message = value_pb2.Value.FromString(cast("bytes", pending.buffer))
    except DecodeError as exc:
        raise ChunkError(
            pending.path,
            f"the {pending.total} bytes of chunked value {value_id!r} do not parse as a "
            f"Value ({exc})",
        ) from exc
    if message.WhichOneof("kind") == "chunked_value":
        raise ChunkError(
            pending.path,
            f"chunked value {value_id!r} holds another chunked value reference",
        )
    return message
