"""Direct invocation, ``my_op(...)`` outside a run, and how its arguments bind to inputs."""

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable

import pytest

from ophost import (
    AssetMaterialization,
    AssetObservation,
    ExpectationResult,
    Field,
    In,
    InvalidConfigError,
    InvalidInvocationError,
    InvariantViolationError,
    Nothing,
    OpDefinition,
    OpExecutionContext,
    Out,
    Output,
    OutputNotFoundError,
    TypeCheckFailedError,
    build_op_context,
    execute_in_process,
    op,
)
from ophost.errors import ConfigErrorDetail, OpHostError

Call = Callable[[], object]


def _raises(exc_type: type[BaseException], message: str, call: Call) -> BaseException:
    with pytest.raises(exc_type) as info:
        call()
    assert str(info.value) == message
    return info.value


# -- ops used by the tables --------------------------------------------------------------


@op
def with_context(context, a: int):  # type: ignore[no-untyped-def]
    return (context.op_config, a)


@op
def underscore(_, a):  # type: ignore[no-untyped-def]
    return (type(_).__name__, a)


@op
def leading_underscore(_context, a):  # type: ignore[no-untyped-def]
    return (type(_context).__name__, a)


@op
def trailing_underscore(context_, a):  # type: ignore[no-untyped-def]
    return (type(context_).__name__, a)


@op
def no_context(a):  # type: ignore[no-untyped-def]
    return a


@op
def adder(a: int, b: int = 2) -> int:
    return a + b


@op(ins={"b": In(str)})
def reordered(a, b):  # type: ignore[no-untyped-def]
    return (a, b)


@op
def keyword_only(a, *, b: int):  # type: ignore[no-untyped-def]
    return (a, b)


@op
def positional_only(a, /, b):  # type: ignore[no-untyped-def]
    return (a, b)


@op
def with_kwargs(a, b=2, **kwargs):  # type: ignore[no-untyped-def]
    return (a, b, kwargs)


@op
def only_kwargs(**kwargs):  # type: ignore[no-untyped-def]
    return kwargs


@op(ins={"a": In(int), "b": In(int)})
def ins_through_kwargs(**kwargs):  # type: ignore[no-untyped-def]
    return dict(kwargs)


@op(ins={"after": In(Nothing)})
def with_nothing(a):  # type: ignore[no-untyped-def]
    return a


@op(ins={"x": In(int, default_value=5)})
def in_default(x):  # type: ignore[no-untyped-def]
    return x


@op
def defaults(a: int = 1, b: str = "x", c=None):  # type: ignore[no-untyped-def]
    return (a, b, c)


@op(required_resource_keys={"db"})
def needs_resource(context):  # type: ignore[no-untyped-def]
    return context.resources.db


@op(required_resource_keys={"db"})
def needs_resource_no_context():  # type: ignore[no-untyped-def]
    return 1


@op(config_schema={"a": int})
def needs_config(context):  # type: ignore[no-untyped-def]
    return context.op_config


@op(config_schema={"a": int})
def needs_config_no_context():  # type: ignore[no-untyped-def]
    return 1


@op(config_schema={"a": Field(int, default_value=3)})
def optional_config(context):  # type: ignore[no-untyped-def]
    return context.op_config


@op(config_schema={"db": {"port": int, "host": Field(str, default_value="localhost")}})
def nested_config(context):  # type: ignore[no-untyped-def]
    return context.op_config


@op
def inner_op(context):  # type: ignore[no-untyped-def]
    return context.op_config


@op
def calls_inner(context):  # type: ignore[no-untyped-def]
    return inner_op(context)


# -- only decorated ops --------------------------------------------------------------------


def _hand_built_fn(context, inputs):  # type: ignore[no-untyped-def]
    yield Output(inputs["a"] + 1)


HAND_BUILT = OpDefinition(
    _hand_built_fn, "hand_built", ins={"a": In(int)}, outs={"result": Out(int)}
)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: HAND_BUILT(1), id="positional"),
        pytest.param(lambda: HAND_BUILT(a=1), id="keyword"),
        pytest.param(HAND_BUILT, id="no-arguments"),
        pytest.param(lambda: HAND_BUILT(build_op_context(), 1), id="with-context"),
    ],
)
def test_hand_built_op_cannot_be_invoked(call: Call) -> None:
    _raises(
        InvalidInvocationError,
        'op "hand_built" was not constructed using the @op decorator; only decorated ops can '
        "be invoked directly (run it with execute_in_process instead)",
        call,
    )


