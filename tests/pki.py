"""Certificates for tests that run servers over TLS, made with trustme.

:func:`write_pki` makes a throwaway CA, a server certificate for ``127.0.0.1`` and
``localhost`` and a client certificate, and writes them as PEM files into a folder.
The conformance runner uses it for its secure run; the TypeScript tests run it as a
program, which prints where the files are as JSON::

    python -m tests.pki FOLDER
    {"ca": "FOLDER/ca.pem", "server_cert": ..., "server_key": ...,
     "client_cert": ..., "client_key": ..., "client_subject": "CN=...,O=..."}
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509


@dataclass(frozen=True)
class PkiFiles:
    """The PEM files :func:`write_pki` wrote, and the client certificate's subject."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_subject: str

    def as_json(self) -> dict[str, str]:
        return {key: str(value) for key, value in dataclasses.asdict(self).items()}


def write_pki(folder: Path, *, client_name: str = "conformance-client") -> PkiFiles:
    """A new CA, a server certificate (127.0.0.1, localhost) and a client certificate
    whose common name is ``client_name``, as PEM files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert(f"{client_name}@example.com", common_name=client_name)
    files = PkiFiles(
        ca=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        client_cert=folder / "client.pem",
        client_key=folder / "client.key",
        client_subject=x509.load_pem_x509_certificate(
            client.cert_chain_pems[0].bytes()
        ).subject.rfc4514_string(),
    )
    ca.cert_pem.write_to_path(str(files.ca))
    files.server_cert.write_bytes(b"".join(pem.bytes() for pem in server.cert_chain_pems))
    server.private_key_pem.write_to_path(str(files.server_key))
    files.client_cert.write_bytes(b"".join(pem.bytes() for pem in client.cert_chain_pems))
    client.private_key_pem.write_to_path(str(files.client_key))
    for path in (files.server_key, files.client_key):
        path.chmod(0o600)
    return files


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m tests.pki FOLDER", file=sys.stderr)
        return 2
    print(json.dumps(write_pki(Path(args[0])).as_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
