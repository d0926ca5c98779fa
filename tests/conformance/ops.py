"""The ops every client's conformance program calls.

Their behaviour is fixed and deterministic (no clocks, no randomness in what they
emit), so that the cases in ``cases/*.yaml`` can state exactly which events each
one produces.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

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
    op,
)

# The environment variable naming the file whose existence releases ``block`` in
# worker processes (which share no memory with the runner).
RELEASE_FILE_ENV = "OPHOST_CONFORMANCE_RELEASE_FILE"


class _Release:
    """Set by the runner when it shuts down, so that executions parked on ``block``
    (the ones that hold the tight server's slot and keep the draining server
    draining) end promptly, whether they run in the runner's process or in a worker
    process (where a file, named in the environment, carries the signal)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()
        path = os.environ.get(RELEASE_FILE_ENV)
        if path:
            with open(path, "w"):
                pass

    def clear(self) -> None:
        self._event.clear()
        path = os.environ.get(RELEASE_FILE_ENV)
        if path and os.path.exists(path):
            os.remove(path)

    def wait(self, seconds: float) -> bool:
        if self._event.wait(seconds):
            return True
        path = os.environ.get(RELEASE_FILE_ENV)
        return path is not None and os.path.exists(path)


RELEASE = _Release()


@op(
    out={
        "result": Out(Any, description="The value, as received"),
        "python_type": Out(str, description="The Python type the server decoded"),
    },
    tags={"suite": "conformance"},
)
def echo(value: Any) -> tuple[Any, str]:
    """Return the value unchanged, with the name of its Python type."""
    return value, type(value).__name__


@op(
    ins={
        "count": In(int, description="How many items"),
        "label": In(str, description="A name for them"),
        "ratio": In(float, default_value=0.5),
    },
    out=Out(str),
    config_schema={"prefix": Field(str), "repeat": Field(int, default_value=1)},
    tags={"suite": "conformance", "kind": "typed"},
    retry_policy=RetryPolicy(max_retries=2, delay=0.25, backoff=Backoff.LINEAR),
)
def typed(context: OpExecutionContext, count: int, label: str, ratio: float) -> str:
    """An op with typed inputs, a config schema, tags and a retry policy."""
    prefix = context.op_config["prefix"]
    repeat = context.op_config["repeat"]
    return f"{prefix}{label * repeat}:{count * ratio}"


@op(out={"summary": Out(str), "rows": Out(int)})
def every_event(context: OpExecutionContext, name: str) -> Iterator[Any]:
    """Emit one event of each kind an op can emit on success."""
    context.log.info(f"hello {name}")
    yield ExpectationResult(
        success=True,
        label="non_empty",
        description="the name is not empty",
        metadata={"length": len(name)},
    )
    yield AssetMaterialization(
        asset_key=["warehouse", name],
        description="a table",
        partition="2026-11-24",
        metadata={
            "rows": 3,
            "ratio": 1.5,
            "owner": "team",
            "docs": MetadataValue.url("https://example.com/docs"),
            "schema": MetadataValue.json({"columns": ["a", "b"]}),
        },
    )
    yield AssetObservation(
        asset_key=["source", name],
        description="the source",
        metadata={"rows_seen": 3, "fresh": True},
    )
    context.log.warning("halfway")
    yield Output(f"summary of {name}", "summary", metadata={"note": MetadataValue.md("**ok**")})
    context.log.debug("almost done")
    yield Output(3, "rows")


@op(out={"rows": Out(int)})
def observe_table(context: OpExecutionContext, table: str) -> Iterator[Any]:
    """Observe a table without writing it: one observation logged, one yielded."""
    context.log_event(
        AssetObservation(
            asset_key=["lake", table],
            description="row count",
            partition="2026-11-24",
            metadata={"rows": 42, "checked_by": "conformance"},
        )
    )
    # A string key is split on every character that is not a letter, digit or "_".
    yield AssetObservation(
        asset_key=f"lake/{table}.schema",
        metadata={
            "columns": MetadataValue.json(["id", "name"]),
            "docs": MetadataValue.url("https://example.com/lake"),
        },
    )
    yield Output(42, "rows")


@op
def fail_with_chain(context: OpExecutionContext, reason: str) -> None:
    """Fail with a Failure caused by a ValueError, itself raised while handling a KeyError."""
    try:
        try:
            raise KeyError(reason)
        except KeyError as exc:
            raise ValueError(f"bad {reason}") from exc
    except ValueError as exc:
        raise Failure(description=f"gave up on {reason}", metadata={"code": 7}) from exc


@op
def fail_with_context() -> None:
    """Fail with a RuntimeError raised while handling a KeyError (an implicit context)."""
    try:
        raise KeyError("missing")
    except KeyError:
        # No "from": the KeyError travels as the implicit context, which is the point.
        raise RuntimeError("lookup failed")  # noqa: B904


@op(retry_policy=RetryPolicy(max_retries=3, delay=0.02, backoff=Backoff.EXPONENTIAL))
def flaky(context: OpExecutionContext, failures: int) -> int:
    """Fail the first ``failures`` attempts with ConnectionError, then return the attempt number."""
    if context.retry_number < failures:
        raise ConnectionError(f"attempt {context.retry_number} failed")
    return context.retry_number


@op
def wait_for_cancel(context: OpExecutionContext) -> str:
    """Log "ready", then wait (cooperatively) until the execution is canceled."""
    context.log.info("ready")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        context.raise_if_cancel_requested()
        time.sleep(0.005)
    return "never canceled"


@op
async def wait_for_cancel_async(context: OpExecutionContext) -> str:
    """The async form: log "ready", then sleep until the task is canceled."""
    context.log.info("ready")
    await asyncio.sleep(30)
    return "never canceled"


@op
def many_events(context: OpExecutionContext, count: int) -> int:
    """Log ``line 0`` .. ``line count-1``, pausing briefly every 100 lines."""
    for i in range(count):
        context.log.info(f"line {i}")
        if i % 100 == 99:
            time.sleep(0.002)
    return count


@op
def block(context: OpExecutionContext) -> None:
    """Hold an execution slot until the runner releases it or the execution is canceled."""
    while not RELEASE.wait(0.01):
        context.raise_if_cancel_requested()


ALL = [
    echo,
    typed,
    every_event,
    observe_table,
    fail_with_chain,
    fail_with_context,
    flaky,
    wait_for_cancel,
    wait_for_cancel_async,
    many_events,
    block,
]
