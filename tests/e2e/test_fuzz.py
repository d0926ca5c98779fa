"""Fuzzing the host from outside: every RPC, with hostile requests (issue 17, point 9).

A real host (``ophost serve``, in a process of its own, on the memory store and on
SQLite) is sent,
for each of its nine RPCs, requests drawn by hypothesis: valid messages with fuzzed
fields, their bytes mutated (flipped, cut, spliced), raw bytes, hand-made hostile
payloads (nesting past the parser's limit, 5,000-digit integers, invalid UTF-8,
messages over the size limit, a start with 330,000 tags), and for ``Execute``
sequences of messages in any order, with chunked uploads whose chunks are dropped,
reordered, duplicated or altered, and client-side cancels.

Every answer must be clean: a status the protocol lists (never ``UNKNOWN`` or
``INTERNAL``, never a deadline hit: nothing hangs), with ``google.rpc.Status`` details
from the host (except gRPC's own message-size refusal), responses that parse, nothing
on the host's stderr (no error logged, no traceback), the host still serving after
each example, and its memory (its process's RSS) within a bound. A fully valid
request must succeed.

The number of examples: ``OPHOST_FUZZ_EXAMPLES`` in all (default 3,000, shared by the
tests); ``make fuzz`` runs 100,000.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ophost.codec import values as values_codec
from ophost.codec.chunks import split_value
from ophost.codec.status import find_status_details
from ophost.errors import CodecError
from ophost.v1 import execution_pb2, value_pb2
from ophost.v1 import op_host_service_pb2 as pb

from . import fuzz_ops

# -- how many examples ------------------------------------------------------------------------

_TESTS = 18  # nine RPCs, two stores
EXAMPLES = int(os.environ.get("OPHOST_FUZZ_EXAMPLES", "3000"))
PER_TEST = max(10, -(-EXAMPLES // _TESTS))
fuzz = settings(
    max_examples=PER_TEST,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)
# Each test's own time limit grows with its examples (a quarter second each, at worst).
# A failing example may hold megabytes: hypothesis then warns that its repr is large,
# which must not hide the failure itself.
pytestmark = [
    pytest.mark.timeout(max(120, PER_TEST // 4)),
    pytest.mark.filterwarnings("ignore:Generating overly large repr"),
]
# Every call's deadline: a call that reaches it is a hang.
DEADLINE = 20.0
MiB = 1 << 20

# -- the host: ``ophost serve``, in a process of its own --------------------------------------

REPO = Path(__file__).resolve().parents[2]
OP_NAMES = [o.name for o in fuzz_ops.ophost_ops]
MAX_MESSAGE_BYTES = 4 * MiB
# What the host is told it may hold: it must stay within about this much memory.
HOST_OPTIONS = [
    "--max-concurrent-executions", "32",
    "--max-retained-executions", "200",
    "--max-retained-bytes", "64M",
    "--max-upload-bytes", "8M",
    "--max-upload-buffer-bytes", "32M",
    "--drain-grace", "0.5",
]  # fmt: skip
MAX_HOST_RSS = 512 * MiB


@dataclass
class FuzzHost:
    """The host under test, a channel to it, and what the tests draw ids and tokens from."""

    process: subprocess.Popen[str]
    address: str
    stderr_path: Path
    channel: grpc.Channel
    execution_ids: list[str] = field(default_factory=list)
    page_tokens: list[str] = field(default_factory=list)
    stderr_seen: int = 0
    largest_rss: int = 0

    def unary(self, method: str) -> Callable[..., bytes]:
        call: Callable[..., bytes] = self.channel.unary_unary(f"/ophost.v1.OpHostService/{method}")
        return call

    def new_stderr(self) -> str:
        """What the host wrote to stderr since the last look: errors it logged, tracebacks."""
        with self.stderr_path.open(encoding="utf-8", errors="replace") as stderr:
            stderr.seek(self.stderr_seen)
            text = stderr.read()
        self.stderr_seen += len(text.encode("utf-8", "replace"))
        return text

    def rss(self) -> int:
        with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def after_example(self) -> None:
        """Nothing on stderr, and the host's memory within its bound."""
        assert self.new_stderr() == ""
        rss = self.rss()
        self.largest_rss = max(self.largest_rss, rss)
        assert rss < MAX_HOST_RSS, f"the host holds {rss / MiB:.0f} MiB"

    def check_still_serving(self) -> None:
        assert self.process.poll() is None, f"the host exited:\n{self.new_stderr()}"
        info = pb.GetServerInfoResponse.FromString(self.unary("GetServerInfo")(b"", timeout=10))
        assert info.protocol_version == "1"
        self.after_example()


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def host(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzHost]:
    folder = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    store = "memory" if request.param == "memory" else f"sqlite:///{folder / 'ophost.db'}"
    stderr_path = folder / "stderr.txt"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "ophost", "serve", "-m", "tests.e2e.fuzz_ops", "--port", "0",
             "--store", store, *HOST_OPTIONS],
            cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.match(r"^ophost: serving \d+ ops from .* on (\S+)$", line)
        assert match is not None, f"{line!r}\n{stderr_path.read_text()}"
        process.stdout.readline()  # where executions are kept
        channel = grpc.insecure_channel(
            match.group(1),
            options=[
                ("grpc.max_receive_message_length", 64 * MiB),
                ("grpc.max_send_message_length", 64 * MiB),
            ],
        )
        fuzz_host = FuzzHost(process, match.group(1), stderr_path, channel)
        try:
            yield fuzz_host
            fuzz_host.check_still_serving()
        finally:
            channel.close()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _seed(host: FuzzHost) -> None:
    """Executions and page tokens that exist now, for the fuzzed requests to name (each
    test makes its own: the host forgets the oldest executions as others start)."""
    host.execution_ids.clear()
    host.page_tokens.clear()
    start = host.unary("StartExecution")
    for first in (
        _start("add", a=_int(1), b=_int(2)),
        _start("nap", seconds=value_pb2.Value(double_value=0.2)),
        _start("fails"),
    ):
        reply = pb.StartExecutionResponse.FromString(
            start(pb.StartExecutionRequest(start=first).SerializeToString(), timeout=DEADLINE)
        )
        host.execution_ids.append(reply.execution.id)
    ops = pb.ListOpsResponse.FromString(
        host.unary("ListOps")(pb.ListOpsRequest(page_size=1).SerializeToString())
    )
    listed = pb.ListExecutionsResponse.FromString(
        host.unary("ListExecutions")(pb.ListExecutionsRequest(page_size=1).SerializeToString())
    )
    host.page_tokens += [ops.next_page_token, listed.next_page_token]


