"""The in-process engine: event order, coercion, type checks, failures, retries."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator

import pytest

from ophost import (
    AssetMaterialization,
    AssetObservation,
    DagsterType,
    ExpectationResult,
    Failure,
    Field,
    In,
    InvalidConfigError,
    InvalidInvocationError,
    InvariantViolationError,
    MetadataValue,
    Nothing,
    OpDefinition,
    Out,
    Output,
    OutputNotFoundError,
    RetryPolicy,
    RetryRequested,
    TypeCheck,
    TypeCheckFailedError,
    TypeCheckFunctionError,
    execute_in_process,
    op,
)
from ophost.definitions._execution_events import (
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    InputChecked,
    LogLevel,
    LogMessage,
    OutputProduced,
    RetryScheduled,
    StepFailed,
    StepRestarted,
    StepStarted,
    StepSucceeded,
)
from ophost.execution import ErrorSource, ExecutionResult


class Sleeper:
    """A fake sleep that records the waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def kinds(result: ExecutionResult) -> list[str]:
    return [type(e.body).__name__ for e in result.events]


def run(op_def: OpDefinition, **kwargs: object) -> ExecutionResult:
    kwargs.setdefault("raise_on_error", False)
    kwargs.setdefault("sleep", Sleeper())
    return execute_in_process(op_def, **kwargs)  # type: ignore[arg-type]


# -- event order ------------------------------------------------------------------------


def test_successful_step_event_order() -> None:
    @op
    def add(context, a: int, b: int) -> int:  # type: ignore[no-untyped-def]
        context.log.info("adding %s and %s", a, b)
        return a + b

    result = run(add, inputs={"a": 1, "b": 2})
    assert result.success
    assert result.outputs == {"result": 3}
    assert kinds(result) == [
        "ExecutionStarted",
        "StepStarted",
        "InputChecked",
        "InputChecked",
        "LogMessage",
        "OutputProduced",
        "StepSucceeded",
        "ExecutionFinished",
    ]
    assert [e.sequence for e in result.events] == list(range(1, 9))
    log = result.events[4].body
    assert isinstance(log, LogMessage)
    assert (log.level, log.message) == (LogLevel.INFO, "adding 1 and 2")
    assert all(e.op_name == "add" and e.execution_id == result.run_id for e in result.events)


def test_generator_yields_in_order_with_logged_events_flushed() -> None:
    @op(out={"a": Out(), "b": Out()})
    def gen(context):  # type: ignore[no-untyped-def]
        context.log_event(ExpectationResult(True, "early"))
        yield Output(1, "a")
        context.log.debug("between")
        yield AssetMaterialization("tbl", metadata={"rows": 3})
        context.log_event(AssetMaterialization(["logged"]))
        yield AssetObservation("src", metadata={"rows": 5}, partition="p")
        context.log_event(AssetObservation(["seen"]))
        yield Output(2, "b")

    result = run(gen)
    bodies = [e.body for e in result.events]
    names = kinds(result)
    assert names == [
        "ExecutionStarted",
        "StepStarted",
        "ExpectationResult",
        "OutputProduced",
        "LogMessage",
        "AssetMaterialization",
        "AssetMaterialization",
        "AssetObservation",
        "AssetObservation",
        "OutputProduced",
        "StepSucceeded",
        "ExecutionFinished",
    ]
    assert bodies[5] == AssetMaterialization("tbl", metadata={"rows": 3})
    assert bodies[6] == AssetMaterialization(["logged"])
    assert bodies[7] == AssetObservation("src", metadata={"rows": 5}, partition="p")
    assert bodies[8] == AssetObservation(["seen"])
    assert result.outputs == {"a": 1, "b": 2}


def test_async_op_and_async_generator() -> None:
    @op
    async def coro(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    assert run(coro, inputs={"x": 4}).outputs == {"result": 8}


def test_async_generator_op() -> None:
    @op
    async def agen(x):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0)
        yield ExpectationResult(success=x > 0)
        yield Output(x + 1)

    result = run(agen, inputs={"x": 1})
    assert result.success
    assert result.outputs == {"result": 2}
    assert "ExpectationResult" in kinds(result)


def test_default_inputs_used_and_type_checked() -> None:
    @op
    def f(a: int = 5) -> int:
        return a

    result = run(f)
    assert result.outputs == {"result": 5}
    checked = [e.body for e in result.events if isinstance(e.body, InputChecked)]
    assert checked[0].input_name == "a"
    assert checked[0].type_check.success


