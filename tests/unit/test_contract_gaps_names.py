"""Dagster's rules for names, the @op call forms and inputs that no other test pinned.

Names, the @op call forms and arguments, and how inputs are read from the signature.
"""

import keyword
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from ophost import (
    DefinitionError,
    In,
    InvalidArgumentError,
    InvalidInvocationError,
    OpDefinition,
    OpExecutionContext,
    Out,
    TypeCheckFailedError,
    build_op_context,
    execute_in_process,
    op,
)
from ophost.definitions._config import ConfigKind, Field

Call = Callable[[], object]

# Untyped alias: some tests pass wrong types on purpose.
_op: Any = op


def _raises(exc_type: type[BaseException], message: str, call: Call) -> BaseException:
    with pytest.raises(exc_type) as info:
        call()
    assert str(info.value) == message
    return info.value


def _fn(name: str, params: str = "", body: str = "return None") -> Callable[..., Any]:
    """A plain function built from source, for names a ``def`` statement cannot spell."""
    namespace: dict[str, Any] = {}
    exec(f"def {name}({params}):\n    {body}", namespace)
    return namespace[name]  # type: ignore[no-any-return]


def _core(context: object, inputs: dict[str, object]) -> list[object]:
    return []


# -- names ------------------------------------------------------------------------------

# The framework's vocabulary, spelled out; the Python keywords are added below.
FRAMEWORK_RESERVED = [
    "context",
    "conf",
    "config",
    "meta",
    "arg_dict",
    "dict",
    "input_arg_dict",
    "output_arg_dict",
    "int",
    "str",
    "float",
    "bool",
    "input",
    "output",
    "type",
]
RESERVED = FRAMEWORK_RESERVED + sorted(keyword.kwlist)


def _named(role: str, name: str) -> Call:
    """Define an op whose op, input or output name is ``name``."""
    if role == "op":
        return lambda: op(name=name)(_fn("body"))
    if role == "input":
        return lambda: op(ins={name: In()})(_fn("body", "**kwargs"))
    if role == "output":
        return lambda: op(out={name: Out(), "other": Out()})(_fn("body"))
    assert role == "hand-built-input"
    return lambda: OpDefinition(_core, "hand", ins={name: In()})


_WHAT = {
    "op": "op name",
    "input": 'op "body" input name',
    "output": 'op "body" output name',
    "hand-built-input": 'op "hand" input name',
}


@pytest.mark.parametrize(
    ("role", "name"),
    [
        pytest.param(role, name, id=f"{role}-{name}")
        for role in ("op", "input", "output")
        for name in RESERVED
    ],
)
def test_every_reserved_name_is_rejected_everywhere(role: str, name: str) -> None:
    _raises(
        DefinitionError,
        f'{_WHAT[role]} "{name}" conflicts with a reserved ophost or Python keyword; '
        "choose another name",
        _named(role, name),
    )


@pytest.mark.parametrize(
    ("role", "name"),
    [
        pytest.param(role, name, id=f"{role}-{name!r}")
        for role in ("op", "input", "output", "hand-built-input")
        for name in ["abc\n", " a", "a.b", "a/b", "ä", "a-b"]
    ]
    + [pytest.param(role, "", id=f"{role}-empty") for role in ("input", "output")],
)
def test_names_must_fully_match_the_regex(role: str, name: str) -> None:
    _raises(
        DefinitionError,
        f'{_WHAT[role]} "{name}" is not a valid name: names must match the regex ^[A-Za-z0-9_]+$',
        _named(role, name),
    )


@pytest.mark.parametrize("name", ["1abc", "9", "_x_", "A1"])
def test_leading_digits_and_underscores_are_fine_for_inputs_and_outputs(name: str) -> None:
    as_input = op(ins={name: In()})(_fn("body", "**kwargs"))
    as_output = op(out={name: Out(), "other": Out()})(_fn("body"))
    assert [d.name for d in as_input.input_defs] == [name]
    assert [d.name for d in as_output.output_defs] == [name, "other"]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        pytest.param(
            lambda: _op(name=5)(_fn("body")),
            DefinitionError,
            "@op: name must be a str, got int",
            id="op-name",
        ),
        pytest.param(
            lambda: _op(name=b"x")(_fn("body")),
            DefinitionError,
            "@op: name must be a str, got bytes",
            id="op-name-bytes",
        ),
        pytest.param(
            lambda: OpDefinition(_core, 5),  # type: ignore[arg-type]
            InvalidArgumentError,
            "op name must be a str, got int",
            id="hand-built-name",
        ),
        pytest.param(
            lambda: _op(ins={1: In()})(_fn("body", "**kwargs")),
            DefinitionError,
            'op "body": ins keys must be str, got int',
            id="input-name",
        ),
        pytest.param(
            lambda: _op(out={1: Out()})(_fn("body")),
            DefinitionError,
            'op "body": out keys must be str, got int',
            id="output-name",
        ),
        pytest.param(
            lambda: OpDefinition(_core, "hand", outs={None: Out()}),  # type: ignore[dict-item]
            DefinitionError,
            'op "hand": out keys must be str, got NoneType',
            id="hand-built-output-name",
        ),
    ],
)
def test_names_must_be_str(call: Call, error: type[Exception], message: str) -> None:
    _raises(error, message, call)


# -- call forms: the definition mirrors the function -------------------------------------


def decorated_function(a: int) -> int:
    """Doc of the function."""
    return a


