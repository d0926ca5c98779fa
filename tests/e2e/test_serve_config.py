"""``ophost serve --config FILE``: real server processes reading a config file.

Each test writes a TOML config file (and the files it names) into a folder of its own,
starts ``ophost serve`` from another working directory, and checks what the server
uses from what it prints and how it answers: the port it binds, where it keeps
executions, where op bodies run, its TLS files and token file, its drain grace. The
environment overrides the file and flags override both; ``--workers`` hands the
resolved options to every worker; a bad file stops the start with every problem.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from pathlib import Path

import grpc
import pytest

from ophost.server import hash_token
from ophost_client import AsyncOpHostClient

from .host_processes import (
    OPS_SOURCE,
    HostProcess,
    free_port,
    hosts,
    spawn_host,
    start_host,
)
from .security import WAIT, client, make_pki, rpc_error, wait_for_line, write_token_file


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    """The config file's folder, with the ops file in it."""
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "ops.py").write_text(OPS_SOURCE, encoding="utf-8")
    return folder


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """The working directory of the servers: not the config file's folder."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def write_config(folder: Path, text: str) -> Path:
    path = folder / "ophost.toml"
    path.write_text(text, encoding="utf-8")
    return path


def line_with(host: HostProcess, text: str) -> str:
    matching = [line for line in host.lines if text in line]
    assert matching, f"no line with {text!r} in:\n" + "\n".join(host.lines)
    return matching[0]


async def test_serve_takes_its_options_from_the_config_file(conf: Path, elsewhere: Path) -> None:
    pki = make_pki(_mkdir(conf / "certs"))
    token = secrets.token_urlsafe(16)
    write_token_file(
        conf / "tokens.toml",
        {"ci": {"token_hash": hash_token(token), "ops": ["*"], "actions": ["list", "run"]}},
    )
    (conf / "data").mkdir()
    port = free_port()
    config = write_config(
        conf,
        f"""
file = "ops.py"
port = {port}

[store]
url = "sqlite:///data/ops.db"

[execution]
executor = "thread"

[tls]
cert = "certs/server.pem"
key = "certs/server.key"

