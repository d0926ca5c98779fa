"""Large values as ordered chunks: splitting, reassembly and every check (docs/protocol.md §5)."""

from __future__ import annotations

import re
import tracemalloc

import pytest

from ophost.codec import values
from ophost.codec.chunks import (
    ChunkAssembler,
    ChunkError,
    ChunkLimitError,
    encode_value,
    split_value,
)
from ophost.errors import CodecError
from ophost.v1 import value_pb2

MiB = 1024 * 1024


def _size(value: object) -> int:
    return len(values.to_proto(value).SerializeToString())


def _encode(
    value: object, *, threshold: int = 0, chunk_size: int = 4, value_id: str = "v1"
) -> tuple[value_pb2.Value, list[value_pb2.ValueChunk]]:
    return encode_value(
        value,
        path="inputs.x",
        inline_threshold=threshold,
        chunk_size=chunk_size,
        value_id=value_id,
    )


def _chunk(
    value_id: str = "v1", index: int = 0, offset: int = 0, data: bytes = b"", *, last: bool = False
) -> value_pb2.ValueChunk:
    return value_pb2.ValueChunk(value_id=value_id, index=index, offset=offset, data=data, last=last)


def _ref(value_id: str = "v1", total: int = 10, count: int = 3) -> value_pb2.ChunkedValueRef:
    return value_pb2.ChunkedValueRef(value_id=value_id, total_size_bytes=total, chunk_count=count)


# --- encoding ---------------------------------------------------------------------------


def test_value_exactly_at_the_threshold_travels_inline() -> None:
    value = b"a" * 100
    threshold = _size(value)
    message, chunks = _encode(value, threshold=threshold)
    assert chunks == []
    assert message == values.to_proto(value)
    assert message.WhichOneof("kind") == "bytes_value"


def test_value_one_byte_over_the_threshold_is_chunked() -> None:
    value = b"a" * 100
    serialized = values.to_proto(value).SerializeToString()
    message, chunks = _encode(value, threshold=len(serialized) - 1, chunk_size=16)
    assert message.WhichOneof("kind") == "chunked_value"
    assert message.chunked_value == _ref("v1", total=len(serialized), count=7)
    assert b"".join(c.data for c in chunks) == serialized


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 102, 103, 104, 1000])
def test_chunk_layout_follows_section_5_1(chunk_size: int) -> None:
    value = "é" * 50  # a 100-byte string: serialized Value of 102 bytes
    serialized = values.to_proto(value).SerializeToString()
    assert len(serialized) == 102
    message, chunks = _encode(value, threshold=0, chunk_size=chunk_size, value_id="out-7")
    count = -(-102 // chunk_size)
    assert message.chunked_value == _ref("out-7", total=102, count=count)
    assert len(chunks) == count
    for i, chunk in enumerate(chunks):
        assert chunk.value_id == "out-7"
        assert chunk.index == i
        assert chunk.offset == i * chunk_size
        assert chunk.data == serialized[i * chunk_size : (i + 1) * chunk_size]
        assert chunk.last == (i == count - 1)
    assert all(len(c.data) == chunk_size for c in chunks[:-1])
    assert 1 <= len(chunks[-1].data) <= chunk_size


def test_a_zero_threshold_chunks_even_the_smallest_value() -> None:
    message, chunks = _encode(None, threshold=0, chunk_size=64)
    assert message.chunked_value == _ref("v1", total=2, count=1)
    assert [(c.index, c.offset, c.data, c.last) for c in chunks] == [(0, 0, b"\n\x00", True)]


@pytest.mark.parametrize(
    "value",
    [
        None,
        "text" * 40,
        list(range(100)),
        {"a": [1, 2.5, None], (1, 2): {"nested": b"\x00" * 30}},
        {1, 2, 3},
        2**100,
    ],
)
def test_values_round_trip_through_chunks(value: object) -> None:
    message, chunks = _encode(value, threshold=0, chunk_size=5)
    assembler = ChunkAssembler(max_total_bytes=10_000)
    assembler.expect(message.chunked_value, path="inputs.x")
    for chunk in chunks:
        assembler.add(chunk)
    assert assembler.complete("v1")
    assert values.from_proto(assembler.take("v1")) == value


def test_split_value_returns_the_same_message_when_inline() -> None:
    message = values.to_proto([1, 2, 3])
    inline, chunks = split_value(message, inline_threshold=1000, chunk_size=4, value_id="v")
    assert inline is message
    assert chunks == []


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"inline_threshold": -1}, "inline_threshold must be >= 0, got -1"),
        ({"chunk_size": 0}, "chunk_size must be >= 1, got 0"),
        ({"value_id": ""}, "value_id must not be empty"),
    ],
)
def test_split_value_rejects_bad_arguments(kwargs: dict[str, object], error: str) -> None:
    arguments: dict[str, object] = {"inline_threshold": 0, "chunk_size": 4, "value_id": "v"}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=f"^{re.escape(error)}$"):
        split_value(values.to_proto(1), **arguments)  # type: ignore[arg-type]


