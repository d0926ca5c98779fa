"""The conformance ops written with Dagster: the twins of ``tests/conformance/ops.py``.

``python -m tests.conformance.run --ops dagster`` serves these (adapted by
``ophost.dagster``, run by Dagster's machinery) in place of the ophost ones, and every
case must give the same results. Each twin does what its ophost counterpart does, in
Dagster's vocabulary; where Dagster has no counterpart (an op cannot ask whether it was
canceled), the twin relies on Dagster's own interruption, which ``ophost.dagster``
raises in the op when the execution is canceled.
"""

# No `from __future__ import annotations`: Dagster reads the annotations as types.
import asyncio
import time
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster import OpExecutionContext

from tests.conformance.ops import RELEASE


@dg.op(
    out={
        "result": dg.Out(dg.Any, description="The value, as received"),
        "python_type": dg.Out(str, description="The Python type the server decoded"),
    },
    tags={"suite": "conformance"},
)
def echo(value: Any) -> tuple[Any, str]:
    """Return the value unchanged, with the name of its Python type."""
    return value, type(value).__name__


@dg.op(
    ins={
        "count": dg.In(int, description="How many items"),
        "label": dg.In(str, description="A name for them"),
        "ratio": dg.In(float, default_value=0.5),
    },
    out=dg.Out(str),
    config_schema={"prefix": dg.Field(str), "repeat": dg.Field(int, default_value=1)},
    tags={"suite": "conformance", "kind": "typed"},
    retry_policy=dg.RetryPolicy(max_retries=2, delay=0.25, backoff=dg.Backoff.LINEAR),
)
def typed(context: OpExecutionContext, count: int, label: str, ratio: float) -> str:
    """An op with typed inputs, a config schema, tags and a retry policy."""
    prefix = context.op_config["prefix"]
    repeat = context.op_config["repeat"]
    return f"{prefix}{label * repeat}:{count * ratio}"


@dg.op(out={"summary": dg.Out(str), "rows": dg.Out(int)})
def every_event(context: OpExecutionContext, name: str) -> Iterator[Any]:
    """Emit one event of each kind an op can emit on success."""
    context.log.info(f"hello {name}")
    yield dg.ExpectationResult(
        success=True,
        label="non_empty",
        description="the name is not empty",
        metadata={"length": len(name)},
    )
    yield dg.AssetMaterialization(
        asset_key=["warehouse", name],
        description="a table",
        partition="2026-11-24",
        metadata={
            "rows": 3,
            "ratio": 1.5,
            "owner": "team",
            "docs": dg.MetadataValue.url("https://example.com/docs"),
            "schema": dg.MetadataValue.json({"columns": ["a", "b"]}),
        },
    )
    yield dg.AssetObservation(
        asset_key=["source", name],
        description="the source",
        metadata={"rows_seen": 3, "fresh": True},
    )
    context.log.warning("halfway")
    yield dg.Output(
        f"summary of {name}", "summary", metadata={"note": dg.MetadataValue.md("**ok**")}
    )
    context.log.debug("almost done")
    yield dg.Output(3, "rows")


@dg.op(out={"rows": dg.Out(int)})
def observe_table(context: OpExecutionContext, table: str) -> Iterator[Any]:
    """Observe a table without writing it: one observation logged, one yielded."""
    context.log_event(
        dg.AssetObservation(
            asset_key=["lake", table],
            description="row count",
            partition="2026-11-24",
            metadata={"rows": 42, "checked_by": "conformance"},
        )
    )
    # A string key is split on every character that is not a letter, digit or "_".
    yield dg.AssetObservation(
        asset_key=f"lake/{table}.schema",
        metadata={
            "columns": dg.MetadataValue.json(["id", "name"]),
            "docs": dg.MetadataValue.url("https://example.com/lake"),
        },
    )
    yield dg.Output(42, "rows")


@dg.op
def fail_with_chain(reason: str) -> None:
    """Fail with a Failure caused by a ValueError, itself raised while handling a KeyError."""
    try:
        try:
            raise KeyError(reason)
        except KeyError as exc:
            raise ValueError(f"bad {reason}") from exc
    except ValueError as exc:
        raise dg.Failure(description=f"gave up on {reason}", metadata={"code": 7}) from exc


@dg.op
def fail_with_context() -> None:
    """Fail with a RuntimeError raised while handling a KeyError (an implicit context)."""
    try:
        raise KeyError("missing")
    except KeyError:
        raise RuntimeError("lookup failed")  # noqa: B904


@dg.op(retry_policy=dg.RetryPolicy(max_retries=3, delay=0.02, backoff=dg.Backoff.EXPONENTIAL))
def flaky(context: OpExecutionContext, failures: int) -> int:
    """Fail the first ``failures`` attempts with ConnectionError, then return the attempt number."""
    if context.retry_number < failures:
        raise ConnectionError(f"attempt {context.retry_number} failed")
    return context.retry_number


@dg.op
def wait_for_cancel(context: OpExecutionContext) -> str:
    """Log "ready", then wait until the execution is canceled (Dagster interrupts it)."""
    context.log.info("ready")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.005)
    return "never canceled"


@dg.op
async def wait_for_cancel_async(context: OpExecutionContext) -> str:
    """The async form: log "ready", then sleep in short steps until interrupted."""
    context.log.info("ready")
    deadline = time.monotonic() + 30
    # Short sleeps: Dagster's interruption is raised in the op between two of them.
    while time.monotonic() < deadline:  # noqa: ASYNC110 - no event to wait for: polling is the point
        await asyncio.sleep(0.005)
    return "never canceled"


@dg.op
def many_events(context: OpExecutionContext, count: int) -> int:
    """Log ``line 0`` .. ``line count-1``, pausing briefly every 100 lines."""
    for i in range(count):
        context.log.info(f"line {i}")
        if i % 100 == 99:
            time.sleep(0.002)
    return count


@dg.op
def block() -> None:
    """Hold an execution slot until the runner releases it or the execution is canceled."""
    while not RELEASE.wait(0.01):
        pass
