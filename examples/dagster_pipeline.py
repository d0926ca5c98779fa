"""A pipeline written only with Dagster, hosted unchanged by ``ophost serve``.

Nothing here imports ophost: ``ophost serve -m examples.dagster_pipeline`` (with the
``dagster`` extra installed) hosts every op below, run by Dagster's own machinery,
with the ``warehouse`` resource the ``Definitions`` provide. See docs/dagster.md.
"""

# No `from __future__ import annotations`: Dagster reads the annotations as types.
import time
from collections.abc import Iterator

import dagster as dg
from dagster import OpExecutionContext


class Warehouse(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where the tables live (a name is enough for the example)."""

    name: str = "analytics"

    def table(self, table: str) -> str:
        return f"{self.name}.{table}"


@dg.op(
    description="Add two integers.",
    tags={"team": "data"},
)
def add(a: int, b: int) -> int:
    return a + b


@dg.op(
    config_schema={
        "greeting": dg.Field(str, default_value="hello", description="The word to use."),
        "times": dg.Field(int, default_value=1),
    },
    out=dg.Out(str, description="The greeting."),
)
def greet(context: OpExecutionContext, name: str) -> str:
    """Greet someone as many times as the config says."""
    context.log.info(f"greeting {name}")
    return " ".join([f"{context.op_config['greeting']}, {name}!"] * context.op_config["times"])


@dg.op(
    required_resource_keys={"warehouse"},
    out={"rows": dg.Out(int), "table": dg.Out(str)},
)
def load_table(context: OpExecutionContext, rows: int) -> Iterator[object]:
    """Load rows into a table: yields an observation, a materialization, an expectation, outputs."""
    table = context.resources.warehouse.table("events")
    context.log.info(f"loading {rows} rows into {table}")
    yield dg.AssetObservation(
        asset_key=["feeds", "events"],
        description="the feed the rows come from",
        metadata={"rows_seen": rows},
        partition="latest",
    )
    yield dg.AssetMaterialization(
        asset_key=["warehouse", "events"],
        description="the events table",
        metadata={"rows": rows, "table": dg.MetadataValue.text(table)},
    )
    yield dg.ExpectationResult(
        success=rows > 0, label="non_empty", metadata={"rows": dg.MetadataValue.int(rows)}
    )
    yield dg.Output(rows, "rows")
    yield dg.Output(table, "table")


_FLAKY_CALLS: dict[str, int] = {}


@dg.op(retry_policy=dg.RetryPolicy(max_retries=2, delay=0.01))
def flaky(context: OpExecutionContext, key: str) -> str:
    """Fail the first attempt of each execution; the retry policy runs it again."""
    if context.retry_number == 0:
        raise ValueError(f"first attempt of {key} fails")
    return f"{key} after {context.retry_number} retries"


@dg.op
def reject(reason: str) -> None:
    """Fail with a description and metadata, as Dagster's ``Failure`` carries them."""
    raise dg.Failure(
        description=f"rejected: {reason}",
        metadata={"reason": reason, "code": dg.MetadataValue.int(422)},
    )


@dg.op
def slow(context: OpExecutionContext, seconds: float) -> float:
    """Sleep in small steps (a cancel stops it between two)."""
    context.log.info("started")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)
    return seconds


@dg.job
def report() -> None:
    load_table()


defs = dg.Definitions(jobs=[report], resources={"warehouse": Warehouse()})
