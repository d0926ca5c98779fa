"""``OpDefinition.configured`` and ``configured(op, ...)``; both return an ``OpDefinition``."""

from collections.abc import Callable
from typing import Any

import pytest

from ophost import (
    ConfigMappingFunctionError,
    DefinitionError,
    Field,
    In,
    InvalidArgumentError,
    InvalidConfigError,
    InvalidInvocationError,
    OpDefinition,
    Out,
    RetryPolicy,
    execute_in_process,
    op,
)
from ophost.definitions._config import ConfigKind
from ophost.errors import ConfigErrorDetail, OpHostError

Call = Callable[[], object]


@op(
    description="Base op.",
    ins={"x": In(int, default_value=1)},
    out={"result": Out(int, description="out")},
    config_schema={"a": int, "b": Field(str, default_value="dflt")},
    required_resource_keys={"db"},
    tags={"team": "data"},
    code_version="v3",
    retry_policy=RetryPolicy(max_retries=2),
)
def base(context, x):  # type: ignore[no-untyped-def]
    return x + context.op_config["a"]


@op(config_schema={"a": int, "b": Field(str, default_value="dflt")})
def echo(context):  # type: ignore[no-untyped-def]
    return context.op_config


def _raises(exc_type: type[BaseException], message: str, call: Call) -> BaseException:
    with pytest.raises(exc_type) as info:
        call()
    assert str(info.value) == message
    return info.value


def _run_config(op_def: OpDefinition, config: object = None) -> object:
    return execute_in_process(op_def, config=config).output_value()


# -- the name -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        pytest.param(
            lambda: echo.configured({"a": 1}),
            InvalidArgumentError,
            'op "echo".configured: name is required (the new op needs its own name)',
            id="omitted",
        ),
        pytest.param(
            lambda: echo.configured({"a": 1}, None),
            InvalidArgumentError,
            'op "echo".configured: name is required (the new op needs its own name)',
            id="none",
        ),
        pytest.param(
            lambda: echo.configured({"a": 1}, 5),  # type: ignore[arg-type]
            InvalidArgumentError,
            'op "echo".configured name must be a str, got int',
            id="not-a-str",
        ),
        pytest.param(
            lambda: echo.configured({"a": 1}, "has space"),
            DefinitionError,
            'op "echo".configured name "has space" is not a valid name: names must match the '
            "regex ^[A-Za-z0-9_]+$",
            id="bad-characters",
        ),
        pytest.param(
            lambda: echo.configured({"a": 1}, ""),
            DefinitionError,
            'op "echo".configured name "" is not a valid name: names must match the regex '
            "^[A-Za-z0-9_]+$",
            id="empty",
        ),
        pytest.param(
            lambda: echo.configured({"a": 1}, "config"),
            DefinitionError,
            'op "echo".configured name "config" conflicts with a reserved ophost or Python '
            "keyword; choose another name",
            id="reserved",
        ),
        pytest.param(
            lambda: echo.configured({"a": 1}, "lambda"),
            DefinitionError,
            'op "echo".configured name "lambda" conflicts with a reserved ophost or Python '
            "keyword; choose another name",
            id="python-keyword",
        ),
        pytest.param(
            echo.configured,
            InvalidArgumentError,
            'op "echo".configured: the config (a constant, or a function of the new op\'s '
            "config) is required",
            id="no-arguments",
        ),
        pytest.param(
            lambda: echo.configured({"a": 1}, "ok", description=3),  # type: ignore[arg-type]
            DefinitionError,
            'op "ok": description must be a str, got int',
            id="description-not-str",
        ),
    ],
)
def test_configured_argument_errors(call: Call, error: type[Exception], message: str) -> None:
    _raises(error, message, call)


def test_omitted_name_is_still_a_type_error() -> None:
    with pytest.raises(TypeError):
        echo.configured({"a": 1})


@pytest.mark.parametrize("name", ["renamed", "1abc", "_x", "A_B_9"])
def test_valid_names(name: str) -> None:
    assert echo.configured({"a": 1}, name).name == name


def test_name_is_positional() -> None:
    assert echo.configured({"a": 1}, "positional").name == "positional"
    assert echo.configured({"a": 1}, name="keyword").name == "keyword"