def test_failed_expectation_does_not_fail_step() -> None:
    @op
    def f():  # type: ignore[no-untyped-def]
        yield ExpectationResult(success=False, label="nope")
        yield Output(1)

    assert run(f).success


# -- returned values --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (AssetMaterialization("a"), "must be yielded"),
        (AssetObservation("a"), "must be yielded"),
        (ExpectationResult(True), "must be yielded"),
    ],
    ids=["materialization", "observation", "expectation"],
)
def test_returning_events_fails(returned: object, message: str) -> None:
    @op
    def f():  # type: ignore[no-untyped-def]
        return returned

    result = run(f)
    assert not result.success
    failure = result.failure
    assert failure is not None
    assert failure.error_source is ErrorSource.FRAMEWORK
    assert message in failure.error.message


def test_returned_output_passes_through() -> None:
    @op
    def f():  # type: ignore[no-untyped-def]
        return Output(3, metadata={"k": 1})

    result = run(f)
    (out,) = result.output_events()
    assert (out.value, out.metadata_entries[0].label) == (3, "k")


def test_returned_none_for_single_output() -> None:
    @op
    def f():  # type: ignore[no-untyped-def]
        return None

    assert run(f).outputs == {"result": None}


def test_optional_output_none_logs_warning() -> None:
    @op(out=Out(is_required=False))
    def f():  # type: ignore[no-untyped-def]
        return None

    result = run(f)
    warnings = [
        e.body
        for e in result.events
        if isinstance(e.body, LogMessage) and e.body.level is LogLevel.WARNING
    ]
    assert len(warnings) == 1
    assert result.outputs == {"result": None}


def test_returned_generator_is_iterated() -> None:
    def inner() -> Iterator[Output[int]]:
        yield Output(9)

    @op
    def f():  # type: ignore[no-untyped-def]
        return inner()

    assert run(f).outputs == {"result": 9}


@pytest.mark.parametrize(
    ("returned", "outputs"),
    [
        ((1, 2), {"a": 1, "b": 2}),
        ((Output(1), 2), {"a": 1, "b": 2}),
        ((Output(1, "a"), Output(2, "b")), {"a": 1, "b": 2}),
    ],
    ids=["plain", "default-named-output", "exact-names"],
)
def test_tuple_returns(returned: tuple[object, ...], outputs: dict[str, object]) -> None:
    @op(out={"a": Out(), "b": Out()})
    def f():  # type: ignore[no-untyped-def]
        return returned

    assert run(f).outputs == outputs


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        # A return value that does not fit the outputs is a clear InvariantViolationError.
        ((1, 2, 3), "tuple of 3 element"),
        ((Output(1, "b"), 2), 'explicitly named "b"'),
        (5, "single value"),
    ],
    ids=["length", "misnamed", "not-a-tuple"],
)
def test_bad_multi_output_returns(returned: object, message: str) -> None:
    @op(out={"a": Out(), "b": Out()})
    def f():  # type: ignore[no-untyped-def]
        return returned

    result = run(f)
    assert result.failure is not None
    assert message in result.failure.error.message
    assert result.failure.error.type_name == "ophost.errors.InvariantViolationError"


def test_none_with_multiple_outputs_reports_missing_output() -> None:
    @op(out={"a": Out(), "b": Out()})
    def f():  # type: ignore[no-untyped-def]
        return None

    result = run(f)
    assert result.failure is not None
    assert result.failure.error.type_name == "ophost.errors.OutputNotFoundError"
    assert 'non-optional output "a"' in result.failure.error.message


def test_zero_outputs_value_rejected() -> None:
    @op(out={})
    def f():  # type: ignore[no-untyped-def]
        return 1

    result = run(f)
    assert result.failure is not None
    assert "return no results" in result.failure.error.message


def test_add_output_metadata_not_duplicated_on_tuple_return() -> None:
    # Dagster 0.14.20 appends the metadata twice for tuple returns; ophost once.
    @op(out={"a": Out(), "b": Out()})
    def f(context):  # type: ignore[no-untyped-def]
        context.add_output_metadata({"rows": 1}, output_name="a")
        return 1, 2

    (a, _b) = run(f).output_events()
    assert [e.label for e in a.metadata_entries] == ["rows"]