def test_a_chunked_reference_cannot_be_chunked_again() -> None:
    ref = value_pb2.Value(chunked_value=_ref())
    with pytest.raises(ValueError, match=r"^a chunked_value reference cannot itself be chunked$"):
        split_value(ref, inline_threshold=0, chunk_size=4, value_id="v")


def test_encode_value_names_the_path_of_an_unencodable_value() -> None:
    with pytest.raises(CodecError) as info:
        _encode({"when": object()})
    assert info.value.path == "inputs.x['when']"
    assert not isinstance(info.value, ChunkError)


# --- a 64 MiB value ---------------------------------------------------------------------


def test_a_64_mib_value_splits_and_reassembles() -> None:
    value = bytes(range(256)) * (64 * MiB // 256)
    header = 1 + 4  # tag of bytes_value + 4-byte varint length of 64 MiB
    total = 64 * MiB + header
    message, chunks = _encode(value, threshold=MiB, chunk_size=MiB, value_id="big")
    assert message.chunked_value == _ref("big", total=total, count=65)
    assert [c.index for c in chunks] == list(range(65))
    assert [c.offset for c in chunks] == [i * MiB for i in range(65)]
    assert [len(c.data) for c in chunks] == [MiB] * 64 + [header]
    assert [c.last for c in chunks] == [False] * 64 + [True]

    assembler = ChunkAssembler(max_total_bytes=128 * MiB, max_chunk_bytes=MiB)
    assembler.expect(message.chunked_value, path="outputs.result")
    assert assembler.held_bytes == total
    # The buffer grows with the chunks, in place: adding 64 MiB of chunks allocates
    # about the value once (copying on every chunk would need it twice or more).
    tracemalloc.start()
    try:
        for chunk in chunks:
            assembler.add(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < total * 5 // 4 + 2 * MiB
    assert assembler.received_bytes == total
    del chunks
    assert assembler.pending() == []
    result = assembler.take("big")
    assert result.bytes_value == value
    assert assembler.held_bytes == 0
    assert assembler.received_bytes == 0


def test_an_announcement_allocates_nothing_until_chunks_arrive() -> None:
    assembler = ChunkAssembler(max_total_bytes=4 << 30)
    tracemalloc.start()
    try:
        for number in range(4):
            ref = _ref(f"v{number}", total=1 << 30, count=1024)
            assembler.expect(ref, path=f"inputs.v{number}")
        announced, _ = tracemalloc.get_traced_memory()
        assembler.add(value_pb2.ValueChunk(value_id="v0", index=0, offset=0, data=b"x" * MiB))
        received, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert assembler.held_bytes == 4 << 30
    assert announced < 64 * 1024
    assert assembler.received_bytes == MiB
    assert MiB <= received < 3 * MiB


# --- the assembler: flow ----------------------------------------------------------------


def test_interleaved_values_are_assembled_independently() -> None:
    first, first_chunks = _encode(b"first value " * 3, chunk_size=8, value_id="a")
    second, second_chunks = _encode("second" * 5, chunk_size=8, value_id="b")
    assembler = ChunkAssembler(max_total_bytes=1000)
    assembler.expect(first.chunked_value, path="inputs.a")
    assembler.expect(second.chunked_value, path="config")
    assert assembler.pending() == ["a", "b"]
    assert len(first_chunks) == 5
    assert len(second_chunks) == 4
    order = [first_chunks[0], second_chunks[0], second_chunks[1], first_chunks[1]]
    order += [second_chunks[2], first_chunks[2], first_chunks[3], second_chunks[3]]
    for chunk in order:
        assembler.add(chunk)
    assert assembler.complete("b")
    assert not assembler.complete("a")
    assert assembler.pending() == ["a"]
    assembler.add(first_chunks[4])
    assert assembler.pending() == []
    assert values.from_proto(assembler.take("b")) == "second" * 5
    assert values.from_proto(assembler.take("a")) == b"first value " * 3
    assert assembler.held_bytes == 0


def test_pending_lists_values_in_announcement_order() -> None:
    assembler = ChunkAssembler(max_total_bytes=1000)
    for value_id in ["z", "m", "a"]:
        assembler.expect(_ref(value_id, total=4, count=1), path=f"inputs.{value_id}")
    assert assembler.pending() == ["z", "m", "a"]
    assert assembler.held_bytes == 12


def test_take_forgets_the_value() -> None:
    message, chunks = _encode(7, threshold=0, chunk_size=100)
    assembler = ChunkAssembler(max_total_bytes=100)
    assembler.expect(message.chunked_value, path="inputs.x")
    assembler.add(chunks[0])
    assert values.from_proto(assembler.take("v1")) == 7
    with pytest.raises(KeyError):
        assembler.take("v1")
    with pytest.raises(KeyError):
        assembler.complete("v1")
    # The id can be announced again once taken.
    assembler.expect(message.chunked_value, path="inputs.y")
    assert assembler.pending() == ["v1"]


def test_complete_and_take_of_an_unknown_id_raise_key_error() -> None:
    assembler = ChunkAssembler(max_total_bytes=100)
    with pytest.raises(KeyError):
        assembler.complete("nope")
    with pytest.raises(KeyError):
        assembler.take("nope")


def test_take_of_an_incomplete_value_is_a_programming_error() -> None:
    assembler = ChunkAssembler(max_total_bytes=100)
    assembler.expect(_ref(total=10, count=3), path="inputs.x")
    assembler.add(_chunk(index=0, offset=0, data=b"abcd"))
    with pytest.raises(
        ValueError, match=r"^chunked value 'v1' is not complete: 1 of 3 chunks arrived$"
    ):
        assembler.take("v1")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_total_bytes": -1}, "max_total_bytes must be >= 0, got -1"),
        ({"max_total_bytes": 1, "max_chunk_bytes": 0}, "max_chunk_bytes must be >= 1, got 0"),
    ],
)
def test_assembler_rejects_bad_limits(kwargs: dict[str, int], error: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(error)}$"):
        ChunkAssembler(**kwargs)


