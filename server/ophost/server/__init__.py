"""The gRPC host: serves op definitions and streams their executions' events.

``OpHostServer(ops, resources=..., host=..., port=0)`` is an async context manager;
its ``port`` is the bound port. ``Limits`` tunes value chunking, batching and
backpressure. ``load_ops`` reads the ops (and resources) of a file or module, as
``ophost serve`` does.

Security (docs/security.md): ``OpHostServer(tls=TlsFiles(...))`` serves TLS or mTLS;
``AccessInterceptor.from_file(path)``, passed in ``interceptors``, authenticates
callers with a token file and applies its permissions.
"""

from ophost.execution._loader import LoadedOps, LoadError, load_ops
from ophost.server._auth import AUTHORIZATION_HEADER, AccessInterceptor
from ophost.server._host import KEEPALIVE_OPTIONS, SERVICE_NAME, OpHostServer
from ophost.server._limits import Limits
from ophost.server._service import PROTOCOL_VERSION
from ophost.server._tls import TlsError, TlsFiles
from ophost.server._token_file import TokenFileError, hash_token

__all__ = [
    "AUTHORIZATION_HEADER",
    "KEEPALIVE_OPTIONS",
    "PROTOCOL_VERSION",
    "SERVICE_NAME",
    "AccessInterceptor",
    "Limits",
    "LoadError",
    "LoadedOps",
    "OpHostServer",
    "TlsError",
    "TlsFiles",
    "TokenFileError",
    "hash_token",
    "load_ops",
]
