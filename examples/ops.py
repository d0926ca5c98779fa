"""A small library of example ops: what a team might host with ophost.

Each op uses a different part of the authoring API: typed inputs and outputs,
config with defaults, several outputs, observations, materializations with table metadata,
expectations, logging from a generator, an async op, a retry policy with backoff,
a long op that stops when canceled, a large output and a resource.

Serve it with ``ophost serve -f examples/ops.py`` (or ``make serve``); every
module-level op is hosted, with the resources in ``ophost_resources``.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator

from ophost import (
    AssetMaterialization,
    AssetObservation,
    Backoff,
    ExpectationResult,
    Failure,
    Field,
    In,
    MetadataValue,
    OpExecutionContext,
    Out,
    Output,
    RetryPolicy,
    TableColumn,
    TableRecord,
    TableSchema,
    op,
)


@op
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@op(
    config_schema={
        "separator": Field(str, default_value=",", description="Field separator"),
        "skip_header": Field(bool, default_value=True),
    }
)
def parse_csv(context, text: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """Split CSV text into rows, honouring the configured separator."""
    lines = [line for line in text.splitlines() if line.strip()]
    if context.op_config["skip_header"]:
        lines = lines[1:]
    rows = [line.split(context.op_config["separator"]) for line in lines]
    context.log.info("parsed %d rows", len(rows))
    return rows


@op(out={"mean": Out(float), "spread": Out(float)})
def summarize(values: list[float]):  # type: ignore[no-untyped-def]
    """Mean and standard deviation of a list of numbers."""
    return statistics.fmean(values), statistics.pstdev(values)


@op(ins={"rows": In(list, description="Rows of (name, score)")})
def publish_scores(context, rows):  # type: ignore[no-untyped-def]
    """Publish a score table: observe its source, materialize it with table metadata, check it."""
    scores = [(name, float(score)) for name, score in rows]
    yield AssetObservation(
        asset_key=["sources", "scores"],
        description="The rows received",
        metadata={"rows": len(scores)},
    )
    records = [TableRecord(name=name, score=score) for name, score in scores]
    schema = TableSchema(columns=[TableColumn("name", "string"), TableColumn("score", "float")])
    yield ExpectationResult(
        success=all(0 <= score <= 100 for _, score in scores),
        label="scores_in_range",
        description="Every score lies between 0 and 100",
    )
    yield AssetMaterialization(
        asset_key=["reports", "scores"],
        description="Latest scores",
        metadata={
            "rows": len(records),
            "preview": MetadataValue.table(records, schema),
            "dashboard": MetadataValue.url("https://example.com/scores"),
        },
    )
    context.log.info("published %d scores", len(records))
    yield Output(len(records))


_attempts: dict[str, int] = {}


@op(retry_policy=RetryPolicy(max_retries=3, delay=0.2, backoff=Backoff.EXPONENTIAL))
def flaky_fetch(context, url: str) -> str:  # type: ignore[no-untyped-def]
    """Fetch a resource that fails on its first two attempts (a stand-in for a flaky API)."""
    if context.retry_number < 2:
        raise ConnectionError(f"{url} timed out (attempt {context.retry_number})")
    return f"contents of {url}"


@op
def count_up(context, n: int):  # type: ignore[no-untyped-def]
    """Count to n, logging progress as it goes."""
    for i in range(1, n + 1):
        context.log.info("step %d of %d", i, n)
    yield Output(n)


@op
async def slow_square(x: float, delay: float = 0.01) -> float:
    """Square a number after an asynchronous wait."""
    await asyncio.sleep(delay)
    return x * x


@op(
    config_schema={
        "step_seconds": Field(float, default_value=0.1, description="Time each step takes"),
    },
    out=Out(int, description="The number of steps completed"),
)
def long_running(context: OpExecutionContext, steps: int = 300) -> Iterator[Output[int]]:
    """Work through ``steps`` steps (about 30 s with the defaults), logging each one.

    A stand-in for a long batch job. It checks for a cancel request after every
    step, so canceling it (or draining the server) stops it within one step.
    """
    step_seconds = context.op_config["step_seconds"]
    for step in range(1, steps + 1):
        time.sleep(step_seconds)
        context.raise_if_cancel_requested()
        context.log.info("step %d of %d done", step, steps)
    yield Output(steps)


@op(out=Out(bytes, description="size_mb MiB of bytes"))
def large_blob(size_mb: int = 64) -> bytes:
    """Return ``size_mb`` MiB of bytes: a value large enough to travel in chunks."""
    if size_mb < 0:
        raise Failure(description=f"size_mb must be 0 or more, got {size_mb}")
    return bytes(range(256)) * (4096 * size_mb)


class Scoreboard:
    """A stand-in for a database client: the resource ``top_scores`` reads from."""

    def __init__(self, scores: dict[str, float]) -> None:
        self._scores = dict(scores)

    def top(self, n: int) -> dict[str, float]:
        """The ``n`` best scores, best first."""
        ranked = sorted(self._scores.items(), key=lambda item: item[1], reverse=True)
        return dict(ranked[:n])


@op(required_resource_keys={"scoreboard"})
def top_scores(context: OpExecutionContext, n: int = 3) -> dict[str, float]:
    """The ``n`` best scores from the scoreboard resource."""
    best: dict[str, float] = context.resources.scoreboard.top(n)
    context.log.info("read %d of the top scores", len(best))
    return best


# The resources ``ophost serve`` gives the ops above, by resource key. A callable
# returning this dict works too (it is called once, when the ops are loaded).
ophost_resources: dict[str, object] = {
    "scoreboard": Scoreboard({"ada": 91.0, "alan": 88.0, "grace": 95.5, "edsger": 79.0}),
}
