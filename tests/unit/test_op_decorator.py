"""@op: call forms, names, arguments, inputs and outputs, docstrings, definition properties."""

# The typing spellings (List, Optional, Union) are the subject of these tests.
# ruff: noqa: UP006, UP007, UP045

from __future__ import annotations

import typing
from typing import Optional, Union

import pytest

from ophost import (
    DagsterType,
    DefinitionError,
    In,
    InvariantViolationError,
    Nothing,
    OpDefinition,
    Out,
    Output,
    RetryPolicy,
    op,
)


def _names(defs: typing.Iterable[typing.Any]) -> list[str]:
    return [d.name for d in defs]


# -- call forms -------------------------------------------------------------------------


def test_bare_decorator_builds_definition() -> None:
    @op
    def plain(a, b):  # type: ignore[no-untyped-def]
        """Adds."""
        return a + b

    assert isinstance(plain, OpDefinition)
    assert plain.name == "plain"
    assert plain.__name__ == "plain"
    assert plain.__doc__ == "Adds."
    assert plain.__wrapped__ is not None
    assert plain.node_type_str == "op"


def test_name_as_first_positional_argument() -> None:
    @op("renamed")
    def original() -> None:
        return None

    assert original.name == "renamed"


def test_empty_name_falls_back_to_function_name() -> None:
    @op(name="")
    def fallback() -> None:
        return None

    assert fallback.name == "fallback"


