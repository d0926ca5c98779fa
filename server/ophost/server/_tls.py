"""The server's TLS certificate, key and client CA, reloaded without a restart.

:class:`ServerCertificates` reads the PEM files of :class:`TlsFiles` and gives the
server ``grpc.dynamic_ssl_server_credentials``: gRPC asks its fetcher for the current
certificate before every TLS handshake, so a new certificate, key or client CA takes
effect for the next connection while the connections already open (and their
streams) go on with the one they started with.

:meth:`ServerCertificates.reload` reads the files again (``ophost serve`` calls it on
SIGHUP); :meth:`ServerCertificates.reload_if_changed` does so only when a file's
modification time, size or inode changed (``ophost serve`` calls it every second, so
that replacing the files is enough). :meth:`ServerCertificates.ssl_context` serves the
same material to an HTTP server (the browser door): an ``ssl.SSLContext`` that moves
each new connection onto the latest material as its handshake begins. A reload checks
the files before using them (the key must belong to the certificate, the client CA
must hold certificates) and keeps the certificate in use when they are not valid: a
certificate renewed half-way (the new certificate written, the key not yet) is picked
up once both are there.
"""

from __future__ import annotations

import os
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from ophost.errors import OpHostError

__all__ = ["ServerCertificates", "TlsError", "TlsFiles"]


class TlsError(OpHostError):
    """A certificate, key or CA file cannot be read or is not valid; the message names it."""


@dataclass(frozen=True, kw_only=True)
class TlsFiles:
    """Where the server's TLS material is: PEM files.

    ``cert``: the server's certificate chain; ``key``: its private key; ``client_ca``:
    the CA certificates that client certificates must chain to. With ``client_ca``
    the server requires a client certificate on every connection (mTLS).
    """

    cert: Path
    key: Path
    client_ca: Path | None = None

    @property
    def paths(self) -> tuple[Path, ...]:
        return (
            (self.cert, self.key)
            if self.client_ca is None
            else (self.cert, self.key, self.client_ca)
        )


# What an HTTP server offers in ALPN: HTTP/2 first, then HTTP/1.1.
HTTP_ALPN = ("h2", "http/1.1")


@dataclass(frozen=True)
class _Material:
    cert: bytes
    key: bytes
    client_ca: bytes | None
    # The material loaded into a server context (for HTTP servers); not compared.
    context: ssl.SSLContext = field(compare=False, repr=False)

    def configuration(self) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration(
            [(self.key, self.cert)], root_certificates=self.client_ca
        )