# -- what the new definition shares -------------------------------------------------------


CONFIGURED = base.configured({"a": 10}, "base_configured")


@pytest.mark.parametrize(
    ("read", "expected"),
    [
        pytest.param(type, OpDefinition, id="type"),
        pytest.param(lambda d: d.node_type_str, "op", id="node_type_str"),
        pytest.param(lambda d: d.name, "base_configured", id="name"),
        pytest.param(lambda d: d.input_defs, base.input_defs, id="input_defs"),
        pytest.param(lambda d: d.output_defs, base.output_defs, id="output_defs"),
        pytest.param(lambda d: d.positional_inputs, ("x",), id="positional_inputs"),
        pytest.param(lambda d: d.compute_fn, base.compute_fn, id="compute_fn"),
        pytest.param(lambda d: dict(d.tags), {"team": "data"}, id="tags"),
        pytest.param(lambda d: d.required_resource_keys, frozenset({"db"}), id="resources"),
        pytest.param(lambda d: d.version, "v3", id="version"),
        pytest.param(lambda d: d.code_version, "v3", id="code_version"),
        pytest.param(lambda d: d.retry_policy, RetryPolicy(max_retries=2), id="retry_policy"),
        pytest.param(lambda d: d.description, "Base op.", id="description-inherited"),
    ],
)
def test_configured_shares_the_definition(
    read: Callable[[OpDefinition], object], expected: object
) -> None:
    assert read(CONFIGURED) == expected


def test_configured_leaves_the_original_alone() -> None:
    assert base.name == "base"
    assert base.config_schema.is_required is True
    assert CONFIGURED is not base


def test_description_override() -> None:
    assert base.configured({"a": 1}, "d", description="New.").description == "New."


@pytest.mark.parametrize(
    ("schema", "required", "kind"),
    [
        pytest.param(None, False, ConfigKind.ANY, id="omitted-any-optional"),
        pytest.param({"n": int}, True, ConfigKind.SHAPE, id="shape"),
        pytest.param({"n": Field(int, default_value=1)}, False, ConfigKind.SHAPE, id="defaults"),
        pytest.param(int, True, ConfigKind.INT, id="scalar"),
    ],
)
def test_config_schema_of_the_new_op(schema: object, required: bool, kind: ConfigKind) -> None:
    configured = echo.configured(lambda c: {"a": 1}, "s", config_schema=schema)
    assert configured.config_schema.is_required is required
    assert configured.config_schema.config_type.kind is kind


# -- constants ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run_config", "expected"),
    [
        pytest.param(None, {"a": 1, "b": "dflt"}, id="no-run-config"),
        pytest.param({"anything": [1, 2]}, {"a": 1, "b": "dflt"}, id="extra-config-ignored"),
        pytest.param(7, {"a": 1, "b": "dflt"}, id="scalar-config-ignored"),
    ],
)
def test_constant_is_applied_with_defaults(run_config: object, expected: object) -> None:
    assert _run_config(echo.configured({"a": 1}, "const"), run_config) == expected


def test_constant_overrides_defaults() -> None:
    assert _run_config(echo.configured({"a": 1, "b": "given"}, "c")) == {"a": 1, "b": "given"}


def test_constant_with_a_schema_still_validates_outer_config() -> None:
    strict = echo.configured({"a": 1}, "strict", config_schema={"n": int})
    assert _run_config(strict, {"n": 1}) == {"a": 1, "b": "dflt"}
    with pytest.raises(InvalidConfigError) as info:
        _run_config(strict, {"n": "x"})
    assert str(info.value) == (
        'Config for op "strict" is invalid\n  config.n: expected int, got "x" (str)'
    )


@pytest.mark.parametrize(
    ("constant", "errors"),
    [
        pytest.param(
            {"a": "x"},
            [ConfigErrorDetail("config.a", 'expected int, got "x" (str)')],
            id="wrong-type",
        ),
        pytest.param({}, [ConfigErrorDetail("config", 'missing required field "a"')], id="missing"),
        pytest.param(
            {"a": 1, "z": 2},
            [ConfigErrorDetail("config", 'unexpected field "z" (known fields: a, b)')],
            id="unknown-field",
        ),
        pytest.param(
            5, [ConfigErrorDetail("config", "expected a dict, got 5 (int)")], id="not-a-dict"
        ),
    ],
)
def test_invalid_constant_fails_only_at_run_time(
    constant: object, errors: list[ConfigErrorDetail]
) -> None:
    configured = echo.configured(constant, "bad_const")  # no error here
    with pytest.raises(InvalidConfigError) as info:
        execute_in_process(configured)
    assert info.value.preamble == 'Config that op "bad_const" supplies to op "echo" is invalid'
    assert info.value.errors == errors


