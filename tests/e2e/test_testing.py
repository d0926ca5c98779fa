"""ophost.testing: the host it starts serves the ops, and is gone afterwards.

``running_host`` in async tests, ``running_host_in_thread`` in blocking ones; each
is checked from outside: the ops answer through the yielded client, and once the
block is left (also by an exception) the port refuses connections, the client is
closed and no thread the harness started is left running.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time

import grpc
import pytest

from ophost import OpDefinition
from ophost.errors import InvalidArgumentError
from ophost.server import Limits, OpHostServer
from ophost.testing import (
    RunningHost,
    RunningHostInThread,
    running_host,
    running_host_in_thread,
)
from ophost_client import AsyncOpHostClient, ClientClosedError, OpHostClient, OpHostRpcError

from . import ops as test_ops
from .interceptors import CallRecorder

OPS: list[OpDefinition] = [test_ops.add, test_ops.greet, test_ops.slow_async]
RESOURCES = {"greeting": "hi"}


class Boom(Exception):
    pass


async def refuses(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:``port`` any more."""
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return True
    writer.close()
    await writer.wait_closed()
    return False


def refuses_now(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


# -- running_host ----------------------------------------------------------------------------


async def test_the_ops_answer_through_the_client() -> None:
    async with running_host(OPS, resources=RESOURCES) as host:
        assert isinstance(host, RunningHost)
        assert isinstance(host.server, OpHostServer)
        assert isinstance(host.client, AsyncOpHostClient)
        assert host.port > 0
        assert host.address == f"127.0.0.1:{host.port}"
        assert [o.name for o in await host.client.list_ops()] == ["add", "greet", "slow_async"]
        assert await host.client.call("add", {"a": 1, "b": 2}) == {"result": 3}
        assert await host.client.call("greet", {"name": "ann"}) == {"result": "hi, ann"}
        assert not await refuses(host.port)
    assert host.client.closed
    assert await refuses(host.port)
    async with AsyncOpHostClient(host.address, timeout=5) as late:
        with pytest.raises(OpHostRpcError) as info:
            await late.server_info()
    assert info.value.code is grpc.StatusCode.UNAVAILABLE


async def test_an_exception_in_the_block_still_stops_the_host() -> None:
    hosts: list[RunningHost] = []

    async def use_and_raise() -> None:
        async with running_host(OPS, resources=RESOURCES) as host:
            hosts.append(host)
            assert await host.client.call("add", {"a": 1, "b": 1}) == {"result": 2}
            raise Boom

    with pytest.raises(Boom):
        await use_and_raise()
    [host] = hosts
    assert host.client.closed
    assert await refuses(host.port)
    with pytest.raises(ClientClosedError):
        await host.client.server_info()


async def test_server_options_reach_the_server() -> None:
    recorder = CallRecorder()
    async with running_host(
        OPS,
        resources=RESOURCES,
        limits=Limits(inline_threshold_bytes=1234),
        max_concurrent_executions=3,
        interceptors=[recorder],
        client_timeout=7.5,
    ) as host:
        info = await host.client.server_info()
        assert info.limits.inline_threshold_bytes == 1234
        assert info.limits.max_concurrent_executions == 3
        assert [call.method for call in recorder.calls] == ["GetServerInfo"]


async def test_a_running_execution_does_not_hold_the_exit_long() -> None:
    async with running_host(OPS) as host:
        started = await host.client.start("slow_async")  # sleeps for 60 s
        leaving = time.monotonic()
    # The harness drains for 1 s (the server's own default is 10 s), then cancels.
    assert time.monotonic() - leaving < 5
    assert started.op_name == "slow_async"
    assert await refuses(host.port)


async def test_two_hosts_at_once_get_their_own_ports() -> None:
    async with running_host([test_ops.add]) as one, running_host([test_ops.echo]) as two:
        assert one.port != two.port
        assert [o.name for o in await one.client.list_ops()] == ["add"]
        assert [o.name for o in await two.client.list_ops()] == ["echo"]


async def test_bad_ops_raise_before_anything_runs() -> None:
    with pytest.raises(InvalidArgumentError, match="OpDefinition"):
        async with running_host(["not an op"]):  # type: ignore[list-item]
            pytest.fail("the block must not run")


# -- running_host_in_thread ------------------------------------------------------------------


HARNESS_THREADS = ("ophost-test-host", "ophost-client-loop")


def harness_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name in HARNESS_THREADS)


def wait_for_threads_to_end(before: set[threading.Thread], seconds: float = 10.0) -> set[str]:
    """The names of threads started since ``before`` that are still alive after ``seconds``.

    The server's op threads are told to stop and end by themselves shortly after.
    """
    gc.collect()  # grpc stops its polling thread once its last channel or server is freed
    deadline = time.monotonic() + seconds
    while True:
        extra = set(threading.enumerate()) - before
        if not extra or time.monotonic() > deadline:
            return {t.name for t in extra}
        time.sleep(0.02)


def run_in_thread_host(raise_inside: bool) -> int:
    with running_host_in_thread(OPS, resources=RESOURCES) as host:
        assert isinstance(host, RunningHostInThread)
        assert isinstance(host.client, OpHostClient)
        assert host.address == f"127.0.0.1:{host.port}"
        assert harness_threads() == ["ophost-client-loop", "ophost-test-host"]
        assert host.client.call("add", {"a": 2, "b": 3}) == {"result": 5}
        assert host.client.call("greet", {"name": "bo"}) == {"result": "hi, bo"}
        host.client.start("slow_async")  # left running: stopped with the host
        if raise_inside:
            raise Boom
        return host.port


@pytest.mark.parametrize("raise_inside", [False, True], ids=["clean", "raising"])
def test_in_thread_serves_and_leaves_no_thread_behind(raise_inside: bool) -> None:
    before = set(threading.enumerate())
    assert harness_threads() == []
    port = 0
    try:
        port = run_in_thread_host(raise_inside)
    except Boom:
        assert raise_inside
    else:
        assert not raise_inside
    # Both loop threads are joined before the with statement ends.
    assert harness_threads() == []
    assert wait_for_threads_to_end(before) == set()
    if port:
        assert refuses_now(port)


def test_in_thread_exception_still_closes_the_client_and_the_port() -> None:
    with pytest.raises(Boom), running_host_in_thread(OPS) as host:
        raise Boom
    assert refuses_now(host.port)
    with pytest.raises(ClientClosedError):
        host.client.server_info()


def test_in_thread_bad_ops_leave_no_thread_behind() -> None:
    before = set(threading.enumerate())
    with (
        pytest.raises(InvalidArgumentError),
        running_host_in_thread(["not an op"]),  # type: ignore[list-item]
    ):
        pytest.fail("the block must not run")
    assert harness_threads() == []
    assert wait_for_threads_to_end(before) == set()
