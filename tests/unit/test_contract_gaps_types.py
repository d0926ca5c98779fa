"""Dagster's rules for types, defaults, outputs, In and Out that no other test pinned.

Annotations to types, defaults, outputs, Nothing inputs, docstrings, OpDefinition
properties, In and Out.
"""

# The typing spellings (List, Optional, Union, ...) are the subject of several tables.
# ruff: noqa: UP006, UP007, UP045

import typing
from collections.abc import Callable
from typing import Any, Optional, Union

import pytest

from ophost import (
    DagsterType,
    DefinitionError,
    In,
    IntMetadataValue,
    InvariantViolationError,
    Nothing,
    OpDefinition,
    Out,
    Output,
    TextMetadataValue,
    TypeCheckFailedError,
    execute_in_process,
    op,
)
from ophost.definitions._types import TypeKind
from ophost.execution import InputChecked

Call = Callable[[], object]

# Untyped alias: a test passes a wrong type on purpose.
_five: Any = 5


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


# -- annotation to type --------------------------------------------------------------------


class Custom:
    pass


class SubCustom(Custom):
    pass


_NO_ANNOTATION = object()


@pytest.mark.parametrize(
    ("annotation", "name", "key", "kind"),
    [
        pytest.param(_NO_ANNOTATION, "Any", "Any", TypeKind.ANY, id="none"),
        pytest.param(typing.Any, "Any", "Any", TypeKind.ANY, id="typing-Any"),
        pytest.param(int, "Int", "Int", TypeKind.INT, id="int"),
        pytest.param(float, "Float", "Float", TypeKind.FLOAT, id="float"),
        pytest.param(str, "String", "String", TypeKind.STRING, id="str"),
        pytest.param(bool, "Bool", "Bool", TypeKind.BOOL, id="bool"),
        pytest.param(list, "[Any]", "List.Any", TypeKind.LIST, id="list"),
        pytest.param(typing.List[str], "[String]", "List.String", TypeKind.LIST, id="List[str]"),
        pytest.param(
            typing.List[typing.List[int]], "[[Int]]", "List.List.Int", TypeKind.LIST, id="nested"
        ),
        pytest.param(typing.Dict, "dict", "PythonDict", TypeKind.DICT, id="Dict"),
        pytest.param(
            typing.Dict[str, typing.List[int]],
            "Dict[String,[Int]]",
            "TypedPythonDict.String.List.Int",
            TypeKind.DICT,
            id="Dict[str,List[int]]",
        ),
        pytest.param(typing.Set, "set", "PythonSet", TypeKind.SET, id="Set"),
        pytest.param(
            typing.Set[int], "Set[Int]", "TypedPythonSet.Int", TypeKind.SET, id="Set[int]"
        ),
        pytest.param(typing.Tuple, "tuple", "PythonTuple", TypeKind.TUPLE, id="Tuple"),
        pytest.param(
            typing.Tuple[int, str],
            "Tuple[Int,String]",
            "TypedPythonTupleInt.String",
            TypeKind.TUPLE,
            id="Tuple[int,str]",
        ),
        pytest.param(Optional[str], "String?", "Optional.String", TypeKind.OPTIONAL, id="Opt"),
        pytest.param(Union[int, None], "Int?", "Optional.Int", TypeKind.OPTIONAL, id="Union-None"),
        pytest.param(
            Optional[typing.List[int]],
            "[Int]?",
            "Optional.List.Int",
            TypeKind.OPTIONAL,
            id="Optional[List[int]]",
        ),
        pytest.param(
            Custom, "Custom", f"_TypeHintInferred[{__name__}.Custom]", TypeKind.CUSTOM, id="class"
        ),
    ],
)
def test_annotation_to_type(annotation: object, name: str, key: str, kind: TypeKind) -> None:
    fn = _fn("body", "a")
    if annotation is not _NO_ANNOTATION:
        fn.__annotations__ = {"a": annotation}
    dtype = op(fn).input_defs[0].dagster_type
    assert (dtype.name, dtype.key, dtype.kind) == (name, key, kind)


