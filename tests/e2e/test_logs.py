"""``ophost serve --log-format --log-level``: the lines on stderr, and what each carries.

Every JSON line must parse; every line about an execution (the host's own, the ops'
``context.log`` messages, and plain ``logging`` calls made inside an op body) must
carry that execution's id, its op and the attempt it came from.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ophost_client import AsyncOpHostClient, OpFailedError

from .observed import serve_process

OPS_FILE = """
import logging

from ophost import RetryPolicy, op

@op
def chat(context, n: int) -> int:
    for i in range(n):
        context.log.info("line %d", i)
    context.log.warning("careful")
    logging.getLogger("user.ops").warning("plain logging in the op body")
    return n


@op(retry_policy=RetryPolicy(max_retries=1))
def flaky(context, key: str) -> str:
    context.log.info("attempt %d", context.retry_number)
    if context.retry_number == 0:
        raise ConnectionError("first try")
    return key


@op
def boom(context) -> int:
    raise ValueError("it blew up")
"""


async def _run(tmp_path: Path, *flags: str) -> tuple[dict[str, str], str]:
    """Serve with ``flags``, run one of each op; the execution ids by op, and stderr."""
    (tmp_path / "ops.py").write_text(OPS_FILE, encoding="utf-8")
    args = ("-f", "ops.py", "--port", "0", "--store", "memory", *flags)
    ids: dict[str, str] = {}
    async with serve_process(*args, cwd=tmp_path) as served:
        async with AsyncOpHostClient(served.address) as client:
            for name, inputs in (("chat", {"n": 3}), ("flaky", {"key": "k"}), ("boom", {})):
                stream = client.execute(name, inputs)
                ids[name] = await stream.accepted()
                if name == "boom":
                    with pytest.raises(OpFailedError):
                        await stream.result()
                else:
                    await stream.result()
        assert await served.stop() == 0
    return ids, served.stderr()


async def test_json_lines_parse_and_carry_the_execution(tmp_path: Path) -> None:
    ids, stderr = await _run(tmp_path, "--log-format", "json", "--log-level", "info")
    lines = [json.loads(line) for line in stderr.splitlines()]  # every line parses
    assert lines
    for line in lines:
        assert {"time", "level", "logger", "message", "pid"} <= set(line)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    about = [line for line in lines if "execution_id" in line]
    # Each line about an execution names the right one, its op and an attempt.
    by_id = {execution_id: op for op, execution_id in ids.items()}
    for line in about:
        assert by_id[line["execution_id"]] == line["op"], line
        assert isinstance(line["attempt"], int)

    def messages(op: str, logger: str) -> list[tuple[str, int]]:
        return [
            (line["message"], line["attempt"])
            for line in about
            if line["execution_id"] == ids[op] and line["logger"] == logger
        ]

    # The ops' context.log messages, at their level, with the attempt they came from.
    assert messages("chat", "ophost.op") == [
        ("line 0", 0),
        ("line 1", 0),
        ("line 2", 0),
        ("careful", 0),
    ]
    assert [line["level"] for line in about if line.get("op_logger")][:4] == [
        "INFO",
        "INFO",
        "INFO",
        "WARNING",
    ]
    assert messages("flaky", "ophost.op") == [("attempt 0", 0), ("attempt 1", 1)]
    # Plain logging inside an op body carries the execution too (the attempt runs in
    # the execution's context).
    assert messages("chat", "user.ops") == [("plain logging in the op body", 0)]
    # The host's own line for each execution's end and each retry.
    assert messages("chat", "ophost.execution")[-1][0].startswith("execution succeeded in ")
    flaky = messages("flaky", "ophost.execution")
    assert flaky[0][0].startswith("attempt 0 failed; attempt 1 runs in 0s: ")
    assert "builtins.ConnectionError: first try" in flaky[0][0]
    assert flaky[-1] == (flaky[-1][0], 1)
    assert flaky[-1][0].startswith("execution succeeded")
    [boom] = messages("boom", "ophost.execution")
    assert re.fullmatch(
        r"execution failed in \d+\.\d{3}s: builtins\.ValueError: it blew up", boom[0]
    )


async def test_text_lines_name_the_execution(tmp_path: Path) -> None:
    ids, stderr = await _run(tmp_path, "--log-level", "info")
    execution = ids["chat"]
    pattern = re.compile(
        rf"^\S+Z INFO ophost\.op \[execution={execution} op=chat attempt=0 "
        rf"op_logger=\S+\] line 1$",
        re.MULTILINE,
    )
    assert pattern.search(stderr), stderr
    assert re.search(
        rf"^\S+Z INFO ophost\.execution \[execution={ids['boom']} op=boom attempt=0\] "
        r"execution failed in ",
        stderr,
        re.MULTILINE,
    ), stderr


async def test_the_default_level_is_warning(tmp_path: Path) -> None:
    ids, stderr = await _run(tmp_path, "--log-format", "json")
    lines: list[dict[str, Any]] = [json.loads(line) for line in stderr.splitlines()]
    assert {line["level"] for line in lines} <= {"WARNING", "ERROR", "CRITICAL"}
    warnings = [(line["logger"], line["message"], line["execution_id"]) for line in lines]
    assert ("ophost.op", "careful", ids["chat"]) in warnings
    assert ("user.ops", "plain logging in the op body", ids["chat"]) in warnings