# -- yielded values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([5], "yielded a value of type int"),
        ([TypeCheck(True)], "yielded a value of type TypeCheck"),
        ([Output(1, "nope")], 'output "nope" that does not exist'),
        ([Output(1), Output(2)], "multiple times"),
        ([], 'non-optional output "result"'),
    ],
    ids=["raw-value", "typecheck", "unknown-output", "duplicate", "missing"],
)
def test_invalid_streams(items: list[object], message: str) -> None:
    @op
    def f():  # type: ignore[no-untyped-def]
        yield from items

    result = run(f)
    assert result.failure is not None
    assert message in result.failure.error.message
    assert result.failure.error_source is ErrorSource.FRAMEWORK


def test_optional_output_may_be_skipped() -> None:
    @op(out={"a": Out(), "b": Out(is_required=False)})
    def f():  # type: ignore[no-untyped-def]
        yield Output(1, "a")

    assert run(f).outputs == {"a": 1}


def test_nothing_output_emitted_implicitly() -> None:
    @op(out=Out(Nothing))
    def f():  # type: ignore[no-untyped-def]
        yield from []

    result = run(f)
    assert result.outputs == {"result": None}
    logs = [e.body.message for e in result.events if isinstance(e.body, LogMessage)]
    assert any("implicit Nothing" in m for m in logs)


def test_add_output_metadata_attached() -> None:
    @op
    def f(context):  # type: ignore[no-untyped-def]
        context.add_output_metadata({"n": 2})
        yield Output(1, metadata={"m": "x"})

    (out,) = run(f).output_events()
    assert [e.label for e in out.metadata_entries] == ["m", "n"]


# -- type checks ------------------------------------------------------------------------


def test_input_type_check_failure_event_then_error() -> None:
    @op
    def f(a: int) -> int:
        return a

    result = run(f, inputs={"a": "x"})
    assert kinds(result) == [
        "ExecutionStarted",
        "StepStarted",
        "InputChecked",
        "StepFailed",
        "ExecutionFinished",
    ]
    checked = result.events[2].body
    assert isinstance(checked, InputChecked)
    assert not checked.type_check.success
    assert checked.type_check.description == 'Value "x" of python type "str" must be a int.'
    assert result.failure is not None
    assert 'Type check failed for step input "a" - expected type "Int"' in (
        result.failure.error.message
    )


@pytest.mark.parametrize(
    ("annotation", "value", "ok"),
    [
        (int, True, True),
        (float, 1, False),
        (int, 1.0, False),
        (str, "s", True),
        (bool, 1, False),
        (list, [1], True),
        (list[int], [1, "x"], False),
        (dict[str, int], {"a": 1}, True),
        (dict[str, int], {"a": "b"}, False),
        (set, {1}, True),
        (tuple[int, str], (1, "a"), True),
        (tuple[int, str], (1, 2), False),
        (int | None, None, True),
        (int | None, "x", False),
    ],
    ids=lambda v: repr(v)[:20],
)
def test_builtin_type_checks(annotation: object, value: object, ok: bool) -> None:
    def f(a):  # type: ignore[no-untyped-def]
        return a

    f.__annotations__ = {"a": annotation}
    result = run(op(f), inputs={"a": value})
    assert result.success is ok


def test_output_type_check_failure() -> None:
    @op
    def f() -> int:
        return "nope"  # type: ignore[return-value]

    result = run(f)
    out = next(e.body for e in result.events if isinstance(e.body, OutputProduced))
    assert not out.type_check.success
    assert result.failure is not None
    assert 'step output "result"' in result.failure.error.message


def test_custom_type_with_type_check_result() -> None:
    even = DagsterType(
        lambda _ctx, v: TypeCheck(v % 2 == 0, description=f"{v} parity", metadata={"v": v}),
        name="Even",
    )

    @op(ins={"a": In(even)})
    def f(a):  # type: ignore[no-untyped-def]
        return a

    result = run(f, inputs={"a": 3})
    checked = next(e.body for e in result.events if isinstance(e.body, InputChecked))
    assert checked.type_check.description == "3 parity"
    assert checked.type_check.metadata_entries[0].value == MetadataValue.int(3)


def test_type_check_returning_garbage() -> None:
    weird = DagsterType(lambda _c, _v: "yes", name="Weird")  # type: ignore[arg-type,return-value]

    @op(ins={"a": In(weird)})
    def f(a):  # type: ignore[no-untyped-def]
        return a

    result = run(f, inputs={"a": 1})
    assert result.failure is not None
    assert "must return a bool or a TypeCheck" in result.failure.error.message