def test_hand_built_op_still_executes_in_a_run() -> None:
    assert execute_in_process(HAND_BUILT, inputs={"a": 1}).output_value() == 2


# -- passing the context -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        pytest.param(lambda: with_context(build_op_context(op_config=7), 1), (7, 1), id="first"),
        pytest.param(
            lambda: with_context(context=build_op_context(op_config=7), a=1), (7, 1), id="by-name"
        ),
        pytest.param(
            lambda: with_context(build_op_context(op_config=7), a=1), (7, 1), id="first-and-kw"
        ),
        pytest.param(lambda: with_context(None, 1), (None, 1), id="none-positional"),
        pytest.param(lambda: with_context(context=None, a=1), (None, 1), id="none-by-name"),
        pytest.param(
            lambda: underscore(build_op_context(), 1), ("OpExecutionContext", 1), id="underscore"
        ),
        pytest.param(
            lambda: underscore(_=None, a=1), ("OpExecutionContext", 1), id="underscore-by-name"
        ),
        pytest.param(
            lambda: leading_underscore(_context=build_op_context(), a=2),
            ("OpExecutionContext", 2),
            id="_context-by-name",
        ),
        pytest.param(
            lambda: trailing_underscore(None, 3),
            ("OpExecutionContext", 3),
            id="context_-none",
        ),
    ],
)
def test_context_is_accepted(call: Call, expected: object) -> None:
    assert call() == expected


def test_none_context_becomes_an_empty_context() -> None:
    seen: list[object] = []

    @op
    def grab(context):  # type: ignore[no-untyped-def]
        seen.append(context)

    assert grab(None) is None
    (context,) = seen
    assert isinstance(context, OpExecutionContext)
    assert context.op_config is None
    assert context.run_id == "EPHEMERAL"
    assert context.resources._asdict() == {}


_NO_CONTEXT = (
    'op "with_context" has a context argument, but no context was provided when invoking; '
    "pass build_op_context() (or None) as the first argument"
)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(with_context, _NO_CONTEXT, id="no-arguments"),
        pytest.param(lambda: with_context(a=1), _NO_CONTEXT, id="inputs-only-by-keyword"),
        pytest.param(
            lambda: with_context(1),
            'op "with_context" has a context argument, but no context was provided when '
            "invoking: the first argument is of type int; pass build_op_context() (or None) as "
            "the first argument",
            id="non-context-first",
        ),
        pytest.param(
            lambda: with_context(1, context=build_op_context()),
            'op "with_context" has a context argument, but no context was provided when '
            "invoking: the first argument is of type int; pass build_op_context() (or None) as "
            "the first argument",
            id="input-first-context-by-name",
        ),
        pytest.param(
            lambda: with_context(context={"op_config": 1}, a=1),
            'op "with_context" has a context argument, but the value given for "context" is of '
            "type dict, not a context (use build_op_context())",
            id="non-context-by-name",
        ),
        pytest.param(
            lambda: with_context(build_op_context(), 1, context=build_op_context()),
            'op "with_context": the context was given both positionally and as "context="',
            id="context-twice",
        ),
        pytest.param(
            lambda: no_context(build_op_context()),
            'op "no_context" does not have a context argument, but a context was provided '
            "when invoking",
            id="context-to-op-without-one",
        ),
        pytest.param(
            lambda: no_context(a=build_op_context()),
            'op "no_context" does not have a context argument, but a context was provided as "a="',
            id="context-by-keyword-to-op-without-one",
        ),
    ],
)
def test_context_errors(call: Call, message: str) -> None:
    _raises(InvalidInvocationError, message, call)


def test_context_of_a_running_op_cannot_be_passed_on() -> None:
    _raises(
        InvalidInvocationError,
        'op "inner_op" was given the context of a running op; a context belongs to the op it '
        "was made for. Pass a context from build_op_context() instead",
        lambda: calls_inner(build_op_context(op_config=3)),
    )


def test_none_is_an_ordinary_input_for_an_op_without_context() -> None:
    assert no_context(None) is None


