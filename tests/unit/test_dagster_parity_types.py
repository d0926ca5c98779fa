"""The Dagster 0.14 type and config vocabulary that op code imports next to ``op``.

Each test names the Dagster 0.14.20 behaviour it compares against: the API reference
pages "Types" and "Config" (https://docs.dagster.io/_apidocs/types and
https://docs.dagster.io/_apidocs/config, 0.14 in the version archive) and the modules of
the released ``dagster`` 0.14 package
(``dagster.core.types.dagster_type``, ``dagster.config``,
``dagster.utils.test.check_dagster_type``). Where a name affects an op's signature the
test also reads it back from the wire (``ophost.codec``). Deliberate differences are in
docs/dagster-differences.md and docs/config.md.
"""

# No ``from __future__ import annotations``: the op annotations below name classes
# defined inside the tests, which Dagster 0.14 reads as objects, not strings.
import enum
import typing

import pytest

from ophost import (
    Any,
    Bool,
    DagsterType,
    DefinitionError,
    Dict,
    Enum,
    EnumValue,
    Failure,
    Field,
    Float,
    In,
    Int,
    InvalidArgumentError,
    InvalidConfigDefinitionError,
    InvalidConfigError,
    InvariantViolationError,
    List,
    Map,
    Nothing,
    Optional,
    Out,
    PythonObjectDagsterType,
    Set,
    String,
    Tuple,
    TypeCheck,
    TypeCheckFailedError,
    build_op_context,
    check_dagster_type,
    execute_in_process,
    make_python_type_usable_as_dagster_type,
    op,
    usable_as_dagster_type,
)
from ophost.codec import config as config_codec
from ophost.codec import definitions as definitions_codec
from ophost.codec import types as types_codec
from ophost.definitions._config import ConfigKind, resolve_config_schema, validate_config

# --- Int, Float, String, Bool, Any, Nothing --------------------------------------------


@pytest.mark.parametrize(
    ("dagster_name", "python_type", "good", "bad"),
    [
        pytest.param(Int, int, 3, "3", id="Int"),
        pytest.param(Float, float, 1.5, 1, id="Float"),
        pytest.param(String, str, "a", 1, id="String"),
        pytest.param(Bool, bool, True, 0, id="Bool"),
    ],
)
def test_scalar_names_are_op_types_and_config_types(
    dagster_name: DagsterType, python_type: type, good: object, bad: object
) -> None:
    """Dagster 0.14: ``Int``, ``Float``, ``String`` and ``Bool`` are built-in types
    usable as ``In``/``Out`` types (same as the Python annotation) and, in a config
    schema, as the scalar config types."""
    assert In(dagster_name).dagster_type is In(python_type).dagster_type
    assert dagster_name.display_name == dagster_name.unique_name == dagster_name.key
    assert dagster_name.typing_type is python_type
    assert check_dagster_type(dagster_name, good).success
    assert not check_dagster_type(dagster_name, bad).success
    assert Field(dagster_name) == Field(python_type)
    assert resolve_config_schema({"x": dagster_name}, where="t") == resolve_config_schema(
        {"x": python_type}, where="t"
    )
    wire = types_codec.to_proto(dagster_name)
    assert wire == types_codec.to_proto(In(python_type).dagster_type)  # type: ignore[arg-type]
    assert wire.WhichOneof("kind") == "scalar_type"


def test_any_and_nothing() -> None:
    """``Any`` is one name in both systems (every value passes; any config is kept);
    ``Nothing`` is an op type only (ordering inputs, value ``None``)."""
    assert In(Any).dagster_type is In(typing.Any).dagster_type
    assert In(Any).dagster_type.display_name == "Any"  # type: ignore[union-attr]
    assert check_dagster_type(Any, object()).success
    assert validate_config(resolve_config_schema(Any, where="t"), {"x": [1]}) == {"x": [1]}
    assert In(Nothing).dagster_type is Nothing
    assert Nothing.typing_type is type(None)
    assert check_dagster_type(Nothing, None).success
    assert not check_dagster_type(Nothing, 1).success
    with pytest.raises(InvalidConfigDefinitionError, match='the type "Nothing" is a type for op'):
        Field(Nothing)


