"""TLS and mTLS with real certificates (trustme), and rotating them under live streams.

In this process: a TLS server answers TLS clients that trust its CA and no one else;
with a client CA (mTLS) it also needs a client certificate from that CA. A reload
serves the new certificate to new connections while an open stream goes on.

``ophost serve`` processes: the same, with the certificate replaced on disk and
reloaded by SIGHUP or by the change itself, while a client follows a running op's
events; bad files at start or at reload are reported, naming the file.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import grpc
import pytest
import trustme

from ophost.server import TlsError, TlsFiles
from ophost.server._tls import ServerCertificates
from ophost_client import AsyncOpHostClient

from .host_processes import hosts, spawn_host, start_host, write_ops
from .security import (
    OPS_SOURCE,
    Pki,
    client,
    make_pki,
    secured_host,
    unreachable,
    wait_for_line,
    write_ca,
)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


# -- TLS -----------------------------------------------------------------------------------


async def test_a_tls_server_answers_clients_that_trust_its_ca(pki: Pki) -> None:
    async with secured_host(tls=pki.tls()) as server, client(server.address, pki) as trusting:
        assert await trusting.call("add", {"a": 1, "b": 2}) == {"result": 3}
        # The system's CAs do not know the test CA; nor does plaintext get through.
        assert await unreachable(server.address, tls=True) == grpc.StatusCode.UNAVAILABLE
        assert await unreachable(server.address) == grpc.StatusCode.UNAVAILABLE
        other = write_ca(trustme.CA(), pki.folder / "other-ca.pem")
        assert await unreachable(server.address, ca_file=other) == grpc.StatusCode.UNAVAILABLE


async def test_without_tls_the_server_speaks_plaintext_only(pki: Pki) -> None:
    async with secured_host() as server, client(server.address) as plain:
        assert await plain.call("add", {"a": 2, "b": 2}) == {"result": 4}
        assert await unreachable(server.address, pki) == grpc.StatusCode.UNAVAILABLE


async def test_mtls_needs_a_client_certificate_from_the_client_ca(pki: Pki) -> None:
    alice = pki.client("alice")
    stranger = pki.client("mallory", ca=trustme.CA())
    async with (
        secured_host(tls=pki.tls(mtls=True)) as server,
        client(server.address, pki, cert=alice) as with_cert,
    ):
        assert server.certificates is not None
        assert server.certificates.requires_client_certificates
        assert await with_cert.call("add", {"a": 1, "b": 1}) == {"result": 2}
        assert await unreachable(server.address, pki) == grpc.StatusCode.UNAVAILABLE
        assert await unreachable(server.address, pki, cert=stranger) == grpc.StatusCode.UNAVAILABLE


async def test_the_client_refuses_tls_options_it_cannot_use(pki: Pki) -> None:
    target = "127.0.0.1:1"
    with pytest.raises(ValueError, match="tls_cert and tls_key go together"):
        AsyncOpHostClient(target, tls_ca=pki.ca_file, tls_cert=pki.server_cert)
    with pytest.raises(ValueError, match=r"tls_ca: cannot read .*missing\.pem"):
        AsyncOpHostClient(target, tls_ca=pki.folder / "missing.pem")
    with pytest.raises(ValueError, match="tls=False"):
        AsyncOpHostClient(target, tls=False, tls_ca=pki.ca_file)
    with pytest.raises(ValueError, match="tls_ca: the data is not PEM"):
        AsyncOpHostClient(target, tls_ca=b"not a certificate")
    async with grpc.aio.insecure_channel(target) as channel:
        with pytest.raises(ValueError, match="apply to the channel the client makes"):
            AsyncOpHostClient(target, channel=channel, tls_ca=pki.ca_file)


# -- what the server refuses to start with ----------------------------------------------------


def test_bad_tls_files_are_named(pki: Pki, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(TlsError, match=f"cannot read the certificate file {missing}"):
        ServerCertificates(TlsFiles(cert=missing, key=pki.server_key))
    other = trustme.CA().issue_cert("127.0.0.1")
    wrong_key = tmp_path / "wrong.key"
    other.private_key_pem.write_to_path(str(wrong_key))
    with pytest.raises(TlsError, match="do not make a valid pair"):
        ServerCertificates(TlsFiles(cert=pki.server_cert, key=wrong_key))
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(TlsError, match=f"client CA file {text} is not PEM"):
        ServerCertificates(TlsFiles(cert=pki.server_cert, key=pki.server_key, client_ca=text))


# -- rotation in this process ------------------------------------------------------------------


async def test_a_reload_serves_the_new_certificate_and_keeps_open_streams(pki: Pki) -> None:
    new_ca = trustme.CA()
    new_ca_file = write_ca(new_ca, pki.folder / "new-ca.pem")
    async with (
        secured_host(tls=pki.tls()) as server,
        client(server.address, pki) as old_client,
    ):
        certificates = server.certificates
        assert certificates is not None
        stream = old_client.execute("ticks", {"n": 30, "pause": 0.05})
        first = await stream.__anext__()
        assert await unreachable(server.address, ca_file=new_ca_file) == grpc.StatusCode.UNAVAILABLE

        pki.issue_server(new_ca, pki.server_cert, pki.server_key)
        assert certificates.reload() is True
        assert certificates.reload() is False  # the same files again: nothing to do

        async with client(server.address, ca_file=new_ca_file) as new_client:
            assert await new_client.call("add", {"a": 3, "b": 4}) == {"result": 7}
        assert await unreachable(server.address, pki) == grpc.StatusCode.UNAVAILABLE
        events = [first, *[event async for event in stream]]
        assert stream.outputs == {"result": 30}
        assert stream.reattach_count == 0
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))


async def test_a_reload_can_change_the_client_ca(pki: Pki) -> None:
    old_client_cert = pki.client("alice")
    new_ca = trustme.CA()
    new_client_cert = pki.client("bob", ca=new_ca)
    clients_ca = write_ca(pki.ca, pki.folder / "clients-ca.pem")
    tls = TlsFiles(cert=pki.server_cert, key=pki.server_key, client_ca=clients_ca)
    async with (
        secured_host(tls=tls) as server,
        client(server.address, pki, cert=old_client_cert) as connected,
    ):
        certificates = server.certificates
        assert certificates is not None
        assert await connected.call("add", {"a": 1, "b": 1}) == {"result": 2}
        refused = await unreachable(server.address, pki, cert=new_client_cert)
        assert refused == grpc.StatusCode.UNAVAILABLE

        write_ca(new_ca, clients_ca)  # client certificates now come from the new CA
        assert certificates.reload_if_changed() is True
        async with client(server.address, pki, cert=new_client_cert) as renewed:
            assert await renewed.call("add", {"a": 2, "b": 2}) == {"result": 4}
        refused = await unreachable(server.address, pki, cert=old_client_cert)
        assert refused == grpc.StatusCode.UNAVAILABLE
        # The connection made before the change goes on.
        assert await connected.call("add", {"a": 3, "b": 3}) == {"result": 6}


async def test_a_reload_that_finds_bad_files_keeps_the_certificate_in_use(pki: Pki) -> None:
    async with secured_host(tls=pki.tls()) as server:
        certificates = server.certificates
        assert certificates is not None
        pki.server_key.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n")
        with pytest.raises(TlsError, match=str(pki.server_key)):
            certificates.reload_if_changed()
        assert certificates.reload_if_changed() is False  # reported once per change
        async with client(server.address, pki) as trusting:
            assert await trusting.call("add", {"a": 1, "b": 1}) == {"result": 2}


# -- ophost serve processes --------------------------------------------------------------------


async def test_serve_rotates_its_certificate_on_sighup_without_dropping_a_stream(
    pki: Pki, tmp_path: Path
) -> None:
    await _rotate_under_a_live_stream(pki, tmp_path, by_signal=True)


async def test_serve_rotates_its_certificate_when_the_files_change(
    pki: Pki, tmp_path: Path
) -> None:
    await _rotate_under_a_live_stream(pki, tmp_path, by_signal=False)


async def _rotate_under_a_live_stream(pki: Pki, tmp_path: Path, *, by_signal: bool) -> None:
    ops = write_ops(tmp_path)
    ops.write_text(OPS_SOURCE, encoding="utf-8")
    # With SIGHUP, the files are not watched: only the signal reloads.
    interval = "0" if by_signal else "1"
    host = await start_host(
        "-f", str(ops), "--port", "0", "--store", "memory", "--reload-interval", interval,
        "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key),
        cwd=tmp_path,
    )  # fmt: skip
    new_ca = trustme.CA()
    new_ca_file = write_ca(new_ca, tmp_path / "new-ca.pem")
    async with hosts(host), client(host.address, pki) as old_client:
        await wait_for_line(host.lines, f"TLS with {pki.server_cert}")
        stream = old_client.execute("ticks", {"n": 60, "pause": 0.05})
        first = await stream.__anext__()
        mark = len(host.lines)
        pki.issue_server(new_ca, pki.server_cert, pki.server_key)
        if by_signal:
            host.process.send_signal(signal.SIGHUP)
            received = await wait_for_line(host.lines, "SIGHUP received; reloading", after=mark)
            mark = host.lines.index(received, mark)
        await wait_for_line(host.lines, "reloaded the TLS certificate", after=mark)
        assert not stream.finished, "the op ended before the rotation: make it longer"

        async with client(host.address, ca_file=new_ca_file) as new_client:
            assert await new_client.call("add", {"a": 1, "b": 2}) == {"result": 3}
        assert await unreachable(host.address, pki) == grpc.StatusCode.UNAVAILABLE
        events = [first, *[event async for event in stream]]
        assert stream.outputs == {"result": 60}
        assert stream.reattach_count == 0
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        assert await host.stop() == 0


async def test_serve_keeps_its_certificate_when_a_reload_finds_bad_files(
    pki: Pki, tmp_path: Path
) -> None:
    ops = write_ops(tmp_path)
    ops.write_text(OPS_SOURCE, encoding="utf-8")
    host = await start_host(
        "-f", str(ops), "--port", "0", "--store", "memory",
        "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key),
        cwd=tmp_path,
    )  # fmt: skip
    async with hosts(host):
        mark = len(host.lines)
        pki.server_cert.write_text("not a certificate")
        host.process.send_signal(signal.SIGHUP)
        line = await wait_for_line(host.lines, "kept the TLS certificate in use", after=mark)
        assert str(pki.server_cert) in line
        async with client(host.address, pki) as trusting:
            assert await trusting.call("add", {"a": 2, "b": 3}) == {"result": 5}
        assert await host.stop() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "server.pem"], "--tls-cert and --tls-key go together"),
        (["--tls-client-ca", "ca.pem"], "--tls-client-ca needs --tls-cert and --tls-key"),
        (
            ["--tls-cert", "missing.pem", "--tls-key", "server.key"],
            "cannot read the certificate file missing.pem",
        ),
        (
            ["--tls-cert", "server.pem", "--tls-key", "ca.pem"],
            "do not make a valid pair",
        ),
    ],
)
async def test_serve_refuses_to_start_with_bad_tls_options(
    pki: Pki, tmp_path: Path, args: list[str], message: str
) -> None:
    ops = write_ops(tmp_path)
    process = await spawn_host(
        "-f", str(ops), "--port", "0", "--store", "memory", *args, cwd=tmp_path
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode in (1, 2)
    assert message in output.decode()


async def test_workers_serve_tls_and_each_reloads_on_sighup(pki: Pki, tmp_path: Path) -> None:
    ops = write_ops(tmp_path)
    ops.write_text(OPS_SOURCE, encoding="utf-8")
    host = await start_host(
        "-f", str(ops), "--port", "0", "--workers", "2",
        "--store", f"sqlite:///{tmp_path / 'ophost.db'}",
        "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key),
        cwd=tmp_path,
    )  # fmt: skip
    new_ca = trustme.CA()
    new_ca_file = write_ca(new_ca, tmp_path / "new-ca.pem")
    async with hosts(host):
        async with client(host.address, pki) as trusting:
            assert await trusting.call("add", {"a": 1, "b": 1}) == {"result": 2}
        mark = len(host.lines)
        pki.issue_server(new_ca, pki.server_cert, pki.server_key)
        host.process.send_signal(signal.SIGHUP)
        for number in (1, 2):
            await wait_for_line(
                host.lines, f"ophost[worker {number}]: reloaded the TLS certificate", after=mark
            )
        for _ in range(4):  # new connections, to either worker
            async with client(host.address, ca_file=new_ca_file) as renewed:
                assert await renewed.call("add", {"a": 2, "b": 2}) == {"result": 4}
        assert await host.stop() == 0