# -- what needs a context: resources and required config ---------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda: needs_resource(None),
            'op "needs_resource" requires resources (db), but no context was provided; pass '
            "build_op_context(resources=...) as the context",
            id="resources-none-context",
        ),
        pytest.param(
            needs_resource_no_context,
            'op "needs_resource_no_context" requires resources (db), but no context was '
            "provided; add a context parameter and pass build_op_context(resources=...)",
            id="resources-no-context-param",
        ),
        pytest.param(
            lambda: needs_resource(build_op_context(resources={"other": 1})),
            'op "needs_resource" requires resource(s) db, which were not provided to '
            "build_op_context(resources=...)",
            id="resources-missing-from-context",
        ),
        pytest.param(
            lambda: needs_config(None),
            'op "needs_config" has required config, but no context was provided; pass '
            "build_op_context(op_config=...) as the context",
            id="config-none-context",
        ),
        pytest.param(
            lambda: needs_config(context=None),
            'op "needs_config" has required config, but no context was provided; pass '
            "build_op_context(op_config=...) as the context",
            id="config-none-context-by-name",
        ),
        pytest.param(
            needs_config_no_context,
            'op "needs_config_no_context" has required config, but no context was provided; '
            "add a context parameter and pass build_op_context(op_config=...)",
            id="config-no-context-param",
        ),
        pytest.param(
            lambda: optional_config.configured(lambda c: c, "mapped", config_schema={"n": int})(
                None
            ),
            'op "mapped" has required config, but no context was provided; pass '
            "build_op_context(op_config=...) as the context",
            id="configured-with-required-schema",
        ),
    ],
)
def test_requirements_without_a_context(call: Call, message: str) -> None:
    _raises(InvalidInvocationError, message, call)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        pytest.param(
            lambda: needs_resource(build_op_context(resources={"db": "conn"})),
            "conn",
            id="resource-given",
        ),
        pytest.param(
            lambda: needs_config(build_op_context(op_config={"a": 1})), {"a": 1}, id="config"
        ),
        pytest.param(
            lambda: needs_config(build_op_context(config={"a": 2})), {"a": 2}, id="legacy-config"
        ),
        pytest.param(lambda: optional_config(None), {"a": 3}, id="optional-config-none"),
        pytest.param(
            lambda: nested_config(build_op_context(op_config={"db": {"port": 1}})),
            {"db": {"port": 1, "host": "localhost"}},
            id="defaults-applied",
        ),
    ],
)
def test_requirements_met(call: Call, expected: object) -> None:
    assert call() == expected


@pytest.mark.parametrize(
    ("call", "op_name", "errors"),
    [
        pytest.param(
            lambda: needs_config(build_op_context(op_config={"a": "x"})),
            "needs_config",
            [ConfigErrorDetail("config.a", 'expected int, got "x" (str)')],
            id="wrong-type",
        ),
        pytest.param(
            lambda: needs_config(build_op_context(op_config={})),
            "needs_config",
            [ConfigErrorDetail("config", 'missing required field "a"')],
            id="missing-field",
        ),
        pytest.param(
            lambda: nested_config(build_op_context(op_config={"db": {"port": "p"}})),
            "nested_config",
            [ConfigErrorDetail("config.db.port", 'expected int, got "p" (str)')],
            id="nested-path",
        ),
        pytest.param(
            lambda: needs_config(build_op_context(op_config={"a": 1, "b": 2})),
            "needs_config",
            [ConfigErrorDetail("config", 'unexpected field "b" (known fields: a)')],
            id="unknown-field",
        ),
        pytest.param(
            lambda: optional_config(build_op_context(op_config=5)),
            "optional_config",
            [ConfigErrorDetail("config", "expected a dict, got 5 (int)")],
            id="not-a-dict",
        ),
    ],
)
def test_op_config_is_validated(call: Call, op_name: str, errors: list[ConfigErrorDetail]) -> None:
    with pytest.raises(InvalidConfigError) as info:
        call()
    assert info.value.errors == errors
    assert info.value.preamble == f'Config for op "{op_name}" is invalid'


# -- binding inputs (differences from Dagster: docs/dagster-differences.md) --------------