def test_scalar_names_work_inside_ops() -> None:
    """An op written with the Dagster names, typed and configured, runs as in Dagster."""

    @op(
        ins={"n": In(Int)},
        out=Out(String),
        config_schema={"times": Int, "sep": Field(String, default_value="-")},
    )
    def repeat(context, n):  # type: ignore[no-untyped-def]
        return context.op_config["sep"].join([str(n)] * context.op_config["times"])

    assert repeat(build_op_context(op_config={"times": 2}), 4) == "4-4"
    result = execute_in_process(repeat, inputs={"n": 5}, config={"times": 3, "sep": "+"})
    assert result.outputs == {"result": "5+5+5"}
    with pytest.raises(TypeCheckFailedError, match='step input "n" - expected type "Int"'):
        execute_in_process(repeat, inputs={"n": "5"}, config={"times": 1})


# --- List, Optional, Set, Tuple, Dict ---------------------------------------------------


@pytest.mark.parametrize(
    ("dagster_spelling", "typing_spelling", "display", "key"),
    [
        pytest.param(List[int], typing.List[int], "[Int]", "List.Int", id="List"),  # noqa: UP006
        pytest.param(List[String], list[str], "[String]", "List.String", id="List-of-String"),
        pytest.param(List, list, "[Any]", "List.Any", id="bare-List"),
        pytest.param(Optional[int], typing.Optional[int], "Int?", "Optional.Int", id="Optional"),  # noqa: UP045
        pytest.param(Set[str], typing.Set[str], "Set[String]", "TypedPythonSet.String", id="Set"),  # noqa: UP006
        pytest.param(Set, set, "set", "PythonSet", id="bare-Set"),
        pytest.param(
            Tuple[int, str],
            tuple[int, str],
            "Tuple[Int,String]",
            "TypedPythonTupleInt.String",
            id="Tuple",
        ),
        pytest.param(Tuple, tuple, "tuple", "PythonTuple", id="bare-Tuple"),
        pytest.param(
            Dict[str, Int],
            dict[str, int],
            "Dict[String,Int]",
            "TypedPythonDict.String.Int",
            id="Dict",
        ),
        pytest.param(Dict, dict, "dict", "PythonDict", id="bare-Dict"),
        pytest.param(
            List[Optional[Dict[str, List[int]]]],
            list[dict[str, list[int]] | None],
            "[Dict[String,[Int]]?]",
            "List.Optional.TypedPythonDict.String.List.Int",
            id="nested",
        ),
    ],
)
def test_generic_spellings_match_the_typing_ones(
    dagster_spelling: object, typing_spelling: object, display: str, key: str
) -> None:
    """Dagster 0.14: ``List[X]``, ``Optional[X]``, ``Set[X]``, ``Tuple[...]`` and
    ``Dict[K, V]`` from ``dagster`` give the same types as the ``typing`` spellings (and
    as an annotation); bare ``List`` is ``[Any]``, bare ``Set``/``Tuple``/``Dict`` the
    untyped Python containers. The wire description is the same too."""
    from_dagster = In(dagster_spelling).dagster_type
    from_typing = In(typing_spelling).dagster_type
    assert from_dagster is not None
    assert from_typing is not None
    assert (from_dagster.display_name, from_dagster.key) == (display, key)
    assert from_dagster == from_typing
    assert types_codec.to_proto(from_dagster) == types_codec.to_proto(from_typing)

    @op(ins={"x": In(dagster_spelling)})
    def takes(x):  # type: ignore[no-untyped-def]
        return x

    assert takes.input_def_named("x").dagster_type == from_typing


