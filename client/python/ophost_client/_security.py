"""The client's credentials: TLS for the channel it makes, a token for every call.

:func:`channel_credentials` turns the client's TLS options into gRPC channel
credentials: the CA certificates to verify the server with (the system's when none
are given) and, for mTLS, the client's certificate and key. Each option is PEM data
(``bytes``) or the path of a PEM file (``str`` or ``os.PathLike``), read once, when
the client is made.

:func:`token_metadata` is the header a token travels in: ``authorization: Bearer
<token>``, the same for the Python, Go and TypeScript clients. It goes with every RPC
the client makes; a call whose ``metadata`` sets ``authorization`` itself sends that
instead (a token for that call only).
"""

from __future__ import annotations

import os
from typing import TypeAlias

import grpc

from ophost_client._options import MetadataPairs

__all__ = [
    "AUTHORIZATION_HEADER",
    "Pem",
    "bearer",
    "channel_credentials",
    "token_metadata",
    "wants_tls",
]

# What a TLS option takes: PEM data, or the path of a PEM file.
Pem: TypeAlias = "bytes | str | os.PathLike[str]"

AUTHORIZATION_HEADER = "authorization"


def bearer(token: str) -> tuple[str, str]:
    """The metadata pair that carries ``token``: ``("authorization", "Bearer <token>")``.

    Pass it in a call's ``metadata`` to use another token for that call only.
    """
    _check_token(token)
    return (AUTHORIZATION_HEADER, f"Bearer {token}")


def token_metadata(token: str | None) -> MetadataPairs:
    """The metadata every call of a client with ``token`` sends (none without one)."""
    return () if token is None else (bearer(token),)


def wants_tls(tls: bool | None, ca: Pem | None, cert: Pem | None, key: Pem | None) -> bool:
    """Whether the client's own channel uses TLS.

    ``tls=None`` means: when any TLS file is given. ``tls=False`` with a TLS file is a
    contradiction and raises ``ValueError``.
    """
    given = any(option is not None for option in (ca, cert, key))
    if tls is None:
        return given
    if not tls and given:
        raise ValueError("tls=False, but tls_ca, tls_cert or tls_key is given")
    return tls


def channel_credentials(
    ca: Pem | None, cert: Pem | None, key: Pem | None
) -> grpc.ChannelCredentials:
    """TLS credentials: verify the server with ``ca`` (default: the system's CAs) and,
    with ``cert`` and ``key``, present that client certificate (mTLS)."""
    if (cert is None) != (key is None):
        raise ValueError("tls_cert and tls_key go together (a client certificate and its key)")
    return grpc.ssl_channel_credentials(
        root_certificates=_pem(ca, "tls_ca") if ca is not None else None,
        private_key=_pem(key, "tls_key") if key is not None else None,
        certificate_chain=_pem(cert, "tls_cert") if cert is not None else None,
    )


def _pem(source: Pem, name: str) -> bytes:
    if isinstance(source, bytes):
        data = source
    else:
        try:
            with open(os.fspath(source), "rb") as file:
                data = file.read()
        except OSError as exc:
            raise ValueError(f"{name}: cannot read {source}: {exc.strerror or exc}") from None
    if b"-----BEGIN " not in data:
        where = "the data" if isinstance(source, bytes) else str(source)
        raise ValueError(f"{name}: {where} is not PEM (no -----BEGIN line)")
    return data


def _check_token(token: str) -> None:
    if not isinstance(token, str) or not token:
        raise ValueError("a token must be a non-empty string")
    if any(ch.isspace() or not ch.isprintable() or not ch.isascii() for ch in token):
        raise ValueError("a token must be printable ASCII without spaces")
