"""Withheld error details where the host writes a failure itself (not through the recorder)."""

from __future__ import annotations

import logging

import pytest

from ophost.execution import ThreadExecutor
from ophost.server import Limits
from ophost.server._executions import ExecutionRunner
from ophost.server._withhold import ErrorWithholder, describe_error
from ophost.server.store import LostExecution, NewExecution
from ophost.server.store._memory import MemoryExecutionStore
from ophost.v1 import execution_pb2


async def test_a_lost_execution_that_cannot_run_here_fails_with_its_details_withheld(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="ophost.server")
    store = MemoryExecutionStore()
    record, _ = await store.create(
        NewExecution(
            execution_id="e1", op_name="gone", request_id="", fingerprint=b"", tags={},
            created_at=1.0, principal="alice",
        )
    )  # fmt: skip
    runner = ExecutionRunner(
        store, Limits(), ThreadExecutor(None), 1, withhold=ErrorWithholder(new_id=lambda: "abc")
    )
    lost = LostExecution(record=record, start=b"", lost_host="pid 4242 on web-1")
    await runner.resume(lost, None, 'this host does not serve op "gone"')
    failed = await store.get("e1")
    assert failed is not None
    assert failed.state == execution_pb2.EXECUTION_STATE_FAILED
    assert failed.error is not None
    assert failed.error.type_name == "ophost.HostLost"
    assert failed.error.error_id == "abc"
    assert "web-1" not in failed.error.message
    assert "pid 4242 on web-1" in caplog.text
    assert "error abc" in caplog.text


def test_describe_error_prints_causes_first() -> None:
    from ophost.definitions import ErrorData

    error = ErrorData(
        type_name="builtins.ValueError",
        message="outer",
        stack=('  File "ops.py", line 3, in f\n    raise ValueError("outer")\n',),
        cause=ErrorData(type_name="builtins.KeyError", message="'k'"),
    )
    assert describe_error(error).splitlines() == [
        "builtins.KeyError: 'k'",
        "",
        "The above exception was the direct cause of the following exception:",
        "",
        "Traceback (most recent call last):",
        '  File "ops.py", line 3, in f',
        '    raise ValueError("outer")',
        "builtins.ValueError: outer",
    ]