@pytest.mark.parametrize(
    ("dagster_type", "good", "bad", "description"),
    [
        pytest.param(
            List[int], [1, 2], [1, "2"], 'Value "2" of python type "str" must be a int.', id="List"
        ),
        pytest.param(
            Optional[str],
            None,
            3,
            'Value "3" of python type "int" must be a string.',
            id="Optional",
        ),
        pytest.param(
            Set[int], {1}, [1], 'Value "[1]" of python type "list" must be a set.', id="Set"
        ),
        pytest.param(
            Tuple[int, str],
            (1, "a"),
            (1, 2),
            'Value "2" of python type "int" must be a string.',
            id="Tuple",
        ),
        pytest.param(
            Dict[str, int],
            {"a": 1},
            {"a": "b"},
            'Value "b" of python type "str" must be a int.',
            id="Dict",
        ),
    ],
)
def test_generic_types_check_values(
    dagster_type: DagsterType, good: object, bad: object, description: str
) -> None:
    """The container checks of Dagster 0.14: the container class, then each element,
    stopping at the first element that fails."""
    assert check_dagster_type(dagster_type, good).success
    result = check_dagster_type(dagster_type, bad)
    assert (result.success, result.description) == (False, description)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(lambda: In(Optional), "Optional needs the inner type", id="bare-Optional"),
        pytest.param(
            lambda: Dict[str], "Dict[...] takes a key type and a value type", id="Dict-one-arg"
        ),
        pytest.param(lambda: List[int, str], "List[...] takes one type, got 2", id="List-two-args"),
        pytest.param(lambda: Tuple[int, ...], "'...' is not supported", id="Tuple-ellipsis"),
        pytest.param(lambda: List[5], "invalid type 5", id="List-of-non-type"),
    ],
)
def test_generic_spelling_mistakes_are_definition_errors(
    build: typing.Callable[[], object], message: str
) -> None:
    """Dagster 0.14 raises its invalid-definition error for types it cannot resolve
    (a bare ``Optional``, a non-type argument); ophost raises ``DefinitionError``."""
    with pytest.raises(DefinitionError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build()


@pytest.mark.parametrize("family", [List, Set, Tuple, Dict, Optional, List[int]], ids=repr)
def test_op_types_are_not_config_types(family: object) -> None:
    """Dagster 0.14 (``dagster.config.field.resolve_to_config_type``): ``List``, ``Set``,
    ``Tuple`` and Dagster types are refused in config with a hint to use ``[T]``/``Array``."""
    with pytest.raises(InvalidConfigDefinitionError) as info:
        resolve_config_schema({"x": family}, where='op "o" config_schema')
    assert isinstance(info.value, DefinitionError)
    assert "is a type for op inputs and outputs, not a config type" in str(info.value)


# --- PythonObjectDagsterType, usable_as_dagster_type, make_python_type_usable... --------


def test_python_object_dagster_type() -> None:
    """Dagster 0.14 ``PythonObjectDagsterType(python_type, key=None, name=None, ...)``:
    the check is ``isinstance``; the name defaults to the class name and the key to the
    name; a tuple of classes accepts any of them and is named ``Union[...]``."""

    class Frame:
        pass

    class Series:
        pass

    frame_type = PythonObjectDagsterType(Frame)
    assert (frame_type.name, frame_type.key, frame_type.unique_name) == ("Frame", "Frame", "Frame")
    assert frame_type.typing_type is Frame
    assert check_dagster_type(frame_type, Frame()).success
    failed = check_dagster_type(frame_type, 3)
    assert not failed.success
    assert failed.description == 'Value "3" of python type "int" must be an instance of Frame.'
    named = PythonObjectDagsterType(Frame, name="DataFrame", description="rows")
    assert (named.name, named.key, named.description) == ("DataFrame", "DataFrame", "rows")
    either = PythonObjectDagsterType((Frame, Series))
    assert either.name == "Union[Frame, Series]"
    assert either.typing_type == typing.Union[Frame, Series]  # noqa: UP007
    assert check_dagster_type(either, Series()).success
    wire = types_codec.to_proto(frame_type)
    assert wire.custom_type.python_type.endswith(".Frame")
    assert (wire.display_name, wire.key) == ("Frame", "Frame")
    with pytest.raises(InvalidArgumentError, match="python_type must be a class"):
        PythonObjectDagsterType(Frame())  # type: ignore[arg-type]


def test_usable_as_dagster_type_bare_and_named() -> None:
    """Dagster 0.14 ``@usable_as_dagster_type``: annotating an input or output with the
    decorated class gives a ``PythonObjectDagsterType`` of it (named after the class, or
    ``name=``), instead of an inferred type."""

    @usable_as_dagster_type
    class Point:
        pass

    @usable_as_dagster_type(name="Box", description="a box")
    class Rect:
        pass

    @op
    def move(p: Point) -> Rect:
        return Rect()

    point_type = move.input_def_named("p").dagster_type
    rect_type = move.output_def_named("result").dagster_type
    assert isinstance(point_type, PythonObjectDagsterType)
    assert (point_type.name, point_type.key) == ("Point", "Point")
    assert (rect_type.name, rect_type.description) == ("Box", "a box")
    assert In(Point).dagster_type is point_type
    assert execute_in_process(move, inputs={"p": Point()}).success
    with pytest.raises(TypeCheckFailedError, match='expected type "Point"'):
        execute_in_process(move, inputs={"p": 1})
    spec = definitions_codec.to_proto(move)
    assert (spec.inputs[0].type.key, spec.outputs[0].type.display_name) == ("Point", "Box")


def test_make_python_type_usable_as_dagster_type() -> None:
    """Dagster 0.14: maps a class to a type, one type per class; a second, different
    mapping, or a mapping after an op already annotated the class (Dagster had inferred
    a type for it), is an invalid definition."""

    class Money:
        pass

    class Late:
        pass

    def is_money(_context: object, value: object) -> bool:
        return isinstance(value, Money)

    money_type = DagsterType(is_money, name="Money", description="an amount")
    make_python_type_usable_as_dagster_type(Money, money_type)
    make_python_type_usable_as_dagster_type(Money, money_type)  # the same mapping again is fine

    @op
    def pay(amount: Money) -> None:
        return None

    assert pay.input_def_named("amount").dagster_type is money_type
    with pytest.raises(DefinitionError, match="can be mapped to one type only"):
        make_python_type_usable_as_dagster_type(Money, DagsterType(is_money, name="Other"))

    @op
    def early(x: Late) -> None:
        return None

    with pytest.raises(DefinitionError, match="was already used in an annotation"):
        make_python_type_usable_as_dagster_type(Late, DagsterType(is_money, name="Late"))
    with pytest.raises(InvalidArgumentError):
        make_python_type_usable_as_dagster_type(Money(), money_type)  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match="loader and materializer are not supported"):
        usable_as_dagster_type(loader=object())


