"""The wire layer's inbound side: request bytes in, checked messages or a clean refusal out.

grpc.aio parses a request with the method's deserializer before it calls the handler
(and the interceptors' wrappers around it), and an exception there reaches the client
as ``UNKNOWN``. So the
host registers its methods (:func:`method_handlers`) with a deserializer that never
raises: bytes that do not parse become an :class:`Undecodable`, which the handler
turns into ``INVALID_ARGUMENT`` / ``MALFORMED_REQUEST`` naming the message type and,
where the bytes show it, the path of the field at fault
(``start.inputs[0].value.string_value``). Every request that does parse is then
checked against the fixed limits of :mod:`ophost.server._limits` (lengths of names,
ids and texts; counts of inputs, tags and states), so handlers only ever see requests
within them.

On ``Execute``, the client's stream is checked message by message as the handler
reads it: a message that does not decode raises the status at that point of the
stream (the handler ends the stream with it), never earlier and never silently.

Parsing runs on the event loop, and the protobuf runtime holds the GIL while it
parses, so no thread can take that work. It is linear in the bytes, except for map
fields, whose parsing grows faster than their entries (a start with 300,000 tags
takes a second): a large start's fields are counted in its bytes first
(:func:`_count_start`), and one with more inputs or tags than allowed is refused
without being parsed.

Finding the field at fault walks the bytes by the message's descriptor, descending
only into submessages that do not parse on their own; the walk is bounded
(:data:`_STEPS`, :data:`_PARSE_BYTES`), and when it runs out the error names only the
message type and what the parser said.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import grpc
from google.protobuf import descriptor, message_factory
from google.protobuf.message import Message

from ophost.codec.chunks import read_varint
from ophost.server import _status, _wire
from ophost.server._limits import (
    MAX_INPUTS,
    MAX_NAME_CHARS,
    MAX_PAGE_TOKEN_CHARS,
    MAX_STATES,
    MAX_TAG_VALUE_CHARS,
    MAX_TAGS,
    MAX_TEXT_CHARS,
)
from ophost.server._status import StatusError
from ophost.v1 import execution_pb2, op_host_service_pb2

__all__ = [
    "MAX_NESTING",
    "Refused",
    "Undecodable",
    "deserializer",
    "diagnose",
    "method_handlers",
]

_Context = grpc.aio.ServicerContext[Any, Any]

# How deep submessages may nest: the protobuf runtime's parser refuses deeper ones.
MAX_NESTING = 100
# The walk that looks for the field at fault gives up after this many fields. It
# parses submessages of at most _PARSE_ALONE_BYTES on their own (to skip those that
# are fine), up to _PARSE_BYTES in all; larger ones it enters. A few ms at most.
_STEPS = 500
_PARSE_ALONE_BYTES = 64 * 1024
_PARSE_BYTES = 1 << 20

_PARSER_PROBLEMS = {
    "MaxDepth": f"messages are nested more than {MAX_NESTING} deep",
    "UTF-8": "a string field holds invalid UTF-8",
    "corrupt": "the wire format is corrupt",
}


class Refused:
    """A request refused before parsing: the status to answer with."""

    __slots__ = ("status",)

    def __init__(self, status: StatusError) -> None:
        self.status = status

    def error(self, index: int | None = None) -> StatusError:
        return self.status


class Undecodable(Refused):
    """A request whose bytes did not parse: its message type, and the bytes."""

    __slots__ = ("data", "descriptor", "parser_message")

    def __init__(self, message: descriptor.Descriptor, data: bytes, parser_message: str) -> None:
        self.descriptor = message
        self.data = data
        self.parser_message = parser_message

    def error(self, index: int | None = None) -> StatusError:
        """The ``INVALID_ARGUMENT`` to answer with (``index``: its place on a stream, from 1)."""
        path, problem = diagnose(self.descriptor, self.data, self.parser_message)
        return _status.undecodable(self.descriptor.full_name, path, problem, index=index)


def deserializer(message_class: type[Message]) -> Callable[[bytes], Message | Refused]:
    """A request deserializer for ``message_class`` that never raises."""
    parse = message_class.FromString
    message: descriptor.Descriptor = message_class.DESCRIPTOR  # type: ignore[assignment]
    holds_start = message.full_name in _HOLDING_START

    def deserialize(data: bytes) -> Message | Refused:
        if holds_start and len(data) > _COUNT_START_BYTES:
            refusal = _count_start(data)
            if refusal is not None:
                return Refused(refusal)
        try:
            return parse(data)
        except Exception as exc:  # noqa: BLE001 - DecodeError, or anything else the parser raises
            return Undecodable(message, data, str(exc))

    return deserialize


# -- a large start's fields, counted before it is parsed -----------------------------------------

_HOLDING_START = frozenset(
    {
        op_host_service_pb2.StartExecutionRequest.DESCRIPTOR.full_name,
        op_host_service_pb2.ExecuteRequest.DESCRIPTOR.full_name,
    }
)
assert (
    op_host_service_pb2.StartExecutionRequest.START_FIELD_NUMBER
    == op_host_service_pb2.ExecuteRequest.START_FIELD_NUMBER
)
_START = op_host_service_pb2.StartExecutionRequest.START_FIELD_NUMBER
_INPUTS = execution_pb2.ExecutionStart.INPUTS_FIELD_NUMBER
_TAGS = execution_pb2.ExecutionStart.TAGS_FIELD_NUMBER
# Below this size a start cannot hold enough tags to take the parser long.
_COUNT_START_BYTES = 64 * 1024
# A request holding a start has a few fields of its own; a start has its inputs and
# tags and a few more. Counting stops past these (unknown fields count too).
_MAX_REQUEST_FIELDS = 64
_MAX_START_FIELDS = MAX_INPUTS + MAX_TAGS + 64


def _count_start(data: bytes) -> StatusError | None:
    """A refusal for a request whose start has too many inputs, tags or fields, else None.

    Counts over every occurrence of the start field (the parser merges them). Bytes
    that do not walk are left to the parser to report.
    """
    view = memoryview(data)
    counts = {_INPUTS: 0, _TAGS: 0, 0: 0}
    pos, end = 0, len(view)
    fields = 0
    while pos < end:
        fields += 1
        if fields > _MAX_REQUEST_FIELDS:
            return _status.malformed(f"the request has more than {_MAX_REQUEST_FIELDS} fields")
        tag, pos = read_varint(view, pos, end)
        if tag < 0:
            return None
        number, wire = tag >> 3, tag & 7
        after = _skip(view, pos, end, wire)
        if after < 0:
            return None
        if number == _START and wire == _LEN:
            length, inner = read_varint(view, pos, end)
            refusal = _count_start_fields(view, inner, inner + length, counts)
            if refusal is not None:
                return refusal
        pos = after
    return None


def _count_start_fields(
    view: memoryview, pos: int, end: int, counts: dict[int, int]
) -> StatusError | None:
    while pos < end:
        tag, pos = read_varint(view, pos, end)
        if tag < 0:
            return None
        number = tag >> 3
        if number in counts:
            counts[number] += 1
        counts[0] += 1
        if counts[_INPUTS] > MAX_INPUTS:
            return _status.too_many("start.inputs", None, MAX_INPUTS)
        if counts[_TAGS] > MAX_TAGS:
            return _status.too_many("start.tags", None, MAX_TAGS)
        if counts[0] > _MAX_START_FIELDS:
            return _status.too_many("start", None, _MAX_START_FIELDS, "fields")
        pos = _skip(view, pos, end, tag & 7)
        if pos < 0:
            return None
    return None


def _skip(view: memoryview, pos: int, end: int, wire: int) -> int:
    """The position after a field's value, or -1 when it does not walk."""
    if wire == 0:
        _, after = read_varint(view, pos, end)
        return after if after > pos else -1
    if wire in _FIXED:
        return pos + _FIXED[wire] if pos + _FIXED[wire] <= end else -1
    if wire == _LEN:
        length, after = read_varint(view, pos, end)
        if length < 0 or after + length > end:
            return -1
        return after + length
    return -1  # groups and invalid wire types: the parser says what is wrong