def test_positional_inputs_follow_the_signature_not_input_defs() -> None:
    assert [d.name for d in reordered.input_defs] == ["b", "a"]
    assert reordered.positional_inputs == ("a", "b")
    assert reordered(1, "x") == (1, "x")
    _raises(
        TypeCheckFailedError,
        'Type check failed for step input "b" - expected type "String". Description: '
        'Value "2" of python type "int" must be a string.',
        lambda: reordered("x", 2),
    )


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        pytest.param(lambda: adder(1, 2), 3, id="positional"),
        pytest.param(lambda: adder(b=5, a=1), 6, id="keyword"),
        pytest.param(lambda: adder(1), 3, id="default-fills-in"),
        pytest.param(defaults, (1, "x", None), id="all-defaults"),
        pytest.param(lambda: defaults(b="y"), (1, "y", None), id="some-defaults"),
        pytest.param(in_default, 5, id="In-default"),
        pytest.param(lambda: keyword_only(1, b=2), (1, 2), id="keyword-only-by-keyword"),
        pytest.param(lambda: keyword_only(b=2, a=1), (1, 2), id="all-by-keyword"),
        pytest.param(lambda: positional_only(1, 2), (1, 2), id="positional-only"),
        pytest.param(
            lambda: positional_only(a=1, b=2), (1, 2), id="positional-only-given-by-keyword"
        ),
        pytest.param(lambda: with_kwargs(1, z=3), (1, 2, {"z": 3}), id="extra-to-kwargs"),
        pytest.param(
            lambda: ins_through_kwargs(a=1, b=2), {"a": 1, "b": 2}, id="ins-through-kwargs"
        ),
        pytest.param(
            lambda: ins_through_kwargs(a=1), {"a": 1}, id="ins-through-kwargs-not-required"
        ),
        pytest.param(lambda: with_nothing(4), 4, id="nothing-input-ignored"),
    ],
)
def test_inputs_bind(call: Call, expected: object) -> None:
    assert call() == expected


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            adder,
            'op "adder": No value provided for required input "a".',
            id="missing-required",
        ),
        pytest.param(
            lambda: adder(b=1),
            'op "adder": No value provided for required input "a".',
            id="missing-required-other-given",
        ),
        pytest.param(
            lambda: keyword_only(1),
            'op "keyword_only": No value provided for required input "b".',
            id="missing-keyword-only",
        ),
        pytest.param(
            lambda: adder(1, 2, 3),
            'op "adder": too many input arguments were provided: got 3 positional and 0 '
            "keyword argument(s), but the op has 2 input(s)",
            id="too-many-positional",
        ),
        pytest.param(
            lambda: adder(1, 2, c=3),
            'op "adder": too many input arguments were provided: got 2 positional and 1 '
            "keyword argument(s), but the op has 2 input(s)",
            id="too-many-counted-together",
        ),
        pytest.param(
            lambda: only_kwargs(a=1),
            'op "only_kwargs": too many input arguments were provided: got 0 positional and 1 '
            "keyword argument(s), but the op has 0 input(s)",
            id="kwargs-without-ins-takes-nothing",
        ),
        pytest.param(
            lambda: with_kwargs(1, 2, z=3),
            'op "with_kwargs": too many input arguments were provided: got 2 positional and 1 '
            "keyword argument(s), but the op has 2 input(s)",
            id="kwargs-extra-over-count",
        ),
        pytest.param(
            lambda: keyword_only(1, 2),
            'op "keyword_only": too many positional input arguments: got 2, the op takes at '
            "most 1 positionally",
            id="keyword-only-given-positionally",
        ),
        pytest.param(
            lambda: with_nothing(1, after=None),
            'op "with_nothing": input "after" is a Nothing input and takes no value; Nothing '
            "dependencies are ignored when an op is invoked directly",
            id="value-for-nothing-input",
        ),
        pytest.param(
            lambda: adder(1, c=3),
            'op "adder" has no input "c" (inputs: a, b)',
            id="unknown-keyword",
        ),
        pytest.param(
            lambda: no_context(zz=1),
            'op "no_context" has no input "zz" (inputs: a)',
            id="unknown-keyword-only-argument",
        ),
        pytest.param(
            lambda: adder(1, a=2),
            'op "adder": input "a" was given both positionally and by keyword',
            id="positional-and-keyword",
        ),
    ],
)
def test_input_errors(call: Call, message: str) -> None:
    _raises(InvalidInvocationError, message, call)