@pytest.mark.parametrize(
    ("annotation", "reason"),
    [
        pytest.param(
            typing.Tuple[int, ...],
            "the annotation typing.Tuple[int, ...] uses '...', which is not supported; "
            "give every element's type",
            id="Tuple-ellipsis",
        ),
        pytest.param(
            Union[None, int],
            "the union typing.Optional[int] is not supported; only Optional[X] "
            "(X | None, with None last) is",
            id="None-first",
        ),
        pytest.param(
            Union[int, str, None],
            "the union typing.Union[int, str, NoneType] is not supported; only Optional[X] "
            "(X | None, with None last) is",
            id="three-way-union",
        ),
        pytest.param(
            5,
            "invalid type 5: dagster_type must be an instance of DagsterType or a Python type",
            id="int-value",
        ),
        pytest.param(
            {},
            "invalid type {}: dagster_type must be an instance of DagsterType or a Python type",
            id="unhashable",
        ),
    ],
)
def test_unsupported_annotations_name_the_input(annotation: object, reason: str) -> None:
    fn = _fn("body", "a")
    fn.__annotations__ = {"a": annotation}
    _raises(DefinitionError, f'op "body" input "a" annotation: {reason}', lambda: op(fn))


@pytest.mark.parametrize(
    ("annotation", "reason"),
    [
        pytest.param(
            Union[int, str],
            "the union typing.Union[int, str] is not supported; only Optional[X] "
            "(X | None, with None last) is",
            id="union",
        ),
        pytest.param(
            "str-value",
            "the annotation 'str-value' of return type cannot be resolved",
            id="bad-string",
        ),
        pytest.param(
            7,
            "invalid type 7: dagster_type must be an instance of DagsterType or a Python type",
            id="int-value",
        ),
    ],
)
def test_unsupported_return_annotations_mention_the_return_type(
    annotation: object, reason: str
) -> None:
    fn = _fn("body")
    fn.__annotations__ = {"return": annotation}
    with pytest.raises(DefinitionError) as info:
        op(fn)
    assert str(info.value).startswith('op "body"')
    assert "return type" in str(info.value)
    assert reason in str(info.value)


@pytest.mark.parametrize(
    "annotation", [pytest.param(None, id="None"), pytest.param(type(None), id="NoneType")]
)
def test_none_as_an_input_annotation_is_nothing_and_rejected(annotation: object) -> None:
    fn = _fn("body", "a")
    fn.__annotations__ = {"a": annotation}
    _raises(
        DefinitionError,
        'op "body" input "a": Nothing cannot be used as the annotation of a parameter; declare '
        'it with ins={"name": In(Nothing)} instead',
        lambda: op(fn),
    )


@pytest.mark.parametrize(
    ("make", "where"),
    [
        pytest.param(In, "In", id="In"),
        pytest.param(Out, "Out", id="Out"),
    ],
)
@pytest.mark.parametrize(
    "bad", [pytest.param({}, id="dict"), pytest.param(5, id="int"), pytest.param("s", id="str")]
)
def test_non_type_dagster_type_is_a_definition_error(
    make: Callable[[object], object], where: str, bad: object
) -> None:
    _raises(
        DefinitionError,
        f"{where}: invalid type {bad!r}: dagster_type must be an instance of DagsterType or a "
        "Python type",
        lambda: make(bad),
    )


def test_inferred_class_type_is_one_registration_for_every_op() -> None:
    @op
    def first(a: Custom) -> None:
        return None

    @op(ins={"b": In(Custom)}, out=Out(Custom))
    def second(b):  # type: ignore[no-untyped-def]
        return b

    dtype = first.input_defs[0].dagster_type
    assert second.input_defs[0].dagster_type is dtype
    assert second.output_defs[0].dagster_type is dtype


_CUSTOM_FAIL = f'Value "5" of python type "int" must be an instance of {__name__}.Custom.'


@pytest.mark.parametrize(
    ("value", "success", "description"),
    [
        pytest.param(Custom(), True, None, id="instance"),
        pytest.param(SubCustom(), True, None, id="subclass-instance"),
        pytest.param(5, False, _CUSTOM_FAIL, id="other"),
        pytest.param(Custom, False, None, id="the-class-itself"),
    ],
)
def test_inferred_class_type_checks_with_isinstance(
    value: object, success: bool, description: str | None
) -> None:
    @op
    def f(a: Custom) -> None:
        return None

    result = f.input_defs[0].dagster_type.type_check(None, value)
    assert result.success is success
    if description is not None:
        assert result.description == description