# -- what is wrong with bytes that do not parse ---------------------------------------------


class _Found(Exception):
    """The field at fault was found (control flow inside :func:`diagnose`)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(problem)
        self.path = path
        self.problem = problem


class _GaveUp(Exception):
    """The walk ran out of steps (control flow inside :func:`diagnose`)."""


def diagnose(
    message: descriptor.Descriptor, data: bytes, parser_message: str = ""
) -> tuple[str, str]:
    """Where and why ``data`` does not parse as ``message``: ``(field path, problem)``.

    The path is empty when the walk does not find the place (it is bounded);
    ``parser_message`` (the parser's own error) then says what it can.
    """
    walk = _Walk(deep=("MaxDepth" in parser_message))
    try:
        walk.message(message, memoryview(data), 0, len(data), "", 0)
    except _Found as found:
        return _shortened(found.path), found.problem
    except _GaveUp:
        pass
    for key, problem in _PARSER_PROBLEMS.items():
        if key in parser_message:
            return "", problem
    return "", parser_message or "the bytes do not parse"


def _shortened(path: str, head: int = 6, tail: int = 4) -> str:
    """``path`` with the middle left out when it has many fields (deep nesting)."""
    parts = path.split(".")
    if len(parts) <= head + tail + 1:
        return path
    left_out = len(parts) - head - tail
    return ".".join([*parts[:head], f"<{left_out} more>", *parts[-tail:]])


_LEN = 2
_FIXED = {1: 8, 5: 4}
_F = descriptor.FieldDescriptor


class _Walk:
    """One walk over the bytes of a request, bounded in fields and bytes parsed."""

    def __init__(self, *, deep: bool) -> None:
        # deep: the parser said the nesting is too deep. Submessages that parse on
        # their own may still be too deep where they sit, so every one is entered.
        self.deep = deep
        self.steps = _STEPS
        self.parse_bytes = _PARSE_BYTES

    def message(
        self,
        message: descriptor.Descriptor,
        data: memoryview,
        pos: int,
        end: int,
        path: str,
        depth: int,
    ) -> None:
        seen: dict[int, int] = {}
        while pos < end:
            self.steps -= 1
            if self.steps < 0:
                raise _GaveUp
            tag, pos = read_varint(data, pos, end)
            if tag < 0:
                raise _Found(path, "a field tag is cut off")
            number, wire = tag >> 3, tag & 7
            field = message.fields_by_number.get(number)
            here = _field_path(path, field, number, seen)
            if number == 0:
                raise _Found(path, "a field has number 0, which no field can have")
            if wire == 0:
                value, pos = read_varint(data, pos, end)
                if value < 0:
                    raise _Found(here, "the varint value is cut off or longer than 10 bytes")
            elif wire in _FIXED:
                pos += _FIXED[wire]
                if pos > end:
                    raise _Found(here, f"the {_FIXED[wire]}-byte value runs past the end")
            elif wire == _LEN:
                length, pos = read_varint(data, pos, end)
                if length < 0:
                    raise _Found(here, "the length is cut off")
                if pos + length > end:
                    raise _Found(
                        here,
                        f"the length {length} runs past the end of the message "
                        f"({end - pos} bytes left)",
                    )
                if field is not None:
                    self._payload(field, data, pos, pos + length, here, depth)
                pos += length
            elif wire == 3:  # a group: no ophost message has one, but the format allows it
                pos = self._group(data, pos, end, number, here, depth + 1)
            elif wire == 4:
                raise _Found(here, "an end-group tag with no group open")
            else:
                raise _Found(here, f"wire type {wire} does not exist")

    def _payload(
        self,
        field: descriptor.FieldDescriptor,
        data: memoryview,
        pos: int,
        end: int,
        path: str,
        depth: int,
    ) -> None:
        if field.type == _F.TYPE_STRING:
            try:
                str(data[pos:end], "utf-8")
            except UnicodeDecodeError as exc:
                raise _Found(path, f"the string is not valid UTF-8 (byte {exc.start})") from None
        elif field.type == _F.TYPE_MESSAGE and field.message_type is not None:
            if depth + 1 > MAX_NESTING:
                raise _Found(path, f"messages are nested more than {MAX_NESTING} deep here")
            if not self.deep and self._parses(field.message_type, data, pos, end):
                return
            self.message(field.message_type, data, pos, end, path, depth + 1)
        elif field.is_repeated and field.type != _F.TYPE_BYTES:
            self._packed(field, data, pos, end, path)

    def _parses(self, message: descriptor.Descriptor, data: memoryview, pos: int, end: int) -> bool:
        """Whether the submessage parses on its own (then nothing inside needs a look)."""
        if end - pos > _PARSE_ALONE_BYTES or end - pos > self.parse_bytes:
            return False  # walk into it instead: bounded by the steps
        self.parse_bytes -= end - pos
        try:
            _message_class(message).FromString(data[pos:end])  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - any failure means: look inside
            return False
        return True

    def _packed(
        self, field: descriptor.FieldDescriptor, data: memoryview, pos: int, end: int, path: str
    ) -> None:
        width = _PACKED_WIDTH.get(field.type)
        if width is not None:
            if (end - pos) % width:
                raise _Found(path, f"packed {width}-byte values do not fill the field's length")
            return
        while pos < end:
            self.steps -= 1
            if self.steps < 0:
                raise _GaveUp
            value, pos = read_varint(data, pos, end)
            if value < 0:
                raise _Found(path, "a packed varint is cut off")

    def _group(
        self, data: memoryview, pos: int, end: int, number: int, path: str, depth: int
    ) -> int:
        if depth > MAX_NESTING:
            raise _Found(path, f"groups are nested more than {MAX_NESTING} deep here")
        while pos < end:
            self.steps -= 1
            if self.steps < 0:
                raise _GaveUp
            tag, pos = read_varint(data, pos, end)
            if tag < 0:
                raise _Found(path, "a field tag inside a group is cut off")
            inner, wire = tag >> 3, tag & 7
            if wire == 4:
                if inner != number:
                    raise _Found(path, f"group {number} is closed as group {inner}")
                return pos
            if wire == 0:
                value, pos = read_varint(data, pos, end)
                if value < 0:
                    raise _Found(path, "a varint inside a group is cut off")
            elif wire in _FIXED:
                pos += _FIXED[wire]
            elif wire == _LEN:
                length, pos = read_varint(data, pos, end)
                if length < 0 or pos + length > end:
                    raise _Found(path, "a length inside a group runs past the end")
                pos += length
            elif wire == 3:
                pos = self._group(data, pos, end, inner, path, depth + 1)
            else:
                raise _Found(path, f"wire type {wire} does not exist")
            if pos > end:
                raise _Found(path, "a value inside a group runs past the end")
        raise _Found(path, f"group {number} is never closed")


_PACKED_WIDTH = {
    _F.TYPE_DOUBLE: 8,
    _F.TYPE_FIXED64: 8,
    _F.TYPE_SFIXED64: 8,
    _F.TYPE_FLOAT: 4,
    _F.TYPE_FIXED32: 4,
    _F.TYPE_SFIXED32: 4,
}


@functools.cache
def _message_class(message: descriptor.Descriptor) -> type[Message]:
    return message_factory.GetMessageClass(message)


def _field_path(
    path: str, field: descriptor.FieldDescriptor | None, number: int, seen: dict[int, int]
) -> str:
    name = field.name if field is not None else f"<field {number}>"
    if field is not None and field.is_repeated and field.type == _F.TYPE_MESSAGE:
        index = seen.get(number, 0)
        seen[number] = index + 1
        name = f"{name}[{index}]"
    return f"{path}.{name}" if path else name


# -- the limits every request is checked against ----------------------------------------------

_Check = Callable[[Any], None]


def _name(value: str, path: str) -> None:
    if len(value) > MAX_NAME_CHARS:
        raise _status.too_long(path, len(value), MAX_NAME_CHARS)


def _text(value: str, path: str, limit: int) -> None:
    if len(value) > limit:
        raise _status.too_long(path, len(value), limit)


def _start(start: execution_pb2.ExecutionStart, path: str) -> None:
    _name(start.op_name, f"{path}.op_name")
    _name(start.request_id, f"{path}.request_id")
    inputs = start.inputs
    if len(inputs) > MAX_INPUTS:
        raise _status.too_many(f"{path}.inputs", len(inputs), MAX_INPUTS)
    for index, named in enumerate(inputs):
        _name(named.name, f"{path}.inputs[{index}].name")
        if named.value.HasField("chunked_value"):
            where = f"{path}.inputs[{index}].value.chunked_value.value_id"
            _name(named.value.chunked_value.value_id, where)
    if start.config.HasField("chunked_value"):
        _name(start.config.chunked_value.value_id, f"{path}.config.chunked_value.value_id")
    tags = start.tags
    if len(tags) > MAX_TAGS:
        raise _status.too_many(f"{path}.tags", len(tags), MAX_TAGS)
    for key, value in tags.items():
        _name(key, f"{path}.tags")
        _text(value, f"{path}.tags[{key!r}]", MAX_TAG_VALUE_CHARS)


def _execute(request: op_host_service_pb2.ExecuteRequest) -> None:
    kind = request.WhichOneof("kind")
    if kind == "start":
        _start(request.start, "start")
    elif kind == "chunk":
        _name(request.chunk.value_id, "chunk.value_id")
    elif kind == "cancel":
        _text(request.cancel.reason, "cancel.reason", MAX_TEXT_CHARS)


_STATES = frozenset(execution_pb2.ExecutionState.values()) - {
    execution_pb2.EXECUTION_STATE_UNSPECIFIED
}


def _list_executions(request: op_host_service_pb2.ListExecutionsRequest) -> None:
    _text(request.page_token, "page_token", MAX_PAGE_TOKEN_CHARS)
    _name(request.op_name, "op_name")
    states = request.states
    if len(states) > MAX_STATES:
        raise _status.too_many("states", len(states), MAX_STATES)
    for index, state in enumerate(states):
        if state not in _STATES:
            raise _status.malformed(f"{state} is not an execution state", f"states[{index}]")


def _cancel(request: op_host_service_pb2.CancelExecutionRequest) -> None:
    _name(request.execution_id, "execution_id")
    _text(request.reason, "reason", MAX_TEXT_CHARS)


_CHECKS: Mapping[str, _Check] = {
    "GetServerInfo": lambda request: None,
    "ListOps": lambda request: _text(request.page_token, "page_token", MAX_PAGE_TOKEN_CHARS),
    "GetOp": lambda request: _name(request.op_name, "op_name"),
    "Execute": _execute,
    "StartExecution": lambda request: _start(request.start, "start"),
    "GetExecution": lambda request: _name(request.execution_id, "execution_id"),
    "ListExecutions": _list_executions,
    "CancelExecution": _cancel,
    "StreamEvents": lambda request: _name(request.execution_id, "execution_id"),
}


def _checker(method: str) -> Callable[[Message | Refused, int | None], Any]:
    check = _CHECKS[method]

    def accept(request: Message | Refused, index: int | None = None) -> Any:
        if isinstance(request, Refused):
            raise request.error(index)
        check(request)
        return request

    return accept


# -- the handlers -------------------------------------------------------------------------------


def method_handlers(
    service: descriptor.ServiceDescriptor, servicer: object
) -> dict[str, grpc.RpcMethodHandler[Any, Any]]:
    """The gRPC handlers of ``servicer``'s methods, by name, as ``service`` declares them.

    Requests arrive decoded and checked (see the module docstring); responses may be
    messages or bytes the wire layer already serialized (:func:`_wire.serialize`).
    """
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in service.methods:
        if method.name not in _CHECKS:
            raise ValueError(f"no request checks for method {method.name}")
        accept = _checker(method.name)
        behavior: Any = getattr(servicer, method.name)
        deserialize = deserializer(message_factory.GetMessageClass(method.input_type))
        shape = (method.client_streaming, method.server_streaming)
        if shape == (False, False):
            handler = grpc.unary_unary_rpc_method_handler(
                _unary_unary(behavior, accept),
                request_deserializer=deserialize,
                response_serializer=_wire.serialize,
            )
        elif shape == (False, True):
            handler = grpc.unary_stream_rpc_method_handler(
                _unary_stream(behavior, accept),
                request_deserializer=deserialize,
                response_serializer=_wire.serialize,
            )
        elif shape == (True, True):
            handler = grpc.stream_stream_rpc_method_handler(
                _stream_stream(behavior, accept),
                request_deserializer=deserialize,
                response_serializer=_wire.serialize,
            )
        else:
            raise ValueError(f"method {method.name}: client streaming alone is not served")
        handlers[method.name] = handler
    return handlers


_Accept = Callable[[Message | Refused, int | None], Any]


def _unary_unary(behavior: Any, accept: _Accept) -> Any:
    async def unary_unary(request: Message | Refused, context: _Context) -> Any:
        return await behavior(accept(request, None), context)

    return unary_unary


def _unary_stream(behavior: Any, accept: _Accept) -> Any:
    async def unary_stream(request: Message | Refused, context: _Context) -> AsyncIterator[Any]:
        responses = behavior(accept(request, None), context)
        try:
            async for response in responses:
                yield response
        finally:
            await responses.aclose()

    return unary_stream


def _stream_stream(behavior: Any, accept: _Accept) -> Any:
    def stream_stream(requests: AsyncIterator[Message | Refused], context: _Context) -> Any:
        return behavior(_checked(requests, accept), context)

    return stream_stream


async def _checked(
    requests: AsyncIterator[Message | Refused], accept: _Accept
) -> AsyncIterator[Any]:
    index = 0
    async for request in requests:
        index += 1
        yield accept(request, index)
