"""Ops the web console's browser tests run (``ophost serve -f`` this file).

``add`` for the run form, ``greet`` for config fields and the host's validation
errors, ``slow`` to cancel, ``ticks`` to watch a generator's events arrive, and
``report`` for a retry, a failure's stack and rendered metadata.
"""

from __future__ import annotations

import time

from ophost import (
    AssetMaterialization,
    AssetObservation,
    ExpectationResult,
    Field,
    MetadataValue,
    Output,
    RetryPolicy,
    TableColumn,
    TableRecord,
    TableSchema,
    op,
)


@op(tags={"team": "maths"})
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@op(
    config_schema={
        "greeting": Field(str, default_value="hello", description="The word to greet with"),
        "times": Field(int, default_value=1),
    }
)
def greet(context, name: str) -> str:  # type: ignore[no-untyped-def]
    """Greet someone, as often as the config says."""
    return " ".join([f"{context.op_config['greeting']}, {name}"] * context.op_config["times"])


@op
def slow(context, seconds: float = 60.0) -> float:  # type: ignore[no-untyped-def]
    """Work for the given number of seconds, stopping when canceled."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        context.raise_if_cancel_requested()
        time.sleep(0.02)
    return seconds


@op
def ticks(context, n: int = 5, pause: float = 0.4):  # type: ignore[no-untyped-def]
    """Log and check n ticks, pause seconds apart, then output n."""
    for i in range(n):
        context.log.info(f"tick {i}")
        yield ExpectationResult(success=True, label=f"tick_{i}")
        time.sleep(pause)
    yield Output(n)


@op(retry_policy=RetryPolicy(max_retries=1, delay=0.2))
def report(context):  # type: ignore[no-untyped-def]
    """Fail once, then publish a table with metadata of every kind the console renders."""
    if context.retry_number == 0:
        raise ConnectionError("the warehouse did not answer")
    records = [TableRecord(name="ada", score=91.5), TableRecord(name="alan", score=88.0)]
    schema = TableSchema(columns=[TableColumn("name", "string"), TableColumn("score", "float")])
    yield ExpectationResult(
        success=False, label="all_above_90", description="Every score is above 90"
    )
    yield AssetObservation(
        asset_key=["warehouse", "scores"],
        description="Source table",
        metadata={"row_count": 2},
        partition="2024-01",
        tags={"source": "nightly"},
    )
    yield AssetMaterialization(
        asset_key=["reports", "scores"],
        description="Latest scores",
        metadata={
            "preview": MetadataValue.table(records, schema),
            "notes": MetadataValue.md(
                "**Bold** notes <script>window.injected = 1</script>"
                " ![logo](https://example.com/logo.png)"
            ),
            "dashboard": MetadataValue.url("https://example.com/scores"),
            "summary": MetadataValue.json({"rows": 2, "columns": ["name", "score"]}),
        },
    )
    yield Output(2)


@op(config_schema={"db": {"host": Field(str, default_value="localhost"), "port": int}})
def connect(context) -> str:  # type: ignore[no-untyped-def]
    """Say which database the config names (a nested config shape)."""
    db = context.op_config["db"]
    return f"{db['host']}:{db['port']}"