[security]
token_file = "tokens.toml"
""",
    )
    host = await start_host("--config", str(config), cwd=elsewhere)
    async with hosts(host):
        await wait_for_line(host.lines, "callers authenticate")  # the last line at start
        assert host.address == f"127.0.0.1:{port}"
        assert line_with(host, "ophost: serving ").startswith(f"ophost: serving 4 ops from {conf}")
        assert line_with(host, "executions are kept in") == (
            f"ophost: executions are kept in sqlite:///{conf}/data/ops.db ({conf}/data/ops.db)"
        )
        assert (
            line_with(host, "op bodies run in")
            == "ophost: op bodies run in threads of this process"
        )
        assert line_with(host, "TLS with") == f"ophost: TLS with {conf}/certs/server.pem"
        assert line_with(host, "callers authenticate") == (
            f"ophost: callers authenticate as one of 1 identity of {conf}/tokens.toml"
        )
        async with client(host.address, pki, token=token) as allowed:
            assert await allowed.call("add", {"a": 2, "b": 3}) == {"result": 5}
        async with client(host.address, pki) as anonymous:
            assert (await rpc_error(anonymous.call("add", {"a": 2, "b": 3}))).code == (
                grpc.StatusCode.UNAUTHENTICATED
            )
        assert (conf / "data" / "ops.db").exists()
        assert not (elsewhere / ".ophost").exists()
        assert await host.stop() == 0


async def test_the_environment_overrides_the_file_and_flags_override_both(
    conf: Path, elsewhere: Path
) -> None:
    ports = [free_port() for _ in range(3)]
    config = write_config(
        conf,
        f'file = "ops.py"\nport = {ports[0]}\ndrain_grace = 7\n'
        '[store]\nurl = "memory"\n[execution]\nexecutor = "thread"\n',
    )
    (elsewhere / "other_ops.py").write_text(
        "from ophost import op\n\n\n@op\ndef only() -> int:\n    return 1\n", encoding="utf-8"
    )
    environ = {"OPHOST_PORT": str(ports[1]), "OPHOST_DRAIN_GRACE": "5"}
    runs = [
        (("--config", str(config)), {}),
        (("--config", str(config)), environ),
        (("--config", str(config), "--port", str(ports[2]), "-m", "other_ops"), environ),
    ]
    seen = []
    for args, env in runs:
        host = await start_host(*args, cwd=elsewhere, env=env)
        async with hosts(host):
            async with AsyncOpHostClient(host.address) as plain:
                names = [op.name for op in await plain.list_ops()]
            assert await host.stop() == 0
        drain = line_with(host, "draining")
        seen.append((host.address, names, drain.split("waiting up to ")[1].split(" ")[0]))
    assert seen == [
        (f"127.0.0.1:{ports[0]}", ["add", "ticks", "chatter", "ticks_retried"], "7s"),
        (f"127.0.0.1:{ports[1]}", ["add", "ticks", "chatter", "ticks_retried"], "5s"),
        (f"127.0.0.1:{ports[2]}", ["only"], "5s"),
    ]


async def test_workers_serve_with_the_options_of_the_file_and_the_environment(
    conf: Path, elsewhere: Path
) -> None:
    (conf / "state").mkdir()
    config = write_config(
        conf,
        'file = "ops.py"\nport = 0\nworkers = 2\n'
        '[store]\nurl = "sqlite:///state/ops.db"\n[execution]\nexecutor = "thread"\n',
    )
    host = await start_host("--config", str(config), cwd=elsewhere, env={"OPHOST_DRAIN_GRACE": "3"})
    async with hosts(host):
        for worker in (1, 2):
            prefix = f"ophost[worker {worker}]: "
            await wait_for_line(host.lines, f"{prefix}op bodies run in")
            assert line_with(host, f"{prefix}executions are kept in") == (
                f"{prefix}executions are kept in sqlite:///{conf}/state/ops.db "
                f"({conf}/state/ops.db)"
            )
            assert line_with(host, f"{prefix}op bodies run in") == (
                f"{prefix}op bodies run in threads of this process"
            )
        async with AsyncOpHostClient(host.address) as plain:
            assert await plain.call("add", {"a": 1, "b": 1}) == {"result": 2}
        assert await host.stop() == 0
    for worker in (1, 2):
        assert "waiting up to 3s" in line_with(host, f"ophost[worker {worker}]: SIGTERM")


async def test_a_bad_config_file_stops_serve_with_every_problem(
    conf: Path, elsewhere: Path
) -> None:
    config = write_config(
        conf,
        'file = "ops.py"\nport = 65536\n\n[store]\nretention = 60\n[tls]\ncert = "s.pem"\n',
    )
    process = await spawn_host(
        "--config", str(config), cwd=elsewhere, env={"OPHOST_WORKERS": "two"}
    )
    output, _ = await _communicate(process)
    assert process.returncode == 2
    assert output.splitlines() == [
        f"ophost serve: {config}:2: port: 65536 is not a port (0 to 65535; 0 picks one)",
        f"ophost serve: {config}:5: store.retention: unknown key; did you mean "
        "store.event_retention?",
        "ophost serve: OPHOST_WORKERS: 'two' is not an integer",
        f"ophost serve: {config}:7: tls.cert and tls.key go together",
    ]
    missing = await spawn_host("--config", str(conf / "nowhere.toml"), cwd=elsewhere)
    output, _ = await _communicate(missing)
    assert missing.returncode == 2
    assert output == (
        f"ophost serve: {conf / 'nowhere.toml'}: cannot read the config file: No such file "
        "or directory\n"
    )


async def test_config_check_accepts_what_serve_accepts(conf: Path, elsewhere: Path) -> None:
    ops = conf / "ops.py"
    config = write_config(conf, 'file = "ops.py"\nport = 0\n[store]\nurl = "memory"\n')
    check = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ophost",
        "config",
        "check",
        str(config),
        cwd=elsewhere,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(check.communicate(), WAIT)
    assert (check.returncode, err) == (0, b"")
    assert f'file = "{ops}"'.encode() in out
    host = await start_host("--config", str(config), "--executor", "thread", cwd=elsewhere)
    async with hosts(host):
        assert line_with(host, "ophost: serving ").startswith(f"ophost: serving 4 ops from {ops}")
        assert await host.stop() == 0


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


async def _communicate(process: asyncio.subprocess.Process) -> tuple[str, bytes]:
    out, err = await asyncio.wait_for(process.communicate(), WAIT)
    return out.decode(), err or b""