# --- check_dagster_type -----------------------------------------------------------------


def test_check_dagster_type() -> None:
    """Dagster 0.14 ``check_dagster_type(dagster_type, value)``: runs the type's check
    outside any op and returns the ``TypeCheck``; a Python class is resolved as an
    annotation; a ``typing`` construct is an invariant violation; a check that raises
    ``Failure`` gives a failed ``TypeCheck`` with the failure's description."""
    assert check_dagster_type(Dict[Any, Any], {"foo": "bar"}).success
    assert check_dagster_type(int, 1) == TypeCheck(success=True)
    assert not check_dagster_type(list, (1,)).success

    def strict(_context: object, value: object) -> bool:
        if value == "boom":
            raise Failure(description="not allowed")
        return value == "ok"

    strict_type = DagsterType(strict, name="Strict")
    assert check_dagster_type(strict_type, "ok").success
    assert check_dagster_type(strict_type, "no") == TypeCheck(success=False)
    assert check_dagster_type(strict_type, "boom") == TypeCheck(
        success=False, description="not allowed"
    )
    with pytest.raises(InvariantViolationError, match="comes from the typing module"):
        check_dagster_type(typing.List[int], [1])  # noqa: UP006


# --- Map and {str: int} -----------------------------------------------------------------


def test_map_config_type_and_shorthand() -> None:
    """Dagster 0.14 ``Map(key_type, inner_type, key_label_name=None)``: a dict whose keys
    all have one scalar type and whose values all match the inner type; ``{str: int}`` in
    a schema is ``Map(str, int)``. A map field is required unless it has a default."""
    schema = resolve_config_schema(
        {
            "limits": {str: int},
            "names": Field(Map(int, [String], key_label_name="id"), default_value={1: ["a"]}),
        },
        where="t",
    )
    limits = schema.config_type.fields["limits"]  # type: ignore[attr-defined]
    assert limits.config_type == Map(str, int)
    assert limits.config_type.kind is ConfigKind.MAP
    assert limits.is_required
    assert validate_config(schema, {"limits": {"a": 1, "b": 2}}) == {
        "limits": {"a": 1, "b": 2},
        "names": {1: ["a"]},
    }
    assert validate_config(schema, {"limits": {}}) == {"limits": {}, "names": {1: ["a"]}}
    with pytest.raises(InvalidConfigError) as info:
        validate_config(schema, {"limits": {"a": "x", 2: 1}, "names": {"1": ["a"]}})
    assert [str(e) for e in info.value.errors] == [
        'config.limits.a: expected int, got "x" (str)',
        "config.limits: map keys must be str, got 2 (int)",
        'config.names: map keys must be int, got "1" (str)',
    ]
    with pytest.raises(InvalidConfigError, match=r"Invalid default_value for Field\."):
        Field({str: int}, default_value={"a": "b"})