def _fails(value: object, kind: str) -> str:
    return f'Value "{value}" of python type "{type(value).__name__}" must be a {kind}.'


@pytest.mark.parametrize(
    ("annotation", "value", "description"),
    [
        pytest.param(list[int], 5, _fails(5, "list"), id="not-a-list"),
        pytest.param(list[int], [1, "x", 2.5], _fails("x", "int"), id="list-first-bad"),
        pytest.param(list[list[int]], [[1], [2, "y"]], _fails("y", "int"), id="nested-list"),
        pytest.param(dict[str, int], {"a": 1, 2: 3}, _fails(2, "string"), id="dict-key"),
        pytest.param(dict[str, int], {"a": "b"}, _fails("b", "int"), id="dict-value"),
        pytest.param(dict, [1], _fails([1], "dict"), id="not-a-dict"),
        pytest.param(set[str], {7}, _fails(7, "string"), id="set-element"),
        pytest.param(set, [1], _fails([1], "set"), id="not-a-set"),
        pytest.param(tuple[int, str], (1, 2), _fails(2, "string"), id="tuple-element"),
        pytest.param(tuple, [1], _fails([1], "tuple"), id="not-a-tuple"),
        pytest.param(Optional[int], "x", _fails("x", "int"), id="optional-inner"),
        pytest.param(bool, 1, _fails(1, "bool"), id="int-for-bool"),
        pytest.param(float, 1, _fails(1, "float"), id="int-for-float"),
        pytest.param(str, b"s", _fails(b"s", "string"), id="bytes-for-str"),
    ],
)
def test_container_checks_report_the_first_failing_element(
    annotation: object, value: object, description: str
) -> None:
    fn = _fn("body", "a")
    fn.__annotations__ = {"a": annotation}
    result = op(fn).input_defs[0].dagster_type.type_check(None, value)
    assert result.success is False
    assert result.description == description


# -- default values, from the signature and from In -------------------------------------


@pytest.mark.parametrize(
    ("declared", "type_name", "default"),
    [
        pytest.param(In(int, default_value="x"), "Int", "'x'", id="int-str"),
        pytest.param(In(int, default_value=None), "Int", "None", id="int-None"),
        pytest.param(In(float, default_value=1), "Float", "1", id="float-int"),
        pytest.param(In(str, default_value=1), "String", "1", id="str-int"),
        pytest.param(In(bool, default_value=0), "Bool", "0", id="bool-0"),
    ],
)
def test_in_default_is_checked_when_the_definition_is_built(
    declared: In, type_name: str, default: str
) -> None:
    # In itself does not check the default (it was built above); the op does.
    message = (
        f'op "body" input "a": the default value {default} is not of the input\'s type '
        f'"{type_name}"'
    )
    _raises(DefinitionError, message, lambda: op(ins={"a": declared})(_fn("body", "a")))
    _raises(
        DefinitionError,
        message.replace('"body"', '"hand"'),
        lambda: OpDefinition(_core, "hand", ins={"a": declared}),
    )


@pytest.mark.parametrize(
    ("declared", "default"),
    [
        pytest.param(In(list, default_value=5), 5, id="list-5"),
        pytest.param(In(Optional[int], default_value=None), None, id="optional-None"),
        pytest.param(In(int, default_value=True), True, id="int-True"),
        pytest.param(In(Custom, default_value="x"), "x", id="class-str"),
    ],
)
def test_in_default_of_non_scalar_types_is_not_checked(declared: In, default: object) -> None:
    definition = op(ins={"a": declared})(_fn("body", "a"))
    assert definition.input_defs[0].default_value == default