def test_exception_in_type_check_is_type_check_function_error() -> None:
    def boom(_ctx: object, _v: object) -> bool:
        raise ZeroDivisionError("inside check")

    bad = DagsterType(boom, name="Bad")

    @op(ins={"a": In(bad)}, retry_policy=RetryPolicy(max_retries=3))
    def f(a):  # type: ignore[no-untyped-def]
        return a

    result = run(f, inputs={"a": 1})
    assert result.failure is not None
    assert result.failure.error.type_name == "builtins.ZeroDivisionError"
    # Type-check problems are framework errors: never retried.
    assert not any(isinstance(e.body, RetryScheduled) for e in result.events)
    with pytest.raises(TypeCheckFunctionError):
        execute_in_process(f, inputs={"a": 1})


def test_type_check_failure_not_retried() -> None:
    @op(retry_policy=RetryPolicy(max_retries=2))
    def f(a: int) -> int:
        return a

    result = run(f, inputs={"a": "x"})
    assert not any(isinstance(e.body, RetryScheduled) for e in result.events)
    with pytest.raises(TypeCheckFailedError):
        execute_in_process(f, inputs={"a": "x"})


# -- failures ---------------------------------------------------------------------------


def test_failure_without_policy_records_user_failure() -> None:
    @op
    def f():  # type: ignore[no-untyped-def]
        raise Failure(description="bad data", metadata={"rows": 0})

    result = run(f)
    failure = result.failure
    assert failure is not None
    assert failure.user_failure is not None
    assert failure.user_failure.description == "bad data"
    assert [e.label for e in failure.user_failure.metadata_entries] == ["rows"]
    assert failure.error.type_name == "ophost.Failure"
    final = result.events[-1].body
    assert isinstance(final, ExecutionFinished)
    assert final.status is ExecutionStatus.FAILED
    with pytest.raises(Failure, match="bad data"):
        execute_in_process(f)


def test_user_exception_with_cause_chain() -> None:
    @op
    def f():  # type: ignore[no-untyped-def]
        try:
            {"present": 1}["missing"]
        except KeyError as exc:
            raise ValueError("wrapped") from exc

    result = run(f)
    failure = result.failure
    assert failure is not None
    assert failure.error_source is ErrorSource.USER_CODE
    assert (failure.error.type_name, failure.error.message) == ("builtins.ValueError", "wrapped")
    assert failure.error.cause is not None
    assert failure.error.cause.type_name == "builtins.KeyError"
    assert any("raise ValueError" in frame for frame in failure.error.stack)
    with pytest.raises(ValueError, match="wrapped"):
        execute_in_process(f)


def test_implicit_context_is_recorded() -> None:
    @op
    def f():  # type: ignore[no-untyped-def]
        try:
            raise KeyError("first")
        except KeyError:
            raise RuntimeError("second")  # noqa: B904

    failure = run(f).failure
    assert failure is not None
    assert failure.error.cause is None
    assert failure.error.context is not None
    assert failure.error.context.type_name == "builtins.KeyError"


# -- retries ----------------------------------------------------------------------------


def test_retry_policy_retries_with_backoff_delays() -> None:
    from ophost import Backoff

    attempts: list[int] = []

    @op(retry_policy=RetryPolicy(max_retries=3, delay=2, backoff=Backoff.EXPONENTIAL))
    def flaky(context):  # type: ignore[no-untyped-def]
        attempts.append(context.retry_number)
        if context.retry_number < 2:
            raise ConnectionError("try again")
        return "ok"

    sleeper = Sleeper()
    result = run(flaky, sleep=sleeper)
    assert result.success
    assert attempts == [0, 1, 2]
    assert sleeper.waits == [2, 6]
    assert kinds(result)[2:5] == ["StepFailed", "RetryScheduled", "StepRestarted"]
    scheduled = [e.body for e in result.events if isinstance(e.body, RetryScheduled)]
    assert [(s.failed_attempt, s.next_attempt, s.delay_seconds) for s in scheduled] == [
        (0, 1, 2.0),
        (1, 2, 6.0),
    ]
    assert scheduled[0].error.type_name == "builtins.ConnectionError"
    restarted = [e.attempt for e in result.events if isinstance(e.body, StepRestarted)]
    assert restarted == [1, 2]
    assert [e.attempt for e in result.events if isinstance(e.body, StepSucceeded)] == [2]


