"""The ``ophost ops``, ``describe`` and ``run`` commands against a real server."""

from __future__ import annotations

import asyncio
import json

import pytest

from ophost.cli import main
from ophost.server import OpHostServer


async def _cli(*argv: str) -> int:
    # The commands use the sync client, which runs its own loop in a thread; keep the
    # test's loop (which serves the server) free while they run.
    return await asyncio.to_thread(main, list(argv))


async def test_ops_lists_every_op(server: OpHostServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert await _cli("ops", server.address) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["OP", "SIGNATURE", "DESCRIPTION"]
    assert "add             (a: Int, b: Int) -> (result: Int)" in out
    assert "every_event" in out


async def test_describe_shows_the_signature(
    server: OpHostServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _cli("describe", server.address, "scaled") == 0
    out = capsys.readouterr().out
    assert "  x: Int (required)" in out
    assert "  result: Int" in out
    assert "factor: int  (default 2)" in out
    assert "port: int  (required)" in out
    assert await _cli("describe", server.address, "flaky") == 0
    assert "retry policy: max_retries=2, delay=0.01s" in capsys.readouterr().out


async def test_run_prints_events_and_exits_zero(
    server: OpHostServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _cli("run", server.address, "every_event") == 0
    out = capsys.readouterr().out
    assert "INFO     starting" in out
    assert "expectation ok: passed" in out
    assert "materialized a/b (rows, f)" in out
    assert "observed a/b (rows)" in out
    assert "output first = 'one'" in out
    assert "execution succeeded" in out


async def test_run_json_lines(server: OpHostServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert await _cli("run", server.address, "add", "--input", "a=2", "-i", "b=40", "--json") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [int(line["sequence"]) for line in lines] == list(range(1, len(lines) + 1))
    output = next(line for line in lines if "output" in line)
    assert output["output"]["value"] == {"intValue": "42"}
    assert lines[-1]["executionFinished"]["status"] == "EXECUTION_STATUS_SUCCEEDED"


async def test_run_failure_exits_nonzero(
    server: OpHostServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _cli("run", server.address, "fails") == 1
    out = capsys.readouterr().out
    assert "step failed (user_code): ophost.Failure: it broke" in out
    assert "caused by builtins.KeyError" in out
    assert "execution failed" in out


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (("run", "{addr}", "nope"), 3, "OP_NOT_FOUND"),
        (("run", "{addr}", "add", "-i", "a=1"), 3, "inputs.b"),
        (
            ("run", "{addr}", "scaled", "-i", "x=1", "-c", '{"db": {"port": "x"}}'),
            3,
            "config.db.port",
        ),
        (("run", "{addr}", "add", "-i", "a=nope"), 2, "--input a: not valid JSON"),
        (("run", "{addr}", "add", "-i", "a"), 2, "write NAME=JSON"),
        (("describe", "{addr}", "nope"), 3, "no op named 'nope'"),
    ],
    ids=["unknown-op", "missing-input", "bad-config", "bad-json", "bad-input-syntax", "describe"],
)
async def test_errors_are_clear(
    server: OpHostServer,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    assert await _cli(*(server.address if a == "{addr}" else a for a in argv)) == code
    assert message in capsys.readouterr().err


async def test_unreachable_server_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert await _cli("ops", "127.0.0.1:1") == 3
    assert "UNAVAILABLE" in capsys.readouterr().err


async def test_cli_against_the_example_library(capsys: pytest.CaptureFixture[str]) -> None:
    from ophost.server import load_ops

    loaded = load_ops(module="examples.ops")
    async with OpHostServer(loaded.ops, resources=loaded.resources) as served:
        assert await _cli("ops", served.address) == 0
        listed = capsys.readouterr().out
        assert all(name in listed for name in ("add", "parse_csv", "long_running", "top_scores"))
        assert await _cli("describe", served.address, "flaky_fetch") == 0
        assert "backoff=EXPONENTIAL" in capsys.readouterr().out
        code = await _cli(
            "run", served.address, "parse_csv", "-i", 'text="h\\na;b"', "-c", '{"separator": ";"}'
        )
        assert code == 0
        out = capsys.readouterr().out
        assert "output result = [['a', 'b']]" in out
        assert "parsed 1 rows" in out
