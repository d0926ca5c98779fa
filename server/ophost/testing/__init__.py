"""Test your ops against a real host: a server in this process and a client of it.

``running_host`` (``async with``) and ``running_host_in_thread`` (``with``, for
blocking tests) serve the given ops on ``127.0.0.1`` on a free port and hand back the
server, its address and port, and a connected client; on the way out the client is
closed and the server stopped, also when the block raised::

    from ophost.testing import running_host

    async def test_add() -> None:
        async with running_host([add]) as host:
            assert await host.client.call("add", {"a": 1, "b": 2}) == {"result": 3}

With pytest, the fixtures of :mod:`ophost.testing.pytest_plugin` (loaded by itself
once ophost is installed) do the same: define an ``ophost_ops`` fixture and ask for
``ophost_client`` (async tests) or ``ophost_sync_client`` (blocking tests).

This is the top layer, next to ``ophost.cli``: it uses the host and the client, and
nothing else in ``ophost`` imports it.
"""

from ophost.testing._host import RunningHost, running_host
from ophost.testing._threaded import RunningHostInThread, running_host_in_thread

__all__ = [
    "RunningHost",
    "RunningHostInThread",
    "running_host",
    "running_host_in_thread",
]
