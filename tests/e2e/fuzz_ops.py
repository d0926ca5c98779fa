"""The ops the fuzzed host serves (tests/e2e/test_fuzz.py): quick ones, so that every
execution ends by itself and no fuzzed request waits on a long op."""

from __future__ import annotations

import time

from ophost import Field, Out, Output, op


@op
def add(a: int, b: int) -> int:
    return a + b


@op
def echo(value):  # type: ignore[no-untyped-def]
    return value


@op(config_schema={"factor": Field(int, default_value=2), "label": Field(str, is_required=False)})
def scaled(context, x: int) -> int:  # type: ignore[no-untyped-def]
    return int(x * context.op_config["factor"])


@op
def fails() -> None:
    raise RuntimeError("as planned")


@op
def nap(context, seconds: float = 0.01) -> float:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + min(max(seconds, 0.0), 0.2)
    while time.monotonic() < deadline:
        context.raise_if_cancel_requested()
        time.sleep(0.005)
    return seconds


@op(out={"text": Out(str), "number": Out(int)})
def two_outputs(context):  # type: ignore[no-untyped-def]
    context.log.info("two outputs")
    yield Output("one", "text", metadata={"n": 1})
    yield Output(2, "number")


@op
def size(data: bytes) -> int:
    return len(data)


ophost_ops = [add, echo, scaled, fails, nap, two_outputs, size]
