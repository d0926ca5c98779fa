"""pytest fixtures that serve your ops on a real host (the ``ophost`` pytest plugin).

Installing ophost registers this module with pytest (entry point ``pytest11``:
``ophost``); ``-p no:ophost`` turns it off. Define the ops to serve as a fixture,
then ask for a client::

    # conftest.py
    import pytest

    from my_ops import add


    @pytest.fixture
    def ophost_ops():
        return [add]


    # test_add.py
    async def test_add(ophost_client):
        assert await ophost_client.call("add", {"a": 1, "b": 2}) == {"result": 3}


    def test_add_blocking(ophost_sync_client):
        assert ophost_sync_client.call("add", {"a": 1, "b": 2}) == {"result": 3}

The fixtures, each for one test:

- ``ophost_ops`` (yours to define): the ops to serve, a list or a dict by name.
- ``ophost_resources``: their resources (none unless overridden).
- ``ophost_host_options``: further keyword arguments of
  :func:`~ophost.testing.running_host` (``limits``, ``interceptors``, ``store``, ...).
- ``ophost_host`` / ``ophost_client``: a :class:`~ophost.testing.RunningHost` and its
  :class:`~ophost_client.AsyncOpHostClient`, for async tests. They need
  pytest-asyncio, and are only defined when it is installed.
- ``ophost_host_in_thread`` / ``ophost_sync_client``: a
  :class:`~ophost.testing.RunningHostInThread` and its
  :class:`~ophost_client.OpHostClient`, for blocking tests.

pytest is imported here only: it is not a dependency of ophost.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import pytest

from ophost.testing._host import Ops, RunningHost, running_host
from ophost.testing._threaded import RunningHostInThread, running_host_in_thread
from ophost_client import AsyncOpHostClient, OpHostClient

__all__ = [
    "ophost_client",
    "ophost_host",
    "ophost_host_in_thread",
    "ophost_host_options",
    "ophost_ops",
    "ophost_resources",
    "ophost_sync_client",
]

_NO_OPS = (
    "no `ophost_ops` fixture is defined: the ophost fixtures serve the ops it returns. "
    "Add one to your conftest.py or test module, e.g.\n\n"
    "    @pytest.fixture\n"
    "    def ophost_ops():\n"
    "        return [my_op]\n"
)


@pytest.fixture
def ophost_ops() -> Ops:
    """The ops to serve: override this fixture (the default fails the test, saying so)."""
    pytest.fail(_NO_OPS, pytrace=False)


@pytest.fixture
def ophost_resources() -> Mapping[str, object] | None:
    """The resources of the served ops, by key: none unless overridden."""
    return None


@pytest.fixture
def ophost_host_options() -> Mapping[str, Any]:
    """More keyword arguments of ``running_host`` (``limits=``, ``interceptors=``, ...)."""
    return {}


@pytest.fixture
def ophost_host_in_thread(
    ophost_ops: Ops,
    ophost_resources: Mapping[str, object] | None,
    ophost_host_options: Mapping[str, Any],
) -> Iterator[RunningHostInThread]:
    """The ops served from a background thread, with a blocking client: for sync tests."""
    with running_host_in_thread(
        ophost_ops, resources=ophost_resources, **ophost_host_options
    ) as host:
        yield host


@pytest.fixture
def ophost_sync_client(ophost_host_in_thread: RunningHostInThread) -> OpHostClient:
    """The blocking client of ``ophost_host_in_thread``."""
    return ophost_host_in_thread.client


# Async fixtures are pytest-asyncio's to run; without it they are left out, so that
# loading this plugin never fails.
if importlib.util.find_spec("pytest_asyncio") is not None:
    import pytest_asyncio

    @pytest_asyncio.fixture
    async def ophost_host(
        ophost_ops: Ops,
        ophost_resources: Mapping[str, object] | None,
        ophost_host_options: Mapping[str, Any],
    ) -> AsyncIterator[RunningHost]:
        """The ops served on the test's event loop, with an async client: for async tests."""
        async with running_host(
            ophost_ops, resources=ophost_resources, **ophost_host_options
        ) as host:
            yield host

    @pytest_asyncio.fixture
    async def ophost_client(ophost_host: RunningHost) -> AsyncOpHostClient:
        """The async client of ``ophost_host``."""
        return ophost_host.client
