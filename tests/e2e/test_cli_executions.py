"""``ophost executions list|show|events|cancel`` against a real server.

Most tests run the command in process (``main`` in a thread, as ``test_cli.py`` does:
the commands use the blocking client, and the test's event loop serves the server);
the closed-pipe tests run ``python -m ophost`` as a child process, since only a real
standard output can be a pipe whose reader went away.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ophost.cli import main
from ophost.cli._execution_commands import parse_time
from ophost.server import OpHostServer
from ophost_client import (
    AsyncOpHostClient,
    ExecutionCanceledError,
    ExecutionInfo,
    ExecutionState,
    OpFailedError,
)

from . import ops as test_ops


async def _cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


@pytest.fixture
def client(ophost_client: AsyncOpHostClient) -> AsyncOpHostClient:
    return ophost_client


async def _finished(client: AsyncOpHostClient, op: str, inputs: dict[str, Any]) -> ExecutionInfo:
    """Start ``op``, wait for its end, and return the execution as it finished."""
    started = await client.start(op, inputs)
    with contextlib.suppress(OpFailedError):
        await client.attach(started.id).result()
    return await client.get_execution(started.id)


async def _until(client: AsyncOpHostClient, execution_id: str, events: int) -> ExecutionInfo:
    """Wait until the execution has recorded at least ``events`` events."""
    for _ in range(500):
        info = await client.get_execution(execution_id)
        if info.last_sequence >= events:
            return info
        await asyncio.sleep(0.01)
    raise AssertionError(f"execution {execution_id} stayed below {events} events")


@pytest.fixture
async def gate_closed() -> AsyncIterator[None]:
    was_open = test_ops.gate.is_set()
    test_ops.gate.clear()
    try:
        yield
    finally:
        test_ops.gate.set()
        if not was_open:
            await asyncio.sleep(0.05)  # let an op still waiting see it open
            test_ops.gate.clear()


def _rows(out: str) -> list[list[str]]:
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "OP", "STATE", "ATTEMPT", "CREATED", "DURATION"]
    return [line.split() for line in lines[1:]]


def _json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


# -- list ----------------------------------------------------------------------------------


async def test_list_table_newest_first_with_op_and_state_filters(
    server: OpHostServer, client: AsyncOpHostClient, capsys: pytest.CaptureFixture[str]
) -> None:
    first = await _finished(client, "add", {"a": 1, "b": 2})
    failed = await _finished(client, "fails", {})
    flaky = await _finished(client, "flaky", {"key": "list"})
    second = await _finished(client, "add", {"a": 3, "b": 4})

    assert await _cli("executions", "list", server.address) == 0
    rows = _rows(capsys.readouterr().out)
    assert [r[0] for r in rows] == [second.id, flaky.id, failed.id, first.id]
    assert [r[1] for r in rows] == ["add", "flaky", "fails", "add"]
    assert [r[2] for r in rows] == ["succeeded", "succeeded", "failed", "succeeded"]
    assert [r[3] for r in rows] == ["0", "2", "0", "0"]  # flaky succeeds on its third attempt
    assert second.create_time is not None
    assert rows[0][4] == second.create_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert all(r[5].endswith(("ms", "s")) for r in rows)

    assert await _cli("executions", "list", server.address, "--op", "add") == 0
    assert [r[0] for r in _rows(capsys.readouterr().out)] == [second.id, first.id]

    assert await _cli("executions", "list", server.address, "--state", "FAILED") == 0
    assert [r[0] for r in _rows(capsys.readouterr().out)] == [failed.id]

    argv: tuple[str, ...] = (
        "executions",
        "list",
        server.address,
        "--state",
        "failed,Succeeded",
        "--op",
        "add",
    )
    assert await _cli(*argv) == 0
    assert [r[0] for r in _rows(capsys.readouterr().out)] == [second.id, first.id]

    argv = ("executions", "list", server.address, "--state", "running", "--state", "canceled")
    assert await _cli(*argv) == 0
    assert capsys.readouterr().out == "(no executions)\n"


async def test_list_running_shows_no_duration_yet(
    server: OpHostServer,
    client: AsyncOpHostClient,
    capsys: pytest.CaptureFixture[str],
    gate_closed: None,
) -> None:
    running = await client.start("waits_for_gate")
    await _until(client, running.id, 3)
    assert await _cli("executions", "list", server.address, "--state", "Running") == 0
    [row] = _rows(capsys.readouterr().out)
    assert row[:3] == [running.id, "waits_for_gate", "running"]
    assert row[5] == "-"


async def test_list_since_and_until(
    server: OpHostServer, client: AsyncOpHostClient, capsys: pytest.CaptureFixture[str]
) -> None:
    older = await _finished(client, "add", {"a": 1, "b": 1})
    await asyncio.sleep(0.05)
    newer = await _finished(client, "add", {"a": 2, "b": 2})
    assert older.create_time is not None
    assert newer.create_time is not None
    middle = older.create_time + (newer.create_time - older.create_time) / 2
    boundary = middle.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    assert await _cli("executions", "list", server.address, "--since", boundary) == 0
    assert [r[0] for r in _rows(capsys.readouterr().out)] == [newer.id]
    assert await _cli("executions", "list", server.address, "--until", boundary) == 0
    assert [r[0] for r in _rows(capsys.readouterr().out)] == [older.id]

    # --since is inclusive, --until exclusive: an execution's own creation time.
    exact = older.create_time.isoformat()
    argv = ("executions", "list", server.address, "--since", exact, "--until", boundary)
    assert await _cli(*argv) == 0
    assert [r[0] for r in _rows(capsys.readouterr().out)] == [older.id]
    assert await _cli("executions", "list", server.address, "--until", exact) == 0
    assert capsys.readouterr().out == "(no executions)\n"

    # Spans ago.
    assert await _cli("executions", "list", server.address, "--since", "1h") == 0
    assert [r[0] for r in _rows(capsys.readouterr().out)] == [newer.id, older.id]
    assert await _cli("executions", "list", server.address, "--until", "10m") == 0
    assert capsys.readouterr().out == "(no executions)\n"


async def test_list_pages_and_limit(
    server: OpHostServer, client: AsyncOpHostClient, capsys: pytest.CaptureFixture[str]
) -> None:
    made = [await _finished(client, "add", {"a": i, "b": 0}) for i in range(7)]
    newest_first = [e.id for e in reversed(made)]

    # Seven executions in pages of three: three calls, every one listed once.
    argv: tuple[str, ...] = ("executions", "list", server.address, "--page-size", "3", "--json")
    assert await _cli(*argv) == 0
    assert [line["id"] for line in _json_lines(capsys.readouterr().out)] == newest_first

    # The limit cuts across the second page.
    argv = ("executions", "list", server.address, "--page-size", "3", "--limit", "5")
    assert await _cli(*argv) == 0
    assert [r[0] for r in _rows(capsys.readouterr().out)] == newest_first[:5]

    # Without a page size, the limit alone.
    assert await _cli("executions", "list", server.address, "--limit", "2") == 0
    assert [r[0] for r in _rows(capsys.readouterr().out)] == newest_first[:2]
    assert await _cli("executions", "list", server.address, "--limit", "0") == 0
    assert [r[0] for r in _rows(capsys.readouterr().out)] == newest_first


async def test_list_json_is_the_execution_message(
    server: OpHostServer, client: AsyncOpHostClient, capsys: pytest.CaptureFixture[str]
) -> None:
    ok = await _finished(client, "add", {"a": 40, "b": 2})
    failed = await _finished(client, "fails", {})
    assert await _cli("executions", "list", server.address, "--json") == 0
    lines = _json_lines(capsys.readouterr().out)
    assert [line["id"] for line in lines] == [failed.id, ok.id]
    assert lines[0]["state"] == "EXECUTION_STATE_FAILED"
    assert lines[0]["error"]["typeName"] == "ophost.Failure"
    assert lines[1]["opName"] == "add"
    assert lines[1]["state"] == "EXECUTION_STATE_SUCCEEDED"
    assert lines[1]["outputs"] == [{"name": "result", "value": {"intValue": "42"}}]
    assert int(lines[1]["lastSequence"]) == ok.last_sequence
    created = datetime.fromisoformat(lines[1]["createTime"].replace("Z", "+00:00"))
    assert created == ok.create_time


# -- show ----------------------------------------------------------------------------------


async def test_show_a_succeeded_execution(
    server: OpHostServer, client: AsyncOpHostClient, capsys: pytest.CaptureFixture[str]
) -> None:
    info = await _finished(client, "every_event", {})
    assert await _cli("executions", "show", server.address, info.id) == 0
    out = capsys.readouterr().out.splitlines()
    fields = dict(line.split(":", 1) for line in out if not line.startswith(" "))
    assert fields["execution"].strip() == info.id
    assert fields["op"].strip() == "every_event"
    assert fields["state"].strip() == "succeeded"
    assert fields["attempt"].strip() == "0"
    assert fields["events"].strip() == str(info.last_sequence)
    assert info.create_time is not None
    assert fields["created"].strip().startswith(info.create_time.strftime("%Y-%m-%dT%H:%M:%S."))
    assert fields["finished"].strip().endswith("Z")
    assert "  first = 'one'" in out
    assert "  second = 2" in out
    assert not any(line.startswith("error:") for line in out)

    assert await _cli("executions", "show", server.address, info.id, "--json") == 0
    [shown] = _json_lines(capsys.readouterr().out)
    assert shown["id"] == info.id
    assert shown["state"] == "EXECUTION_STATE_SUCCEEDED"
    assert shown["outputs"] == [
        {"name": "first", "value": {"stringValue": "one"}},
        {"name": "second", "value": {"intValue": "2"}},
    ]


async def test_show_a_failed_execution(
    server: OpHostServer, client: AsyncOpHostClient, capsys: pytest.CaptureFixture[str]
) -> None:
    info = await _finished(client, "fails", {})
    assert await _cli("executions", "show", server.address, info.id) == 0
    out = capsys.readouterr().out
    assert "state:     failed" in out
    assert "outputs:   (none)" in out
    assert "error:     ophost.Failure: it broke" in out
    assert "caused by builtins.KeyError: 'inner'" in out

    assert await _cli("executions", "show", server.address, info.id, "--json") == 0
    [shown] = _json_lines(capsys.readouterr().out)
    assert shown["state"] == "EXECUTION_STATE_FAILED"
    assert shown["error"]["message"] == "it broke"
    assert shown["error"]["cause"]["typeName"] == "builtins.KeyError"


# -- events --------------------------------------------------------------------------------


async def test_events_replay_a_finished_execution(
    server: OpHostServer, client: AsyncOpHostClient, capsys: pytest.CaptureFixture[str]
) -> None:
    info = await _finished(client, "every_event", {})
    total = info.last_sequence
    assert total > 5

    assert await _cli("executions", "events", server.address, info.id, "--json") == 0
    lines = _json_lines(capsys.readouterr().out)
    assert [int(line["sequence"]) for line in lines] == list(range(1, total + 1))
    assert "executionStarted" in lines[0]
    assert lines[-1]["executionFinished"]["status"] == "EXECUTION_STATUS_SUCCEEDED"
    assert {line["executionId"] for line in lines} == {info.id}

    assert await _cli("executions", "events", server.address, info.id) == 0
    text = capsys.readouterr().out.splitlines()
    assert [int(line.split()[0]) for line in text] == list(range(1, total + 1))
    kinds = [line.split()[2] for line in text]
    assert kinds[0] == "execution_started"
    assert kinds[-1] == "execution_finished"
    assert {
        "log",
        "expectation_result",
        "asset_materialization",
        "asset_observation",
        "output",
    } <= set(kinds)
    assert any(line.endswith("asset_observation      a/b (rows)") for line in text)
    assert text[-1].endswith("execution_finished     succeeded")
    assert any(line.endswith("output                 first = 'one'") for line in text)
    assert any(line.endswith("log                    INFO starting") for line in text)
    assert all(line.split()[1].endswith("Z") for line in text)

    argv: tuple[str, ...] = (
        "executions",
        "events",
        server.address,
        info.id,
        "--after",
        "3",
        "--json",
    )
    assert await _cli(*argv) == 0
    after = [int(line["sequence"]) for line in _json_lines(capsys.readouterr().out)]
    assert after == list(range(4, total + 1))

    argv = ("executions", "events", server.address, info.id, "--after", str(total))
    assert await _cli(*argv, "--no-follow") == 0
    assert capsys.readouterr().out == ""


async def test_events_of_a_failed_execution(
    server: OpHostServer, client: AsyncOpHostClient, capsys: pytest.CaptureFixture[str]
) -> None:
    info = await _finished(client, "fails", {})
    assert await _cli("executions", "events", server.address, info.id) == 0
    out = capsys.readouterr().out
    assert "step_failure           (user_code) ophost.Failure: it broke" in out
    assert out.splitlines()[-1].endswith("failed: ophost.Failure: it broke")


async def test_events_follow_a_running_execution_to_its_end(
    server: OpHostServer,
    client: AsyncOpHostClient,
    capsys: pytest.CaptureFixture[str],
    gate_closed: None,
) -> None:
    running = await client.start("waits_for_gate")
    await _until(client, running.id, 3)
    follow = asyncio.ensure_future(
        _cli("executions", "events", server.address, running.id, "--json")
    )
    await asyncio.sleep(0.3)
    assert not follow.done()  # still following: the op waits for the gate
    test_ops.gate.set()
    assert await asyncio.wait_for(follow, 10) == 0
    lines = _json_lines(capsys.readouterr().out)
    assert [int(line["sequence"]) for line in lines] == list(range(1, len(lines) + 1))
    assert lines[2]["log"]["message"] == "waiting"
    output = next(line for line in lines if "output" in line)
    assert output["output"]["value"] == {"stringValue": "opened"}
    assert lines[-1]["executionFinished"]["status"] == "EXECUTION_STATUS_SUCCEEDED"


async def test_events_no_follow_stops_at_what_is_stored(
    server: OpHostServer,
    client: AsyncOpHostClient,
    capsys: pytest.CaptureFixture[str],
    gate_closed: None,
) -> None:
    running = await client.start("waits_for_gate")
    stored = (await _until(client, running.id, 3)).last_sequence
    argv = ("executions", "events", server.address, running.id, "--no-follow")
    assert await asyncio.wait_for(_cli(*argv), 10) == 0
    text = capsys.readouterr().out.splitlines()
    assert [int(line.split()[0]) for line in text] == list(range(1, stored + 1))
    assert text[-1].endswith("log                    INFO waiting")
    assert (await client.get_execution(running.id)).state is ExecutionState.RUNNING


# -- cancel --------------------------------------------------------------------------------


async def test_cancel_a_running_execution(
    server: OpHostServer, client: AsyncOpHostClient, capsys: pytest.CaptureFixture[str]
) -> None:
    running = await client.start("slow_sync")
    await _until(client, running.id, 3)
    argv = ("executions", "cancel", server.address, running.id, "--reason", "from a test")
    assert await _cli(*argv) == 0
    out = capsys.readouterr().out
    assert out in (
        f"execution {running.id}: cancel_requested\n",
        f"execution {running.id}: canceled\n",
    )
    with pytest.raises(ExecutionCanceledError):
        await client.attach(running.id).result()

    assert await _cli("executions", "show", server.address, running.id) == 0
    assert "state:     canceled" in capsys.readouterr().out

    # Cancelling again changes nothing and says so.
    assert await _cli("executions", "cancel", server.address, running.id, "--json") == 0
    [again] = _json_lines(capsys.readouterr().out)
    assert again["id"] == running.id
    assert again["state"] == "EXECUTION_STATE_CANCELED"


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ("show", "{addr}", "no-such-id"),
        ("show", "{addr}", "no-such-id", "--json"),
        ("events", "{addr}", "no-such-id"),
        ("events", "{addr}", "no-such-id", "--no-follow"),
        ("cancel", "{addr}", "no-such-id"),
    ],
    ids=["show", "show-json", "events", "events-no-follow", "cancel"],
)
async def test_unknown_execution(
    server: OpHostServer, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    code = await _cli("executions", *(server.address if a == "{addr}" else a for a in argv))
    assert code == 3  # what ``ops``, ``describe`` and ``run`` return when a call fails
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"ophost: no execution with id 'no-such-id' on {server.address} "
        "(it never existed, or the server no longer keeps it)\n"
    )


@pytest.mark.parametrize(
    "argv",
    [("list",), ("show", "x"), ("events", "x"), ("events", "x", "--no-follow"), ("cancel", "x")],
)
async def test_unreachable_server(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    assert await _cli("executions", argv[0], "127.0.0.1:1", *argv[1:]) == 3
    err = capsys.readouterr().err
    assert err.startswith("ophost: cannot reach 127.0.0.1:1: ")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("list", "{addr}", "--state", "bogus"), "'bogus' is not a state"),
        (("list", "{addr}", "--since", "yesterday"), "'yesterday' is not a time"),
        (("list", "{addr}", "--limit", "-1"), "'-1' is not 0 or more"),
        (("events", "{addr}", "x", "--after", "z"), "'z' is not an integer"),
    ],
    ids=["state", "since", "limit", "after"],
)
async def test_usage_errors(
    server: OpHostServer,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    message: str,
) -> None:
    with pytest.raises(SystemExit) as exited:
        await _cli("executions", *(server.address if a == "{addr}" else a for a in argv))
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


async def test_since_after_until_is_a_usage_error(
    server: OpHostServer, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ("executions", "list", server.address, "--since", "1m", "--until", "1h")
    assert await _cli(*argv) == 2
    assert "--since must be before --until" in capsys.readouterr().err


# -- a closed pipe -------------------------------------------------------------------------


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("command", ["list", "events", "show"])
async def test_a_closed_pipe_ends_quietly(
    server: OpHostServer, client: AsyncOpHostClient, command: str, buffered: bool
) -> None:
    """As in ``ophost executions ... | head``, with the reader gone before the first line.

    Buffered (a pipe's default), the output reaches the pipe only when flushed, and a
    flush left to the interpreter's exit would fail there, loudly and with status 120.
    """
    for i in range(3):
        await _finished(client, "add", {"a": i, "b": 1})
    info = await _finished(client, "every_event", {})
    argv = {
        "list": ("list", server.address),
        "events": ("events", server.address, info.id),
        "show": ("show", server.address, info.id),
    }[command]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    read_end, write_end = os.pipe()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ophost",
        "executions",
        *argv,
        stdout=write_end,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    os.close(write_end)
    os.close(read_end)  # nobody reads standard output any more
    assert process.stderr is not None
    err = await asyncio.wait_for(process.stderr.read(), 30)
    assert await process.wait() == 0
    assert err == b""


# -- time arguments ------------------------------------------------------------------------

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-06T10:00:00Z", NOW),
        ("2026-12-06T10:00:00z", NOW),
        ("2026-12-06T11:00:00+01:00", NOW),
        ("2026-12-06T10:00:00", NOW),
        ("2026-12-06 10:00", NOW),
        ("2026-12-06T10:00:00.250Z", NOW + timedelta(milliseconds=250)),
        ("2026-12-06", NOW - timedelta(hours=10)),
        ("30s", NOW - timedelta(seconds=30)),
        ("10m", NOW - timedelta(minutes=10)),
        ("2h", NOW - timedelta(hours=2)),
        ("3d", NOW - timedelta(days=3)),
        ("1w", NOW - timedelta(weeks=1)),
        ("1h30m", NOW - timedelta(minutes=90)),
        ("1.5H", NOW - timedelta(minutes=90)),
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    parsed = parse_time(text, now=NOW)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["", "z", "10", "m", "10x", "ten minutes", "2026-13-01"])
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="is not a time"):
        parse_time(text, now=NOW)