# -- config functions ---------------------------------------------------------------------


def test_function_receives_the_validated_outer_config() -> None:
    received: list[object] = []

    def mapping(outer: object) -> object:
        received.append(outer)
        return {"a": outer["n"] * 2}  # type: ignore[index]

    configured = echo.configured(
        mapping, "doubled", config_schema={"n": int, "m": Field(int, default_value=9)}
    )
    assert _run_config(configured, {"n": 4}) == {"a": 8, "b": "dflt"}
    assert received == [{"n": 4, "m": 9}]


@pytest.mark.parametrize(
    ("run_config", "received"),
    [
        pytest.param(None, None, id="nothing-supplied"),
        pytest.param({"free": "form"}, {"free": "form"}, id="any-config"),
        pytest.param(3, 3, id="scalar"),
    ],
)
def test_function_without_schema_receives_what_was_supplied(
    run_config: object, received: object
) -> None:
    seen: list[object] = []

    def mapping(outer: object) -> object:
        seen.append(outer)
        return {"a": 1}

    assert _run_config(echo.configured(mapping, "seen"), run_config) == {"a": 1, "b": "dflt"}
    assert seen == [received]


def test_function_result_is_validated_against_the_inner_schema() -> None:
    configured = echo.configured(lambda outer: {"a": "no"}, "bad_fn")  # no error here
    with pytest.raises(InvalidConfigError) as info:
        execute_in_process(configured)
    assert str(info.value) == (
        'Config that op "bad_fn" supplies to op "echo" is invalid\n'
        '  config.a: expected int, got "no" (str)'
    )


@pytest.mark.parametrize(
    "raised",
    [
        pytest.param(ValueError("nope"), id="value-error"),
        pytest.param(KeyError("n"), id="key-error"),
        pytest.param(TypeError("bad"), id="type-error"),
    ],
)
def test_exception_in_function_is_wrapped(raised: Exception) -> None:
    def mapping(outer: object) -> object:
        raise raised

    configured = echo.configured(mapping, "raises")
    with pytest.raises(ConfigMappingFunctionError) as info:
        execute_in_process(configured)
    assert str(info.value) == (
        f'The config function of configured op "raises" raised {type(raised).__name__}: {raised}'
    )
    assert info.value.user_exception is raised
    assert info.value.original_exc_info[1] is raised
    assert info.value.__cause__ is raised


def test_missing_outer_config_fails_in_a_run() -> None:
    configured = echo.configured(lambda outer: outer, "needs_outer", config_schema={"a": int})
    with pytest.raises(InvalidConfigError) as info:
        execute_in_process(configured)
    assert str(info.value) == (
        'Config for op "needs_outer" is invalid\n'
        "  config: required config was not given (expected a dict)"
    )


# -- chaining -----------------------------------------------------------------------------


def test_chain_resolves_outermost_to_innermost() -> None:
    calls: list[tuple[str, object]] = []

    def middle(outer: object) -> object:
        calls.append(("middle", outer))
        return {"a": outer["x"] + 1}  # type: ignore[index]

    def outer_fn(outer: object) -> object:
        calls.append(("outer", outer))
        return {"x": outer["y"] * 10}  # type: ignore[index]

    inner = echo.configured(middle, "middle", config_schema={"x": int})
    outer = inner.configured(outer_fn, "outer", config_schema={"y": int})
    assert _run_config(outer, {"y": 2}) == {"a": 21, "b": "dflt"}
    assert calls == [("outer", {"y": 2}), ("middle", {"x": 20})]
    assert outer.config_mapping is not None
    assert outer.config_mapping.parent is inner