def test_map_in_an_op_and_on_the_wire() -> None:
    """An op configured with a map receives it validated; the schema travels as a
    ``map_type`` with its key kind, value type and key label, and reads back equal."""

    @op(config_schema={"weights": Map(str, float, key_label_name="feature")})
    def total(context) -> float:  # type: ignore[no-untyped-def]
        weights: dict[str, float] = context.op_config["weights"]
        return sum(weights.values())

    assert execute_in_process(total, config={"weights": {"a": 1.5, "b": 2}}).outputs == {
        "result": 3.5
    }
    wire = config_codec.to_proto(total.config_schema)
    map_type = wire.type.shape_type.fields[0].type.map_type
    assert (map_type.key_type, map_type.key_label_name) == (3, "feature")  # SCALAR_KIND_STRING
    assert map_type.value_type.scalar_type == 2  # SCALAR_KIND_FLOAT
    assert config_codec.from_proto(wire) == total.config_schema
    assert (
        definitions_codec.from_proto(definitions_codec.to_proto(total)).config
        == total.config_schema
    )


def test_map_shorthand_as_the_whole_schema() -> None:
    """``config_schema={str: int}`` makes the op's config a map of str to int."""

    @op(config_schema={String: [Int]})
    def lengths(context) -> int:  # type: ignore[no-untyped-def]
        return len(context.op_config)

    assert lengths.config_schema.config_type == Map(str, [int])
    assert lengths.config_schema.is_required
    assert lengths(build_op_context(op_config={"a": [1], "b": []})) == 2
    with pytest.raises(InvalidConfigError, match=r"config\.b\[0\]: expected int"):
        lengths(build_op_context(op_config={"b": ["x"]}))


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        pytest.param(
            {"a": {str: int, "b": int}},
            "a map schema such as {str: int} has exactly one entry",
            id="mixed",
        ),
        pytest.param({"a": {str: 5}}, "5 (int) is not a config type", id="bad-value-type"),
        pytest.param({"a": 5}, "5 (int) is not a config type", id="bad-field"),
        pytest.param({"a": None}, "a field cannot be None", id="none-field"),
    ],
)
def test_invalid_schemas_are_invalid_config_definitions(schema: object, message: str) -> None:
    """Dagster 0.14 raises ``DagsterInvalidConfigDefinitionError`` for a config schema
    that is not valid (a value that is not a config type, a ``None`` field, a dict mixing
    a map key with field names); ophost's counterpart is ``InvalidConfigDefinitionError``,
    a kind of ``DefinitionError``, raised when the op is defined."""
    with pytest.raises(InvalidConfigDefinitionError) as info:

        @op(config_schema=schema)
        def o() -> None:
            return None

    assert isinstance(info.value, DefinitionError)
    assert str(info.value).startswith('op "o"')
    assert message in str(info.value)


def test_map_key_type_must_be_scalar() -> None:
    with pytest.raises(
        InvalidConfigDefinitionError, match="the key type must be str, int, float or bool"
    ):
        Map([str], int)
    with pytest.raises(InvalidArgumentError, match="key_label_name must be a str"):
        Map(str, int, key_label_name=3)  # type: ignore[arg-type]


# --- attributes op code and tests read --------------------------------------------------


def test_input_def_named_and_output_def_named() -> None:
    """Dagster 0.14 ``OpDefinition.input_def_named(name)`` / ``output_def_named(name)``
    return the named definition; an unknown name is a ``KeyError``."""

    @op(out={"a": Out(int), "b": Out(str, description="the b")})
    def two(x: int, y: str = "z"):  # type: ignore[no-untyped-def]
        return x, y

    assert two.input_def_named("x").dagster_type.display_name == "Int"
    assert two.input_def_named("y").default_value == "z"
    assert two.output_def_named("b").description == "the b"
    with pytest.raises(KeyError, match='op "two" has no input "nope"'):
        two.input_def_named("nope")
    with pytest.raises(KeyError, match=r'its outputs: "a", "b"'):
        two.output_def_named("c")