def _int(number: int) -> value_pb2.Value:
    return value_pb2.Value(int_value=number)


def _start(op_name: str, **inputs: value_pb2.Value) -> execution_pb2.ExecutionStart:
    start = execution_pb2.ExecutionStart(op_name=op_name)
    for name, value in inputs.items():
        start.inputs.add(name=name).value.CopyFrom(value)
    return start


# -- what a clean answer is -------------------------------------------------------------------

_ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.OUT_OF_RANGE,
}


def check_refusal(error: grpc.RpcError, *, canceled: bool = False) -> grpc.StatusCode:
    call: Any = error
    code: grpc.StatusCode = call.code()
    if canceled and code == grpc.StatusCode.CANCELLED:
        return code
    assert code in _ALLOWED, f"{code.name}: {call.details()}"
    found = find_status_details(call.trailing_metadata())
    if found is None:
        # gRPC itself refuses a message over the size limit, before the host sees it.
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, f"{code.name} without details"
        assert "larger than max" in (call.details() or ""), call.details()
        return code
    assert found.domain == "ophost"
    assert found.reason
    assert found.message
    return code


# -- strategies -------------------------------------------------------------------------------

_HUGE_TEXT = "x" * (2 * MiB)
_BAD_UTF8 = b"\xc3\x28\xff"


def _long(n: int) -> str:
    return "n" * n


# Mostly short text; now and then a string past a limit, or one of 2 MiB.
texts = st.one_of(
    st.text(max_size=12),
    st.text(max_size=12),
    st.text(max_size=12),
    st.integers(min_value=250, max_value=4200).map(_long),
    st.just(_HUGE_TEXT),
)
names = st.one_of(st.sampled_from([*OP_NAMES, "", "nope"]), texts)
input_names = st.one_of(st.sampled_from(["a", "b", "x", "value", "seconds", "data", ""]), texts)


def _value(**fields: Any) -> value_pb2.Value:
    return value_pb2.Value(**fields)