def test_positional_only_and_keyword_only_reach_the_function_correctly() -> None:
    received: list[tuple[object, ...]] = []

    @op
    def mixed(context, a, /, b, *, c):  # type: ignore[no-untyped-def]
        received.append((a, b, c))

    mixed(None, a=1, b=2, c=3)
    mixed(None, 4, 5, c=6)
    assert received == [(1, 2, 3), (4, 5, 6)]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda: adder("1"),
            'Type check failed for step input "a" - expected type "Int". Description: '
            'Value "1" of python type "str" must be a int.',
            id="positional",
        ),
        pytest.param(
            lambda: adder(1, b=1.5),
            'Type check failed for step input "b" - expected type "Int". Description: '
            'Value "1.5" of python type "float" must be a int.',
            id="keyword",
        ),
        pytest.param(
            lambda: keyword_only(1, b="x"),
            'Type check failed for step input "b" - expected type "Int". Description: '
            'Value "x" of python type "str" must be a int.',
            id="keyword-only",
        ),
        pytest.param(
            lambda: ins_through_kwargs(a=1, b="x"),
            'Type check failed for step input "b" - expected type "Int". Description: '
            'Value "x" of python type "str" must be a int.',
            id="through-kwargs",
        ),
        pytest.param(
            lambda: with_context(None, 1.0),
            'Type check failed for step input "a" - expected type "Int". Description: '
            'Value "1.0" of python type "float" must be a int.',
            id="after-context",
        ),
    ],
)
def test_every_input_is_type_checked(call: Call, message: str) -> None:
    _raises(TypeCheckFailedError, message, call)


def test_input_type_check_runs_before_the_body() -> None:
    ran: list[int] = []

    @op
    def body(a: int) -> None:
        ran.append(a)

    with pytest.raises(TypeCheckFailedError):
        body("no")
    assert ran == []


# -- results of regular functions --------------------------------------------------------


@op(out={"a": Out(int), "b": Out(str)})
def two_outputs(value):  # type: ignore[no-untyped-def]
    return value


@op
def passthrough(value):  # type: ignore[no-untyped-def]
    return value


@op
def returns_int(value) -> int:  # type: ignore[no-untyped-def]
    return value  # type: ignore[no-any-return]


@op(out={})
def no_outputs(value):  # type: ignore[no-untyped-def]
    return value


@op(out={"named": Out(int)})
def one_named(value):  # type: ignore[no-untyped-def]
    return value


def test_regular_function_returns_the_raw_value() -> None:
    assert returns_int(5) == 5
    assert passthrough([1, 2]) == [1, 2]
    assert one_named(3) == 3


def test_multi_output_returns_the_tuple() -> None:
    assert two_outputs((1, "s")) == (1, "s")


@pytest.mark.parametrize(
    ("op_def", "output"),
    [
        pytest.param(passthrough, Output(1), id="single"),
        pytest.param(one_named, Output(1, "named"), id="named-single"),
        pytest.param(two_outputs, Output(1, "a"), id="one-of-several"),
    ],
)
def test_returned_output_object_comes_back(op_def: OpDefinition, output: Output[int]) -> None:
    assert op_def(output) is output


def test_tuple_with_output_elements_named_result_or_by_position() -> None:
    value = (Output(1), Output("s", "b"))
    assert two_outputs(value) is value


@pytest.mark.parametrize(
    ("op_def", "value", "message"),
    [
        pytest.param(
            returns_int,
            "x",
            'Type check failed for step output "result" - expected type "Int". Description: '
            'Value "x" of python type "str" must be a int.',
            id="single",
        ),
        pytest.param(
            two_outputs,
            (1, 2),
            'Type check failed for step output "b" - expected type "String". Description: '
            'Value "2" of python type "int" must be a string.',
            id="tuple-element",
        ),
        pytest.param(
            two_outputs,
            Output("x", "a"),
            'Type check failed for step output "a" - expected type "Int". Description: '
            'Value "x" of python type "str" must be a int.',
            id="returned-output",
        ),
        pytest.param(
            one_named,
            None,
            'Type check failed for step output "named" - expected type "Int". Description: '
            'Value "None" of python type "NoneType" must be a int.',
            id="none-for-int",
        ),
    ],
)
def test_outputs_are_type_checked(op_def: OpDefinition, value: object, message: str) -> None:
    _raises(TypeCheckFailedError, message, lambda: op_def(value))