def test_max_retries_exceeded() -> None:
    @op(retry_policy=RetryPolicy(max_retries=2))
    def always(context):  # type: ignore[no-untyped-def]
        raise Failure("nope", metadata={"a": 1})

    result = run(always)
    assert kinds(result).count("RetryScheduled") == 2
    retried = [e.body for e in result.events if isinstance(e.body, StepFailed)][:-1]
    assert [f.will_retry for f in retried] == [True, True]
    # While retries remain, the failure still carries the Failure's data.
    assert retried[0].user_failure is not None
    assert retried[0].user_failure.description == "nope"
    failure = result.failure
    assert failure is not None
    assert failure.error.message == "Exceeded max_retries of 2"
    # The Failure's metadata is not carried once retries are exhausted.
    assert failure.user_failure is None
    assert failure.error.cause is not None
    assert failure.error.cause.message == "nope"


def test_max_retries_zero_fails_first_time() -> None:
    @op(retry_policy=RetryPolicy(max_retries=0))
    def f():  # type: ignore[no-untyped-def]
        raise ValueError("x")

    result = run(f)
    assert "RetryScheduled" not in kinds(result)
    assert result.failure is not None
    assert result.failure.error.message == "Exceeded max_retries of 0"


def test_failure_allow_retries_false_bypasses_policy() -> None:
    @op(retry_policy=RetryPolicy(max_retries=3))
    def f():  # type: ignore[no-untyped-def]
        raise Failure("fatal", metadata={"why": "bad"}, allow_retries=False)

    result = run(f)
    assert "RetryScheduled" not in kinds(result)
    assert result.failure is not None
    assert result.failure.user_failure is not None
    assert result.failure.user_failure.description == "fatal"


def test_retry_requested_bypasses_policy() -> None:
    @op(retry_policy=RetryPolicy(max_retries=10, delay=100))
    def f(context):  # type: ignore[no-untyped-def]
        raise RetryRequested(max_retries=1, seconds_to_wait=0.5)

    sleeper = Sleeper()
    result = run(f, sleep=sleeper)
    assert sleeper.waits == [0.5]
    assert result.failure is not None
    assert result.failure.error.message == "Exceeded max_retries of 1"
    assert result.failure.will_retry is False


def test_retry_requested_without_policy() -> None:
    calls: list[int] = []

    @op
    def f(context):  # type: ignore[no-untyped-def]
        calls.append(context.retry_number)
        if context.retry_number == 0:
            raise RetryRequested(max_retries=2) from ValueError("transient")
        return 1

    result = run(f)
    assert result.success
    assert calls == [0, 1]


def test_jittered_retry_delay_is_reproducible() -> None:
    from ophost import Jitter

    @op(retry_policy=RetryPolicy(max_retries=1, delay=1, jitter=Jitter.PLUS_MINUS))
    def f():  # type: ignore[no-untyped-def]
        raise ValueError("x")

    random.seed(3)
    first = Sleeper()
    run(f, sleep=first)
    random.seed(3)
    second = Sleeper()
    run(f, sleep=second)
    assert first.waits == second.waits
    assert len(first.waits) == 1


def test_outputs_reset_between_attempts() -> None:
    @op(out={"a": Out(), "b": Out()}, retry_policy=RetryPolicy(max_retries=1))
    def f(context):  # type: ignore[no-untyped-def]
        yield Output(context.retry_number, "a")
        if context.retry_number == 0:
            raise ValueError("first attempt fails after output a")
        yield Output(9, "b")

    result = run(f)
    assert result.success
    assert result.outputs == {"a": 1, "b": 9}


# -- request validation -----------------------------------------------------------------


def test_bad_inputs_are_listed_with_paths() -> None:
    @op(ins={"n": In(Nothing)})
    def f(a: int, b: int) -> int:
        return a

    with pytest.raises(InvalidInvocationError) as info:
        execute_in_process(f, inputs={"a": 1, "c": 2, "n": 5})
    text = str(info.value)
    assert "inputs.c:" in text
    assert "inputs.b: no value provided" in text
    assert "inputs.n: is a Nothing input" in text


