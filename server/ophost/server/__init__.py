"""The gRPC host: serves op definitions and streams their executions' events.

``OpHostServer(ops, resources=..., host=..., port=0)`` is an async context manager;
its ``port`` is the bound port. ``Limits`` tunes value chunking, batching and
backpressure. ``load_ops`` reads the ops (and resources) of a file or module, as
``ophost serve`` does.
"""

from ophost.execution._loader import LoadedOps, LoadError, load_ops
from ophost.server._host import KEEPALIVE_OPTIONS, SERVICE_NAME, OpHostServer
from ophost.server._limits import Limits
from ophost.server._servicer import PROTOCOL_VERSION

__all__ = [
    "KEEPALIVE_OPTIONS",
    "PROTOCOL_VERSION",
    "SERVICE_NAME",
    "Limits",
    "LoadError",
    "LoadedOps",
    "OpHostServer",
    "load_ops",
]