@pytest.mark.parametrize(
    ("op_def", "value", "message"),
    [
        pytest.param(
            passthrough,
            Output(1, "nope"),
            'op "passthrough" returned an output "nope" that does not exist. The available '
            "outputs are ['result']",
            id="unknown-output-name",
        ),
        pytest.param(
            one_named,
            Output(1),
            'op "one_named" returned an output "result" that does not exist. The available '
            "outputs are ['named']",
            id="result-for-named-output",
        ),
        pytest.param(
            no_outputs,
            Output(1),
            'op "no_outputs" returned an output "result" that does not exist. The available '
            "outputs are []",
            id="output-from-zero-output-op",
        ),
        pytest.param(
            passthrough,
            AssetMaterialization("k"),
            'op "passthrough" returned an AssetMaterialization; events must be yielded, not '
            "returned",
            id="asset-materialization",
        ),
        pytest.param(
            passthrough,
            AssetObservation("k"),
            'op "passthrough" returned an AssetObservation; events must be yielded, not returned',
            id="asset-observation",
        ),
        pytest.param(
            passthrough,
            ExpectationResult(True),
            'op "passthrough" returned an ExpectationResult; events must be yielded, not returned',
            id="expectation-result",
        ),
        pytest.param(
            two_outputs,
            AssetMaterialization("k"),
            'op "two_outputs" returned an AssetMaterialization; events must be yielded, not '
            "returned",
            id="asset-materialization-multi",
        ),
        pytest.param(
            two_outputs,
            [1, "s"],
            'op "two_outputs" has 2 outputs, but returned a single value of type list; the '
            "result is ambiguous. Return a tuple with one value per output",
            id="multi-output-list",
        ),
        pytest.param(
            two_outputs,
            1,
            'op "two_outputs" has 2 outputs, but returned a single value of type int; the '
            "result is ambiguous. Return a tuple with one value per output",
            id="multi-output-scalar",
        ),
        pytest.param(
            two_outputs,
            (1,),
            'op "two_outputs" returned a tuple of 1 element(s) but has 2 outputs (a, b)',
            id="tuple-too-short",
        ),
        pytest.param(
            two_outputs,
            (1, "s", 3),
            'op "two_outputs" returned a tuple of 3 element(s) but has 2 outputs (a, b)',
            id="tuple-too-long",
        ),
        pytest.param(
            two_outputs,
            (Output(1, "b"), "s"),
            'op "two_outputs": the Output at position 0 of the returned tuple is explicitly '
            'named "b", which does not match the output "a" at that position',
            id="misnamed-tuple-element",
        ),
        pytest.param(
            two_outputs,
            (1, ExpectationResult(True)),
            'op "two_outputs" returned an ExpectationResult inside its tuple of outputs; events '
            "must be yielded, not returned",
            id="event-in-tuple",
        ),
        pytest.param(
            no_outputs,
            5,
            'op "no_outputs" is explicitly defined to return no results, but it returned a '
            "value of type int",
            id="value-from-zero-output-op",
        ),
    ],
)
def test_return_errors(op_def: OpDefinition, value: object, message: str) -> None:
    _raises(InvariantViolationError, message, lambda: op_def(value))


def test_zero_output_op_returns_none() -> None:
    assert no_outputs.output_defs == ()
    assert no_outputs(None) is None


# -- generator ops ------------------------------------------------------------------------


@op(out={"a": Out(int), "b": Out(str, is_required=False), "n": Out(Nothing)})
def gen_op(items):  # type: ignore[no-untyped-def]
    yield from items


def test_generator_op_returns_a_generator_that_runs_lazily() -> None:
    ran: list[str] = []

    @op
    def lazy():  # type: ignore[no-untyped-def]
        ran.append("started")
        yield Output(1)

    result = lazy()
    assert inspect.isgenerator(result)
    assert ran == []
    assert list(result) == [Output(1)]
    assert ran == ["started"]


def test_generator_passes_events_and_outputs_through() -> None:
    items = [
        AssetMaterialization("k"),
        Output(1, "a"),
        AssetObservation("k", metadata={"rows": 1}),
        ExpectationResult(True),
        Output("s", "b"),
    ]
    assert list(gen_op(items)) == items


def test_generator_optional_and_nothing_outputs_may_be_missing() -> None:
    assert list(gen_op([Output(1, "a")])) == [Output(1, "a")]


