"""The Python client of ophost: call ops hosted by an ophost server over gRPC.

Async first::

    from ophost_client import AsyncOpHostClient

    async with AsyncOpHostClient("localhost:50051") as client:
        outputs = await client.call("add", {"a": 1, "b": 2})   # {"result": 3}
        async for event in client.execute("every_event"):
            print(event.sequence, event.body)

and blocking, through a thin facade over the same client::

    from ophost_client import OpHostClient

    with OpHostClient("localhost:50051") as client:
        outputs = client.call("add", {"a": 1, "b": 2})

Every method takes per-call ``timeout=`` (seconds; ``None``: no deadline) and
``metadata=`` (``(key, value)`` pairs). A channel of your own (interceptors, other
options) goes in as ``AsyncOpHostClient(target, channel=...)`` or, for the blocking
client, which runs its own event loop, ``OpHostClient(target, channel_factory=...)``.

TLS and tokens (docs/security.md)::

    AsyncOpHostClient(
        "ops.example.com:50051",
        tls_ca="ca.pem",                                # verify the server (default: system CAs)
        tls_cert="client.pem", tls_key="client.key",    # mTLS
        token=os.environ["OPHOST_TOKEN"],               # authorization: Bearer <token>
    )

A call's ``metadata=[bearer(other_token)]`` uses another token for that call.

Replicas of one host (``ophost serve`` processes sharing a database) are one target:
``AsyncOpHostClient("10.0.0.1:50051,10.0.0.2:50051")``, a list of addresses, or
``"dns:///ops.example.com:50051"`` spreads the calls over them round robin.

Events are the classes the engine produces (``ophost.execution``); outputs carry
``ophost.Output`` values. Errors are in :mod:`ophost_client.errors`.
"""

from ophost_client._client import AsyncOpHostClient
from ophost_client._info import (
    ChunkedOutput,
    ExecutionInfo,
    ExecutionState,
    ServerInfo,
    ServerLimits,
)
from ophost_client._security import bearer
from ophost_client._stream import ExecutionStream
from ophost_client._sync import OpHostClient, SyncExecutionStream
from ophost_client.errors import (
    ClientClosedError,
    ExecutionCanceledError,
    ExecutionError,
    OpFailedError,
    OpHostClientError,
    OpHostRpcError,
    ProtocolError,
    StreamBrokenError,
)

__all__ = [
    # clients
    "AsyncOpHostClient",
    "OpHostClient",
    # streams
    "ExecutionStream",
    "SyncExecutionStream",
    # descriptions
    "ServerInfo",
    "ServerLimits",
    "ExecutionInfo",
    "ExecutionState",
    "ChunkedOutput",
    # credentials
    "bearer",
    # errors
    "OpHostClientError",
    "OpHostRpcError",
    "ExecutionError",
    "OpFailedError",
    "ExecutionCanceledError",
    "StreamBrokenError",
    "ClientClosedError",
    "ProtocolError",
]
