"""One client, several servers: the calls are spread over them round robin.

Replicas of a host share a database, so any of them can answer any call. Two
independent servers stand in for them here: each answers ``GetServerInfo`` with its
own ``server_id``, which shows which one served a call. Calls that stay on one server
(a whole ``call``, one stream) work on either; calls that would need the shared
database (start here, look up there) are left to the replica tests.

A round-robin channel connects to every address, and a call goes only to one that
is connected, so the first calls may all land on the server that connected first:
:func:`served_by` waits until both have answered before counting.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest

from ophost import OpDefinition
from ophost.execution import ExecutionFinished, ExecutionStatus
from ophost.testing import RunningHost, running_host, running_host_in_thread
from ophost_client import AsyncOpHostClient, OpHostClient

from . import ops as test_ops

OPS: Sequence[OpDefinition] = test_ops.ALL


@pytest.fixture
async def two_hosts() -> AsyncIterator[tuple[RunningHost, RunningHost]]:
    async with running_host(OPS) as first, running_host(OPS) as second:
        yield first, second


async def server_ids(hosts: Sequence[RunningHost]) -> list[str]:
    return [(await host.client.server_info()).server_id for host in hosts]


async def served_by(
    ask: Callable[[], Awaitable[str]], expected: set[str]
) -> collections.Counter[str]:
    """Ask until every server in ``expected`` has answered, then count 20 more answers."""
    seen: set[str] = set()
    deadline = time.monotonic() + 10
    while seen != expected:
        assert time.monotonic() < deadline, f"only {seen} of {expected} answered within 10 s"
        seen.add(await ask())
    return collections.Counter([await ask() for _ in range(20)])


async def info_id(client: AsyncOpHostClient) -> str:
    return (await client.server_info()).server_id


@pytest.mark.parametrize("form", ["comma", "list", "ipv4"])
async def test_calls_are_spread_over_every_address(
    two_hosts: tuple[RunningHost, RunningHost], form: str
) -> None:
    addresses = [host.address for host in two_hosts]
    forms: dict[str, str | list[str]] = {
        "comma": ",".join(addresses),
        "list": addresses,
        "ipv4": "ipv4:" + ",".join(addresses),
    }
    target = forms[form]
    expected = set(await server_ids(two_hosts))
    async with AsyncOpHostClient(target) as client:
        counts = await served_by(lambda: info_id(client), expected)
        assert set(counts) == expected  # both served some of the 20; no exact alternation
        assert client.target == (target if form == "ipv4" else ",".join(addresses))


async def test_ops_run_through_a_balanced_client(
    two_hosts: tuple[RunningHost, RunningHost],
) -> None:
    target = ",".join(host.address for host in two_hosts)
    async with AsyncOpHostClient(target) as client:
        await served_by(lambda: info_id(client), set(await server_ids(two_hosts)))
        results = await asyncio.gather(*(client.call("add", {"a": i, "b": 1}) for i in range(8)))
        assert results == [{"result": i + 1} for i in range(8)]
        async with client.execute("every_event") as stream:
            events = [event async for event in stream]
        finished = events[-1].body
        assert isinstance(finished, ExecutionFinished)
        assert finished.status is ExecutionStatus.SUCCEEDED
        assert [event.sequence for event in events] == list(range(1, len(events) + 1))
    # Each server ran some of the calls: the executions went both ways too.
    ran = [len(await host.client.list_executions(op_name="add")) for host in two_hosts]
    assert sum(ran) == 8
    assert all(ran), ran


async def test_a_dns_target_resolves_and_balances(
    two_hosts: tuple[RunningHost, RunningHost],
) -> None:
    # localhost may also resolve to ::1, where nothing listens: round robin uses the
    # addresses it can connect to, so every call still succeeds.
    host = two_hosts[0]
    async with AsyncOpHostClient(f"dns:///localhost:{host.port}") as client:
        for _ in range(5):
            assert await info_id(client) == (await server_ids([host]))[0]
        assert await client.call("add", {"a": 2, "b": 3}) == {"result": 5}


async def test_one_address_is_used_as_before(two_hosts: tuple[RunningHost, RunningHost]) -> None:
    host = two_hosts[0]
    for target in (host.address, [host.address]):
        async with AsyncOpHostClient(target) as client:
            assert client.target == host.address
            assert repr(client) == f"AsyncOpHostClient({host.address!r})"
            assert {await info_id(client) for _ in range(5)} == set(await server_ids([host]))
            assert await client.call("add", {"a": 1, "b": 2}) == {"result": 3}


def test_the_blocking_client_balances_too() -> None:
    with running_host_in_thread(OPS) as first, running_host_in_thread(OPS) as second:
        expected = {first.client.server_info().server_id, second.client.server_info().server_id}
        with OpHostClient([first.address, second.address]) as client:
            seen: set[str] = set()
            deadline = time.monotonic() + 10
            while seen != expected:
                assert time.monotonic() < deadline, f"only {seen} answered within 10 s"
                seen.add(client.server_info().server_id)
            counts = collections.Counter(client.server_info().server_id for _ in range(20))
            assert set(counts) == expected
            assert client.call("add", {"a": 4, "b": 5}) == {"result": 9}


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("", "empty"),
        ([], "no address"),
        ("127.0.0.1:1,not-an-address", "must be host:port"),
        ("127.0.0.1:1,dns:///a:2", "target URI"),
        ("127.0.0.1:1,[::1]:2", "no IP version in common"),
    ],
)
def test_a_malformed_target_is_refused(target: str | list[str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        AsyncOpHostClient(target)
