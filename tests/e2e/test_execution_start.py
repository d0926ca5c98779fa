"""``GetExecution`` with ``include_start``: the start request an execution was created
with, from each store, and still there after the host restarts on a durable one."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from ophost import codec
from ophost.server._views import start_to_proto
from ophost.v1 import execution_pb2, op_host_service_pb2_grpc, value_pb2
from ophost.v1 import op_host_service_pb2 as pb

from .host_processes import hosts, start_host, write_ops


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    dsn: str = request.getfixturevalue("postgres_dsn")
    return dsn


def _start(**inputs: object) -> pb.StartExecutionRequest:
    request = pb.StartExecutionRequest()
    start = request.start
    start.op_name = "add"
    start.request_id = "rerun-me"
    start.tags["team"] = "blue"
    for name, value in inputs.items():
        start.inputs.add(name=name).value.CopyFrom(codec.values.to_proto(value))
    return request


async def _get(address: str, execution_id: str, include_start: bool) -> pb.GetExecutionResponse:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = op_host_service_pb2_grpc.OpHostServiceStub(channel)
        response: pb.GetExecutionResponse = await stub.GetExecution(
            pb.GetExecutionRequest(execution_id=execution_id, include_start=include_start)
        )
        return response


async def test_the_start_comes_back_as_it_was_sent(store_url: str, tmp_path: Path) -> None:
    ops = write_ops(tmp_path)
    args = ("-f", str(ops), "--port", "0", "--store", store_url, "--executor", "thread")
    host = await start_host(*args, cwd=tmp_path)
    async with hosts(host):
        async with grpc.aio.insecure_channel(host.address) as channel:
            stub = op_host_service_pb2_grpc.OpHostServiceStub(channel)
            sent = _start(a=40, b=2)
            started = (await stub.StartExecution(sent)).execution
        plain = await _get(host.address, started.id, include_start=False)
        assert plain.execution.id == started.id
        assert not plain.HasField("start")
        kept = await _get(host.address, started.id, include_start=True)
        assert kept.start == sent.start
        assert {i.name: codec.values.from_proto(i.value) for i in kept.start.inputs} == {
            "a": 40,
            "b": 2,
        }
        await host.stop()
    if store_url == "memory":
        return
    # A durable store keeps it across a restart.
    again = await start_host(*args, cwd=tmp_path)
    async with hosts(again):
        kept = await _get(again.address, started.id, include_start=True)
        assert kept.start == sent.start
        await again.stop()


async def test_an_unknown_execution_is_not_found(tmp_path: Path) -> None:
    ops = write_ops(tmp_path)
    host = await start_host("-f", str(ops), "--port", "0", "--store", "memory", cwd=tmp_path)
    async with hosts(host):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await _get(host.address, "no-such-execution", include_start=True)
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
        await host.stop()


def test_a_large_input_comes_back_as_a_reference() -> None:
    start = execution_pb2.ExecutionStart(op_name="byte_count")
    start.inputs.add(name="small").value.int_value = 7
    start.inputs.add(name="data").value.bytes_value = b"x" * 5000
    start.config.CopyFrom(value_pb2.Value(string_value="y" * 3000))
    shown = start_to_proto(start.SerializeToString(), inline_threshold=1024, chunk_size=2048)
    assert shown.inputs[0].value.int_value == 7
    big = shown.inputs[1].value
    assert big.WhichOneof("kind") == "chunked_value"
    assert big.chunked_value.value_id == "inputs.data"
    assert big.chunked_value.total_size_bytes == start.inputs[1].value.ByteSize()
    assert big.chunked_value.chunk_count == 3
    assert shown.config.chunked_value.value_id == "config"
    assert shown.config.chunked_value.chunk_count == 2
