"""The ophost pytest plugin, as a user meets it: pytest runs on generated test files.

``pytester`` writes a conftest and test modules into a temporary directory and runs
pytest on them in this process; the plugin is found through its ``pytest11`` entry
point, as in any project that installs ophost. The inner runs use this project's own
settings that matter to the plugin: warnings are errors, and asyncio's auto mode
(strict mode is checked too).
"""

from __future__ import annotations

import pytest

INI = """
[pytest]
asyncio_mode = {mode}
asyncio_default_fixture_loop_scope = function
filterwarnings =
    error
"""

CONFTEST = """
import pytest

from ophost import op


@op
def add(a: int, b: int) -> int:
    return a + b


@op(required_resource_keys={"greeting"})
def greet(context, name: str) -> str:
    return f"{context.resources.greeting}, {name}"


@pytest.fixture
def ophost_ops():
    return [add, greet]


@pytest.fixture
def ophost_resources():
    return {"greeting": "hi"}
"""

TESTS = """
import socket

import pytest

from ophost.server import Limits
from ophost.testing import RunningHost, RunningHostInThread
from ophost_client import AsyncOpHostClient, OpHostClient

PORTS = []


@pytest.fixture
def ophost_host_options():
    return {"limits": Limits(inline_threshold_bytes=1234)}


{marker}
async def test_async_client(ophost_client, ophost_host):
    assert isinstance(ophost_host, RunningHost)
    assert isinstance(ophost_client, AsyncOpHostClient)
    assert ophost_client is ophost_host.client
    assert ophost_host.address == f"127.0.0.1:{ophost_host.port}"
    assert await ophost_client.call("add", {"a": 1, "b": 2}) == {"result": 3}
    assert await ophost_client.call("greet", {"name": "ann"}) == {"result": "hi, ann"}
    info = await ophost_client.server_info()
    assert info.limits.inline_threshold_bytes == 1234
    PORTS.append(ophost_host.port)


def test_sync_client(ophost_sync_client, ophost_host_in_thread):
    assert isinstance(ophost_host_in_thread, RunningHostInThread)
    assert isinstance(ophost_sync_client, OpHostClient)
    assert ophost_sync_client.call("add", {"a": 2, "b": 3}) == {"result": 5}
    assert ophost_sync_client.call("greet", {"name": "bo"}) == {"result": "hi, bo"}
    assert ophost_sync_client.server_info().limits.inline_threshold_bytes == 1234
    PORTS.append(ophost_host_in_thread.port)


def test_the_servers_of_the_tests_before_are_stopped():
    assert len(PORTS) == 2
    for port in PORTS:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5)
"""


@pytest.mark.parametrize(
    ("mode", "marker"),
    [("auto", ""), ("strict", "@pytest.mark.asyncio")],
    ids=["auto-mode", "strict-mode"],
)
def test_fixtures_serve_the_users_ops(pytester: pytest.Pytester, mode: str, marker: str) -> None:
    pytester.makeini(INI.format(mode=mode))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_ops=TESTS.replace("{marker}", marker))
    result = pytester.runpytest()
    result.assert_outcomes(passed=3)


def test_without_ophost_ops_the_error_says_what_to_define(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI.format(mode="auto"))
    pytester.makepyfile(
        test_nothing="""
        async def test_async(ophost_client):
            pass

        def test_sync(ophost_sync_client):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*no `ophost_ops` fixture is defined*", "*def ophost_ops():*"])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_the_blocking_fixtures_need_no_asyncio_plugin(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nfilterwarnings =\n    error\n")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_blocking="""
        def test_sync(ophost_sync_client):
            assert ophost_sync_client.call("add", {"a": 1, "b": 1}) == {"result": 2}
        """
    )
    result = pytester.runpytest("-p", "no:asyncio")
    result.assert_outcomes(passed=1)


def test_the_plugin_can_be_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI.format(mode="auto"))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_blocking="""
        def test_sync(ophost_sync_client):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:ophost")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'ophost_sync_client' not found*"])