def test_generator_type_checks_each_output_as_it_is_consumed() -> None:
    stream = gen_op([Output(1, "a"), Output(2, "b")])
    assert next(stream) == Output(1, "a")
    _raises(
        TypeCheckFailedError,
        'Type check failed for step output "b" - expected type "String". Description: '
        'Value "2" of python type "int" must be a string.',
        lambda: next(stream),
    )


@pytest.mark.parametrize(
    ("items", "error", "message"),
    [
        pytest.param(
            [1],
            InvariantViolationError,
            'op "gen_op" yielded a value of type int rather than an instance of Output, '
            "AssetMaterialization, or ExpectationResult",
            id="raw-value",
        ),
        pytest.param(
            [Output(1, "a"), Output(2, "a")],
            InvariantViolationError,
            'op "gen_op" returned an output "a" multiple times',
            id="same-output-twice",
        ),
        pytest.param(
            [Output(1, "zz")],
            InvariantViolationError,
            'op "gen_op" returned an output "zz" that does not exist. The available outputs '
            "are ['a', 'b', 'n']",
            id="unknown-output-name",
        ),
        pytest.param(
            [Output("s", "b")],
            OutputNotFoundError,
            'op "gen_op" did not return an output for non-optional output "a"',
            id="required-output-missing",
        ),
        pytest.param(
            [],
            OutputNotFoundError,
            'op "gen_op" did not return an output for non-optional output "a"',
            id="nothing-yielded",
        ),
    ],
)
def test_generator_errors(items: list[object], error: type[Exception], message: str) -> None:
    stream = gen_op(items)
    exc = _raises(error, message, lambda: list(stream))
    assert not isinstance(exc, (KeyError, IndexError, AttributeError, AssertionError))


# -- async ops ----------------------------------------------------------------------------


@op
async def async_returns(value) -> int:  # type: ignore[no-untyped-def]
    await asyncio.sleep(0)
    return value  # type: ignore[no-any-return]


@op(out={"a": Out(int), "b": Out(str)})
async def async_two(value):  # type: ignore[no-untyped-def]
    return value


@op(out={"a": Out(int)})
async def async_gen(items):  # type: ignore[no-untyped-def]
    for item in items:
        await asyncio.sleep(0)
        yield item


async def test_coroutine_op_returns_a_coroutine() -> None:
    result = async_returns(3)
    assert inspect.iscoroutine(result)
    assert await result == 3
    assert await async_two((1, "s")) == (1, "s")


@pytest.mark.parametrize(
    ("op_def", "value", "error", "message"),
    [
        pytest.param(
            async_returns,
            "x",
            TypeCheckFailedError,
            'Type check failed for step output "result" - expected type "Int". Description: '
            'Value "x" of python type "str" must be a int.',
            id="output-type",
        ),
        pytest.param(
            async_returns,
            Output(1, "zz"),
            InvariantViolationError,
            'op "async_returns" returned an output "zz" that does not exist. The available '
            "outputs are ['result']",
            id="unknown-output",
        ),
        pytest.param(
            async_returns,
            AssetMaterialization("k"),
            InvariantViolationError,
            'op "async_returns" returned an AssetMaterialization; events must be yielded, not '
            "returned",
            id="returned-event",
        ),
        pytest.param(
            async_two,
            (1,),
            InvariantViolationError,
            'op "async_two" returned a tuple of 1 element(s) but has 2 outputs (a, b)',
            id="tuple-length",
        ),
        pytest.param(
            async_two,
            5,
            InvariantViolationError,
            'op "async_two" has 2 outputs, but returned a single value of type int; the '
            "result is ambiguous. Return a tuple with one value per output",
            id="multi-output-scalar",
        ),
    ],
)
async def test_coroutine_errors(
    op_def: OpDefinition, value: object, error: type[Exception], message: str
) -> None:
    coroutine = op_def(value)
    with pytest.raises(error) as info:
        await coroutine
    assert str(info.value) == message


@op
async def async_typed(a: int) -> int:
    return a


def test_coroutine_input_type_check_is_eager() -> None:
    _raises(
        TypeCheckFailedError,
        'Type check failed for step input "a" - expected type "Int". Description: '
        'Value "1.5" of python type "float" must be a int.',
        lambda: async_typed(1.5),
    )


