"""Python values <-> ``ophost.v1.Value`` (see docs/protocol.md, section 4)."""

from __future__ import annotations

from ophost.errors import CodecError
from ophost.v1 import value_pb2

__all__ = [
    "MAX_BIG_INT_DIGITS",
    "MAX_DEPTH",
    "big_int_text",
    "from_proto",
    "parse_big_int",
    "to_proto",
]

# The deepest nesting of containers the protocol guarantees a peer can parse.
MAX_DEPTH = 30
# The most decimal digits of a ``big_int_value``. Converting between decimal text and
# an int takes time quadratic in the number of digits, which is why Python refuses
# more than 4300 digits by default (``sys.set_int_max_str_digits``). The codec keeps to
# that bound, in both directions, even where the interpreter allows more; where it
# allows fewer, longer ints are refused as well (a CodecError either way).
MAX_BIG_INT_DIGITS = 4300
# Any int of at most this many bits has at most MAX_BIG_INT_DIGITS decimal digits
# (4300 * log2(10) is about 14284.3): those are written without counting digits.
_SURELY_SHORT_BITS = 14_284
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


def to_proto(value: object, *, path: str = "value") -> value_pb2.Value:
    """Encode ``value``; raise :class:`CodecError` naming the path of anything unencodable."""
    message = value_pb2.Value()
    _encode(value, message, path, 0)
    return message


def _encode(value: object, out: value_pb2.Value, path: str, depth: int) -> None:
    if value is None:
        out.null_value.SetInParent()
    elif isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int):
        number = int(value)
        if _INT64_MIN <= number <= _INT64_MAX:
            out.int_value = number
        else:
            out.big_int_value = big_int_text(number, path)
    elif isinstance(value, float):
        out.double_value = float(value)
    elif isinstance(value, str):
        try:
            out.string_value = value
        except (UnicodeEncodeError, ValueError):
            raise CodecError(path, "the string is not valid Unicode (lone surrogate)") from None
    elif isinstance(value, (bytes, bytearray, memoryview)):
        out.bytes_value = bytes(value)
    elif isinstance(value, (list, tuple, set, frozenset)):
        _check_depth(path, depth)
        if isinstance(value, list):
            target = out.list_value
        elif isinstance(value, tuple):
            target = out.tuple_value
        else:
            target = out.set_value
        target.SetInParent()
        for index, item in enumerate(value):
            _encode(item, target.values.add(), f"{path}[{index}]", depth + 1)
    elif isinstance(value, dict):
        _check_depth(path, depth)
        target_map = out.map_value
        target_map.SetInParent()
        for key, item in value.items():
            entry = target_map.entries.add()
            _encode(key, entry.key, f"{path}.<key {key!r}>", depth + 1)
            _encode(item, entry.value, f"{path}[{key!r}]", depth + 1)
    else:
        raise CodecError(
            path,
            f"a value of type {type(value).__module__}.{type(value).__qualname__} cannot be "
            "sent over the wire (supported: None, bool, int, float, str, bytes, list, tuple, "
            "set, dict)",
        )


def big_int_text(number: int, path: str) -> str:
    if number.bit_length() > _SURELY_SHORT_BITS:
        digits = _digit_count(number)
        if digits > MAX_BIG_INT_DIGITS:
            raise CodecError(
                path,
                f"an int of {digits} decimal digits cannot be sent (the most is "
                f"{MAX_BIG_INT_DIGITS}); send it as bytes or a string",
            )
    try:
        return str(number)
    except ValueError as exc:  # the interpreter's own limit is lower
        raise CodecError(path, f"the int cannot be written as text here: {exc}") from None


def _digit_count(number: int) -> int:
    """The number of decimal digits of ``number`` (without converting it to text)."""
    magnitude = abs(number)
    # bit_length * log10(2) is the count, or one more: one comparison settles it.
    estimate = int(magnitude.bit_length() * 0.30102999566398120)
    return estimate + 1 if magnitude >= 10**estimate else estimate


def _check_depth(path: str, depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise CodecError(path, f"the value nests containers more than {MAX_DEPTH} levels deep")


def from_proto(message: value_pb2.Value, *, path: str = "value") -> object:
    """Decode a ``Value``; raise :class:`CodecError` for a malformed one."""
    return _decode(message, path, hashable=False)


def _decode(message: value_pb2.Value, path: str, *, hashable: bool) -> object:
    kind = message.WhichOneof("kind")
    if kind == "null_value":
        return None
    if kind == "bool_value":
        return message.bool_value
    if kind == "int_value":
        return message.int_value
    if kind == "double_value":
        return message.double_value
    if kind == "string_value":
        return message.string_value
    if kind == "bytes_value":
        return message.bytes_value
    if kind == "big_int_value":
        return parse_big_int(message.big_int_value, path)
    if kind == "list_value":
        items = [
            _decode(v, f"{path}[{i}]", hashable=hashable)
            for i, v in enumerate(message.list_value.values)
        ]
        if hashable:
            raise CodecError(path, "a list cannot be a dict key or a set element")
        return items
    if kind == "tuple_value":
        return tuple(
            _decode(v, f"{path}[{i}]", hashable=hashable)
            for i, v in enumerate(message.tuple_value.values)
        )
    if kind == "set_value":
        elements = [
            _decode(v, f"{path}[{i}]", hashable=True)
            for i, v in enumerate(message.set_value.values)
        ]
        return frozenset(elements) if hashable else set(elements)
    if kind == "map_value":
        if hashable:
            raise CodecError(path, "a map cannot be a dict key or a set element")
        result: dict[object, object] = {}
        for index, entry in enumerate(message.map_value.entries):
            key = _decode(entry.key, f"{path}.<key {index}>", hashable=True)
            result[key] = _decode(entry.value, f"{path}[{key!r}]", hashable=False)
        return result
    if kind == "chunked_value":
        raise CodecError(
            path,
            "a chunked value reference must be reassembled from its chunks before decoding",
        )
    raise CodecError(path, "the value has no kind set")


def parse_big_int(text: str, path: str) -> int:
    """The int a ``big_int_value`` holds; :class:`CodecError` for anything else.

    At most :data:`MAX_BIG_INT_DIGITS` digits are accepted.
    """
    digits = text[1:] if text.startswith("-") else text
    if not digits.isdigit() or not digits.isascii() or (len(digits) > 1 and digits[0] == "0"):
        raise CodecError(path, f"big_int_value {text[:40]!r} is not a base-10 integer")
    if len(digits) > MAX_BIG_INT_DIGITS:
        raise CodecError(
            path,
            f"big_int_value has {len(digits)} digits, more than the {MAX_BIG_INT_DIGITS} "
            "a value may have",
        )
    try:
        return int(text)
    except ValueError as exc:  # the interpreter's own limit is lower
        raise CodecError(path, f"big_int_value cannot be read here: {exc}") from None