big_ints = st.one_of(
    st.integers(min_value=2**63).map(str),
    st.integers(max_value=-(2**63) - 1).map(str),
    st.text(alphabet="-+0123456789 _x", max_size=12),
    st.integers(min_value=4290, max_value=5000).map(lambda n: "7" * n),
)
leaves = st.one_of(
    st.just(_value(null_value=value_pb2.NullValue())),
    st.just(_value()),
    st.booleans().map(lambda b: _value(bool_value=b)),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda n: _value(int_value=n)),
    st.floats().map(lambda f: _value(double_value=f)),
    st.one_of(st.text(max_size=20), texts).map(lambda t: _value(string_value=t)),
    st.binary(max_size=40).map(lambda b: _value(bytes_value=b)),
    big_ints.map(lambda t: _value(big_int_value=t)),
    st.builds(
        lambda value_id, total, count: _value(
            chunked_value=value_pb2.ChunkedValueRef(
                value_id=value_id, total_size_bytes=total, chunk_count=count
            )
        ),
        st.text(max_size=6),
        st.integers(min_value=0, max_value=2**40),
        st.integers(min_value=0, max_value=2**32 - 1),
    ),
)


def _container(kind: str, items: list[value_pb2.Value]) -> value_pb2.Value:
    value = value_pb2.Value()
    getattr(value, kind).values.extend(items)
    return value


def _map(pairs: list[tuple[value_pb2.Value, value_pb2.Value]]) -> value_pb2.Value:
    value = value_pb2.Value()
    value.map_value.SetInParent()
    for key, item in pairs:
        value.map_value.entries.add(key=key, value=item)
    return value


values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.builds(
            _container,
            st.sampled_from(["list_value", "tuple_value", "set_value"]),
            st.lists(children, max_size=4),
        ),
        st.builds(_map, st.lists(st.tuples(children, children), max_size=3)),
    ),
    max_leaves=10,
)


@st.composite
def starts(draw: st.DrawFn) -> execution_pb2.ExecutionStart:
    start = execution_pb2.ExecutionStart(op_name=draw(names))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        start.inputs.add(name=draw(input_names)).value.CopyFrom(draw(values))
    if draw(st.booleans()):
        start.config.CopyFrom(
            draw(
                st.one_of(
                    values,
                    st.just(
                        _map([(_value(string_value="factor"), _int(3))]),
                    ),
                )
            )
        )
    tags = draw(
        st.dictionaries(st.text(max_size=6), st.one_of(st.text(max_size=6), texts), max_size=3)
    )
    start.tags.update(tags)
    start.request_id = draw(st.one_of(st.just(""), st.text(max_size=8), texts))
    return start


@st.composite
def valid_starts(draw: st.DrawFn) -> execution_pb2.ExecutionStart:
    """A start every part of which is right for its op."""
    op_name = draw(st.sampled_from(["add", "echo", "fails", "nap", "two_outputs", "scaled"]))
    inputs: dict[str, value_pb2.Value] = {
        "add": {"a": _int(draw(st.integers(-1000, 1000))), "b": _int(3)},
        "echo": {"value": draw(values.filter(_echoable))},
        "fails": {},
        "nap": {"seconds": _value(double_value=draw(st.floats(0, 0.05)))},
        "two_outputs": {},
        "scaled": {"x": _int(draw(st.integers(-100, 100)))},
    }[op_name]
    start = _start(op_name, **inputs)
    if op_name == "scaled":
        start.config.CopyFrom(_map([(_value(string_value="factor"), _int(3))]))
    if draw(st.booleans()):
        start.request_id = uuid.uuid4().hex  # new each time: a reused one is a conflict
    return start


def _echoable(value: value_pb2.Value) -> bool:
    """Whether ``value`` decodes (and so echo succeeds): no refs, bad ints or unhashable keys."""
    try:
        values_codec.from_proto(value)
    except CodecError:
        return False
    return True


# Bytes no valid message of the RPC produces.
def _nested(depth: int) -> bytes:
    value = _int(1).SerializeToString()
    for _ in range(depth):
        value = _len(8, _len(1, value))
    return value