def test_in_and_out_metadata() -> None:
    """Dagster 0.14: ``In.metadata`` defaults to ``{}`` and ``Out.metadata`` to ``None``;
    given, they hold the dict, and the definitions carry it as metadata entries (on the
    wire too)."""
    assert In().metadata == {}
    assert Out().metadata is None
    assert In(metadata={"unit": "m"}).metadata == {"unit": "m"}
    assert Out(metadata={"rows": 3}).metadata == {"rows": 3}

    @op(ins={"x": In(int, metadata={"unit": "m"})}, out=Out(int, metadata={"rows": 3}))
    def measured(x: int) -> int:
        return x

    spec = definitions_codec.to_proto(measured)
    assert [e.label for e in spec.inputs[0].metadata] == ["unit"]
    assert [e.label for e in spec.outputs[0].metadata] == ["rows"]


def test_dagster_type_typing_type_and_unique_name() -> None:
    """Dagster 0.14 ``DagsterType.typing_type`` (the Python typing form, ``typing.Any``
    unless given) and ``unique_name`` (the given name; a type built from a key alone
    has none)."""
    assert List[Int].typing_type == typing.List[int]  # noqa: UP006
    assert Optional[String].typing_type == typing.Optional[str]  # noqa: UP045
    assert Dict[str, Float].typing_type == typing.Dict[str, float]  # noqa: UP006
    assert Tuple[int, Bool].typing_type == typing.Tuple[int, bool]  # noqa: UP006
    assert Set[int].typing_type == typing.Set[int]  # noqa: UP006
    custom = DagsterType(lambda _c, _v: True, name="Even")
    assert custom.typing_type is typing.Any
    assert DagsterType(lambda _c, _v: True, name="E", typing_type=int).typing_type is int
    assert custom.unique_name == "Even"
    with pytest.raises(InvariantViolationError, match="has no unique_name"):
        _ = DagsterType(lambda _c, _v: True, key="only_key").unique_name


def test_dagster_type_required_resource_keys() -> None:
    """Dagster 0.14 ``DagsterType(required_resource_keys=...)``: the type's check reaches
    those resources through ``context.resources``. ophost gives the check the resources
    of the execution it names; the keys travel with the type on the wire."""

    def within_limit(context, value):  # type: ignore[no-untyped-def]
        return value <= context.resources.limits["max"]

    bounded = DagsterType(within_limit, name="Bounded", required_resource_keys={"limits"})
    assert bounded.required_resource_keys == frozenset({"limits"})
    assert DagsterType(within_limit, name="Free").required_resource_keys == frozenset()

    @op(ins={"n": In(bounded)})
    def take(context, n: int) -> int:  # type: ignore[no-untyped-def]
        return n

    resources = {"limits": {"max": 10}}
    assert execute_in_process(take, inputs={"n": 3}, resources=resources).outputs == {"result": 3}
    with pytest.raises(TypeCheckFailedError, match='expected type "Bounded"'):
        execute_in_process(take, inputs={"n": 30}, resources=resources)
    assert take(build_op_context(resources=resources), 4) == 4
    wire = types_codec.to_proto(bounded)
    assert list(wire.custom_type.required_resource_keys) == ["limits"]
    assert types_codec.from_proto(wire).required_resource_keys == frozenset({"limits"})
    with pytest.raises(InvalidArgumentError, match="required_resource_keys must be a set"):
        DagsterType(within_limit, name="Bad", required_resource_keys=["limits"])  # type: ignore[arg-type]


class Size(enum.Enum):
    SMALL = 1
    LARGE = 2


def test_enum_post_process() -> None:
    """Dagster 0.14 ``Enum.post_process(value)``: the Python value of the choice whose
    config value is ``value``; a Python enum member stands for its name."""
    sizes = Enum.from_python_enum(Size)
    assert sizes.post_process("SMALL") is Size.SMALL
    assert sizes.post_process(Size.LARGE) is Size.LARGE
    plain = Enum("Mode", [EnumValue("FAST"), EnumValue("SAFE", python_value=2)])
    assert plain.post_process("FAST") == "FAST"
    assert plain.post_process("SAFE") == 2
    with pytest.raises(InvalidArgumentError, match=r'Enum "Mode": "SLOW" \(str\) is not one of'):
        plain.post_process("SLOW")