def test_bad_config_raises_before_running() -> None:
    ran: list[int] = []

    @op(config_schema={"port": int, "host": Field(str, default_value="localhost")})
    def f(context):  # type: ignore[no-untyped-def]
        ran.append(1)
        return context.op_config

    with pytest.raises(InvalidConfigError, match=r"config\.port"):
        execute_in_process(f, config={"port": "x"})
    assert ran == []
    assert execute_in_process(f, config={"port": 1}).outputs == {
        "result": {"port": 1, "host": "localhost"}
    }


def test_missing_resource_raises() -> None:
    @op(required_resource_keys={"db"})
    def f(context):  # type: ignore[no-untyped-def]
        return context.resources.db

    with pytest.raises(InvalidInvocationError, match="db"):
        execute_in_process(f)
    assert execute_in_process(f, resources={"db": "conn", "other": 1}).outputs == {"result": "conn"}


def test_hand_built_definition_executes() -> None:
    def compute(context, inputs):  # type: ignore[no-untyped-def]
        context.log.info("core")
        yield Output(inputs["a"] * 2)

    definition = OpDefinition(compute, "double", ins={"a": In(int)}, outs={"result": Out(int)})
    assert execute_in_process(definition, inputs={"a": 4}).outputs == {"result": 8}


def test_hand_built_definition_may_return_an_async_iterable() -> None:
    def compute(context, inputs):  # type: ignore[no-untyped-def]
        async def items() -> AsyncIterator[Output[int]]:
            context.log.info("on the loop")
            await asyncio.sleep(0)
            yield Output(inputs["a"] * 3)

        return items()

    definition = OpDefinition(compute, "triple", ins={"a": In(int)}, outs={"result": Out(int)})
    result = execute_in_process(definition, inputs={"a": 4})
    assert result.outputs == {"result": 12}
    logs = [e.body.message for e in result.events if isinstance(e.body, LogMessage)]
    assert logs == ["on the loop"]
    assert [e.sequence for e in result.events] == list(range(1, len(result.events) + 1))


def test_event_envelope_timestamps_from_clock() -> None:
    ticks = iter(range(100, 200))

    @op
    def f() -> int:
        return 1

    result = run(f, clock=lambda: float(next(ticks)))
    stamps = [e.timestamp for e in result.events]
    assert stamps == sorted(stamps)
    assert stamps[0] >= 100
    started = result.events[0].body
    assert isinstance(started, ExecutionStarted)
    assert isinstance(result.events[1].body, StepStarted)
    assert isinstance(result.events[-2].body, StepSucceeded)


def test_execute_in_process_inside_running_loop() -> None:
    @op
    def f() -> int:
        return 1

    async def main() -> ExecutionResult:
        return execute_in_process(f)

    assert asyncio.run(main()).outputs == {"result": 1}


def test_invariant_violation_raised_with_raise_on_error() -> None:
    @op
    def f():  # type: ignore[no-untyped-def]
        yield 5

    with pytest.raises(InvariantViolationError):
        execute_in_process(f)


def test_output_not_found_raised() -> None:
    @op
    def f():  # type: ignore[no-untyped-def]
        yield from []

    with pytest.raises(OutputNotFoundError):
        execute_in_process(f)


def test_step_failure_event_kinds() -> None:
    @op
    def f():  # type: ignore[no-untyped-def]
        raise ValueError("x")

    result = run(f)
    assert isinstance(result.events[-2].body, StepFailed)


def test_plain_raise_has_no_spurious_context() -> None:
    @op
    def f():  # type: ignore[no-untyped-def]
        raise ValueError("alone")

    failure = run(f).failure
    assert failure is not None
    assert failure.error.cause is None
    assert failure.error.context is None


@pytest.mark.parametrize(
    "tags",
    [5, {"a": 1}, {1: "a"}],
    ids=["not-a-dict", "int-value", "int-key"],
)
def test_execution_tags_must_be_strings(tags: object) -> None:
    from ophost import InvalidArgumentError

    @op
    def f() -> int:
        return 1

    with pytest.raises(InvalidArgumentError, match="tags"):
        execute_in_process(f, tags=tags)  # type: ignore[arg-type]


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit], ids=["keyboard", "exit"])
def test_interrupts_propagate_and_are_not_retried(interrupt: type[BaseException]) -> None:
    attempts: list[int] = []

    @op(retry_policy=RetryPolicy(max_retries=3))
    def f(context):  # type: ignore[no-untyped-def]
        attempts.append(context.retry_number)
        raise interrupt()

    with pytest.raises(interrupt):
        execute_in_process(f, raise_on_error=False, sleep=Sleeper())
    assert attempts == [0]
