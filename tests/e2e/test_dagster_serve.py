"""``ophost serve -m`` hosting a module written only with Dagster, called by the Python client.

The host is a real ``ophost serve`` process (port 0) serving ``examples.dagster_pipeline``,
with its default executor (worker processes) and with ``--executor thread``; the ops run
with Dagster's own machinery and their events reach the client as ophost events.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from ophost.definitions import (
    AssetMaterialization,
    AssetObservation,
    ExpectationResult,
    IntMetadataValue,
    LogMessage,
    OutputProduced,
    StepFailed,
    StepRestarted,
    TextMetadataValue,
)
from ophost_client import (
    AsyncOpHostClient,
    ExecutionCanceledError,
    OpFailedError,
    OpHostRpcError,
)
from tests.dagster_support import require_dagster

from .host_processes import REPO, HostProcess, start_host

require_dagster()

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WAIT = 60.0


@pytest.fixture(params=["process", "thread"])
async def host(request: pytest.FixtureRequest) -> AsyncIterator[HostProcess]:
    started = await start_host(
        "-m", "examples.dagster_pipeline", "--port", "0", "--executor", request.param, cwd=REPO
    )
    try:
        yield started
    finally:
        await started.kill()


@pytest.fixture
async def client(host: HostProcess) -> AsyncIterator[AsyncOpHostClient]:
    async with AsyncOpHostClient(host.address) as connected:
        yield connected


async def test_the_ops_are_described_like_ophost_ops(client: AsyncOpHostClient) -> None:
    specs = {spec.name: spec for spec in await client.list_ops(full=True)}
    assert set(specs) == {"add", "greet", "load_table", "flaky", "reject", "slow"}
    add = specs["add"]
    assert add.description == "Add two integers."
    assert add.tags["team"] == "data"
    assert [(i.name, i.dagster_type.name) for i in add.inputs] == [("a", "Int"), ("b", "Int")]
    assert [(o.name, o.dagster_type.name) for o in add.outputs] == [("result", "Int")]
    greet = specs["greet"].config.config_type
    fields = greet.fields  # type: ignore[attr-defined]
    assert fields["greeting"].default_value == "hello"
    assert fields["greeting"].description == "The word to use."
    assert fields["times"].default_value == 1
    policy = specs["flaky"].retry_policy
    assert policy is not None
    assert (policy.max_retries, policy.delay) == (2, 0.01)
    assert [o.name for o in specs["load_table"].outputs] == ["rows", "table"]


async def test_outputs_logs_and_config_defaults(client: AsyncOpHostClient) -> None:
    assert await client.call("add", {"a": 2, "b": 3}) == {"result": 5}
    assert await client.call("greet", {"name": "ann"}) == {"result": "hello, ann!"}
    assert await client.call("greet", {"name": "bo"}, config={"greeting": "hi", "times": 2}) == {
        "result": "hi, bo! hi, bo!"
    }
    async with client.execute("greet", {"name": "cy"}) as stream:
        bodies = [event.body async for event in stream]
    logs = [b for b in bodies if isinstance(b, LogMessage)]
    assert [log.message for log in logs] == ["greeting cy"]


async def test_a_generator_op_streams_observations_materializations_expectations_outputs(
    client: AsyncOpHostClient,
) -> None:
    async with client.execute("load_table", {"rows": 7}) as stream:
        bodies = [event.body async for event in stream]
    kinds = [
        type(b).__name__
        for b in bodies
        if isinstance(
            b,
            (LogMessage, AssetObservation, AssetMaterialization, ExpectationResult, OutputProduced),
        )
    ]
    assert kinds == [
        "LogMessage",
        "AssetObservation",
        "AssetMaterialization",
        "ExpectationResult",
        "OutputProduced",
        "OutputProduced",
    ]
    (materialization,) = [b for b in bodies if isinstance(b, AssetMaterialization)]
    assert materialization.asset_key.path == ["warehouse", "events"]
    assert materialization.description == "the events table"
    metadata = {e.label: e.entry_data for e in materialization.metadata_entries}
    assert metadata == {
        "rows": IntMetadataValue(7),
        "table": TextMetadataValue("analytics.events"),  # the Definitions' resource
    }
    (observation,) = [b for b in bodies if isinstance(b, AssetObservation)]
    assert observation == AssetObservation(
        ["feeds", "events"],
        description="the feed the rows come from",
        metadata={"rows_seen": IntMetadataValue(7)},
        partition="latest",
    )
    (expectation,) = [b for b in bodies if isinstance(b, ExpectationResult)]
    assert (expectation.success, expectation.label) == (True, "non_empty")
    outputs = {b.output_name: b.value for b in bodies if isinstance(b, OutputProduced)}
    assert outputs == {"rows": 7, "table": "analytics.events"}


async def test_the_retry_policy_is_dagsters(client: AsyncOpHostClient) -> None:
    async with client.execute("flaky", {"key": "k"}) as stream:
        events = [event async for event in stream]
    failed = [e.body for e in events if isinstance(e.body, StepFailed)]
    assert len(failed) == 1
    assert failed[0].will_retry
    assert failed[0].error.type_name == "builtins.ValueError"
    assert failed[0].error.message == "first attempt of k fails"
    assert any(isinstance(e.body, StepRestarted) for e in events)
    outputs = [(e.attempt, e.body) for e in events if isinstance(e.body, OutputProduced)]
    assert [(attempt, body.value) for attempt, body in outputs] == [(1, "k after 1 retries")]


async def test_a_failure_keeps_its_description_and_metadata(client: AsyncOpHostClient) -> None:
    with pytest.raises(OpFailedError) as raised:
        await client.call("reject", {"reason": "late"})
    error = raised.value
    assert error.error is not None
    assert error.error.type_name == "dagster.Failure"
    assert error.user_failure is not None
    assert error.user_failure.description == "rejected: late"
    metadata = {e.label: e.entry_data for e in error.user_failure.metadata_entries}
    assert metadata == {"reason": TextMetadataValue("late"), "code": IntMetadataValue(422)}


async def test_bad_config_and_bad_inputs_are_refused_with_dagsters_rules(
    client: AsyncOpHostClient,
) -> None:
    with pytest.raises(Exception, match="times"):
        await client.call("greet", {"name": "x"}, config={"times": "many"})
    with pytest.raises(OpHostRpcError, match="must be a string") as raised:
        await client.call("greet", {"name": 3})
    assert raised.value.code is grpc.StatusCode.INVALID_ARGUMENT


async def test_cancel_reaches_the_op(client: AsyncOpHostClient) -> None:
    async with client.execute("slow", {"seconds": 30.0}) as stream:
        execution_id = await stream.accepted()
        await asyncio.sleep(1.0)
        await client.cancel(execution_id)
        with pytest.raises(ExecutionCanceledError):
            await asyncio.wait_for(stream.result(), WAIT)


MIXED = """
import dagster as dg
from ophost import op


@dg.op
def dagster_double(x: int) -> int:
    return 2 * x


@op
def ophost_inc(x: int) -> int:
    return x + 1
"""


async def test_a_module_mixes_dagster_and_ophost_ops(tmp_path: Path) -> None:
    ops = tmp_path / "mixed.py"
    ops.write_text(textwrap.dedent(MIXED))
    host = await start_host("-f", str(ops), "--port", "0", cwd=tmp_path)
    try:
        async with AsyncOpHostClient(host.address) as client:
            names = [spec.name for spec in await client.list_ops()]
            assert sorted(names) == ["dagster_double", "ophost_inc"]
            assert await client.call("dagster_double", {"x": 4}) == {"result": 8}
            assert await client.call("ophost_inc", {"x": 4}) == {"result": 5}
    finally:
        await host.kill()