# -- names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["1abc", "a_b", "A", "_", "x9"],
)
def test_valid_names(name: str) -> None:
    assert op(name=name)(lambda: None).name == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("has space", "must match the regex"),
        ("dash-ed", "must match the regex"),
        ("é", "must match the regex"),
        ("context", "reserved"),
        ("config", "reserved"),
        ("input", "reserved"),
        ("class", "reserved"),
        ("None", "reserved"),
        ("type", "reserved"),
    ],
)
def test_invalid_op_names(name: str, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        op(name=name)(lambda: None)


@pytest.mark.parametrize("param", ["config", "type", "dict", "int", "meta", "output"])
def test_reserved_parameter_names_fail_at_decoration(param: str) -> None:
    namespace: dict[str, typing.Any] = {}
    exec(f"def f({param}): return None", namespace)
    with pytest.raises(DefinitionError, match=f'"{param}"'):
        op(namespace["f"])


def test_function_named_input_is_rejected() -> None:
    def input():  # type: ignore[no-untyped-def]
        return None

    with pytest.raises(DefinitionError, match="reserved"):
        op(input)


# -- argument validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"description": 5}, "description must be a str"),
        ({"ins": {"a": 5}}, r'ins\["a"\] must be an In'),
        ({"ins": [In()]}, "ins must be a dict"),
        ({"out": [Out()]}, "out must be an Out or a dict"),
        ({"out": {"a": 1}}, r'out\["a"\] must be an Out'),
        ({"required_resource_keys": ["db"]}, "required_resource_keys must be a set"),
        ({"required_resource_keys": {1}}, "required_resource_keys must hold str"),
        ({"tags": {1: "a"}}, "tag keys must be str"),
        ({"tags": {"a": object()}}, 'tag "a"'),
        ({"tags": {"a": (1, 2)}}, 'tag "a"'),
        ({"version": 3}, "version must be a str"),
        ({"retry_policy": 3}, "retry_policy must be a RetryPolicy"),
        ({"version": "1", "code_version": "2"}, "same setting"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_arguments_name_the_op_and_argument(
    kwargs: dict[str, typing.Any], message: str
) -> None:
    def body(a):  # type: ignore[no-untyped-def]
        return a

    with pytest.raises(DefinitionError, match=message) as info:
        op(**kwargs)(body)
    assert 'op "body"' in str(info.value)


def test_tags_are_json_encoded() -> None:
    @op(tags={"a": "x", "b": 1, "c": {"d": [1, 2]}, "e": None})
    def tagged() -> None:
        return None

    assert dict(tagged.tags) == {"a": "x", "b": "1", "c": '{"d": [1, 2]}', "e": "null"}
    with pytest.raises(TypeError):
        tagged.tags["z"] = "y"  # type: ignore[index]


def test_resource_keys_and_version_stored() -> None:
    @op(required_resource_keys={"db", "s3"}, version="v1", retry_policy=RetryPolicy(2))
    def uses() -> None:
        return None

    assert uses.required_resource_keys == frozenset({"db", "s3"})
    assert uses.version == "v1"
    assert uses.code_version == "v1"
    assert uses.retry_policy == RetryPolicy(2)


def test_code_version_alias() -> None:
    @op(code_version="abc")
    def versioned() -> None:
        return None

    assert versioned.version == "abc"


def test_config_schema_none_means_any_optional() -> None:
    @op
    def no_config() -> None:
        return None

    assert no_config.config_schema.is_required is False


# -- input resolution -------------------------------------------------------------------


@pytest.mark.parametrize("first", ["context", "_context", "context_", "_"])
def test_context_detected_by_name(first: str) -> None:
    namespace: dict[str, typing.Any] = {}
    exec(f"def f({first}, a): return a", namespace)
    definition = op(namespace["f"])
    assert _names(definition.input_defs) == ["a"]


class OpExecutionContextLike:
    pass


def test_ctx_is_an_ordinary_input() -> None:
    @op
    def f(ctx: OpExecutionContextLike, a):  # type: ignore[no-untyped-def]
        return a

    assert _names(f.input_defs) == ["ctx", "a"]
    assert f.input_defs[0].dagster_type.name == "OpExecutionContextLike"


def test_context_only_detected_in_first_position() -> None:
    # A later parameter named "context" is an ordinary input, and that name is reserved.
    with pytest.raises(DefinitionError, match='"context"'):

        @op
        def f(a, context):  # type: ignore[no-untyped-def]
            return a


def test_explicit_ins_sorted_before_inferred() -> None:
    @op(ins={"b": In(str)})
    def f(a, b):  # type: ignore[no-untyped-def]
        return a

    assert _names(f.input_defs) == ["b", "a"]
    assert f.positional_inputs == ("a", "b")


def test_explicit_ins_alphabetical() -> None:
    @op(ins={"z": In(), "m": In(), "a": In()})
    def f(z, m, a):  # type: ignore[no-untyped-def]
        return z

    assert _names(f.input_defs) == ["a", "m", "z"]
    assert f.positional_inputs == ("z", "m", "a")


def test_varargs_rejected() -> None:
    with pytest.raises(DefinitionError, match="positional vararg"):

        @op
        def f(*args):  # type: ignore[no-untyped-def]
            return None


def test_kwargs_allowed_and_accept_unmatched_ins() -> None:
    @op(ins={"x": In(int)})
    def f(**kwargs):  # type: ignore[no-untyped-def]
        return kwargs

    assert _names(f.input_defs) == ["x"]


def test_unmatched_explicit_input_without_kwargs() -> None:
    with pytest.raises(DefinitionError, match='does not have parameter\\(s\\) "y"'):

        @op(ins={"y": In()})
        def f(a):  # type: ignore[no-untyped-def]
            return a


def test_nothing_input_must_not_be_in_signature() -> None:
    with pytest.raises(DefinitionError, match="Nothing input"):

        @op(ins={"start": In(Nothing)})
        def f(start):  # type: ignore[no-untyped-def]
            return start


def test_nothing_input_declared_only_in_ins() -> None:
    @op(ins={"start": In(Nothing)})
    def f() -> int:
        return 1

    assert _names(f.input_defs) == ["start"]
    assert f.input_defs[0].dagster_type.is_nothing
    assert f.input_defs[0].is_required is False


def test_nothing_input_with_default_rejected() -> None:
    with pytest.raises(DefinitionError, match="Nothing input cannot have a default"):

        @op(ins={"start": In(Nothing, default_value=None)})
        def f() -> None:
            return None


def test_keyword_only_and_positional_only_are_inputs() -> None:
    @op
    def f(a, /, b, *, c):  # type: ignore[no-untyped-def]
        return a

    assert _names(f.input_defs) == ["a", "b", "c"]
    assert f.positional_inputs == ("a", "b")


def test_explicit_type_wins_over_annotation() -> None:
    @op(ins={"a": In(str)})
    def f(a: int):  # type: ignore[no-untyped-def]
        return a

    assert f.input_defs[0].dagster_type.name == "String"


def test_merge_descriptions_and_defaults() -> None:
    @op(ins={"a": In(description="explicit")})
    def f(a: int = 3, b: str = "x"):  # type: ignore[no-untyped-def]
        """Summary.

        Args:
            a: from doc a
            b: from doc b
        """
        return a

    a, b = f.input_defs
    assert (a.description, a.default_value, a.dagster_type.name) == ("explicit", 3, "Int")
    assert (b.description, b.default_value) == ("from doc b", "x")


def test_explicit_default_wins() -> None:
    @op(ins={"a": In(default_value=7)})
    def f(a: int = 3):  # type: ignore[no-untyped-def]
        return a

    assert f.input_defs[0].default_value == 7


# -- annotation to type -----------------------------------------------------------------


class Custom:
    pass


@pytest.mark.parametrize(
    ("annotation", "name", "key"),
    [
        (typing.Any, "Any", "Any"),
        (int, "Int", "Int"),
        (float, "Float", "Float"),
        (str, "String", "String"),
        (bool, "Bool", "Bool"),
        (list, "[Any]", "List.Any"),
        (typing.List, "[Any]", "List.Any"),
        (typing.List[int], "[Int]", "List.Int"),
        (list[int], "[Int]", "List.Int"),
        (dict, "dict", "PythonDict"),
        (typing.Dict, "dict", "PythonDict"),
        (typing.Dict[str, int], "Dict[String,Int]", "TypedPythonDict.String.Int"),
        (dict[str, int], "Dict[String,Int]", "TypedPythonDict.String.Int"),
        (set, "set", "PythonSet"),
        (typing.Set[str], "Set[String]", "TypedPythonSet.String"),
        (set[str], "Set[String]", "TypedPythonSet.String"),
        (tuple, "tuple", "PythonTuple"),
        (typing.Tuple[int, str], "Tuple[Int,String]", "TypedPythonTupleInt.String"),
        (tuple[int, str], "Tuple[Int,String]", "TypedPythonTupleInt.String"),
        (Optional[int], "Int?", "Optional.Int"),
        # PEP 604 unions resolve like typing.Optional (Dagster 0.14 rejects them).
        (int | None, "Int?", "Optional.Int"),
        (Custom, "Custom", f"_TypeHintInferred[{__name__}.Custom]"),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_annotation_types(annotation: object, name: str, key: str) -> None:
    def f(a):  # type: ignore[no-untyped-def]
        return a

    f.__annotations__ = {"a": annotation}
    dtype = op(f).input_defs[0].dagster_type
    assert (dtype.name, dtype.key) == (name, key)


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        (tuple[int, ...], "'...'"),
        (Union[int, str], "union"),
        (int | str, "union"),
        (typing.Callable[[int], int], "cannot be used"),
    ],
    ids=["ellipsis", "union", "pep604-union", "callable"],
)
def test_unsupported_annotations(annotation: object, message: str) -> None:
    def f(a):  # type: ignore[no-untyped-def]
        return a

    f.__annotations__ = {"a": annotation}
    with pytest.raises(DefinitionError, match=message) as info:
        op(f)
    assert 'input "a"' in str(info.value)


def test_nothing_annotation_on_input_rejected() -> None:
    def f(a):  # type: ignore[no-untyped-def]
        return a

    f.__annotations__ = {"a": type(None)}
    with pytest.raises(DefinitionError, match="Nothing"):
        op(f)


def test_inferred_class_type_is_cached() -> None:
    @op
    def f(a: Custom) -> Custom:
        return a

    assert f.input_defs[0].dagster_type is f.output_defs[0].dagster_type


@pytest.mark.parametrize("bad", [{}, 5, "str"], ids=["dict", "int", "string"])
def test_non_type_dagster_type(bad: object) -> None:
    with pytest.raises(DefinitionError, match="dagster_type must be an instance of DagsterType"):
        In(bad)


def test_dagster_type_instance_used_as_is() -> None:
    even = DagsterType(lambda _c, v: isinstance(v, int) and v % 2 == 0, name="Even")

    @op(ins={"a": In(even)})
    def f(a):  # type: ignore[no-untyped-def]
        return a

    assert f.input_defs[0].dagster_type is even


def test_string_annotations_resolve() -> None:
    # String annotations resolve like their typing spellings (Dagster 0.14 rejects them).
    def f(a: "int", b: "str | None") -> "list[int]":  # noqa: UP037
        return [a]

    definition = op(f)
    assert [d.dagster_type.name for d in definition.input_defs] == ["Int", "String?"]
    assert definition.output_defs[0].dagster_type.name == "[Int]"


def test_unresolvable_string_annotation_names_parameter() -> None:
    def f(a: NoSuchType) -> object:  # type: ignore[name-defined]  # noqa: F821
        return a

    with pytest.raises(DefinitionError, match='parameter "a"'):
        op(f)


# -- defaults ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotation", "default"),
    [(int, None), (float, 1), (str, 1), (bool, 0)],
    ids=["int-None", "float-1", "str-1", "bool-0"],
)
def test_scalar_defaults_are_checked(annotation: type, default: object) -> None:
    def f(a=default):  # type: ignore[no-untyped-def]
        return a

    f.__annotations__ = {"a": annotation}
    with pytest.raises(DefinitionError, match="default value"):
        op(f)


@pytest.mark.parametrize(
    ("annotation", "default"),
    [(list, 5), (Optional[int], None), (dict, "x"), (int, True)],
    ids=["list-5", "optional-None", "dict-str", "int-True"],
)
def test_non_scalar_defaults_not_checked(annotation: object, default: object) -> None:
    def f(a=default):  # type: ignore[no-untyped-def]
        return a

    f.__annotations__ = {"a": annotation}
    definition = op(f)
    assert definition.input_defs[0].default_value == default
    assert definition.input_defs[0].has_default_value


def test_none_default_counts_as_default() -> None:
    @op
    def f(a=None):  # type: ignore[no-untyped-def]
        return a

    assert f.input_defs[0].has_default_value
    assert f.input_defs[0].default_value is None


# -- outputs -----------------------------------------------------------------------------


def test_default_output_from_annotation() -> None:
    @op
    def f() -> int:
        return 1

    assert [(d.name, d.dagster_type.name) for d in f.output_defs] == [("result", "Int")]


def test_none_return_annotation_is_any() -> None:
    @op
    def f() -> None:
        return None

    assert f.output_defs[0].dagster_type.name == "Any"


def test_generator_annotation_ignored() -> None:
    @op
    def f() -> typing.Iterator[Output[int]]:
        yield Output(1)

    assert f.output_defs[0].dagster_type.name == "Any"


def test_async_generator_annotation_is_not_ignored() -> None:
    with pytest.raises(DefinitionError, match="return type annotation"):

        @op
        async def f() -> typing.AsyncIterator[Output[int]]:
            yield Output(1)


def test_output_annotation_generic() -> None:
    @op
    def f() -> Output[int]:
        return Output(1)

    @op
    def g() -> Output:  # type: ignore[type-arg]
        return Output(1)

    assert f.output_defs[0].dagster_type.name == "Int"
    assert g.output_defs[0].dagster_type.name == "Any"


def test_single_out_type_wins() -> None:
    @op(out=Out(str, description="d"))
    def f() -> int:
        return 1

    out = f.output_defs[0]
    assert (out.name, out.dagster_type.name, out.description) == ("result", "String", "d")


def test_single_named_out_takes_annotation() -> None:
    @op(out={"x": Out()})
    def f() -> int:
        return 1

    assert [(d.name, d.dagster_type.name) for d in f.output_defs] == [("x", "Int")]


def test_empty_out_dict_means_no_outputs() -> None:
    @op(out={})
    def f() -> None:
        return None

    assert f.output_defs == ()


def test_multiple_outputs_follow_tuple_annotation() -> None:
    @op(out={"a": Out(), "b": Out(str)})
    def f() -> tuple[int, float]:
        return 1, 2.0

    assert [(d.name, d.dagster_type.name) for d in f.output_defs] == [
        ("a", "Int"),
        ("b", "String"),
    ]


def test_multiple_outputs_need_tuple_annotation() -> None:
    with pytest.raises(InvariantViolationError, match="Tuple annotation"):

        @op(out={"a": Out(), "b": Out()})
        def f() -> int:
            return 1


def test_multiple_outputs_tuple_arity() -> None:
    with pytest.raises(InvariantViolationError, match="3 element"):

        @op(out={"a": Out(), "b": Out()})
        def f() -> tuple[int, int, int]:
            return 1, 2, 3


def test_out_is_required_must_be_bool() -> None:
    from ophost import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="is_required must be a bool"):
        Out(is_required=1)  # type: ignore[arg-type]


