"""The frames that assign an attempt to a worker process.

A start no larger than the inline threshold is spliced into the assignment as the host
keeps it, without being decoded again: the frame must decode to exactly the message the
host would build field by field. A larger start is decoded, its large inputs replaced
by references whose chunks follow the assignment.
"""

from __future__ import annotations

import struct

from ophost import op
from ophost.execution import ProcessExecutor, SessionTerms
from ophost.execution._attempt import AttemptRequest
from ophost.execution._prepare import prepare_execution
from ophost.execution._process_executor import ProcessAttempt, _Limits
from ophost.v1 import execution_pb2, worker_pb2


@op
def join(text: str, data: bytes) -> str:
    return text + data.decode()


def _frames(data: bytes) -> list[worker_pb2.HostMessage]:
    messages = []
    while data:
        (size,) = struct.unpack(">I", data[:4])
        messages.append(worker_pb2.HostMessage.FromString(data[4 : 4 + size]))
        data = data[4 + size :]
    return messages


def _attempt(executor: ProcessExecutor, data: bytes) -> tuple[ProcessAttempt, bytes]:
    start = execution_pb2.ExecutionStart(op_name="join", tags={"team": "data"})
    start.inputs.add(name="text").value.string_value = "ab"
    start.inputs.add(name="data").value.bytes_value = data
    request = AttemptRequest(
        prepared=prepare_execution(join, {"text": "ab", "data": data}, None, {}),
        run_id="run-1",
        attempt=2,
        start=start.SerializeToString(),
    )
    attempt = ProcessAttempt(executor, request, "a7", _Limits(None, 4096))
    attempt.fence = 3
    return attempt, request.start


async def test_a_small_start_is_spliced_in_and_decodes_as_the_built_assignment() -> None:
    executor = ProcessExecutor({"join": join}, ["unused"], size=1)
    attempt, start = _attempt(executor, b"cd")
    [message] = _frames(executor.assignment(attempt))
    assert message == worker_pb2.HostMessage(
        assign=worker_pb2.AttemptAssign(
            attempt_id="a7",
            fence=3,
            execution_id="run-1",
            attempt=2,
            start=execution_pb2.ExecutionStart.FromString(start),
            limits=worker_pb2.AttemptLimits(memory_bytes=4096),
        )
    )


async def test_a_large_input_goes_as_a_reference_and_its_chunks() -> None:
    terms = SessionTerms(inline_threshold_bytes=64, chunk_size_bytes=40)
    executor = ProcessExecutor({"join": join}, ["unused"], size=1, terms=terms)
    attempt, _start = _attempt(executor, b"x" * 100)
    assign, *chunks = _frames(executor.assignment(attempt))
    inputs = {named.name: named.value for named in assign.assign.start.inputs}
    assert inputs["text"].string_value == "ab"
    ref = inputs["data"].chunked_value
    assert ref.value_id == "a7.data"
    assert [m.WhichOneof("kind") for m in chunks] == ["input_chunk"] * len(chunks)
    assert {m.input_chunk.attempt_id for m in chunks} == {"a7"}
    assert len(chunks) >= 3
