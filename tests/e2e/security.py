"""What the security tests share: certificates made by trustme, token files, ops, hosts.

:func:`make_pki` writes a CA and the server's certificate and key (for ``127.0.0.1``
and ``localhost``) into a folder; :meth:`Pki.client` issues a client certificate.
:func:`token_file_text` writes the TOML of a token file. :func:`secured_host` serves
:data:`OPS` in this process with TLS and a token file, as ``ophost serve`` would, and
:data:`OPS_SOURCE` is the same ops for ``ophost serve`` processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import trustme
from cryptography import x509

from ophost import OpDefinition
from ophost.server import AccessInterceptor, OpHostServer, TlsFiles
from ophost_client import AsyncOpHostClient, OpHostRpcError

# Wait at most this long for anything a test waits on (a line, a reload).
WAIT = 60.0

OPS_SOURCE = """
import time

from ophost import Failure, RetryPolicy, op


@op
def add(a: int, b: int) -> int:
    return a + b


@op
def report() -> str:
    return "report"


@op
def payroll() -> str:
    return "payroll"


@op
def ticks(context, n: int, pause: float = 0.05) -> int:
    for i in range(n):
        context.raise_if_cancel_requested()
        context.log.info(f"tick {i}")
        time.sleep(pause)
    return n


@op
def boom(context) -> int:
    try:
        {}["db-password=hunter2"]
    except KeyError as exc:
        raise ValueError("cannot reach postgres://admin:hunter2@db.internal/prod") from exc


@op
def deliberate(context) -> int:
    raise Failure(description="the input file is empty", metadata={"rows": 0})


@op(retry_policy=RetryPolicy(max_retries=1, delay=0.01))
def flaky_secret(context) -> int:
    raise RuntimeError(f"secret attempt {context.retry_number}")
"""

# The same ops in this process: OPS_SOURCE run as a module of its own.
_namespace: dict[str, Any] = {"__name__": "security_ops"}
exec(compile(OPS_SOURCE, "<security ops>", "exec"), _namespace)
OPS: list[OpDefinition] = [
    _namespace[name]
    for name in ("add", "report", "payroll", "ticks", "boom", "deliberate", "flaky_secret")
]


@dataclass(frozen=True)
class ClientCert:
    cert: Path
    key: Path
    subject: str


@dataclass
class Pki:
    """A CA and the server's certificate, as PEM files in ``folder``."""

    folder: Path
    ca: trustme.CA
    ca_file: Path
    server_cert: Path
    server_key: Path

    def client(self, name: str, *, ca: trustme.CA | None = None) -> ClientCert:
        """A client certificate with common name ``name`` (from ``ca``, else this CA)."""
        issued = (ca or self.ca).issue_cert(f"{name}@example.com", common_name=name)
        cert = self.folder / f"{name}.pem"
        key = self.folder / f"{name}.key"
        issued.cert_chain_pems[0].write_to_path(str(cert))
        issued.private_key_pem.write_to_path(str(key))
        return ClientCert(cert, key, subject_of(issued))

    def tls(self, *, mtls: bool = False) -> TlsFiles:
        return TlsFiles(
            cert=self.server_cert, key=self.server_key, client_ca=self.ca_file if mtls else None
        )

    def issue_server(self, ca: trustme.CA, cert: Path, key: Path) -> None:
        """Write a server certificate from ``ca`` to ``cert`` and ``key`` (each replaced
        at once, as a renewal tool would)."""
        issued = ca.issue_cert("127.0.0.1", "localhost")
        _replace(cert, b"".join(p.bytes() for p in issued.cert_chain_pems))
        _replace(key, issued.private_key_pem.bytes())


def subject_of(issued: trustme.LeafCert) -> str:
    """The certificate's subject as gRPC reports it (RFC 4514)."""
    cert = x509.load_pem_x509_certificate(issued.cert_chain_pems[0].bytes())
    return cert.subject.rfc4514_string()


def make_pki(folder: Path) -> Pki:
    ca = trustme.CA()
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    pki = Pki(folder, ca, ca_file, folder / "server.pem", folder / "server.key")
    pki.issue_server(ca, pki.server_cert, pki.server_key)
    return pki


def write_ca(ca: trustme.CA, path: Path) -> Path:
    ca.cert_pem.write_to_path(str(path))
    return path


def _replace(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


# -- token files ---------------------------------------------------------------------------


def token_file_text(
    identities: Mapping[str, Mapping[str, object]], *, health: str | None = None
) -> str:
    """A token file's TOML: ``identities`` by name, each a table of settings."""
    lines = [] if health is None else [f"health = {json.dumps(health)}", ""]
    for name, fields in identities.items():
        lines.append(f"[identities.{name}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in fields.items())
        lines.append("")
    return "\n".join(lines)


def write_token_file(
    path: Path, identities: Mapping[str, Mapping[str, object]], *, health: str | None = None
) -> Path:
    path.write_text(token_file_text(identities, health=health), encoding="utf-8")
    return path


# -- hosts and clients ---------------------------------------------------------------------


@contextlib.asynccontextmanager
async def secured_host(
    *,
    tls: TlsFiles | None = None,
    token_file: Path | None = None,
    ops: Sequence[Any] = OPS,
    **options: Any,
) -> AsyncIterator[OpHostServer]:
    """Serve ``ops`` on 127.0.0.1 in this process with ``tls`` and ``token_file``."""
    interceptors = []
    if token_file is not None:
        mtls = tls is not None and tls.client_ca is not None
        interceptors.append(AccessInterceptor.from_file(token_file, client_certificates=mtls))
    options.setdefault("drain_grace_seconds", 1.0)
    async with OpHostServer(
        ops, host="127.0.0.1", port=0, tls=tls, interceptors=interceptors, **options
    ) as server:
        yield server


def client(
    address: str,
    pki: Pki | None = None,
    *,
    token: str | None = None,
    cert: ClientCert | None = None,
    ca_file: Path | None = None,
    **options: Any,
) -> AsyncOpHostClient:
    """A client of ``address``: TLS when ``pki`` or ``ca_file`` is given."""
    tls_ca = ca_file if ca_file is not None else (pki.ca_file if pki is not None else None)
    return AsyncOpHostClient(
        address,
        tls_ca=tls_ca,
        tls_cert=cert.cert if cert is not None else None,
        tls_key=cert.key if cert is not None else None,
        token=token,
        reattach_attempts=options.pop("reattach_attempts", 0),
        **options,
    )


async def rpc_error(awaitable: Any) -> OpHostRpcError:
    """The ``OpHostRpcError`` the awaitable raises (it must raise one)."""
    try:
        await awaitable
    except OpHostRpcError as error:
        return error
    raise AssertionError("expected an OpHostRpcError")


async def unreachable(address: str, pki: Pki | None = None, **options: Any) -> grpc.StatusCode:
    """The code a client gets when its connection cannot be set up (TLS refused)."""
    async with client(address, pki, **options) as refused:
        error = await rpc_error(refused.server_info(timeout=5))
    return error.code


async def wait_for_line(lines: list[str], text: str, *, after: int = 0) -> str:
    """The first line from index ``after`` on that contains ``text`` (waits for it)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for line in lines[after:]:
            if text in line:
                return line
        await asyncio.sleep(0.05)
    raise AssertionError(f"no line with {text!r} in:\n" + "\n".join(lines))