def _len(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(number: int) -> bytes:
    out = bytearray()
    while number >= 0x80:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


_TAGS = b"".join(_len(4, _len(1, b"%d" % i) + _len(2, b"")) for i in range(330_000))
_HOSTILE_STARTS = [
    _len(1, b"echo") + _len(2, _len(1, b"value") + _len(2, _nested(60))),
    _len(1, b"echo") + _len(2, _len(1, b"value") + _len(2, _len(7, b"9" * 4301))),
    _len(1, _BAD_UTF8) + _len(2, _len(1, b"value")),
    _len(1, b"add") + _TAGS,
    _len(1, b"echo") + _len(2, _len(1, b"value") + _len(2, _len(6, b"\0" * (5 * MiB)))),
]


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    # Half of the messages go as they are; the rest are damaged one way or another.
    how = draw(st.sampled_from(["same"] * 5 + ["cut", "flip", "splice", "drop", "raw"]))
    if how == "same":
        return data
    if how == "raw" or not data:
        return draw(st.binary(max_size=64))
    if how == "cut":
        return data[: draw(st.integers(0, len(data) - 1))]
    at = draw(st.integers(0, len(data) - 1))
    if how == "flip":
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    if how == "splice":
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    if how == "drop":
        return data[:at] + data[at + draw(st.integers(1, 8)) :]
    return data


@st.composite
def request_bytes(draw: st.DrawFn, message: Message, *, start_field: bool = False) -> bytes:
    """``message``'s bytes, perhaps mutated; or a hostile start, for requests holding one."""
    if start_field and draw(st.integers(0, 9)) == 0:
        return _len(1, draw(st.sampled_from(_HOSTILE_STARTS)))
    return draw(mutated(message.SerializeToString()))


# -- the unary RPCs ---------------------------------------------------------------------------


def _messages(host: FuzzHost, method: str) -> st.SearchStrategy[Message]:
    known = st.sampled_from(host.execution_ids)
    ids = st.one_of(known, known, known, texts)
    no_token = st.just("")
    tokens = st.one_of(
        no_token, no_token, st.sampled_from(host.page_tokens), st.text(max_size=40), texts
    )
    int32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
    stamps = st.one_of(
        st.none(),
        st.builds(
            lambda s, n: {"seconds": s, "nanos": n},
            st.integers(-(2**63), 2**63 - 1),
            int32,
        ),
    )
    if method == "GetServerInfo":
        return st.just(pb.GetServerInfoRequest())
    if method == "ListOps":
        return st.builds(pb.ListOpsRequest, page_size=int32, page_token=tokens, view=int32)
    if method == "GetOp":
        return st.builds(pb.GetOpRequest, op_name=names)
    if method == "StartExecution":
        return st.builds(pb.StartExecutionRequest, start=st.one_of(starts(), valid_starts()))
    if method == "GetExecution":
        return st.builds(pb.GetExecutionRequest, execution_id=ids)
    if method == "ListExecutions":
        return st.builds(
            _list_executions,
            page_size=int32,
            page_token=tokens,
            op_name=names,
            states=st.one_of(
                st.lists(st.sampled_from(_STATES), max_size=3),
                st.lists(st.one_of(st.sampled_from(_STATES), st.integers(-3, 12)), max_size=20),
            ),
            after=stamps,
            before=stamps,
        )
    if method == "CancelExecution":
        return st.builds(pb.CancelExecutionRequest, execution_id=ids, reason=texts)
    assert method == "StreamEvents"
    return st.builds(
        pb.StreamEventsRequest,
        execution_id=ids,
        after_sequence=st.integers(0, 2**64 - 1),
    )


_STATES = [n for n in execution_pb2.ExecutionState.values() if n]


def _list_executions(
    *,
    page_size: int,
    page_token: str,
    op_name: str,
    states: list[int],
    after: dict[str, int] | None,
    before: dict[str, int] | None,
) -> pb.ListExecutionsRequest:
    request = pb.ListExecutionsRequest(page_size=page_size, page_token=page_token, op_name=op_name)
    request.states.extend(states)  # type: ignore[arg-type]
    if after is not None:
        request.created_after.seconds = after["seconds"]
        request.created_after.nanos = after["nanos"]
    if before is not None:
        request.created_before.seconds = before["seconds"]
        request.created_before.nanos = before["nanos"]
    return request


_RESPONSES: dict[str, Callable[[bytes], Any]] = {
    "GetServerInfo": pb.GetServerInfoResponse.FromString,
    "ListOps": pb.ListOpsResponse.FromString,
    "GetOp": pb.GetOpResponse.FromString,
    "StartExecution": pb.StartExecutionResponse.FromString,
    "GetExecution": pb.GetExecutionResponse.FromString,
    "ListExecutions": pb.ListExecutionsResponse.FromString,
    "CancelExecution": pb.CancelExecutionResponse.FromString,
}


@pytest.mark.parametrize("method", sorted(_RESPONSES))
def test_unary_rpcs_answer_every_request_cleanly(host: FuzzHost, method: str) -> None:
    _seed(host)
    messages = _messages(host, method)
    seen: Counter[str] = Counter()

    @fuzz
    @given(data=st.data())
    def one(data: st.DataObject) -> None:
        message = data.draw(messages, label="message")
        sent = data.draw(
            request_bytes(message, start_field=method == "StartExecution"), label="bytes"
        )
        try:
            reply = host.unary(method)(sent, timeout=DEADLINE)
        except grpc.RpcError as error:
            seen[check_refusal(error).name] += 1
        else:
            _RESPONSES[method](reply)
            seen["OK"] += 1
        host.after_example()

    one()
    print(f"outcomes: {dict(seen)}")
    # The strategies reach both the host's answers and its refusals.
    assert seen["OK"] or seen["OK (accepted)"], seen
    assert seen["INVALID_ARGUMENT"], seen
    host.check_still_serving()


def test_stream_events_answers_every_request_cleanly(host: FuzzHost) -> None:
    _seed(host)
    messages = _messages(host, "StreamEvents")
    seen: Counter[str] = Counter()
    call: Any = host.channel.unary_stream("/ophost.v1.OpHostService/StreamEvents")

    @fuzz
    @given(data=st.data())
    def one(data: st.DataObject) -> None:
        message = data.draw(messages, label="message")
        sent = data.draw(request_bytes(message), label="bytes")
        cancel_after = data.draw(st.none() | st.integers(0, 2), label="cancel after")
        responses = call(sent, timeout=DEADLINE)
        try:
            for count, reply in enumerate(responses):
                pb.StreamEventsResponse.FromString(reply)
                if cancel_after is not None and count >= cancel_after:
                    responses.cancel()
        except grpc.RpcError as error:
            seen[check_refusal(error, canceled=cancel_after is not None).name] += 1
        else:
            seen["OK"] += 1
        host.after_example()

    one()
    print(f"outcomes: {dict(seen)}")
    # The strategies reach both the host's answers and its refusals.
    assert seen["OK"] or seen["OK (accepted)"], seen
    assert seen["INVALID_ARGUMENT"], seen
    host.check_still_serving()


# -- Execute: sequences of messages -----------------------------------------------------------


class Stream:
    """What one fuzzed Execute call sends, and whether all of it is valid."""

    def __init__(self, messages: list[bytes], *, valid: bool, cancel_after: int | None) -> None:
        self.messages = messages
        # A valid stream must succeed; one over the message size limit is not valid.
        self.valid = valid and all(len(m) <= MAX_MESSAGE_BYTES for m in messages)
        self.cancel_after = cancel_after

    def __repr__(self) -> str:  # short: the messages may hold megabytes
        shown = [m[:40] + (b"..." if len(m) > 40 else b"") for m in self.messages]
        sizes = [len(m) for m in self.messages]
        return f"Stream({shown!r}, sizes={sizes}, valid={self.valid}, cancel={self.cancel_after})"


def _request(**kind: Any) -> bytes:
    return pb.ExecuteRequest(**kind).SerializeToString()


@st.composite
def uploads(draw: st.DrawFn) -> tuple[list[bytes], bool]:
    """A start of ``size`` whose input comes in chunks, perhaps tampered with."""
    data = draw(st.one_of(st.binary(max_size=200), st.integers(0, 300_000).map(lambda n: b"u" * n)))
    chunk_size = draw(st.one_of(st.integers(1, 64), st.integers(16 * 1024, 64 * 1024)))
    value = _value(bytes_value=data)
    if len(value.SerializeToString()) // chunk_size > 64:
        chunk_size = -(-len(value.SerializeToString()) // 64)
    ref, chunks = split_value(value, inline_threshold=0, chunk_size=chunk_size, value_id="in")
    start = _start("size", data=ref)
    messages = [_request(start=start)] + [_request(chunk=chunk) for chunk in chunks]
    tamper = draw(st.sampled_from(["none", "none", "drop", "swap", "twice", "alter", "ack"]))
    valid = tamper in ("none", "ack")
    if tamper != "none" and len(messages) > 1:
        at = draw(st.integers(1, len(messages) - 1))
        if tamper == "drop":
            del messages[at]
        elif tamper == "swap":
            other = draw(st.integers(1, len(messages) - 1))
            messages[at], messages[other] = messages[other], messages[at]
            valid = at == other
        elif tamper == "twice":
            messages.insert(at, messages[at])
        elif tamper == "alter":
            chunk = chunks[at - 1]
            changed = value_pb2.ValueChunk()
            changed.CopyFrom(chunk)
            setattr(
                changed,
                draw(st.sampled_from(["index", "offset"])),
                draw(st.integers(0, 2**32 - 1)),
            )
            valid = changed == chunk
            messages[at] = _request(chunk=changed)
        elif tamper == "ack":
            messages.insert(at, _request(ack=pb.ExecuteAck(sequence=at)))
    return messages, valid


@st.composite
def streams(draw: st.DrawFn) -> Stream:
    first = draw(st.sampled_from(["valid", "upload", "fuzzed", "hostile", "other", "bytes"]))
    valid = False
    if first == "valid":
        messages = [_request(start=draw(valid_starts()))]
        valid = True
    elif first == "upload":
        messages, valid = draw(uploads())
    elif first == "fuzzed":
        messages = [draw(mutated(_request(start=draw(starts()))))]
    elif first == "hostile":
        messages = [_len(1, draw(st.sampled_from(_HOSTILE_STARTS)))]
    elif first == "other":
        messages = [draw(later)]
    else:
        messages = [draw(st.binary(max_size=64))]
    more = draw(st.lists(later, max_size=4))
    if more:
        valid = valid and all(m == _request(ack=pb.ExecuteAck()) for m in more)
        messages += more
    cancel_after = draw(st.none() | st.integers(0, 3))
    return Stream(messages, valid=valid, cancel_after=cancel_after)


later = st.one_of(
    st.just(_request(cancel=pb.ExecuteCancel(reason="fuzz"))),
    st.just(_request(ack=pb.ExecuteAck())),
    st.builds(lambda n: _request(ack=pb.ExecuteAck(sequence=n)), st.integers(0, 2**64 - 1)),
    st.builds(
        lambda value_id, data: _request(chunk=value_pb2.ValueChunk(value_id=value_id, data=data)),
        st.text(max_size=4),
        st.binary(max_size=16),
    ),
    st.builds(lambda start: _request(start=start), starts()),
    st.just(b""),
    st.binary(min_size=1, max_size=24),
    st.just(_len(4, _len(1, _BAD_UTF8))),
)


def test_execute_answers_every_stream_cleanly(host: FuzzHost) -> None:
    call: Any = host.channel.stream_stream("/ophost.v1.OpHostService/Execute")
    seen: Counter[str] = Counter()

    @fuzz
    @given(stream=streams())
    def one(stream: Stream) -> None:
        responses = call(iter(stream.messages), timeout=DEADLINE)
        finished = False
        accepted = False
        code = grpc.StatusCode.OK
        try:
            for count, reply in enumerate(responses):
                response = pb.ExecuteResponse.FromString(reply)
                accepted = accepted or response.WhichOneof("kind") == "accepted"
                events = response.events.events
                finished = finished or any(
                    e.WhichOneof("kind") == "execution_finished" for e in events
                )
                if stream.cancel_after is not None and count >= stream.cancel_after:
                    responses.cancel()
        except grpc.RpcError as error:
            code = check_refusal(error, canceled=stream.cancel_after is not None)
        seen[f"{code.name}{' (accepted)' if accepted else ''}"] += 1
        if stream.valid and stream.cancel_after is None:
            assert code == grpc.StatusCode.OK
            assert accepted
            assert finished
        host.after_example()

    one()
    print(f"outcomes: {dict(seen)}")
    # The strategies reach both the host's answers and its refusals.
    assert seen["OK"] or seen["OK (accepted)"], seen
    assert seen["INVALID_ARGUMENT"], seen
    host.check_still_serving()