# -- docstrings --------------------------------------------------------------------------


def test_description_from_docstring_first_line_kept() -> None:
    @op
    def f(a):  # type: ignore[no-untyped-def]
        """Does a thing.

        Args:
            a: the a input.

        Returns:
            the answer.
        """
        return a

    assert f.description == (
        "Does a thing.\nArgs:\n    a: the a input.\n\nReturns:\n    the answer."
    )
    assert f.input_defs[0].description == "the a input."
    assert f.output_defs[0].description == "the answer."


def test_description_from_indented_docstring() -> None:
    @op
    def f() -> None:
        """
        Indented summary.
        """
        return

    assert f.description == "Indented summary."


def test_explicit_description_wins() -> None:
    @op(description="given")
    def f() -> None:
        """Doc."""
        return

    assert f.description == "given"


# -- definition properties ---------------------------------------------------------------


def test_properties_rebuild_ins_and_outs() -> None:
    @op(ins={"a": In(int, description="an a", metadata={"k": "v"})}, out=Out(str))
    def f(a):  # type: ignore[no-untyped-def]
        return str(a)

    assert set(f.ins) == {"a"}
    assert f.ins["a"].dagster_type is not None
    assert f.ins["a"].dagster_type.name == "Int"
    assert f.ins["a"].description == "an a"
    assert f.outs["result"].dagster_type is not None
    assert f.outs["result"].dagster_type.name == "String"
    assert f.input_dict["a"].name == "a"
    assert list(f.output_dict) == ["result"]


def test_in_metadata_is_lenient() -> None:
    @op(ins={"a": In(metadata={"bad": object()})})
    def f(a):  # type: ignore[no-untyped-def]
        return a

    (entry,) = f.input_defs[0].metadata_entries
    assert entry.label == "bad"
    assert entry.value.value == "[object] (unserializable)"


def test_hand_built_definition() -> None:
    def compute(context, inputs):  # type: ignore[no-untyped-def]
        yield Output(inputs["a"] + 1)

    definition = OpDefinition(compute, "built", ins={"a": In(int)}, outs={"result": Out(int)})
    assert _names(definition.input_defs) == ["a"]
    assert _names(definition.output_defs) == ["result"]
    assert definition.decorated_fn is None


def test_in_and_out_equality() -> None:
    assert In(int, "d") == In(int, "d")
    assert In(int) != In(str)
    assert Out(int) == Out(int)
    assert Out(int, is_required=False) != Out(int)
    assert In().metadata == {}
    assert Out().metadata is None
    assert Out().io_manager_key == "io_manager"
