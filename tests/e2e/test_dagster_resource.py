"""``OphostResource``: Dagster assets and ops calling ops on a real ophost server.

The server runs in a background thread on 127.0.0.1:0 (``running_host_in_thread``);
Dagster runs the assets with its own ``materialize`` and jobs with
``execute_in_process``, in this thread.
"""

# No `from __future__ import annotations`: Dagster reads the annotations as types.
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from ophost import (
    AssetMaterialization,
    AssetObservation,
    ExpectationResult,
    Failure,
    MetadataValue,
    OpExecutionContext,
    Output,
    op,
)
from ophost.testing import RunningHostInThread, running_host_in_thread
from tests.dagster_support import require_dagster

require_dagster()

import dagster as dg  # noqa: E402
from dagster import AssetExecutionContext  # noqa: E402
from dagster import OpExecutionContext as DagsterContext  # noqa: E402

from ophost.dagster import OphostResource  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@op
def scale(context: OpExecutionContext, x: int) -> Iterator[object]:
    context.log.warning(f"scaling {x}")
    yield AssetMaterialization("scaled", description="scaled values", metadata={"x": x})
    yield AssetObservation(
        ["source", "values"], description="input seen", metadata={"x": x}, partition="p1"
    )
    yield ExpectationResult(True, "positive", metadata={"x": MetadataValue.int(x)})
    yield Output(x * 10)


@op
def refuse(reason: str) -> int:
    raise Failure(description=f"refused: {reason}", metadata={"reason": reason})


@op
def crash() -> int:
    raise ValueError("remote boom")


@op
def wait_for_cancel(context: OpExecutionContext) -> int:
    while not context.cancel_requested:
        time.sleep(0.01)
    return 0


@pytest.fixture
def host() -> Iterator[RunningHostInThread]:
    with running_host_in_thread([scale, refuse, crash, wait_for_cancel]) as running:
        yield running


def test_an_asset_runs_a_remote_op_and_its_events_reach_dagsters_log(
    host: RunningHostInThread,
) -> None:
    @dg.asset
    def scaled(context: AssetExecutionContext, ophost: OphostResource) -> int:
        outputs = ophost.run(context.op_execution_context, "scale", {"x": 4})
        value = outputs["result"]
        assert isinstance(value, int)
        return value

    result = dg.materialize([scaled], resources={"ophost": OphostResource(target=host.address)})
    assert result.success
    assert result.output_for_node("scaled") == 40
    materializations = [
        e.event_specific_data.materialization  # type: ignore[union-attr]
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    ]
    keys = {tuple(m.asset_key.path): m for m in materializations}
    assert ("scaled",) in keys  # the remote op's, and the asset's own: both are "scaled"
    remote = [m for m in materializations if m.description == "scaled values"]
    assert len(remote) == 1
    assert remote[0].metadata["x"] == dg.MetadataValue.int(4)
    expectations = [
        e.event_specific_data.expectation_result  # type: ignore[union-attr]
        for e in result.all_events
        if e.event_type_value == "STEP_EXPECTATION_RESULT"
    ]
    assert [(x.success, x.label, x.metadata["x"]) for x in expectations] == [
        (True, "positive", dg.MetadataValue.int(4))
    ]
    observations = [
        e.event_specific_data.asset_observation  # type: ignore[union-attr]
        for e in result.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    ]
    assert [
        (tuple(o.asset_key.path), o.description, o.partition, o.metadata["x"]) for o in observations
    ] == [(("source", "values"), "input seen", "p1", dg.MetadataValue.int(4))]


def test_a_remote_failure_fails_the_step_with_the_remote_error_and_metadata(
    host: RunningHostInThread,
) -> None:
    @dg.op
    def call_refuse(context: DagsterContext, ophost: OphostResource) -> None:
        ophost.run(context, "refuse", {"reason": "quota"})

    @dg.op
    def call_crash(context: DagsterContext, ophost: OphostResource) -> None:
        ophost.run(context, "crash")

    @dg.job(resource_defs={"ophost": OphostResource(target=host.address)})
    def calls() -> None:
        call_refuse()
        call_crash()

    result = calls.execute_in_process(raise_on_error=False)
    assert not result.success
    failures = {
        e.step_key: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    }
    refused = failures["call_refuse"]
    assert refused.user_failure_data is not None  # type: ignore[union-attr]
    description = refused.user_failure_data.description  # type: ignore[union-attr]
    assert "ophost.Failure: refused: quota" in str(description)
    metadata = refused.user_failure_data.metadata  # type: ignore[union-attr]
    assert metadata["reason"] == dg.MetadataValue.text("quota")
    assert metadata["remote_error_type"] == dg.MetadataValue.text("ophost.Failure")
    crashed = failures["call_crash"]
    crash_description = crashed.user_failure_data.description  # type: ignore[union-attr]
    assert "builtins.ValueError: remote boom" in str(crash_description)


def test_interrupting_the_dagster_run_cancels_the_remote_execution(
    host: RunningHostInThread,
) -> None:
    started = threading.Event()

    @dg.op
    def call_wait(context: DagsterContext, ophost: OphostResource) -> None:
        started.set()
        ophost.run(context, "wait_for_cancel")

    @dg.job(resource_defs={"ophost": OphostResource(target=host.address)})
    def waits() -> None:
        call_wait()

    def interrupt() -> None:
        assert started.wait(60)
        deadline = time.monotonic() + 60
        while not host.client.list_executions() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)  # what terminating an in-process run sends

    killer = threading.Thread(target=interrupt)
    killer.start()
    try:
        result = waits.execute_in_process(raise_on_error=False)
    finally:
        killer.join()
    assert not result.success
    (execution,) = host.client.list_executions()
    deadline = time.monotonic() + 60
    while execution.state.name != "CANCELED" and time.monotonic() < deadline:
        time.sleep(0.05)
        execution = host.client.get_execution(execution.id)
    assert execution.state.name == "CANCELED"
