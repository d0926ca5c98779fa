"""What leaves the host of an op's errors (``--withhold-errors``).

Withheld, a client gets the failure kind (the error's type, the failure's source) and
an error id; the message, the stack and the causes' messages stay on the host, which
logs them with that id and the execution's id. Not withheld (the default on a
loopback address), a client gets everything, as before.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from ophost import Field, op
from ophost.definitions import ErrorSource, RetryScheduled, StepFailed
from ophost.server._host import is_loopback
from ophost_client import OpFailedError

from .host_processes import hosts, start_host, write_ops
from .security import OPS_SOURCE, client, rpc_error, secured_host

ERROR_ID = re.compile(r"error id ([0-9a-f]{16})")
SECRETS = ("hunter2", "postgres://", "db.internal", "db-password")


def assert_no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


async def test_withheld_errors_carry_their_kind_and_an_id_and_are_logged_whole(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="ophost.server")
    async with secured_host(withhold_errors=True) as server, client(server.address) as caller:
        with pytest.raises(OpFailedError) as failed:
            await caller.call("boom")
        execution_id = failed.value.execution_id
        info = await caller.get_execution(execution_id)
    assert failed.value.failure is not None
    step = failed.value.failure.body
    assert isinstance(step, StepFailed)
    error = step.error
    assert failed.value.error == error
    assert step.error_source is ErrorSource.USER_CODE
    assert error.type_name == "builtins.ValueError"
    assert error.error_id
    assert error.message == (
        f"details withheld by the host; its log has them under error id {error.error_id}"
    )
    assert error.stack == ()
    assert error.cause is not None
    assert (error.cause.type_name, error.cause.message, error.cause.stack) == (
        "builtins.KeyError",
        "",
        (),
    )
    assert_no_secrets(repr(error))
    # The terminal event and the execution say the same, with the same id.
    finished = failed.value.finished_body
    assert finished.error == error
    assert info.error == error
    assert error.error_id in str(failed.value)
    # The log has the whole error under that id, with the execution's id and the op.
    logged = [r.getMessage() for r in caplog.records if error.error_id in r.getMessage()]
    assert len(logged) == 1
    assert execution_id in logged[0]
    assert "op boom" in logged[0]
    assert "postgres://admin:hunter2@db.internal/prod" in logged[0]
    assert "db-password=hunter2" in logged[0]
    assert "Traceback (most recent call last):" in logged[0]
    assert "The above exception was the direct cause" in logged[0]


async def test_errors_travel_whole_when_not_withheld() -> None:
    async with secured_host(withhold_errors=False) as server, client(server.address) as caller:
        with pytest.raises(OpFailedError) as failed:
            await caller.call("boom")
    error = failed.value.error
    assert error is not None
    assert error.message == "cannot reach postgres://admin:hunter2@db.internal/prod"
    assert error.stack
    assert error.error_id == ""


async def test_a_retried_error_keeps_one_id_per_attempt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="ophost.server")
    async with secured_host(withhold_errors=True) as server, client(server.address) as caller:
        stream = caller.execute("flaky_secret")
        events = [event async for event in stream]
    retried = [e.body for e in events if isinstance(e.body, RetryScheduled)]
    failures = [e.body for e in events if isinstance(e.body, StepFailed)]
    assert len(retried) == 1
    assert len(failures) == 2
    first, last = failures
    assert retried[0].error == first.error
    assert first.error.error_id != last.error.error_id
    for failure in failures:
        assert "secret attempt" not in repr(failure)
    assert "secret attempt 0" in caplog.text
    assert "secret attempt 1" in caplog.text


async def test_what_an_op_says_deliberately_and_a_cancel_are_kept() -> None:
    async with secured_host(withhold_errors=True) as server, client(server.address) as caller:
        with pytest.raises(OpFailedError) as failed:
            await caller.call("deliberate")
        assert failed.value.failure is not None
        step = failed.value.failure.body
        assert isinstance(step, StepFailed)
        assert step.user_failure is not None
        assert step.user_failure.description == "the input file is empty"
        assert step.error.error_id  # the exception itself is withheld
        stream = caller.execute("ticks", {"n": 200, "pause": 0.01})
        await stream.__anext__()
        await stream.cancel()
        events = [event async for event in stream]
    interrupted = [e.body for e in events if isinstance(e.body, StepFailed)]
    assert interrupted
    assert interrupted[0].error_source is ErrorSource.INTERRUPT
    assert interrupted[0].error.message == "the execution was canceled"


async def test_a_config_mapping_error_is_withheld(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="ophost.server")

    @op(config_schema={"n": Field(int)})
    def counted(context) -> int:  # type: ignore[no-untyped-def]
        return int(context.op_config["n"])

    def mapping(config: dict[str, object]) -> dict[str, object]:
        raise RuntimeError("mapping saw secret hunter2")

    mapped = counted.configured(mapping, name="mapped", config_schema={"x": Field(int)})
    async with (
        secured_host(ops=[mapped], withhold_errors=True) as server,
        client(server.address) as caller,
    ):
        error = await rpc_error(caller.call("mapped", config={"x": 1}))
    assert error.reason == "INVALID_CONFIG"
    assert_no_secrets(error.message)
    assert "the config mapping of op 'mapped'" in error.message
    found = ERROR_ID.search(error.message)
    assert found is not None
    assert any(
        found.group(1) in r.getMessage() and "hunter2" in r.getMessage() for r in caplog.records
    )


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.53", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("ops.example.com", False),
    ],
)
def test_which_addresses_are_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# -- ophost serve: the default follows the address ----------------------------------------


@pytest.mark.parametrize(
    ("args", "withheld"),
    [
        ([], False),  # 127.0.0.1
        (["--host", "0.0.0.0"], True),
        (["--host", "0.0.0.0", "--no-withhold-errors"], False),
        (["--withhold-errors"], True),
    ],
)
async def test_serve_withholds_errors_by_default_off_loopback(
    tmp_path: Path, args: list[str], withheld: bool
) -> None:
    ops = write_ops(tmp_path)
    ops.write_text(OPS_SOURCE, encoding="utf-8")
    host = await start_host(
        "-f", str(ops), "--port", "0", "--store", "memory", *args, cwd=tmp_path
    )  # fmt: skip
    port = host.address.rsplit(":", 1)[1]
    async with hosts(host), client(f"127.0.0.1:{port}") as caller:
        with pytest.raises(OpFailedError) as failed:
            await caller.call("boom")
        assert await host.stop() == 0
    error = failed.value.error
    assert error is not None
    output = "\n".join(host.lines)
    assert ("op error details are withheld from clients" in output) is withheld
    # Off loopback, the start warns of each protection missing.
    exposed = "0.0.0.0" in args
    assert (
        "warning: 0.0.0.0 is not a loopback address, and the traffic is plaintext" in output
    ) is exposed
    assert ("warning: without a token file, every caller may" in output) is exposed
    if not withheld:
        assert "hunter2" in error.message
        assert error.error_id == ""
        assert "withheld from clients" not in output
        return
    assert_no_secrets(repr(failed.value.failure))
    assert_no_secrets(str(failed.value))
    # The host's log line has the whole error, its id and the execution's id.
    line = next(line for line in host.lines if f"failed with error {error.error_id}" in line)
    assert failed.value.execution_id in line
    assert "postgres://admin:hunter2@db.internal/prod" in output