class ServerCertificates:
    """The current TLS material of a server, and the credentials that follow it."""

    def __init__(self, files: TlsFiles) -> None:
        self.files = files
        self._lock = threading.Lock()
        self._signature = _signature(files)
        self._material = _read(files)
        self._pending: grpc.ServerCertificateConfiguration | None = None

    @property
    def requires_client_certificates(self) -> bool:
        return self.files.client_ca is not None

    def credentials(self) -> grpc.ServerCredentials:
        """Server credentials that use the latest material from the next handshake on."""
        return grpc.dynamic_ssl_server_credentials(
            self._material.configuration(),
            # The stubs say the fetcher must return a configuration; gRPC documents
            # None as "keep the current one", which is what it mostly returns.
            self._fetch,  # type: ignore[arg-type]
            require_client_authentication=self.requires_client_certificates,
        )

    def ssl_context(self) -> ssl.SSLContext:
        """A server ``SSLContext`` that uses the latest material from the next handshake on.

        Each handshake starts on this context and is moved to the context of the
        material loaded last (Python calls ``sni_callback`` for every ClientHello,
        with or without a server name), so a reload reaches new connections without a
        restart. It offers HTTP/2 and HTTP/1.1 in ALPN and, with a client CA, requires
        a client certificate that chains to it.
        """
        with self._lock:
            material = self._material
        # A connection keeps the verify mode of the context it started on, and the
        # certificate and CA store of the one it is moved to.
        first = _server_context()
        try:
            first.load_cert_chain(self.files.cert, self.files.key)
        except (ssl.SSLError, OSError) as exc:
            raise TlsError(f"cannot load {self.files.cert} and {self.files.key}: {exc}") from None
        if material.client_ca is not None:
            first.load_verify_locations(cadata=material.client_ca.decode("ascii"))
            first.verify_mode = ssl.CERT_REQUIRED

        def current(connection: ssl.SSLObject, _name: str | None, _ctx: ssl.SSLContext) -> None:
            with self._lock:
                latest = self._material.context
            connection.context = latest

        first.sni_callback = current
        return first

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        # Called by gRPC (on one of its threads) before each handshake: the material
        # loaded since the last call, or None to keep the current one.
        with self._lock:
            pending, self._pending = self._pending, None
        return pending

    def reload(self) -> bool:
        """Read the files again; returns whether the material changed.

        Raises :class:`TlsError` (naming the file) when they are not valid; the
        material in use is then kept.
        """
        # Remembered even when the files are not valid: they are read again once they
        # change again (a renewal that writes the certificate, then the key).
        self._signature = _signature(self.files)
        material = _read(self.files)
        with self._lock:
            if material == self._material:
                return False
            self._material = material
            self._pending = material.configuration()
        return True

    def reload_if_changed(self) -> bool:
        """:meth:`reload` if a file changed since the last read; False otherwise."""
        if _signature(self.files) == self._signature:
            return False
        return self.reload()


def _signature(files: TlsFiles) -> tuple[tuple[int, int, int, int] | None, ...]:
    """What tells that a file changed: its inode, device, size and modification time."""
    found: list[tuple[int, int, int, int] | None] = []
    for path in files.paths:
        try:
            stat = os.stat(path)
        except OSError:
            found.append(None)
            continue
        found.append((stat.st_ino, stat.st_dev, stat.st_size, stat.st_mtime_ns))
    return tuple(found)


def _read(files: TlsFiles) -> _Material:
    """Read and check the files (their contents, as checked, even if they change)."""
    cert = _read_file(files.cert, "certificate")
    key = _read_file(files.key, "private key")
    client_ca = _read_file(files.client_ca, "client CA") if files.client_ca is not None else None
    context = _server_context()
    try:
        context.load_cert_chain(files.cert, files.key)
    except ssl.SSLError as exc:
        raise TlsError(
            f"the certificate {files.cert} and the key {files.key} do not make a valid pair "
            f"(is each a PEM file, and the key that of the certificate?): {exc.reason or exc}"
        ) from None
    except OSError as exc:
        raise TlsError(f"cannot read {files.cert} or {files.key}: {exc.strerror or exc}") from None
    # What was checked must be what is used: read again, and give up on a file that
    # changed meanwhile (the next reload reads it whole).
    if _read_file(files.cert, "certificate") != cert or _read_file(files.key, "private key") != key:
        raise TlsError(f"{files.cert} or {files.key} changed while being read; try again")
    if client_ca is not None:
        assert files.client_ca is not None
        try:
            context.load_verify_locations(cadata=client_ca.decode("ascii"))
        except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
            raise TlsError(
                f"the client CA file {files.client_ca} holds no valid PEM certificate: {exc}"
            ) from None
        context.verify_mode = ssl.CERT_REQUIRED
    return _Material(cert=cert, key=key, client_ca=client_ca, context=context)


def _server_context() -> ssl.SSLContext:
    """A TLS server context for HTTP: TLS 1.2 or later, ALPN ``h2`` then ``http/1.1``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(list(HTTP_ALPN))
    return context


def _read_file(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TlsError(f"cannot read the {what} file {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN " not in data:
        raise TlsError(f"the {what} file {path} is not PEM (no -----BEGIN line)")
    return data