# --- the assembler: every check ---------------------------------------------------------


def _expect_error(
    assembler: ChunkAssembler, chunk: value_pb2.ValueChunk, path: str, message: str
) -> None:
    with pytest.raises(ChunkError) as info:
        assembler.add(chunk)
    assert info.value.path == path
    assert info.value.reason == message
    assert str(info.value) == f"{path}: {message}"


def _ready(total: int = 10, count: int = 3) -> ChunkAssembler:
    assembler = ChunkAssembler(max_total_bytes=100, max_chunk_bytes=4)
    assembler.expect(_ref(total=total, count=count), path="inputs.x")
    return assembler


def test_chunk_error_is_a_codec_error() -> None:
    error = ChunkError("inputs.x", "bad")
    assert isinstance(error, CodecError)
    assert (error.path, error.reason, str(error)) == ("inputs.x", "bad", "inputs.x: bad")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        (_ref(""), "a chunked value reference has an empty value_id"),
        (_ref(total=0, count=1), "chunked value 'v1' announces 0 bytes"),
        (_ref(total=5, count=0), "chunked value 'v1' announces 0 chunks"),
        (
            _ref(total=2, count=3),
            "chunked value 'v1' announces 3 chunks for only 2 bytes "
            "(every chunk holds at least one byte)",
        ),
        (
            _ref(total=13, count=3),
            "chunked value 'v1' announces 13 bytes in 3 chunks, more than chunks of at most "
            "4 bytes can hold",
        ),
        (
            _ref(total=101, count=101),
            "chunked value 'v1' announces 101 bytes; with the 0 bytes already announced that "
            "is over the limit of 100 bytes",
        ),
    ],
)
def test_expect_rejects_a_bad_reference(ref: value_pb2.ChunkedValueRef, message: str) -> None:
    assembler = ChunkAssembler(max_total_bytes=100, max_chunk_bytes=4)
    with pytest.raises(ChunkError) as info:
        assembler.expect(ref, path="inputs.x")
    assert (info.value.path, info.value.reason) == ("inputs.x", message)
    assert assembler.pending() == []
    assert assembler.held_bytes == 0