async def test_async_generator_op() -> None:
    stream = async_gen([Output(1, "a")])
    assert inspect.isasyncgen(stream)
    assert [item async for item in stream] == [Output(1, "a")]


async def _drain(stream: AsyncIterator[object]) -> list[object]:
    return [item async for item in stream]


@pytest.mark.parametrize(
    ("items", "error", "message"),
    [
        pytest.param(
            [2],
            InvariantViolationError,
            'op "async_gen" yielded a value of type int rather than an instance of Output, '
            "AssetMaterialization, or ExpectationResult",
            id="raw-value",
        ),
        pytest.param(
            [Output(1, "a"), Output(1, "a")],
            InvariantViolationError,
            'op "async_gen" returned an output "a" multiple times',
            id="same-output-twice",
        ),
        pytest.param(
            [Output(1, "q")],
            InvariantViolationError,
            'op "async_gen" returned an output "q" that does not exist. The available outputs '
            "are ['a']",
            id="unknown-output-name",
        ),
        pytest.param(
            [Output("x", "a")],
            TypeCheckFailedError,
            'Type check failed for step output "a" - expected type "Int". Description: '
            'Value "x" of python type "str" must be a int.',
            id="output-type",
        ),
        pytest.param(
            [],
            OutputNotFoundError,
            'op "async_gen" did not return an output for non-optional output "a"',
            id="required-output-missing",
        ),
    ],
)
async def test_async_generator_errors(
    items: list[object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        await _drain(async_gen(items))
    assert str(info.value) == message


# -- configured ops invoked directly -----------------------------------------------------


@op(config_schema={"a": int, "b": Field(str, default_value="dflt")})
def configurable(context):  # type: ignore[no-untyped-def]
    return context.op_config


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        pytest.param(
            lambda: configurable.configured({"a": 1}, "const")(None),
            {"a": 1, "b": "dflt"},
            id="constant-none-context",
        ),
        pytest.param(
            lambda: configurable.configured({"a": 1}, "const")(
                build_op_context(op_config={"a": 99, "zzz": True})
            ),
            {"a": 1, "b": "dflt"},
            id="constant-ignores-op-config",
        ),
        pytest.param(
            lambda: configurable.configured(
                lambda outer: {"a": outer["n"] * 2}, "mapped", config_schema={"n": int}
            )(build_op_context(op_config={"n": 4})),
            {"a": 8, "b": "dflt"},
            id="function-gets-op-config",
        ),
        pytest.param(
            lambda: configurable.configured(lambda outer: {"a": 0, "b": repr(outer)}, "raw")(None),
            {"a": 0, "b": "None"},
            id="function-gets-none",
        ),
        pytest.param(
            lambda: configurable.configured(lambda outer: {"a": 0, "b": repr(outer)}, "raw")(
                build_op_context(op_config=[1])
            ),
            {"a": 0, "b": "[1]"},
            id="function-gets-any-config",
        ),
    ],
)
def test_configured_op_invoked_directly(call: Call, expected: object) -> None:
    assert call() == expected


def test_configured_op_invalid_mapped_config_directly() -> None:
    bad = configurable.configured({"a": "x"}, "bad")
    with pytest.raises(InvalidConfigError) as info:
        bad(None)
    assert str(info.value) == (
        'Config that op "bad" supplies to op "configurable" is invalid\n'
        '  config.a: expected int, got "x" (str)'
    )


# -- no Python internals leak (bad input anywhere on these paths) ------------------------


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: with_context(object()), id="object-as-context"),
        pytest.param(lambda: with_context(build_op_context(), 1, 2), id="too-many"),
        pytest.param(lambda: with_context(build_op_context(), b=2), id="unknown-kw"),
        pytest.param(lambda: list(gen_op([Output(1, "nope")])), id="gen-unknown"),
        pytest.param(lambda: two_outputs(()), id="empty-tuple"),
        pytest.param(lambda: no_outputs((1, 2)), id="tuple-zero-outputs"),
        pytest.param(lambda: positional_only(1, 2, 3), id="positional-only-over"),
        pytest.param(lambda: with_nothing(after=1), id="nothing-only"),
    ],
)
def test_bad_calls_raise_ophost_errors(call: Call) -> None:
    with pytest.raises(OpHostError) as info:
        call()
    assert not isinstance(info.value, (KeyError, IndexError, AttributeError, AssertionError))