@pytest.mark.parametrize(
    ("annotation", "default", "message"),
    [
        pytest.param(list, 5, _fails(5, "list"), id="list-5"),
        pytest.param(
            Custom,
            "x",
            f'Value "x" of python type "str" must be an instance of {__name__}.Custom.',
            id="class-str",
        ),
    ],
)
def test_unchecked_defaults_are_type_checked_at_run_time(
    annotation: object, default: object, message: str
) -> None:
    fn = _fn("body", f"a={default!r}", "return a")
    fn.__annotations__ = {"a": annotation}
    definition = op(fn)
    expected = (
        f'Type check failed for step input "a" - expected type '
        f'"{definition.input_defs[0].dagster_type.name}". Description: {message}'
    )
    result = execute_in_process(definition, raise_on_error=False)
    checked = [e.body for e in result.events if isinstance(e.body, InputChecked)]
    assert [(c.input_name, c.type_check.success) for c in checked] == [("a", False)]
    assert result.failure is not None
    assert result.failure.error.message == expected
    _raises(TypeCheckFailedError, expected, definition)


# -- outputs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("out", "annotation", "expected"),
    [
        pytest.param(Out(description="d"), int, [("result", "Int")], id="untyped-Out"),
        pytest.param(Out(None), int, [("result", "Any")], id="Out-None-wins"),
        pytest.param(
            {"a": Out(), "b": Out()},
            typing.Tuple[int, str],
            [("a", "Int"), ("b", "String")],
            id="typing-Tuple",
        ),
        pytest.param(
            {"a": Out(), "b": Out(float)},
            tuple[int, str],
            [("a", "Int"), ("b", "Float")],
            id="explicit-type-wins",
        ),
        pytest.param({"a": Out(), "b": Out()}, None, [("a", "Any"), ("b", "Any")], id="-> None"),
    ],
)
def test_output_types(out: object, annotation: object, expected: list[tuple[str, str]]) -> None:
    fn = _fn("body")
    fn.__annotations__ = {"return": annotation}
    definition = op(out=out)(fn)  # type: ignore[call-overload]
    assert [(d.name, d.dagster_type.name) for d in definition.output_defs] == expected


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        pytest.param(
            list[int],
            'op "body": expected a Tuple annotation for multiple outputs, got list[int]',
            id="list",
        ),
        pytest.param(
            typing.Tuple[int],
            'op "body": the return annotation has 1 element(s) but the op declares 2 outputs',
            id="too-short",
        ),
    ],
)
def test_multiple_output_annotation_errors(annotation: object, message: str) -> None:
    fn = _fn("body")
    fn.__annotations__ = {"return": annotation}
    _raises(InvariantViolationError, message, lambda: op(out={"a": Out(), "b": Out()})(fn))


# -- Nothing inputs -----------------------------------------------------------------------


@op(ins={"after": In(dagster_type=Nothing), "a": In(int)})
def with_nothing(a):  # type: ignore[no-untyped-def]
    return a


@pytest.mark.parametrize(
    "inputs",
    [
        pytest.param({"a": 1}, id="unconnected"),
        pytest.param({"a": 1, "after": None}, id="given-as-None"),
    ],
)
def test_nothing_inputs_carry_no_value_and_are_not_checked(inputs: dict[str, object]) -> None:
    result = execute_in_process(with_nothing, inputs=inputs)
    assert result.output_value() == 1
    checked = [e.body.input_name for e in result.events if isinstance(e.body, InputChecked)]
    assert checked == ["a"]
    assert with_nothing.input_dict["after"].dagster_type is Nothing


# -- descriptions from docstrings ---------------------------------------------------------


def _doc_op(doc: str | None) -> OpDefinition:
    fn = _fn("body", "a, b")
    fn.__doc__ = doc
    return op(fn)


@pytest.mark.parametrize(
    ("doc", "description"),
    [
        pytest.param(None, None, id="no-docstring"),
        pytest.param("One line.", "One line.", id="single-line"),
        pytest.param("Summary.\n", "Summary.\n", id="first-line-keeps-its-newline"),
        pytest.param(
            "Summary.\n\n\n    Body line.\n      indented.\n",
            "Summary.\nBody line.\n  indented.",
            id="blank-lines-dropped",
        ),
        pytest.param("\n    Indented.\n\n    More.\n", "Indented.\n\nMore.", id="whitespace-first"),
        pytest.param("  Leading spaces.  ", "Leading spaces.", id="space-first"),
    ],
)
def test_op_description_from_docstring(doc: str | None, description: str | None) -> None:
    assert _doc_op(doc).description == description