def test_expect_accepts_exactly_the_memory_limit_and_counts_every_value() -> None:
    assembler = ChunkAssembler(max_total_bytes=100)
    assembler.expect(_ref("a", total=60, count=1), path="inputs.a")
    assembler.expect(_ref("b", total=40, count=1), path="inputs.b")
    assert assembler.held_bytes == 100
    with pytest.raises(ChunkLimitError) as info:
        assembler.expect(_ref("c", total=1, count=1), path="inputs.c")
    assert info.value.limit == 100
    assert info.value.reason == (
        "chunked value 'c' announces 1 bytes; with the 100 bytes already announced that is "
        "over the limit of 100 bytes"
    )
    assert info.value.path == "inputs.c"


def test_taking_a_value_frees_its_share_of_the_memory_limit() -> None:
    message, chunks = _encode(b"x" * 50, chunk_size=100, value_id="a")
    total = message.chunked_value.total_size_bytes
    assembler = ChunkAssembler(max_total_bytes=total)
    assembler.expect(message.chunked_value, path="inputs.a")
    assembler.add(chunks[0])
    with pytest.raises(ChunkError):
        assembler.expect(_ref("b", total=1, count=1), path="inputs.b")
    assembler.take("a")
    assembler.expect(_ref("b", total=total, count=1), path="inputs.b")
    assert assembler.held_bytes == total


def test_expect_rejects_a_duplicate_value_id() -> None:
    assembler = _ready()
    with pytest.raises(ChunkError) as info:
        assembler.expect(_ref(total=4, count=1), path="config")
    assert info.value.path == "config"
    assert info.value.reason == "value id 'v1' is already used by inputs.x (ids must be unique)"
    assert assembler.held_bytes == 10


def test_add_rejects_an_unknown_value_id() -> None:
    _expect_error(
        _ready(),
        _chunk("v2", data=b"abcd"),
        "chunk.value_id",
        "no chunked value with id 'v2' was announced",
    )


def test_add_rejects_a_chunk_out_of_index_order() -> None:
    _expect_error(
        _ready(),
        _chunk(index=1, offset=0, data=b"abcd"),
        "inputs.x",
        "chunk 1 of 'v1' arrived where chunk 0 was expected (the chunks of a value are sent "
        "in index order)",
    )


def test_add_rejects_a_repeated_chunk() -> None:
    assembler = _ready()
    assembler.add(_chunk(index=0, offset=0, data=b"abcd"))
    _expect_error(
        assembler,
        _chunk(index=0, offset=0, data=b"abcd"),
        "inputs.x",
        "chunk 0 of 'v1' arrived where chunk 1 was expected (the chunks of a value are sent "
        "in index order)",
    )


def test_add_rejects_a_wrong_offset() -> None:
    assembler = _ready()
    assembler.add(_chunk(index=0, offset=0, data=b"abcd"))
    _expect_error(
        assembler,
        _chunk(index=1, offset=3, data=b"efgh"),
        "inputs.x",
        "chunk 1 of 'v1' has offset 3, expected 4 (the length of the chunks before it)",
    )


def test_add_rejects_an_empty_chunk() -> None:
    _expect_error(_ready(), _chunk(data=b""), "inputs.x", "chunk 0 of 'v1' holds no bytes")


def test_add_rejects_a_chunk_over_the_chunk_size_limit() -> None:
    _expect_error(
        _ready(),
        _chunk(data=b"abcde"),
        "inputs.x",
        "chunk 0 of 'v1' holds 5 bytes, more than the chunk size limit of 4",
    )


def test_add_rejects_bytes_past_the_announced_total() -> None:
    assembler = _ready(total=6, count=2)
    assembler.add(_chunk(index=0, offset=0, data=b"abcd"))
    _expect_error(
        assembler,
        _chunk(index=1, offset=4, data=b"efg", last=True),
        "inputs.x",
        "chunk 1 of 'v1' ends at byte 7, past the announced total of 6 bytes",
    )


def test_add_rejects_last_on_a_chunk_that_is_not_the_final_one() -> None:
    _expect_error(
        _ready(),
        _chunk(data=b"abcd", last=True),
        "inputs.x",
        "chunk 0 of 'v1' is marked last, but 3 chunks were announced",
    )


