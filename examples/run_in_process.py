"""Run every example op once in this process and print its events.

This is what `make demo` runs. It uses `ophost.execute_in_process`, the same engine
the gRPC server will stream from.
"""

from __future__ import annotations

from examples import ops
from ophost import execute_in_process
from ophost.execution import ExecutionEvent

RUNS = [
    (ops.add, {"a": 2, "b": 3}, None),
    (ops.parse_csv, {"text": "name;score\nada;91\nalan;88\n"}, {"separator": ";"}),
    (ops.summarize, {"values": [1.0, 2.0, 4.0]}, None),
    (ops.publish_scores, {"rows": [["ada", "91"], ["alan", "88"]]}, None),
    (ops.flaky_fetch, {"url": "https://example.com/data"}, None),
    (ops.count_up, {"n": 3}, None),
    (ops.slow_square, {"x": 1.5}, None),
]


def describe(event: ExecutionEvent) -> str:
    body = event.body
    fields = {
        k: getattr(body, k)
        for k in getattr(body, "__slots__", getattr(body, "__dataclass_fields__", {}))
        if not k.startswith("_")
    }
    text = ", ".join(f"{k}={v!r}" for k, v in fields.items())
    if len(text) > 110:
        text = text[:107] + "..."
    return f"  #{event.sequence:<3} {type(body).__name__:<20} {text}"


def main() -> None:
    for op_def, inputs, config in RUNS:
        result = execute_in_process(op_def, inputs=inputs, config=config)
        print(f"{op_def.name}: {'succeeded' if result.success else 'failed'} -> {result.outputs}")
        for event in result.events:
            print(describe(event))
        print()


if __name__ == "__main__":
    main()
