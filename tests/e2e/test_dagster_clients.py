"""``ophost serve -m examples.dagster_pipeline`` called by the Python, Go and TypeScript clients.

The module is written only with Dagster. Each client's conformance program (see
``tests/conformance/README.md``, "The program's contract") runs the same cases against the
served module, and the results are compared as the conformance runner compares them: every
event arrives as Dagster emitted it, in every language.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.normalise import compare
from tests.conformance.run import COMMANDS
from tests.dagster_support import require_dagster
from tests.tools import missing_tool

from .host_processes import REPO, HostProcess, start_host

require_dagster()

pytestmark = [pytest.mark.crosslang, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

WAIT = 120.0
FINISHED_OK = {
    "attempt": 0,
    "kind": "execution_finished",
    "status": "SUCCEEDED",
    "error": None,
    "cancel_requested": False,
    "cancel_outcome": None,
}


def _int(value: int) -> dict[str, str]:
    return {"int": str(value)}


CASES: list[tuple[dict[str, Any], Any]] = [
    (
        {"id": "describe", "action": "get_op", "op": "greet"},
        {
            "op": {
                "name": "greet",
                "description": "Greet someone as many times as the config says.",
                "inputs": [
                    {
                        "name": "name",
                        "type": "String",
                        "required": True,
                        "default": None,
                        "description": None,
                    }
                ],
                "outputs": [
                    {
                        "name": "result",
                        "type": "String",
                        "required": True,
                        "description": "The greeting.",
                    }
                ],
                "tags": {},
                "retry": None,
                "config": [["greeting", False], ["times", False]],
            }
        },
    ),
    (
        {
            "id": "config",
            "action": "call",
            "op": "greet",
            "inputs": {"name": {"string": "ann"}},
            "config": {"map": [[{"string": "times"}, _int(2)]]},
        },
        {"outputs": {"result": {"string": "hello, ann! hello, ann!"}}},
    ),
    (
        {"id": "generator", "action": "execute", "op": "load_table", "inputs": {"rows": _int(3)}},
        {
            "status": "SUCCEEDED",
            "outputs": {"rows": _int(3), "table": {"string": "analytics.events"}},
            "events": [
                {"attempt": 0, "kind": "execution_started"},
                {"attempt": 0, "kind": "step_started"},
                {"attempt": 0, "kind": "input_checked", "input": "rows", "success": True},
                {
                    "attempt": 0,
                    "kind": "log",
                    "level": "INFO",
                    "message": "loading 3 rows into analytics.events",
                },
                {
                    "attempt": 0,
                    "kind": "asset_observation",
                    "asset_key": ["feeds", "events"],
                    "description": "the feed the rows come from",
                    "partition": "latest",
                    "metadata": [["rows_seen", "int_value"]],
                },
                {
                    "attempt": 0,
                    "kind": "asset_materialization",
                    "asset_key": ["warehouse", "events"],
                    "description": "the events table",
                    "partition": None,
                    "metadata": [["rows", "int_value"], ["table", "text"]],
                },
                {
                    "attempt": 0,
                    "kind": "expectation_result",
                    "success": True,
                    "label": "non_empty",
                    "description": None,
                    "metadata": [["rows", "int_value"]],
                },
                {
                    "attempt": 0,
                    "kind": "output",
                    "name": "rows",
                    "value": _int(3),
                    "type_check": True,
                },
                {
                    "attempt": 0,
                    "kind": "output",
                    "name": "table",
                    "value": {"string": "analytics.events"},
                    "type_check": True,
                },
                {"attempt": 0, "kind": "step_success"},
                FINISHED_OK,
            ],
        },
    ),
    (
        {
            "id": "retry_policy",
            "action": "execute",
            "op": "flaky",
            "inputs": {"key": {"string": "k"}},
        },
        {
            "status": "SUCCEEDED",
            "outputs": {"result": {"string": "k after 1 retries"}},
            "events": [
                {"attempt": 0, "kind": "execution_started"},
                {"attempt": 0, "kind": "step_started"},
                {"attempt": 0, "kind": "input_checked", "input": "key", "success": True},
                {
                    "attempt": 0,
                    "kind": "step_failure",
                    "source": "USER_CODE",
                    "will_retry": True,
                    "user_failure": None,
                    "error": [
                        {"type": "builtins.ValueError", "message": "first attempt of k fails"}
                    ],
                },
                {
                    "attempt": 0,
                    "kind": "retry_scheduled",
                    "failed_attempt": 0,
                    "next_attempt": 1,
                    "delay_seconds": 0.01,
                    "error": [
                        {"type": "builtins.ValueError", "message": "first attempt of k fails"}
                    ],
                },
                {"attempt": 1, "kind": "step_restarted"},
                {"attempt": 1, "kind": "input_checked", "input": "key", "success": True},
                {
                    "attempt": 1,
                    "kind": "output",
                    "name": "result",
                    "value": {"string": "k after 1 retries"},
                    "type_check": True,
                },
                {"attempt": 1, "kind": "step_success"},
                {**FINISHED_OK, "attempt": 1},
            ],
        },
    ),
    (
        {
            "id": "failure",
            "action": "execute",
            "op": "reject",
            "inputs": {"reason": {"string": "late"}},
        },
        {
            "status": "FAILED",
            "outputs": {},
            "events": [
                {"attempt": 0, "kind": "execution_started"},
                {"attempt": 0, "kind": "step_started"},
                {"attempt": 0, "kind": "input_checked", "input": "reason", "success": True},
                {
                    "attempt": 0,
                    "kind": "step_failure",
                    "source": "USER_CODE",
                    "will_retry": False,
                    "user_failure": {
                        "description": "rejected: late",
                        "metadata": [["reason", "text"], ["code", "int_value"]],
                    },
                    "error": [{"type": "dagster.Failure", "message": "rejected: late"}],
                },
                {
                    "attempt": 0,
                    "kind": "execution_finished",
                    "status": "FAILED",
                    "error": [{"type": "dagster.Failure", "message": "rejected: late"}],
                    "cancel_requested": False,
                    "cancel_outcome": None,
                },
            ],
        },
    ),
    (
        {
            "id": "cancel",
            "action": "execute",
            "op": "slow",
            "inputs": {"seconds": {"float": "30"}},
            "cancel": {"after_log": "started", "via": "rpc"},
        },
        {
            "status": "CANCELED",
            "outputs": {},
            "events": [
                {"attempt": 0, "kind": "execution_started"},
                {"attempt": 0, "kind": "step_started"},
                {"attempt": 0, "kind": "input_checked", "input": "seconds", "success": True},
                {"attempt": 0, "kind": "log", "level": "INFO", "message": "started"},
                {
                    "attempt": 0,
                    "kind": "step_failure",
                    "source": "INTERRUPT",
                    "will_retry": False,
                    "user_failure": None,
                    "error": [
                        {
                            "type": "ophost.ExecutionInterrupted",
                            "message": "the execution was canceled",
                        }
                    ],
                },
                {
                    "attempt": 0,
                    "kind": "execution_finished",
                    "status": "CANCELED",
                    "error": None,
                    "cancel_requested": True,
                    "cancel_outcome": "COOPERATIVE",
                },
            ],
        },
    ),
]


@pytest.fixture
async def host() -> AsyncIterator[HostProcess]:
    started = await start_host("-m", "examples.dagster_pipeline", "--port", "0", cwd=REPO)
    try:
        yield started
    finally:
        await started.kill()


def _program(client: str) -> list[str]:
    command = COMMANDS[client]
    if client == "go" and not Path(command[0]).exists():
        missing_tool("the Go conformance program is not built (run `make go-build`)")
    if client == "ts" and not Path(command[1]).exists():
        missing_tool("the TypeScript client is not built (run `make ts-build`)")
    return command


@pytest.mark.parametrize("client", ["python", "go", "ts"])
async def test_every_client_sees_the_events_dagster_emitted(host: HostProcess, client: str) -> None:
    command = _program(client)
    document = {
        "client": client,
        "targets": {"main": host.address},
        "cases": [dict(request, target="main") for request, _ in CASES],
    }
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=REPO,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=os.environ | {"PYTHONPATH": str(REPO)},
    )
    stdout, stderr = await asyncio.wait_for(
        process.communicate(json.dumps(document).encode()), WAIT
    )
    results = {}
    for line in stdout.decode().splitlines():
        if line.strip():
            entry = json.loads(line)
            results[entry["id"]] = entry["result"]
    problems = {
        request["id"]: compare(expect, results.get(request["id"])) for request, expect in CASES
    }
    assert {case: found for case, found in problems.items() if found} == {}, stderr.decode()[-2000:]