def test_add_rejects_a_final_chunk_not_marked_last() -> None:
    assembler = _ready(total=6, count=2)
    assembler.add(_chunk(index=0, offset=0, data=b"abcd"))
    _expect_error(
        assembler,
        _chunk(index=1, offset=4, data=b"ef", last=False),
        "inputs.x",
        "chunk 1 of 'v1' is the final one of 2 but is not marked last",
    )


def test_add_rejects_a_total_size_mismatch() -> None:
    assembler = _ready(total=8, count=2)
    assembler.add(_chunk(index=0, offset=0, data=b"abcd"))
    _expect_error(
        assembler,
        _chunk(index=1, offset=4, data=b"ef", last=True),
        "inputs.x",
        "the 2 chunks of 'v1' hold 6 bytes, but the reference announced 8",
    )


def test_add_rejects_a_chunk_after_the_last_one() -> None:
    assembler = _ready(total=4, count=1)
    assembler.add(_chunk(data=b"abcd", last=True))
    _expect_error(
        assembler,
        _chunk(index=1, offset=4, data=b"e", last=True),
        "inputs.x",
        "chunk 1 of 'v1' arrived after all 1 announced chunks",
    )


def test_a_rejected_chunk_leaves_the_assembler_unchanged() -> None:
    serialized = values.to_proto("0123456789").SerializeToString()
    assembler = ChunkAssembler(max_total_bytes=100, max_chunk_bytes=8)
    assembler.expect(_ref(total=len(serialized), count=2), path="inputs.x")
    assembler.add(_chunk(index=0, offset=0, data=serialized[:8]))
    with pytest.raises(ChunkError):
        assembler.add(_chunk(index=1, offset=8, data=serialized[8:] + b"!", last=True))
    with pytest.raises(ChunkError):
        assembler.add(_chunk(index=1, offset=8, data=serialized[8:], last=False))
    assert assembler.pending() == ["v1"]
    assembler.add(_chunk(index=1, offset=8, data=serialized[8:], last=True))
    assert values.from_proto(assembler.take("v1")) == "0123456789"


def test_take_rejects_bytes_that_do_not_parse() -> None:
    assembler = ChunkAssembler(max_total_bytes=100)
    assembler.expect(_ref(total=2, count=1), path="inputs.x")
    assembler.add(_chunk(data=b"\xff\xff", last=True))
    with pytest.raises(ChunkError) as info:
        assembler.take("v1")
    assert info.value.path == "inputs.x"
    assert info.value.reason.startswith("the 2 bytes of chunked value 'v1' do not parse as a Value")
    assert assembler.held_bytes == 0


def test_take_rejects_a_reference_inside_the_chunks() -> None:
    inner = value_pb2.Value(chunked_value=_ref("other", total=4, count=1)).SerializeToString()
    assembler = ChunkAssembler(max_total_bytes=100)
    assembler.expect(_ref(total=len(inner), count=1), path="config")
    assembler.add(_chunk(data=inner, last=True))
    with pytest.raises(ChunkError) as info:
        assembler.take("v1")
    assert (info.value.path, info.value.reason) == (
        "config",
        "chunked value 'v1' holds another chunked value reference",
    )


@pytest.mark.parametrize(
    "value",
    [b"x" * 1000, b"", bytearray(b"ab" * 300), "y" * 500, [1, 2, 3] * 100, b"z" * (1 << 20)],
    ids=["bytes", "empty", "bytearray", "str", "list", "1MiB"],
)
@pytest.mark.parametrize(("threshold", "size"), [(10, 7), (100, 64), (0, 1000), (5000, 333)])
def test_pieces_match_the_whole_encoding(value: object, threshold: int, size: int) -> None:
    from ophost.codec.chunks import encode_value_pieces

    ref, chunks = encode_value(
        value, path="p", inline_threshold=threshold, chunk_size=size, value_id="v"
    )
    encoded = encode_value_pieces(
        value, path="p", inline_threshold=threshold, chunk_size=size, value_id="v"
    )
    assert encoded.message == ref
    assert encoded.chunked == bool(chunks)
    rebuilt = []
    for meta, data in encoded.chunks:
        assert not meta.data
        chunk = value_pb2.ValueChunk()
        chunk.CopyFrom(meta)
        chunk.data = bytes(data)
        rebuilt.append(chunk)
    assert rebuilt == chunks
