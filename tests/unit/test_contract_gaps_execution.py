"""Dagster's rules for running an op that no other test pinned.

What an op body may return and yield, type checks at run time, the event order,
failures, the context, and retries.
"""

from collections.abc import Callable
from typing import Any

import pytest

from ophost import (
    AssetMaterialization,
    DagsterType,
    ExpectationResult,
    Failure,
    In,
    InvariantViolationError,
    MetadataEntry,
    MetadataValue,
    Nothing,
    OpDefinition,
    Out,
    Output,
    RetryPolicy,
    RetryRequested,
    TypeCheck,
    TypeCheckFailedError,
    TypeCheckFunctionError,
    build_op_context,
    execute_in_process,
    op,
)
from ophost.execution import (
    ErrorSource,
    ExecutionResult,
    InputChecked,
    LogLevel,
    LogMessage,
    OutputProduced,
    RetryScheduled,
    StepFailed,
    StepSucceeded,
)

Call = Callable[[], object]


class Sleeper:
    """Records the waits between attempts instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def _run(op_def: OpDefinition, **kwargs: Any) -> ExecutionResult:
    kwargs.setdefault("raise_on_error", False)
    kwargs.setdefault("sleep", Sleeper())
    return execute_in_process(op_def, **kwargs)


def _kinds(result: ExecutionResult) -> list[str]:
    return [type(e.body).__name__ for e in result.events]


def _returns(value: object, **op_kwargs: Any) -> OpDefinition:
    def body():  # type: ignore[no-untyped-def]
        return value

    definition: OpDefinition = op(**op_kwargs)(body)
    return definition


def _yields(*items: object, **op_kwargs: Any) -> OpDefinition:
    def body():  # type: ignore[no-untyped-def]
        yield from items

    definition: OpDefinition = op(**op_kwargs)(body)
    return definition


TWO = {"out": {"a": Out(), "b": Out()}}


# -- coercing a returned value ----------------------------------------------------------


@pytest.mark.parametrize(
    ("op_def", "outputs", "metadata"),
    [
        pytest.param(_returns((1, 2)), {"result": (1, 2)}, {}, id="tuple-to-single-output"),
        pytest.param(_returns([1, 2]), {"result": [1, 2]}, {}, id="list-to-single-output"),
        pytest.param(_returns(3, out={"named": Out()}), {"named": 3}, {}, id="one-named-output"),
        pytest.param(
            _returns(Output(3, "named"), out={"named": Out()}),
            {"named": 3},
            {},
            id="returned-output-named",
        ),
        pytest.param(_returns(None, out={}), {}, {}, id="zero-outputs-none"),
        pytest.param(
            _returns((Output(1, metadata={"k": "v"}), Output(2, "b", metadata={"n": 2})), **TWO),
            {"a": 1, "b": 2},
            {"a": ["k"], "b": ["n"]},
            id="tuple-output-elements-keep-metadata",
        ),
        pytest.param(
            _returns((None, 0), **TWO), {"a": None, "b": 0}, {}, id="tuple-falsy-elements"
        ),
    ],
)
def test_returned_values_become_outputs(
    op_def: OpDefinition, outputs: dict[str, object], metadata: dict[str, list[str]]
) -> None:
    result = _run(op_def)
    assert result.success
    assert result.outputs == outputs
    produced = {
        o.output_name: [e.label for e in o.metadata_entries] for o in result.output_events()
    }
    assert {name: labels for name, labels in produced.items() if labels} == metadata


@pytest.mark.parametrize(
    ("op_def", "message"),
    [
        pytest.param(
            _returns(Output(1, "nope")),
            'op "body" returned an output "nope" that does not exist. The available outputs '
            "are ['result']",
            id="unknown-name",
        ),
        pytest.param(
            _returns(Output(1, "not a name!")),
            'op "body" returned an output "not a name!" that does not exist. The available '
            "outputs are ['result']",
            id="invalid-name",
        ),
        pytest.param(
            _returns(Output(1), out={"named": Out()}),
            'op "body" returned an output "result" that does not exist. The available outputs '
            "are ['named']",
            id="default-name-for-named-output",
        ),
        pytest.param(
            _returns(Output(1), out={}),
            'op "body" returned an output "result" that does not exist. The available outputs '
            "are []",
            id="zero-outputs",
        ),
        pytest.param(
            _returns((1, AssetMaterialization("k")), **TWO),
            'op "body" returned an AssetMaterialization inside its tuple of outputs; events '
            "must be yielded, not returned",
            id="event-in-tuple",
        ),
        pytest.param(
            _returns([1, 2], **TWO),
            'op "body" has 2 outputs and returned a single value of type list; return a tuple '
            "with one value per output (a, b) or yield Output objects",
            id="list-for-two-outputs",
        ),
    ],
)
def test_bad_returns_fail_the_run_as_framework_errors(op_def: OpDefinition, message: str) -> None:
    result = _run(op_def)
    failure = result.failure
    assert failure is not None
    assert failure.error_source is ErrorSource.FRAMEWORK
    assert failure.error.type_name == "ophost.errors.InvariantViolationError"
    assert failure.error.message == message
    with pytest.raises(InvariantViolationError):
        execute_in_process(op_def)


# -- the event stream ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "type_name"),
    [
        pytest.param(MetadataEntry("a", value=1), "MetadataEntry", id="metadata-entry"),
        pytest.param({"a": 1}, "dict", id="dict"),
        pytest.param(None, "NoneType", id="none"),
        pytest.param(Failure("f"), "Failure", id="failure-object"),
    ],
)
def test_other_yielded_objects_are_rejected(item: object, type_name: str) -> None:
    result = _run(_yields(Output(1), item))
    assert result.failure is not None
    assert result.failure.error.message == (
        f'op "body" yielded a value of type {type_name} rather than an instance of Output, '
        "AssetMaterialization, or ExpectationResult"
    )
    assert result.failure.error_source is ErrorSource.FRAMEWORK


def test_implicit_nothing_output_is_logged_at_info_and_type_checked() -> None:
    result = _run(_yields(Output(1, "a"), out={"a": Out(), "n": Out(Nothing)}))
    assert result.outputs == {"a": 1, "n": None}
    logs = [(e.body.level, e.body.message) for e in result.events if isinstance(e.body, LogMessage)]
    assert logs == [(LogLevel.INFO, 'Emitting implicit Nothing for output "n"')]
    (_a, nothing) = result.output_events()
    assert nothing.type_check.success


def test_optional_nothing_output_is_not_emitted() -> None:
    result = _run(_yields(out={"n": Out(Nothing, is_required=False)}))
    assert result.success
    assert result.outputs == {}


# -- type checks at run time --------------------------------------------------------------


@op(ins={"b": In(str), "after": In(Nothing)})
def ordered(a: int, b):  # type: ignore[no-untyped-def]
    return a


@pytest.mark.parametrize(
    ("inputs", "checked", "failed"),
    [
        pytest.param({"a": 1, "b": "x"}, [("b", True), ("a", True)], None, id="all-pass"),
        pytest.param({"a": "no", "b": "x"}, [("b", True), ("a", False)], "a", id="pass-then-fail"),
        pytest.param({"a": 1, "b": 2}, [("b", False)], "b", id="first-fails-stops"),
    ],
)
def test_inputs_are_checked_in_input_order_with_an_event_each(
    inputs: dict[str, object], checked: list[tuple[str, bool]], failed: str | None
) -> None:
    # Input order: explicit ins alphabetically (Nothing skipped), then inferred ones.
    assert [d.name for d in ordered.input_defs] == ["after", "b", "a"]
    result = _run(ordered, inputs=inputs)
    events = [e.body for e in result.events if isinstance(e.body, InputChecked)]
    assert [(e.input_name, e.type_check.success) for e in events] == checked
    if failed is None:
        assert result.success
    else:
        assert result.failure is not None
        assert result.failure.error_source is ErrorSource.FRAMEWORK
        assert f'step input "{failed}"' in result.failure.error.message
        assert _kinds(result)[-3:] == ["InputChecked", "StepFailed", "ExecutionFinished"]


def _even_check(_context: object, value: object) -> TypeCheck:
    return TypeCheck(
        isinstance(value, int) and value % 2 == 0,
        description=f"{value!r} is odd",
        metadata={"value": str(value)},
    )


EVEN = DagsterType(_even_check, name="Even")


@pytest.mark.parametrize(
    ("op_def", "inputs", "role"),
    [
        pytest.param(
            op(name="checks_input", ins={"a": In(EVEN)})(lambda a: a),
            {"a": 3},
            "input",
            id="input",
        ),
        pytest.param(_returns(3, out=Out(EVEN)), {}, "output", id="output"),
    ],
)
def test_type_check_failure_carries_description_metadata_and_type(
    op_def: OpDefinition, inputs: dict[str, object], role: str
) -> None:
    with pytest.raises(TypeCheckFailedError) as info:
        execute_in_process(op_def, inputs=inputs)
    error = info.value
    name = "a" if role == "input" else "result"
    assert str(error) == (
        f'Type check failed for step {role} "{name}" - expected type "Even". Description: 3 is odd'
    )
    assert error.description == "3 is odd"
    assert all(isinstance(e, MetadataEntry) for e in error.metadata_entries)
    assert [(e.label, e.value) for e in error.metadata_entries] == [
        ("value", MetadataValue.text("3"))
    ]
    assert error.dagster_type is EVEN


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        pytest.param(None, True, id="none"),
        pytest.param(5, False, id="int"),
        pytest.param("", False, id="empty-str"),
    ],
)
def test_nothing_outputs_accept_only_none(value: object, ok: bool) -> None:
    result = _run(_returns(value, out=Out(Nothing)))
    (produced,) = result.output_events()
    assert produced.type_check.success is ok
    if ok:
        assert result.success
    else:
        assert produced.type_check.description == f"Value must be None, got a {type(value)}"
        assert result.failure is not None
        assert 'step output "result" - expected type "Nothing"' in result.failure.error.message


def _garbage_check(_context: object, _value: object) -> Any:
    return "yes"


def _failure_check(_context: object, _value: object) -> bool:
    raise Failure("checked out", metadata={"why": "bad"})


@pytest.mark.parametrize(
    ("check", "error", "type_name", "source", "message"),
    [
        pytest.param(
            _garbage_check,
            InvariantViolationError,
            "ophost.errors.InvariantViolationError",
            ErrorSource.FRAMEWORK,
            'type check function of type "Checked" returned a value of type str; it must '
            "return a bool or a TypeCheck",
            id="returns-garbage",
        ),
        pytest.param(
            _failure_check,
            TypeCheckFunctionError,
            "ophost.Failure",
            ErrorSource.USER_CODE,
            'The type check function of type "Checked" raised Failure while checking input '
            '"a": checked out',
            id="raises-failure",
        ),
    ],
)
def test_type_check_functions_that_misbehave(
    check: Callable[[object, object], Any],
    error: type[Exception],
    type_name: str,
    source: ErrorSource,
    message: str,
) -> None:
    checked = DagsterType(check, name="Checked")

    @op(ins={"a": In(checked)}, retry_policy=RetryPolicy(max_retries=2))
    def f(a):  # type: ignore[no-untyped-def]
        return a

    result = _run(f, inputs={"a": 1})
    failure = result.failure
    assert failure is not None
    assert (failure.error.type_name, failure.error_source) == (type_name, source)
    assert failure.error.message == message
    assert failure.user_failure is None
    assert "RetryScheduled" not in _kinds(result)
    with pytest.raises(error) as info:
        execute_in_process(f, inputs={"a": 1})
    if isinstance(info.value, TypeCheckFunctionError):
        assert isinstance(info.value.user_exception, Failure)
        assert info.value.user_exception.description == "checked out"
    with pytest.raises(error):
        f(1)


# -- event order ---------------------------------------------------------------------------


def test_step_duration_is_measured_with_the_clock() -> None:
    now = [100.0]

    @op
    def slow() -> int:
        now[0] += 2.5
        return 1

    result = _run(slow, clock=lambda: now[0])
    (succeeded,) = [e.body for e in result.events if isinstance(e.body, StepSucceeded)]
    assert succeeded.duration_seconds == 2.5


def test_events_logged_after_the_last_yield_are_flushed_before_success() -> None:
    @op
    def late(context):  # type: ignore[no-untyped-def]
        yield Output(1)
        context.log_event(ExpectationResult(True, "after"))
        context.log.info("done")

    assert _kinds(_run(late)) == [
        "ExecutionStarted",
        "StepStarted",
        "OutputProduced",
        "ExpectationResult",
        "LogMessage",
        "StepSucceeded",
        "ExecutionFinished",
    ]


def test_yielded_and_logged_events_keep_their_order() -> None:
    @op(out={"a": Out(), "b": Out()})
    def mixed(context):  # type: ignore[no-untyped-def]
        yield AssetMaterialization("first")
        context.log_event(AssetMaterialization("logged"))
        yield Output(1, "a")
        yield ExpectationResult(False, "third")
        yield Output(2, "b")

    result = _run(mixed)
    bodies = [
        e.body.label if isinstance(e.body, (AssetMaterialization, ExpectationResult)) else None
        for e in result.events
        if isinstance(e.body, (AssetMaterialization, ExpectationResult, OutputProduced))
    ]
    assert bodies == ["first", "logged", None, "third", None]
    assert result.success


# -- the context --------------------------------------------------------------------------


@op
def introspect(context):  # type: ignore[no-untyped-def]
    return (context.run_config, context.describe_op(), context.get_mapping_key())


@pytest.mark.parametrize(
    ("call", "config"),
    [
        pytest.param(lambda: _run(introspect, config={"x": 1}).output_value(), {"x": 1}, id="run"),
        pytest.param(lambda: _run(introspect).output_value(), None, id="run-no-config"),
    ],
)
def test_run_config_describe_op_and_mapping_key(call: Call, config: object) -> None:
    assert call() == ({"ops": {"introspect": {"config": config}}}, 'op "introspect"', None)


def test_direct_call_run_config_is_shaped_as_in_dagster_0_14() -> None:
    # A direct call has no run: the 0.14 invocation context reports the op's config under
    # "solids" (only when it is truthy) and the resource config (test_dagster_parity_api).
    assert introspect(build_op_context(op_config=[2])) == (
        {"solids": {"introspect": {"config": [2]}}, "resources": {}},
        'op "introspect"',
        None,
    )


def test_build_op_context_positional_order() -> None:
    # build_op_context(resources, op_config, resources_config, instance, config, ...)
    context = build_op_context({"db": "conn"}, {"a": 1})
    assert (context.resources.db, context.op_config) == ("conn", {"a": 1})


# -- retries ------------------------------------------------------------------------------

_POLICY = RetryPolicy(max_retries=3)


@pytest.mark.parametrize(
    ("op_def", "type_name"),
    [
        pytest.param(
            _yields(5, retry_policy=_POLICY),
            "ophost.errors.InvariantViolationError",
            id="raw-yield",
        ),
        pytest.param(
            _yields(retry_policy=_POLICY), "ophost.errors.OutputNotFoundError", id="missing-output"
        ),
        pytest.param(
            _returns(Output(1, "x"), retry_policy=_POLICY),
            "ophost.errors.InvariantViolationError",
            id="unknown-output",
        ),
        pytest.param(
            _returns(ExpectationResult(True), retry_policy=_POLICY),
            "ophost.errors.InvariantViolationError",
            id="returned-event",
        ),
        pytest.param(
            _returns("s", out=Out(int), retry_policy=_POLICY),
            "ophost.errors.TypeCheckFailedError",
            id="output-type-check",
        ),
    ],
)
def test_framework_errors_are_never_retried(op_def: OpDefinition, type_name: str) -> None:
    result = _run(op_def)
    assert "RetryScheduled" not in _kinds(result)
    assert "StepRestarted" not in _kinds(result)
    failure = result.failure
    assert failure is not None
    assert (failure.error.type_name, failure.error_source) == (type_name, ErrorSource.FRAMEWORK)
    assert failure.will_retry is False


@pytest.mark.parametrize(
    ("request_", "waits", "attempts"),
    [
        pytest.param(RetryRequested(max_retries=0), [], 1, id="zero-retries"),
        pytest.param(RetryRequested(), [0.0], 2, id="defaults-one-retry-no-wait"),
        pytest.param(RetryRequested(max_retries=2, seconds_to_wait=3), [3.0, 3.0], 3, id="two"),
    ],
)
def test_retry_requested_by_the_op(
    request_: RetryRequested, waits: list[float], attempts: int
) -> None:
    seen: list[int] = []

    @op
    def asks(context):  # type: ignore[no-untyped-def]
        seen.append(context.retry_number)
        raise request_

    sleeper = Sleeper()
    result = _run(asks, sleep=sleeper)
    assert sleeper.waits == waits
    assert seen == list(range(attempts))
    scheduled = [e.body for e in result.events if isinstance(e.body, RetryScheduled)]
    assert [s.delay_seconds for s in scheduled] == waits
    failure = result.failure
    assert failure is not None
    assert failure.error.message == f"Exceeded max_retries of {request_.max_retries}"
    failed = [e.body for e in result.events if isinstance(e.body, StepFailed)]
    assert [f.will_retry for f in failed] == [True] * (attempts - 1) + [False]


def test_policy_retries_any_exception_then_succeeds() -> None:
    @op(retry_policy=RetryPolicy(max_retries=2, delay=1.5))
    def flaky(context):  # type: ignore[no-untyped-def]
        if context.retry_number == 0:
            raise Failure("first", metadata={"n": 1})
        if context.retry_number == 1:
            raise KeyError("second")
        return context.retry_number

    sleeper = Sleeper()
    result = _run(flaky, sleep=sleeper)
    assert result.output_value() == 2
    assert sleeper.waits == [1.5, 1.5]
    failed = [e.body for e in result.events if isinstance(e.body, StepFailed)]
    assert [(f.error.type_name, f.will_retry) for f in failed] == [
        ("ophost.Failure", True),
        ("builtins.KeyError", True),
    ]