@pytest.mark.parametrize(
    ("build", "name"),
    [
        pytest.param(lambda: op(decorated_function), "decorated_function", id="bare"),
        pytest.param(lambda: op()(decorated_function), "decorated_function", id="called"),
        pytest.param(lambda: op("renamed")(decorated_function), "renamed", id="name-positional"),
        pytest.param(lambda: op(name="renamed")(decorated_function), "renamed", id="name-kw"),
    ],
)
def test_definition_mirrors_the_function(build: Callable[[], OpDefinition], name: str) -> None:
    definition = build()
    assert isinstance(definition, OpDefinition)
    assert definition.name == name
    # functools.update_wrapper: the function's own attributes, whatever the op is called.
    assert definition.__name__ == "decorated_function"
    assert definition.__doc__ == "Doc of the function."
    assert definition.__module__ == __name__
    assert definition.__wrapped__ is decorated_function
    # compute_fn of a decorated op is the user's function.
    assert definition.compute_fn is decorated_function


# -- arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("out", "names"),
    [
        pytest.param({"z": Out(), "a": Out(), "m": Out()}, ["z", "a", "m"], id="not-sorted"),
        pytest.param({"b": Out(), "a": Out()}, ["b", "a"], id="two"),
        pytest.param(Out(), ["result"], id="single-out"),
        pytest.param({"only": Out()}, ["only"], id="single-named"),
    ],
)
def test_outputs_keep_dict_insertion_order(out: object, names: list[str]) -> None:
    definition = op(out=out)(_fn("body"))  # type: ignore[call-overload]
    assert [d.name for d in definition.output_defs] == names
    assert list(definition.output_dict) == names


@pytest.mark.parametrize(
    ("schema", "kind", "required"),
    [
        pytest.param(None, ConfigKind.ANY, False, id="none-any-optional"),
        pytest.param({"a": int}, ConfigKind.SHAPE, True, id="dict-shape"),
        pytest.param(int, ConfigKind.INT, True, id="scalar"),
        pytest.param(Field(str, is_required=False), ConfigKind.STRING, False, id="field"),
        pytest.param([int], ConfigKind.ARRAY, True, id="list-array"),
    ],
)
def test_config_schema_forms(schema: object, kind: ConfigKind, required: bool) -> None:
    definition = op(config_schema=schema)(_fn("body"))
    assert definition.config_schema.config_type.kind is kind
    assert definition.config_schema.is_required is required


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"version": "v1"}, id="version"),
        pytest.param({"code_version": "v1"}, id="code_version"),
        pytest.param({"tags": {"a": 1}}, id="json-tag"),
    ],
)
def test_no_warning_is_emitted_for_definitions(kwargs: dict[str, Any]) -> None:
    # 0.14 warns that version= is experimental; ophost emits no warnings at all.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        definition = op(**kwargs)(_fn("body"))
    assert caught == []
    assert definition.name == "body"


# -- input resolution ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "context_name"),
    [
        pytest.param("context: int, a", "context", id="annotation-ignored"),
        pytest.param("_: str, a", "_", id="underscore-annotated"),
        pytest.param("context, /, a", "context", id="positional-only"),
        pytest.param("*, context, a", "context", id="keyword-only"),
        pytest.param("*, _context, a", "_context", id="keyword-only-underscore"),
        pytest.param("context_=None, a=1", "context_", id="with-default"),
    ],
)
def test_context_detection_ignores_kind_and_annotation(params: str, context_name: str) -> None:
    fn = _fn("body", params, f"return (type({context_name}).__name__, a)")
    definition = op(fn)
    assert [d.name for d in definition.input_defs] == ["a"]
    assert definition.positional_inputs == (() if "*" in params else ("a",))
    # The context reaches the function whatever the parameter's kind.
    expected = ("OpExecutionContext", 3)
    assert execute_in_process(definition, inputs={"a": 3}).output_value() == expected
    assert definition(None, a=3) == expected
    assert definition(**{context_name: build_op_context()}, a=3) == expected


def test_a_first_parameter_annotated_with_the_context_class_but_named_ctx_is_an_input() -> None:
    @op
    def f(ctx: OpExecutionContext, a: int) -> int:
        return a

    ctx = f.input_defs[0]
    assert [d.name for d in f.input_defs] == ["ctx", "a"]
    assert ctx.dagster_type.name == "OpExecutionContext"
    assert (
        ctx.dagster_type.key == "_TypeHintInferred[ophost.definitions._context.OpExecutionContext]"
    )
    # Not a context parameter: a context passed first is refused, and a run checks the
    # value against the inferred type.
    _raises(
        InvalidInvocationError,
        'op "f" does not have a context argument, but a context was provided when invoking',
        lambda: f(build_op_context(), 1),
    )
    _raises(
        TypeCheckFailedError,
        'Type check failed for step input "ctx" - expected type "OpExecutionContext". '
        'Description: Value "5" of python type "int" must be an instance of '
        "ophost.definitions._context.OpExecutionContext.",
        lambda: execute_in_process(f, inputs={"ctx": 5, "a": 1}),
    )


@op(ins={"a": In(int), "b": In(str, default_value="d")})
def ins_through_kwargs(**kwargs):  # type: ignore[no-untyped-def]
    return dict(kwargs)


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        pytest.param({"a": 1, "b": "x"}, {"a": 1, "b": "x"}, id="both"),
        pytest.param({"a": 1}, {"a": 1, "b": "d"}, id="default"),
    ],
)
def test_ins_without_parameters_reach_kwargs_in_a_run(
    inputs: dict[str, object], expected: dict[str, object]
) -> None:
    assert execute_in_process(ins_through_kwargs, inputs=inputs).output_value() == expected


def test_ins_without_parameters_are_type_checked_in_a_run() -> None:
    _raises(
        TypeCheckFailedError,
        'Type check failed for step input "a" - expected type "Int". Description: '
        'Value "x" of python type "str" must be a int.',
        lambda: execute_in_process(ins_through_kwargs, inputs={"a": "x"}),
    )