@pytest.mark.parametrize(
    ("doc", "inputs", "returns"),
    [
        pytest.param(
            """Summary.

            :param a: the a.
            :param int b: the b
                continued.
            :returns: the result.
            """,
            ["the a.", "the b continued."],
            "the result.",
            id="rest",
        ),
        pytest.param(
            """Summary.

            Parameters
            ----------
            a : int
                the a.
            b
                the b.

            Returns
            -------
            int
                the result.
            """,
            ["the a.", "the b."],
            "the result.",
            id="numpy",
        ),
        pytest.param(
            """Summary.

            Args:
                a (int): the a.
                b: the b.

            Returns:
                int: the result.
            """,
            ["the a.", "the b."],
            "the result.",
            id="google",
        ),
        pytest.param(
            """Summary.

            Args:
            :param
            a b c d
            """,
            [None, None],
            None,
            id="malformed-ignored",
        ),
    ],
)
def test_input_and_output_descriptions_from_docstring(
    doc: str, inputs: list[str | None], returns: str | None
) -> None:
    definition = _doc_op(doc)
    assert [d.description for d in definition.input_defs] == inputs
    assert definition.output_defs[0].description == returns


# -- OpDefinition properties --------------------------------------------------------------


def test_hand_built_compute_fn_is_the_core_function() -> None:
    definition = OpDefinition(_core, "hand")
    assert definition.compute_fn is _core
    assert definition.decorated_fn is None
    assert definition.positional_inputs == ()
    assert definition.node_type_str == "op"


def test_ins_and_outs_carry_resolved_types_and_metadata() -> None:
    @op(
        ins={"a": In(int, metadata={"k": "v", "bad": {1}})},
        out={"x": Out(str, metadata={"n": 1}), "y": Out(is_required=False)},
    )
    def f(a):  # type: ignore[no-untyped-def]
        return a, a

    (a,) = f.ins.values()
    assert a.dagster_type is not None
    assert a.dagster_type.name == "Int"
    assert a.metadata == {
        "k": TextMetadataValue("v"),
        "bad": TextMetadataValue("[set] (unserializable)"),
    }
    assert list(f.outs) == ["x", "y"]
    x, y = f.outs.values()
    assert x.dagster_type is not None
    assert y.dagster_type is not None
    assert (x.dagster_type.name, x.metadata, x.is_required) == (
        "String",
        {"n": IntMetadataValue(1)},
        True,
    )
    assert (y.dagster_type.name, y.metadata, y.is_required) == ("Any", {}, False)


# -- In and Out ---------------------------------------------------------------------------


def test_in_equality_compares_types_by_key() -> None:
    first = DagsterType(lambda _c, _v: True, name="Same")
    second = DagsterType(lambda _c, _v: False, name="Same")
    other = DagsterType(lambda _c, _v: True, name="Other")
    assert In(first, "d") == In(second, "d")
    assert In(first) != In(other)
    assert Out(first) == Out(second)


def test_out_description_is_checked_when_the_definition_is_built() -> None:
    declared = Out(description=_five)
    assert declared.description == _five
    _raises(
        DefinitionError,
        'op "body" output "result": description must be a str',
        lambda: op(out=declared)(_fn("body")),
    )
    _raises(
        DefinitionError,
        'op "hand" output "o": description must be a str',
        lambda: OpDefinition(_core, "hand", outs={"o": declared}),
    )


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        pytest.param((1, 2), "[tuple] (unserializable)", id="tuple"),
        pytest.param({1, 2}, "[set] (unserializable)", id="set"),
        pytest.param(object(), "[object] (unserializable)", id="object"),
        pytest.param({"a": {1}}, "[dict] (unserializable)", id="dict-not-json"),
    ],
)
def test_out_metadata_is_lenient(raw: object, text: str) -> None:
    definition = op(out=Out(metadata={"m": raw, "ok": 1}))(_fn("body"))
    entries = definition.output_defs[0].metadata_entries
    assert (entries[0].label, entries[0].value) == ("m", TextMetadataValue(text))
    assert entries[1].label == "ok"


def test_returned_output_for_a_definition_with_ins_and_outs() -> None:
    # Output's generic form works as a return annotation and types the output.
    @op(ins={"a": In(int)})
    def f(a) -> Output[str]:  # type: ignore[no-untyped-def]
        return Output(str(a))

    assert f.output_defs[0].dagster_type.name == "String"
    assert f(1) == Output("1")
