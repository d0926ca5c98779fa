"""Run every example op once in this process and print its events.

This is what `make demo` runs. It uses `ophost.execute_in_process`, the same engine
the gRPC server streams from. The long and the large ops get small inputs here, so
the whole run takes about a second.
"""

from __future__ import annotations

from examples import ops
from ophost import (
    AssetMaterialization,
    ExpectationResult,
    OpDefinition,
    execute_in_process,
)
from ophost.execution import (
    ExecutionEvent,
    ExecutionFinished,
    InputChecked,
    LogMessage,
    OutputProduced,
    RetryScheduled,
    StepFailed,
    StepSucceeded,
)

RUNS: list[tuple[OpDefinition, dict[str, object], dict[str, object] | None]] = [
    (ops.add, {"a": 2, "b": 3}, None),
    (ops.parse_csv, {"text": "name;score\nada;91\nalan;88\n"}, {"separator": ";"}),
    (ops.summarize, {"values": [1.0, 2.0, 4.0]}, None),
    (ops.publish_scores, {"rows": [["ada", "91"], ["alan", "88"]]}, None),
    (ops.flaky_fetch, {"url": "https://example.com/data"}, None),
    (ops.count_up, {"n": 3}, None),
    (ops.slow_square, {"x": 1.5}, None),
    (ops.long_running, {"steps": 3}, {"step_seconds": 0.01}),
    (ops.large_blob, {"size_mb": 1}, None),
    (ops.top_scores, {"n": 2}, None),
]


def short(value: object) -> str:
    """``repr(value)``, with large bytes shown by their size."""
    if isinstance(value, bytes) and len(value) > 32:
        return f"<{len(value)} bytes>"
    return repr(value)


def describe(event: ExecutionEvent) -> str:
    """One readable line per event."""
    body = event.body
    if isinstance(body, InputChecked):
        detail = f"{body.input_name}: {'ok' if body.type_check.success else 'FAILED'}"
    elif isinstance(body, OutputProduced):
        detail = f"{body.output_name} = {short(body.value)}"
    elif isinstance(body, LogMessage):
        detail = f"[{body.level.value}] {body.message}"
    elif isinstance(body, AssetMaterialization):
        labels = ", ".join(e.label for e in body.metadata_entries)
        detail = f"{body.asset_key.to_user_string()} ({labels})"
    elif isinstance(body, ExpectationResult):
        detail = f"{body.label}: {'passed' if body.success else 'failed'}"
    elif isinstance(body, RetryScheduled):
        detail = f"attempt {body.next_attempt} in {body.delay_seconds:.2f}s ({body.error.message})"
    elif isinstance(body, StepFailed):
        retry = ", will retry" if body.will_retry else ""
        detail = f"{body.error.type_name}: {body.error.message}{retry}"
    elif isinstance(body, StepSucceeded):
        detail = f"in {body.duration_seconds * 1000:.2f} ms"
    elif isinstance(body, ExecutionFinished):
        detail = body.status.value
    else:
        detail = ""
    if len(detail) > 100:
        detail = detail[:97] + "..."
    return f"  #{event.sequence:<3} attempt {event.attempt}  {type(body).__name__:<20} {detail}"


def main() -> None:
    for op_def, inputs, config in RUNS:
        result = execute_in_process(
            op_def, inputs=inputs, config=config, resources=ops.ophost_resources
        )
        outputs = ", ".join(f"{name}={short(value)}" for name, value in result.outputs.items())
        print(f"{op_def.name}: {'succeeded' if result.success else 'failed'} -> {outputs}")
        for event in result.events:
            print(describe(event))
        print()


if __name__ == "__main__":
    main()
