"""Bad input gets an ophost error, never a bare KeyError/IndexError/AttributeError/...

Each test throws arbitrary objects at one public entry point and accepts only two
outcomes: it works, or it raises an :class:`OpHostError` with a message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ophost import (
    Field,
    In,
    OpHostError,
    Out,
    RetryPolicy,
    build_op_context,
    execute_in_process,
    op,
)

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=6),
    st.binary(max_size=4),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.dictionaries(st.integers(), st.integers(), max_size=2),
    st.just(object()),
    st.just(int),
    st.just(In()),
    st.just(Out()),
    st.just({"x": In()}),
    st.just({"x": Out()}),
    st.just({"x": 5}),
    st.just(frozenset({"a"})),
    st.just(RetryPolicy()),
)

fast = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _only_ophost_errors(call: Callable[[], object]) -> None:
    try:
        call()
    except OpHostError as exc:
        message = str(exc)
        if not message:
            pytest.fail(f"{type(exc).__name__} raised without a message")


def _body(a, b=1):  # type: ignore[no-untyped-def]
    return a


@fast
@given(
    arg=st.sampled_from(
        [
            "name",
            "description",
            "ins",
            "out",
            "config_schema",
            "required_resource_keys",
            "tags",
            "version",
            "retry_policy",
            "code_version",
        ]
    ),
    value=junk,
)
def test_op_decorator_arguments(arg: str, value: object) -> None:
    kwargs: dict[str, Any] = {arg: value}
    _only_ophost_errors(lambda: op(**kwargs)(_body))


@fast
@given(args=st.lists(junk, max_size=4))
def test_in_and_out_arguments(args: list[Any]) -> None:
    _only_ophost_errors(lambda: In(*args))
    _only_ophost_errors(lambda: Out(*args))


@fast
@given(args=st.lists(junk, max_size=4))
def test_retry_policy_arguments(args: list[Any]) -> None:
    _only_ophost_errors(lambda: RetryPolicy(*args))


@fast
@given(args=st.lists(junk, min_size=1, max_size=4))
def test_field_arguments(args: list[Any]) -> None:
    _only_ophost_errors(lambda: Field(*args))


@op(
    config_schema={"n": int, "db": {"host": str, "port": Field(int, default_value=5432)}},
    required_resource_keys={"store"},
)
def configured_op(context, x: int, y: str = "y"):  # type: ignore[no-untyped-def]
    return context.op_config["n"] + x


@fast
@given(
    inputs=st.none() | st.dictionaries(st.sampled_from(["x", "y", "z"]), junk, max_size=3),
    config=junk,
    resources=st.none() | st.dictionaries(st.sampled_from(["store", "other"]), junk, max_size=2),
)
def test_execute_in_process_requests(inputs: object, config: object, resources: object) -> None:
    _only_ophost_errors(
        lambda: execute_in_process(
            configured_op,
            inputs=inputs,  # type: ignore[arg-type]
            config=config,
            resources=resources,  # type: ignore[arg-type]
            raise_on_error=False,
        )
    )


@fast
@given(args=st.lists(junk, max_size=3), kwargs=st.dictionaries(st.text(max_size=3), junk))
def test_direct_invocation(args: list[object], kwargs: dict[str, object]) -> None:
    _only_ophost_errors(lambda: configured_op(*args, **kwargs))
    _only_ophost_errors(lambda: configured_op(build_op_context(), *args, **kwargs))


@fast
@given(
    resources=junk,
    op_config=junk,
    partition_key=junk,
)
def test_build_op_context_arguments(
    resources: object, op_config: object, partition_key: object
) -> None:
    _only_ophost_errors(
        lambda: build_op_context(
            resources=resources,  # type: ignore[arg-type]
            op_config=op_config,
            partition_key=partition_key,  # type: ignore[arg-type]
        )
    )


def test_execute_in_process_rejects_a_non_op() -> None:
    with pytest.raises(OpHostError, match="needs an OpDefinition"):
        execute_in_process(lambda: 1)  # type: ignore[arg-type]
