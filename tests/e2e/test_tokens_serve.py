"""Token files under ``ophost serve``: reloads, the CLI's connection options, start errors.

Real ``ophost serve`` processes with TLS and a token file: SIGHUP and a change to the
file reload it (a revoked token stops working, a new one starts), a file that does
not load leaves the one in use, no token ever appears in what the host prints,
executions keep their owner in a durable store across a restart, and the client
commands take ``--tls-ca``, ``--tls-cert``, ``--tls-key``, ``--token`` and
``OPHOST_TOKEN``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
from pathlib import Path

import grpc
import pytest

from ophost.server import hash_token

from .host_processes import REPO, HostProcess, hosts, spawn_host, start_host, write_ops
from .security import (
    OPS_SOURCE,
    Pki,
    client,
    make_pki,
    rpc_error,
    token_file_text,
    wait_for_line,
    write_token_file,
)

ALL_ACTIONS = ["list", "run", "read", "cancel"]


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


@pytest.fixture
def ops_file(tmp_path: Path) -> Path:
    path = write_ops(tmp_path)
    path.write_text(OPS_SOURCE, encoding="utf-8")
    return path


def identity(token: str, ops: list[str] | None = None, **fields: object) -> dict[str, object]:
    return {"token_hash": hash_token(token), "ops": ops or ["*"], "actions": ALL_ACTIONS, **fields}


async def serve(
    tmp_path: Path, ops_file: Path, pki: Pki, token_file: Path, *extra: str
) -> HostProcess:
    return await start_host(
        "-f", str(ops_file), "--port", "0",
        "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key),
        "--token-file", str(token_file),
        *(extra or ("--store", "memory")),
        cwd=tmp_path,
    )  # fmt: skip


async def test_sighup_reloads_the_token_file(tmp_path: Path, ops_file: Path, pki: Pki) -> None:
    old, new, newest = (secrets.token_urlsafe(24) for _ in range(3))
    token_file = write_token_file(tmp_path / "tokens.toml", {"ci": identity(old)})
    # Files are not watched here: only the signal reloads.
    host = await serve(
        tmp_path, ops_file, pki, token_file, "--store", "memory", "--reload-interval", "0"
    )
    async with hosts(host):
        await wait_for_line(host.lines, "callers authenticate as one of 1 identity of")
        async with client(host.address, pki, token=old) as before:
            assert await before.call("add", {"a": 1, "b": 2}) == {"result": 3}

        # The old token is revoked, new ones work.
        write_token_file(token_file, {"ci": identity(new), "narrow": identity(newest, ["add"])})
        async with client(host.address, pki, token=new) as early:
            assert (await rpc_error(early.list_ops())).code is grpc.StatusCode.UNAUTHENTICATED
        await sighup(host, "reloaded the token file")
        async with client(host.address, pki, token=old) as revoked:
            assert (await rpc_error(revoked.list_ops())).code is grpc.StatusCode.UNAUTHENTICATED
        async with client(host.address, pki, token=new) as renewed:
            assert await renewed.call("add", {"a": 2, "b": 2}) == {"result": 4}
        async with client(host.address, pki, token=newest) as narrow:
            assert [s.name for s in await narrow.list_ops()] == ["add"]

        # A file that does not load leaves the one in use.
        token_file.write_text('[identities.ci]\ntoken = "plain text"\n', encoding="utf-8")
        line = await sighup(host, "kept the token file in use")
        assert f"{token_file}:2: identity 'ci': tokens are not written" in line
        async with client(host.address, pki, token=new) as still:
            assert await still.call("add", {"a": 3, "b": 3}) == {"result": 6}
        assert await host.stop() == 0
    output = "\n".join(host.lines)
    for token in (old, new, newest):
        assert token not in output
    assert "plain text" not in output


async def test_a_changed_token_file_is_reloaded(tmp_path: Path, ops_file: Path, pki: Pki) -> None:
    old, new = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    token_file = write_token_file(tmp_path / "tokens.toml", {"ci": identity(old)})
    host = await serve(tmp_path, ops_file, pki, token_file)
    async with hosts(host):
        mark = len(host.lines)
        write_token_file(token_file, {"ci": identity(new, ["add"])})
        await wait_for_line(host.lines, "reloaded the token file", after=mark)
        async with client(host.address, pki, token=old) as gone:
            assert (await rpc_error(gone.list_ops())).code is grpc.StatusCode.UNAUTHENTICATED
        async with client(host.address, pki, token=new) as narrow:
            assert [s.name for s in await narrow.list_ops()] == ["add"]
        assert await host.stop() == 0


async def sighup(host: HostProcess, outcome: str) -> str:
    """Send SIGHUP; the line saying how the reload it caused went."""
    mark = len(host.lines)
    host.process.send_signal(signal.SIGHUP)
    received = await wait_for_line(host.lines, "SIGHUP received; reloading", after=mark)
    return await wait_for_line(host.lines, outcome, after=host.lines.index(received, mark))


async def test_executions_keep_their_owner_across_a_restart(
    tmp_path: Path, ops_file: Path, pki: Pki
) -> None:
    alice, bob = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    token_file = write_token_file(
        tmp_path / "tokens.toml", {"alice": identity(alice), "bob": identity(bob)}
    )
    store = ("--store", f"sqlite:///{tmp_path / 'ophost.db'}")
    host = await serve(tmp_path, ops_file, pki, token_file, *store)
    async with hosts(host), client(host.address, pki, token=alice) as as_alice:
        started = await as_alice.start("add", {"a": 1, "b": 2})
        assert await host.stop() == 0
    again = await serve(tmp_path, ops_file, pki, token_file, *store)
    async with (
        hosts(again),
        client(again.address, pki, token=alice) as as_alice,
        client(again.address, pki, token=bob) as as_bob,
    ):
        assert (await as_alice.get_execution(started.id)).id == started.id
        refused = await rpc_error(as_bob.get_execution(started.id))
        assert refused.code is grpc.StatusCode.PERMISSION_DENIED
        assert [e.id for e in await as_bob.list_executions()] == []
        assert [e.id for e in await as_alice.list_executions()] == [started.id]
        assert await again.stop() == 0


async def test_the_cli_connects_with_tls_and_a_token(
    tmp_path: Path, ops_file: Path, pki: Pki
) -> None:
    token = secrets.token_urlsafe(24)
    mtls_cert = pki.client("cli")
    token_file = write_token_file(tmp_path / "tokens.toml", {"cli": identity(token, ["add"])})
    host = await serve(
        tmp_path,
        ops_file,
        pki,
        token_file,
        "--store",
        "memory",
        "--tls-client-ca",
        str(pki.ca_file),
    )
    tls = ["--tls-ca", str(pki.ca_file), "--tls-cert", str(mtls_cert.cert)]
    tls += ["--tls-key", str(mtls_cert.key)]
    async with hosts(host):
        code, out = await ophost("ops", host.address, *tls, f"--token={token}")
        assert code == 0, out
        assert "add" in out
        assert "payroll" not in out
        code, out = await ophost("run", host.address, "add", "-i", "a=2", "-i", "b=3", *tls,
                                 env={"OPHOST_TOKEN": token})  # fmt: skip
        assert code == 0, out
        code, out = await ophost(
            "executions", "list", host.address, "--json", *tls, env={"OPHOST_TOKEN": token}
        )
        assert code == 0, out
        assert [json.loads(line)["opName"] for line in out.splitlines()] == ["add"]
        code, out = await ophost("ops", host.address, *tls)
        assert code == 3
        assert "UNAUTHENTICATED" in out
        code, out = await ophost("describe", host.address, "payroll", *tls, f"--token={token}")
        assert code == 3
        assert "PERMISSION_DENIED" in out
        code, out = await ophost("ops", host.address, f"--token={token}")  # plaintext
        assert code == 3
        code, out = await ophost("ops", host.address, "--tls-ca", str(tmp_path / "nope.pem"))
        assert code == 2
        assert "tls_ca: cannot read" in out
        assert await host.stop() == 0
    assert token not in "\n".join(host.lines)


async def ophost(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run an ``ophost`` client command; its exit code and its output (stderr joined)."""
    environment = {k: v for k, v in os.environ.items() if k != "OPHOST_TOKEN"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ophost", *args,
        cwd=REPO,
        env={**environment, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, output.decode()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('health = "closed"\n', "tokens.toml:1: health must be"),
        ("[identities.ci]\nops = []\n", "tokens.toml:1: identity 'ci' has no way to authenticate"),
        (
            f'[identities.ci]\ntoken_hash = "{hash_token("x")}"\nactions = ["run"]\n',
            "identity 'ci': ops is missing",
        ),
        (
            f'[identities.ci]\ntoken_hash = "{hash_token("x")}"\nops = ["*"]\n'
            'actions = ["run", "delete"]\n',
            "tokens.toml:4: identity 'ci': actions has 'delete'",
        ),
        ("[identities.ci\n", "not valid TOML"),
    ],
)
async def test_serve_refuses_a_bad_token_file_naming_the_line(
    tmp_path: Path, ops_file: Path, text: str, message: str
) -> None:
    token_file = tmp_path / "tokens.toml"
    token_file.write_text(text, encoding="utf-8")
    process = await spawn_host(
        "-f", str(ops_file), "--port", "0", "--store", "memory", "--token-file", str(token_file),
        cwd=tmp_path,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert message in output.decode()


async def test_serve_refuses_certificate_identities_without_a_client_ca(
    tmp_path: Path, ops_file: Path, pki: Pki
) -> None:
    token_file = tmp_path / "tokens.toml"
    token_file.write_text(
        token_file_text(
            {"dash": {"client_cert_subject": "CN=dash", "ops": ["*"], "actions": ["list"]}}
        ),
        encoding="utf-8",
    )
    process = await spawn_host(
        "-f", str(ops_file), "--port", "0", "--store", "memory", "--token-file", str(token_file),
        "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key),
        cwd=tmp_path,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert "identity 'dash' authenticates by client certificate" in output.decode()
    assert "--tls-client-ca" in output.decode()


async def test_workers_share_the_token_file_and_reload_it_on_sighup(
    tmp_path: Path, ops_file: Path, pki: Pki
) -> None:
    old, new = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    token_file = write_token_file(tmp_path / "tokens.toml", {"ci": identity(old)})
    host = await serve(
        tmp_path, ops_file, pki, token_file,
        "--workers", "2", "--store", f"sqlite:///{tmp_path / 'ophost.db'}",
    )  # fmt: skip
    async with hosts(host):
        async with client(host.address, pki, token=old) as before:
            started = await before.start("add", {"a": 1, "b": 1})
        write_token_file(token_file, {"ci": identity(new)})
        mark = len(host.lines)
        host.process.send_signal(signal.SIGHUP)
        for number in (1, 2):
            await wait_for_line(
                host.lines, f"ophost[worker {number}]: reloaded the token file", after=mark
            )
        for _ in range(4):  # new connections, to either worker
            async with client(host.address, pki, token=new) as renewed:
                assert (await renewed.get_execution(started.id)).id == started.id
            async with client(host.address, pki, token=old) as revoked:
                error = await rpc_error(revoked.list_ops())
                assert error.code is grpc.StatusCode.UNAUTHENTICATED
        assert await host.stop() == 0


async def test_workers_refuse_a_bad_token_file_before_starting(
    tmp_path: Path, ops_file: Path
) -> None:
    token_file = tmp_path / "tokens.toml"
    token_file.write_text("[identities.ci]\n", encoding="utf-8")
    process = await spawn_host(
        "-f", str(ops_file), "--port", "0", "--workers", "2",
        "--store", f"sqlite:///{tmp_path / 'ophost.db'}", "--token-file", str(token_file),
        cwd=tmp_path,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert "identity 'ci' has no way to authenticate" in output.decode()
    assert "ophost[worker" not in output.decode()
