"""Ops hosted by the end-to-end tests' server."""

from __future__ import annotations

import asyncio
import threading
import time

from ophost import (
    AssetMaterialization,
    AssetObservation,
    ExpectationResult,
    Failure,
    Field,
    MetadataValue,
    Out,
    Output,
    RetryPolicy,
    op,
)


@op
def add(a: int, b: int) -> int:
    return a + b


@op(config_schema={"factor": Field(int, default_value=2), "db": {"port": int}})
def scaled(context, x: int) -> int:  # type: ignore[no-untyped-def]
    config = context.op_config
    return int(x * config["factor"] + config["db"]["port"])


@op(out={"first": Out(str), "second": Out(int)})
def every_event(context):  # type: ignore[no-untyped-def]
    context.log.info("starting")
    yield ExpectationResult(success=True, label="ok", metadata={"n": 1})
    yield AssetMaterialization(asset_key=["a", "b"], metadata={"rows": 3, "f": 1.5})
    yield AssetObservation(asset_key=["a", "b"], metadata={"rows": 3}, partition="p1")
    yield Output("one", "first", metadata={"url": MetadataValue.url("https://x")})
    context.log.warning("halfway")
    yield Output(2, "second")


@op
def fails(context):  # type: ignore[no-untyped-def]
    try:
        raise KeyError("inner")
    except KeyError as exc:
        raise Failure(description="it broke", metadata={"code": 7}) from exc


_flaky_calls: dict[str, int] = {}


@op(retry_policy=RetryPolicy(max_retries=2, delay=0.01))
def flaky(context, key: str) -> str:  # type: ignore[no-untyped-def]
    _flaky_calls[key] = _flaky_calls.get(key, 0) + 1
    if context.retry_number < 2:
        raise ConnectionError(f"attempt {context.retry_number}")
    return key


@op
def slow_gen(context, n: int = 1_000_000):  # type: ignore[no-untyped-def]
    for i in range(n):
        context.log.info(f"tick {i}")
        time.sleep(0.005)
        yield ExpectationResult(True, label=f"step{i}")
    yield Output(n)


@op
async def slow_async(context) -> int:  # type: ignore[no-untyped-def]
    context.log.info("sleeping")
    await asyncio.sleep(60)
    return 1


@op
def slow_sync(context) -> int:  # type: ignore[no-untyped-def]
    context.log.info("polling")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        context.raise_if_cancel_requested()
        time.sleep(0.005)
    return 1


@op
def big_output(size: int) -> bytes:
    return b"x" * size


@op
def echo(value):  # type: ignore[no-untyped-def]
    return value


@op
def unsendable() -> object:
    return object()


@op(required_resource_keys={"greeting"})
def greet(context, name: str) -> str:  # type: ignore[no-untyped-def]
    return f"{context.resources.greeting}, {name}"


gate = threading.Event()


@op
def waits_for_gate(context) -> str:  # type: ignore[no-untyped-def]
    context.log.info("waiting")
    while not gate.wait(0.01):
        context.raise_if_cancel_requested()
    return "opened"


ALL = [
    add,
    scaled,
    every_event,
    fails,
    flaky,
    slow_gen,
    slow_async,
    slow_sync,
    big_output,
    echo,
    greet,
    waits_for_gate,
    unsendable,
]
RESOURCES = {"greeting": "hello"}


@op
def chatty_failure(context):  # type: ignore[no-untyped-def]
    context.log.info("x" * (5 << 20))
    raise ValueError("y" * (5 << 20))


ALL.append(chatty_failure)