def test_chain_of_constants_uses_the_innermost_constant() -> None:
    first = echo.configured({"a": 1}, "first")
    second = first.configured({"ignored": True}, "second")
    assert _run_config(second) == {"a": 1, "b": "dflt"}


@pytest.mark.parametrize(
    ("middle_result", "outer_result", "preamble", "errors"),
    [
        pytest.param(
            {"a": "bad"},
            {"x": 1},
            'Config that op "middle" supplies to op "echo" is invalid',
            [ConfigErrorDetail("config.a", 'expected int, got "bad" (str)')],
            id="middle-layer-wrong",
        ),
        pytest.param(
            {"a": 1},
            {"x": "bad"},
            'Config that op "outer" supplies to op "middle" is invalid',
            [ConfigErrorDetail("config.x", 'expected int, got "bad" (str)')],
            id="outer-layer-wrong",
        ),
    ],
)
def test_chain_errors_name_the_layer_that_supplied_the_config(
    middle_result: object, outer_result: object, preamble: str, errors: list[ConfigErrorDetail]
) -> None:
    middle = echo.configured(lambda c: middle_result, "middle", config_schema={"x": int})
    outer = middle.configured(lambda c: outer_result, "outer")
    with pytest.raises(InvalidConfigError) as info:
        execute_in_process(outer)
    assert info.value.preamble == preamble
    assert info.value.errors == errors


def test_chain_function_error_names_its_op() -> None:
    middle = echo.configured(lambda c: 1 / 0, "middle")
    outer = middle.configured({"x": 1}, "outer")
    _raises(
        ConfigMappingFunctionError,
        'The config function of configured op "middle" raised ZeroDivisionError: division by zero',
        lambda: execute_in_process(outer),
    )


# -- running a configured op --------------------------------------------------------------


def test_configured_op_runs_the_original_body_with_its_requirements() -> None:
    assert execute_in_process(CONFIGURED, inputs={"x": 5}, resources={"db": 1}).output_value() == 15
    _raises(
        InvalidInvocationError,
        'op "base_configured" requires resource(s) db, which were not provided',
        lambda: execute_in_process(CONFIGURED),
    )


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: echo.configured({"a": 1}, 1.5), id="float-name"),  # type: ignore[arg-type]
        pytest.param(lambda: echo.configured({"a": 1}, "x", config_schema=object()), id="schema"),
        pytest.param(lambda: execute_in_process(echo.configured(lambda c: c["k"], "k")), id="fn"),
        pytest.param(lambda: execute_in_process(echo.configured([1], "lst")), id="list-constant"),
        pytest.param(lambda: execute_in_process(echo.configured(None, "none")), id="none"),
    ],
)
def test_bad_input_raises_ophost_errors(call: Call) -> None:
    with pytest.raises(OpHostError) as info:
        call()
    assert not isinstance(info.value, (KeyError, IndexError, AttributeError, AssertionError))


# -- the free function configured(op, ...) -------------------------------------------------


def test_free_configured_decorating_a_function_takes_its_name() -> None:
    from ophost import configured

    @configured(echo, config_schema={"x": int})
    def doubled(outer):  # type: ignore[no-untyped-def]
        return {"a": outer["x"] * 2}

    assert isinstance(doubled, OpDefinition)
    assert doubled.name == "doubled"
    assert execute_in_process(doubled, config={"x": 4}).output_value() == {
        "a": 8,
        "b": "dflt",
    }


def test_free_configured_constant_needs_a_name() -> None:
    from ophost import configured

    made = configured(echo, name="fixed", description="fixed config")({"a": 1})
    assert (made.name, made.description) == ("fixed", "fixed config")
    with pytest.raises(InvalidArgumentError, match="give name="):
        configured(echo)({"a": 1})


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c(object()), "must be an OpDefinition"),
        (lambda c: c(echo, nme="x"), "unexpected keyword argument"),
        (lambda c: c(echo, description=3), "description must be a str"),
        (lambda c: c(echo, name=5)({"a": 1}), "name must be a str"),
    ],
    ids=["not-an-op", "unknown-keyword", "description-type", "name-type"],
)
def test_free_configured_argument_errors(call: Any, message: str) -> None:
    from ophost import configured

    with pytest.raises(InvalidArgumentError, match=message):
        call(configured)
