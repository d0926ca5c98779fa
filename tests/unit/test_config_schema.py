"""Config schemas: resolution, bad schemas, Field rules, constructors, introspection, equality."""

from __future__ import annotations

import copy
import enum
import pickle
import typing

import pytest

from ophost.definitions._config import (
    Any,
    AnyType,
    Array,
    ConfigKind,
    ConfigType,
    Enum,
    EnumValue,
    Field,
    Noneable,
    Permissive,
    ScalarType,
    Selector,
    Shape,
    resolve_config_schema,
)
from ophost.errors import DefinitionError, InvalidArgumentError, InvalidConfigError

WHERE = 'op "my_op" config_schema'
HELP = (
    "a config schema is int, float, str, bool, Any, a dict of field schemas, a one-element "
    "list such as [int], a map such as {str: int}, or a Field, Shape, Permissive, "
    "Selector, Array, Map, Noneable or Enum"
)


class Color(enum.Enum):
    RED = 1
    GREEN = 2


def resolve(schema: object) -> Field:
    return resolve_config_schema(schema, where=WHERE)


# --- resolution of valid schemas ------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        pytest.param(int, ScalarType(ConfigKind.INT), id="int"),
        pytest.param(float, ScalarType(ConfigKind.FLOAT), id="float"),
        pytest.param(str, ScalarType(ConfigKind.STRING), id="str"),
        pytest.param(bool, ScalarType(ConfigKind.BOOL), id="bool"),
        pytest.param(Any, AnyType(), id="Any"),
        pytest.param(typing.Any, Any, id="typing.Any"),
        pytest.param(list, Array(Any), id="bare-list"),
        pytest.param(dict, Permissive(), id="bare-dict"),
        pytest.param([int], Array(int), id="one-element-list"),
        pytest.param([[str]], Array(Array(str)), id="nested-list"),
        pytest.param({"a": int}, Shape({"a": Field(int)}), id="dict-is-shape"),
        pytest.param({}, Shape({}), id="empty-dict"),
        pytest.param({"a": [typing.Any]}, Shape({"a": Array(Any)}), id="typing-any-nested"),
        pytest.param(Noneable([int]), Noneable(Array(int)), id="noneable-raw-inner"),
        pytest.param(Array({"x": bool}), Array(Shape({"x": bool})), id="array-raw-inner"),
    ],
)
def test_resolve_gives_config_type(schema: object, expected: ConfigType) -> None:
    assert resolve(schema).config_type == expected


def test_resolve_none_means_optional_any() -> None:
    field = resolve(None)
    assert field == Field(Any, is_required=False)
    assert field.config_type is Any
    assert not field.is_required
    assert not field.default_provided


def test_resolve_returns_a_given_field_unchanged() -> None:
    field = Field(int, default_value=3)
    assert resolve(field) is field


def test_resolve_config_type_wraps_it_in_a_field() -> None:
    shape = Shape({"a": int})
    field = resolve(shape)
    assert field.config_type is shape
    assert field.is_required


# --- bad schemas ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "path", "reason"),
    [
        pytest.param(5, "config_schema", f"5 (int) is not a config type; {HELP}", id="int-value"),
        pytest.param(
            {"db": {"port": 5}},
            "config_schema.db.port",
            f"5 (int) is not a config type; {HELP}",
            id="nested-value",
        ),
        pytest.param(
            {"a": "int"}, "config_schema.a", f'"int" (str) is not a config type; {HELP}', id="str"
        ),
        pytest.param(
            [int, str],
            "config_schema",
            "a list in a schema must hold exactly one element, the element type (e.g. [int]), "
            "got 2",
            id="two-element-list",
        ),
        pytest.param(
            {"hosts": []},
            "config_schema.hosts",
            "a list in a schema must hold exactly one element, the element type (e.g. [int]), "
            "got 0",
            id="empty-list",
        ),
        pytest.param(
            {1: int}, "config_schema", "field names must be str, got 1 (int)", id="int-key"
        ),
        pytest.param(
            {"a": {str: int, "b": int}},
            "config_schema.a",
            "field names must be str, got <class str> (type) "
            "(a map schema such as {str: int} has exactly one entry, the key type and the "
            "value type)",
            id="map-syntax-mixed-with-fields",
        ),
        pytest.param(
            {"a": None},
            "config_schema.a",
            "a field cannot be None; use Any for any value, or Field(<type>, is_required=False) "
            "for an optional field",
            id="none-field",
        ),
        pytest.param(
            [None], "config_schema[0]", f"None is not a config type; {HELP}", id="none-in-list"
        ),
        pytest.param(
            [Field(int)],
            "config_schema[0]",
            "a Field is only allowed as a field of a dict, Shape, Permissive or Selector, or as "
            "the whole schema; here a config type is needed",
            id="field-in-list",
        ),
        pytest.param(
            {"a": typing.Optional[int]},  # noqa: UP045 - the typing spelling is what is tested
            "config_schema.a",
            "typing.Optional[int] is not a config type; for an optional field use "
            "Field(<type>, is_required=False), and to accept None use Noneable(<type>)",
            id="typing-optional",
        ),
        pytest.param(
            {"a": int | None},
            "config_schema.a",
            "int | None is not a config type; for an optional field use "
            "Field(<type>, is_required=False), and to accept None use Noneable(<type>)",
            id="pep604-optional",
        ),
        pytest.param(
            {"a": int | str},
            "config_schema.a",
            "int | str is not a config type; unions are not supported (see Selector)",
            id="union",
        ),
        pytest.param(
            {"a": typing.List[int]},  # noqa: UP006 - the typing spelling is what is tested
            "config_schema.a",
            "typing.List[int] is not a config type; for a list use [<type>] or Array(<type>)",
            id="typing-list",
        ),
        pytest.param(
            list[int],
            "config_schema",
            "list[int] is not a config type; for a list use [<type>] or Array(<type>)",
            id="builtin-generic",
        ),
        pytest.param(
            typing.Optional,
            "config_schema",
            "typing.Optional is not a config type; types from typing are not config types",
            id="bare-typing-form",
        ),
        pytest.param(
            Shape,
            "config_schema",
            "the class Shape is not a config type itself; use an instance: Shape(...)",
            id="shape-class",
        ),
        pytest.param(
            {"p": Permissive},
            "config_schema.p",
            "the class Permissive is not a config type itself; use an instance: Permissive(...)",
            id="permissive-class",
        ),
        pytest.param(
            Field,
            "config_schema",
            "the class Field is not a config type; call it, e.g. Field(int)",
            id="field-class",
        ),
        pytest.param(
            set, "config_schema", f"the class set is not a config type; {HELP}", id="set-class"
        ),
        pytest.param(
            Color, "config_schema", f"the class Color is not a config type; {HELP}", id="py-enum"
        ),
    ],
)
def test_bad_schema_names_where_and_path(schema: object, path: str, reason: str) -> None:
    with pytest.raises(DefinitionError) as info:
        resolve(schema)
    assert str(info.value) == f"{WHERE}: invalid config schema at {path}: {reason}"


def test_resolve_where_must_be_str() -> None:
    with pytest.raises(InvalidArgumentError, match="where must be a str, got 1 \\(int\\)"):
        resolve_config_schema(int, where=1)  # type: ignore[arg-type]


def _nested_lists(levels: int) -> object:
    schema: object = int
    for _ in range(levels):
        schema = [schema]
    return schema


def test_schema_at_depth_limit_is_accepted() -> None:
    field = resolve(_nested_lists(99))
    assert field.config_type.kind is ConfigKind.ARRAY


def test_schema_nesting_too_deeply_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError) as info:
        resolve(_nested_lists(5000))
    message = str(info.value)
    assert message.startswith(f"{WHERE}: invalid config schema at config_schema[0][0]")
    assert message.endswith(": the schema nests deeper than 100 levels")


def test_prebuilt_deep_type_inside_a_raw_schema_is_rejected_with_path() -> None:
    deep: ConfigType = Array(int)
    for _ in range(98):
        deep = Array(deep)
    with pytest.raises(DefinitionError) as info:
        resolve({"a": {"b": deep}})
    assert str(info.value) == (
        f"{WHERE}: invalid config schema at config_schema.a: "
        "the schema nests deeper than 100 levels"
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(Array, "Array: config schema nests deeper than 100 levels", id="array"),
        pytest.param(
            Noneable,
            "Noneable: config schema nests deeper than 100 levels",
            id="noneable",
        ),
        pytest.param(
            lambda inner: Shape({"x": inner}),
            "Shape: config schema nests deeper than 100 levels",
            id="shape",
        ),
    ],
)
def test_constructors_reject_types_nesting_too_deeply(
    build: typing.Callable[[ConfigType], ConfigType], message: str
) -> None:
    deep: ConfigType = Array(int)
    for _ in range(98):
        deep = Array(deep)
    assert isinstance(build(Array(int)), ConfigType)
    with pytest.raises(DefinitionError) as info:
        build(deep)
    assert str(info.value) == message


# --- Field: required inference and defaults -------------------------------------------------


@pytest.mark.parametrize(
    ("field", "is_required", "default"),
    [
        pytest.param(Field(int), True, None, id="scalar-required"),
        pytest.param(Field(int, default_value=3), False, (3,), id="scalar-with-default"),
        pytest.param(Field(int, is_required=False), False, None, id="explicit-optional"),
        pytest.param(Field(Noneable(int)), False, (None,), id="noneable-implicit-none"),
        pytest.param(Field(Any), False, (None,), id="any-implicit-none"),
        pytest.param(Field(Any, is_required=True), True, None, id="any-forced-required"),
        pytest.param(Field({}), False, ({},), id="empty-shape"),
        pytest.param(Field({"a": int}), True, None, id="shape-with-required-field"),
        pytest.param(
            Field({"a": Field(int, default_value=1), "b": Field(str, is_required=False)}),
            False,
            ({"a": 1},),
            id="shape-all-optional",
        ),
        pytest.param(
            Field({"outer": {"inner": Field(int, default_value=7)}}),
            False,
            ({"outer": {"inner": 7}},),
            id="nested-all-optional",
        ),
        pytest.param(Field(Permissive()), False, ({},), id="permissive-empty"),
        pytest.param(Field(Permissive({"a": int})), True, None, id="permissive-required-field"),
        pytest.param(
            Field(Selector({"only": Field(int, default_value=2)})),
            False,
            ({"only": 2},),
            id="selector-single-optional",
        ),
        pytest.param(
            Field(Selector({"a": Field(int, default_value=2), "b": Field(int, default_value=3)})),
            True,
            None,
            id="selector-two-optional",
        ),
        pytest.param(Field(Selector({"only": int})), True, None, id="selector-single-required"),
        pytest.param(Field([int]), True, None, id="array-required"),
        pytest.param(
            Field(Enum("E", [EnumValue("A", python_value=1)]), default_value="A"),
            False,
            ("A",),
            id="enum-default-in-config-form",
        ),
        pytest.param(
            Field({"e": Field(Enum("E", [EnumValue("A", python_value=1)]), default_value="A")}),
            False,
            ({"e": "A"},),
            id="implicit-default-keeps-config-form",
        ),
        pytest.param(
            Field(Noneable(int), is_required=False),
            False,
            None,
            id="explicit-optional-no-implicit-default",
        ),
    ],
)
def test_field_required_inference_and_default(
    field: Field, is_required: bool, default: tuple[object] | None
) -> None:
    assert field.is_required is is_required
    assert field.default_provided is (default is not None)
    if default is not None:
        assert field.default_value == default[0]


def test_field_without_default_raises_on_default_value() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        _ = Field(int).default_value
    assert str(info.value) == (
        "Field has no default value; check default_provided before reading default_value"
    )


def test_field_attributes() -> None:
    field = Field([int], default_value=[1, 2], description="ports")
    assert field.config_type == Array(int)
    assert field.description == "ports"
    assert field.default_value == [1, 2]
    assert Field(int).description is None


def test_field_accepts_already_resolved_types() -> None:
    shape = Shape({"a": Field(int)})
    assert Field(shape).config_type is shape


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(
            lambda: Field(int, default_value=1, is_required=True),
            "Field: a field with a default_value is optional; do not combine it with "
            "is_required=True",
            id="required-with-default",
        ),
        pytest.param(
            lambda: Field(Any, default_value=len),
            "Field: default_value cannot be a callable, got <builtin_function_or_method object> "
            "(builtin_function_or_method)",
            id="callable-default",
        ),
        pytest.param(
            lambda: Field(Field(int)),
            "Field: invalid config schema at config: a Field is only allowed as a field of a "
            "dict, Shape, Permissive or Selector, or as the whole schema; here a config type "
            "is needed",
            id="field-of-field",
        ),
        pytest.param(
            lambda: Field(None),
            f"Field: invalid config schema at config: None is not a config type; {HELP}",
            id="field-of-none",
        ),
        pytest.param(
            lambda: Field({"a": 5}),
            f"Field: invalid config schema at config.a: 5 (int) is not a config type; {HELP}",
            id="field-bad-nested",
        ),
    ],
)
def test_field_definition_errors(build: typing.Callable[[], object], message: str) -> None:
    with pytest.raises(DefinitionError) as info:
        build()
    assert str(info.value) == message


# Dagster 0.14 validates an explicit default when the Field is built and raises its
# invalid-config error, "Invalid default_value for Field.", listing every problem.
@pytest.mark.parametrize(
    ("build", "problems"),
    [
        pytest.param(
            lambda: Field(int, default_value="x"),
            'default_value: expected int, got "x" (str)',
            id="bad-scalar-default",
        ),
        pytest.param(
            lambda: Field(int, default_value=None),
            "default_value: expected int, got None",
            id="none-default",
        ),
        pytest.param(
            lambda: Field({"a": int, "b": [str]}, default_value={"a": "x", "b": [1, "y", 2]}),
            "default_value.a: expected int, "
            'got "x" (str); default_value.b[0]: expected str, got 1 (int); '
            "default_value.b[2]: expected str, got 2 (int)",
            id="every-default-problem",
        ),
        pytest.param(
            lambda: Field({"a": int, "b": int}, default_value={"a": 1}),
            'default_value: missing required field "b"',
            id="partial-default",
        ),
    ],
)
def test_invalid_defaults_are_invalid_config(
    build: typing.Callable[[], object], problems: str
) -> None:
    with pytest.raises(InvalidConfigError) as info:
        build()
    assert info.value.preamble == "Invalid default_value for Field."
    assert "; ".join(str(error) for error in info.value.errors) == problems
    assert str(info.value).startswith("Invalid default_value for Field.\n  default_value")


def test_python_enum_member_default_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError) as info:
        Field(Enum.from_python_enum(Color), default_value=Color.RED)
    assert not isinstance(info.value, InvalidConfigError)
    assert str(info.value) == (
        'Field: the default_value Color.RED of the config enum "Color" is a Python enum '
        "member; give its name as a string instead, one of: RED, GREEN"
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(
            lambda: Field(int, is_required=1),  # type: ignore[arg-type]
            "Field: is_required must be a bool or None, got 1 (int)",
            id="field-is-required",
        ),
        pytest.param(
            lambda: Field(int, description=1),  # type: ignore[arg-type]
            "Field: description must be a str or None, got 1 (int)",
            id="field-description",
        ),
        pytest.param(
            lambda: Shape(5),  # type: ignore[arg-type]
            "Shape: fields must be a dict of field names to schemas, got 5 (int)",
            id="shape-fields",
        ),
        pytest.param(
            lambda: Shape(None),  # type: ignore[arg-type]
            "Shape: fields must be a dict of field names to schemas, got None",
            id="shape-none",
        ),
        pytest.param(
            lambda: Selector([int]),  # type: ignore[arg-type]
            "Selector: fields must be a dict of field names to schemas, got [<class int>] (list)",
            id="selector-fields",
        ),
        pytest.param(
            lambda: Shape({}, description=3),  # type: ignore[arg-type]
            "Shape: description must be a str or None, got 3 (int)",
            id="shape-description",
        ),
        pytest.param(
            lambda: Permissive(description=b"x"),  # type: ignore[arg-type]
            "Permissive: description must be a str or None, got <bytes object> (bytes)",
            id="permissive-description",
        ),
        pytest.param(
            lambda: EnumValue(1),  # type: ignore[arg-type]
            "EnumValue: config_value must be a str, got 1 (int)",
            id="enum-value-config-value",
        ),
        pytest.param(
            lambda: EnumValue("A", description=2),  # type: ignore[arg-type]
            "EnumValue: description must be a str or None, got 2 (int)",
            id="enum-value-description",
        ),
        pytest.param(
            lambda: Enum(1, [EnumValue("A")]),  # type: ignore[arg-type]
            "Enum: name must be a str, got 1 (int)",
            id="enum-name",
        ),
        pytest.param(
            lambda: Enum("E", EnumValue("A")),  # type: ignore[arg-type]
            'Enum "E": enum_values must be a list of EnumValue, got <EnumValue object> (EnumValue)',
            id="enum-values-not-list",
        ),
        pytest.param(
            lambda: Enum("E", [EnumValue("A"), "B"]),  # type: ignore[list-item]
            'Enum "E": enum_values[1] must be an EnumValue, got "B" (str)',
            id="enum-values-item",
        ),
        pytest.param(
            lambda: Enum.from_python_enum(int),  # type: ignore[arg-type]
            "Enum.from_python_enum: expected an enum.Enum subclass, got <class int> (type)",
            id="from-python-enum-not-enum",
        ),
        pytest.param(
            lambda: ScalarType(ConfigKind.SHAPE),
            "ScalarType: kind must be ConfigKind.INT, FLOAT, STRING or BOOL, "
            "got ConfigKind.SHAPE (ConfigKind)",
            id="scalar-kind",
        ),
    ],
)
def test_constructor_argument_type_errors(build: typing.Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        build()
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(
            lambda: Selector({}), "Selector: needs at least one field to choose from", id="sel"
        ),
        pytest.param(lambda: Enum("E", []), 'Enum "E": needs at least one EnumValue', id="enum"),
        pytest.param(
            lambda: Enum("E", [EnumValue("A"), EnumValue("A", python_value=2)]),
            'Enum "E": config value "A" appears twice',
            id="enum-duplicate",
        ),
        pytest.param(
            lambda: Shape({"a": [int, int]}),
            "Shape: invalid config schema at fields.a: a list in a schema must hold exactly one "
            "element, the element type (e.g. [int]), got 2",
            id="shape-nested",
        ),
        pytest.param(
            lambda: Selector({"a": None}),
            "Selector: invalid config schema at fields.a: a field cannot be None; use Any for any "
            "value, or Field(<type>, is_required=False) for an optional field",
            id="selector-none-field",
        ),
        pytest.param(
            lambda: Array(5),
            f"Array: invalid config schema at inner: 5 (int) is not a config type; {HELP}",
            id="array-inner",
        ),
        pytest.param(
            lambda: Noneable(Field(int)),
            "Noneable: invalid config schema at inner: a Field is only allowed as a field of a "
            "dict, Shape, Permissive or Selector, or as the whole schema; here a config type is "
            "needed",
            id="noneable-field",
        ),
    ],
)
def test_constructor_definition_errors(build: typing.Callable[[], object], message: str) -> None:
    with pytest.raises(DefinitionError) as info:
        build()
    assert str(info.value) == message


# --- introspection --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config_type", "kind"),
    [
        pytest.param(Any, ConfigKind.ANY, id="any"),
        pytest.param(resolve(int).config_type, ConfigKind.INT, id="int"),
        pytest.param(resolve(float).config_type, ConfigKind.FLOAT, id="float"),
        pytest.param(resolve(str).config_type, ConfigKind.STRING, id="string"),
        pytest.param(resolve(bool).config_type, ConfigKind.BOOL, id="bool"),
        pytest.param(Shape({}), ConfigKind.SHAPE, id="shape"),
        pytest.param(Permissive(), ConfigKind.PERMISSIVE, id="permissive"),
        pytest.param(Selector({"a": int}), ConfigKind.SELECTOR, id="selector"),
        pytest.param(Array(int), ConfigKind.ARRAY, id="array"),
        pytest.param(Noneable(int), ConfigKind.NONEABLE, id="noneable"),
        pytest.param(Enum("E", [EnumValue("A")]), ConfigKind.ENUM, id="enum"),
    ],
)
def test_kind(config_type: ConfigType, kind: ConfigKind) -> None:
    assert config_type.kind is kind


def test_config_kind_members() -> None:
    assert [member.name for member in ConfigKind] == [
        "ANY",
        "INT",
        "FLOAT",
        "STRING",
        "BOOL",
        "SHAPE",
        "PERMISSIVE",
        "SELECTOR",
        "ARRAY",
        "NONEABLE",
        "ENUM",
        "MAP",
    ]


@pytest.mark.parametrize(
    "cls", [pytest.param(Shape, id="shape"), pytest.param(Selector, id="selector")]
)
def test_fields_keep_declaration_order_and_description(cls: type[Shape]) -> None:
    config_type = cls({"zeta": int, "alpha": Field(str, default_value="a")}, description="d")
    assert list(config_type.fields) == ["zeta", "alpha"]
    assert config_type.fields["zeta"] == Field(int)
    assert config_type.fields["alpha"] == Field(str, default_value="a")
    assert config_type.description == "d"


def test_fields_is_a_copy() -> None:
    shape = Shape({"a": int})
    shape.fields.clear()
    assert list(shape.fields) == ["a"]


def test_permissive_without_fields() -> None:
    assert Permissive().fields == {}
    assert Permissive().description is None


def test_inner_of_array_and_noneable() -> None:
    assert Array({"a": int}).inner == Shape({"a": int})
    assert Noneable([str]).inner == Array(str)


def test_description_is_none_for_types_without_one() -> None:
    for config_type in (Any, Array(int), Noneable(int), Enum("E", [EnumValue("A")])):
        assert config_type.description is None


def test_enum_introspection() -> None:
    values = [EnumValue("A", python_value=1, description="first"), EnumValue("B")]
    enum_type = Enum("Letters", values)
    assert enum_type.name == "Letters"
    assert enum_type.values == values
    assert enum_type.values[0].config_value == "A"
    assert enum_type.values[0].python_value == 1
    assert enum_type.values[0].description == "first"
    assert enum_type.values[1].python_value == "B"
    assert enum_type.values[1].description is None


def test_enum_from_python_enum() -> None:
    enum_type = Enum.from_python_enum(Color)
    assert enum_type.name == "Color"
    assert [v.config_value for v in enum_type.values] == ["RED", "GREEN"]
    assert [v.python_value for v in enum_type.values] == [Color.RED, Color.GREEN]
    assert Enum.from_python_enum(Color, name="Paint").name == "Paint"


def test_enum_from_python_enum_skips_aliases() -> None:
    class Size(enum.Enum):
        SMALL = 1
        TINY = 1  # noqa: PIE796 - an alias on purpose: aliases are not enum values
        LARGE = 2

    assert [v.config_value for v in Enum.from_python_enum(Size).values] == ["SMALL", "LARGE"]


# --- equality and rebuilding ----------------------------------------------------------------


def _schema() -> Field:
    return resolve(
        {
            "db": {"host": Field(str, default_value="localhost", description="h"), "port": int},
            "hosts": [str],
            "mode": Field(Enum.from_python_enum(Color), default_value="RED"),
            "sel": Selector({"csv": {"sep": Field(str, default_value=",")}, "json": Permissive()}),
            "maybe": Noneable(float),
            "anything": Any,
        }
    )


def _rebuild_type(config_type: ConfigType) -> ConfigType:
    if isinstance(config_type, Shape | Permissive | Selector):
        fields = {name: _rebuild_field(f) for name, f in config_type.fields.items()}
        return type(config_type)(fields, description=config_type.description)
    if isinstance(config_type, Array):
        return Array(_rebuild_type(config_type.inner))
    if isinstance(config_type, Noneable):
        return Noneable(_rebuild_type(config_type.inner))
    if isinstance(config_type, Enum):
        values = [
            EnumValue(v.config_value, v.python_value, v.description) for v in config_type.values
        ]
        return Enum(config_type.name, values)
    if isinstance(config_type, ScalarType):
        return ScalarType(config_type.kind)
    return AnyType()


def _rebuild_field(field: Field) -> Field:
    config_type = _rebuild_type(field.config_type)
    if field.default_provided:
        return Field(
            config_type,
            default_value=field.default_value,
            is_required=field.is_required,
            description=field.description,
        )
    return Field(config_type, is_required=field.is_required, description=field.description)


def test_schema_rebuilt_from_its_parts_is_equal() -> None:
    original = _schema()
    rebuilt = _rebuild_field(original)
    assert rebuilt is not original
    assert rebuilt == original
    assert hash(rebuilt) == hash(original)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param(Field(int), Field(int), id="field"),
        pytest.param(Field({"a": int}), Field(Shape({"a": Field(int)})), id="dict-vs-shape"),
        pytest.param(Field(int, default_value=1), Field(int, default_value=1), id="default"),
        pytest.param(
            Field(Any, default_value={"a": [1, {"b": 2}]}),
            Field(Any, default_value={"a": [1, {"b": 2}]}),
            id="nested-default",
        ),
        pytest.param(
            Field(Any, default_value={"a": 1, "b": 2}),
            Field(Any, default_value={"b": 2, "a": 1}),
            id="default-dict-order-ignored",
        ),
        pytest.param(
            Field(float, default_value=float("nan")),
            Field(float, default_value=float("nan")),
            id="nan-default",
        ),
        pytest.param(Array(int), Array(int), id="array"),
        pytest.param(Enum.from_python_enum(Color), Enum.from_python_enum(Color), id="enum"),
        pytest.param(Any, AnyType(), id="any"),
        pytest.param(Field(Noneable(int)), Field(Noneable(int), default_value=None), id="implicit"),
    ],
)
def test_structurally_equal(left: object, right: object) -> None:
    assert left == right
    assert hash(left) == hash(right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param(Field(int), Field(float), id="type"),
        pytest.param(Field(int), Field(int, is_required=False), id="required"),
        pytest.param(Field(int), Field(int, description="d"), id="description"),
        pytest.param(Field(int, default_value=1), Field(int, default_value=2), id="default"),
        pytest.param(
            Field(Any, default_value=1), Field(Any, default_value=True), id="default-class"
        ),
        pytest.param(
            Field(Any, default_value=[1]), Field(Any, default_value=(1,)), id="list-vs-tuple"
        ),
        pytest.param(
            Field(Any, is_required=False), Field(Any), id="explicit-optional-vs-implicit-default"
        ),
        pytest.param(Shape({"a": int, "b": int}), Shape({"b": int, "a": int}), id="field-order"),
        pytest.param(Shape({"a": int}), Permissive({"a": int}), id="shape-vs-permissive"),
        pytest.param(Shape({"a": int}), Shape({"a": int}, description="d"), id="shape-desc"),
        pytest.param(Array(int), Noneable(int), id="array-vs-noneable"),
        pytest.param(Array(int), Array(str), id="array-inner"),
        pytest.param(Enum("E", [EnumValue("A")]), Enum("F", [EnumValue("A")]), id="enum-name"),
        pytest.param(
            Enum("E", [EnumValue("A", python_value=1)]),
            Enum("E", [EnumValue("A", python_value=2)]),
            id="enum-python-value",
        ),
        pytest.param(
            EnumValue("A", description="x"), EnumValue("A", description="y"), id="enum-value"
        ),
        pytest.param(Field(int), int, id="field-vs-class"),
        pytest.param(Any, typing.Any, id="any-vs-typing-any"),
    ],
)
def test_structurally_different(left: object, right: object) -> None:
    assert left != right
    assert right != left


def test_types_and_fields_are_hashable_even_with_unhashable_defaults() -> None:
    field = Field(Any, default_value={"a": [1]})
    assert {field, Field(Any, default_value={"a": [1]})} == {field}
    assert len({Array(int), Array(int), Noneable(int)}) == 2


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(Any, "Any", id="any"),
        pytest.param(Array(int), "Array(int)", id="array"),
        pytest.param(Noneable(str), "Noneable(str)", id="noneable"),
        pytest.param(
            Field(int, default_value=3, description="n"),
            'Field(int, default_value=3, is_required=False, description="n")',
            id="field",
        ),
        pytest.param(
            Shape({"a": bool}, description="d"),
            'Shape({"a": Field(bool, is_required=True)}, description="d")',
            id="shape",
        ),
        pytest.param(
            Enum("E", [EnumValue("A", python_value=1, description="x"), EnumValue("B")]),
            'Enum("E", [EnumValue("A", python_value=1, description="x"), EnumValue("B")])',
            id="enum",
        ),
    ],
)
def test_repr(value: object, text: str) -> None:
    assert repr(value) == text


@pytest.mark.parametrize(
    "copier",
    [
        pytest.param(lambda f: pickle.loads(pickle.dumps(f)), id="pickle"),
        pytest.param(copy.deepcopy, id="deepcopy"),
        pytest.param(copy.copy, id="copy"),
    ],
)
def test_copies_and_pickles_are_equal_and_keep_defaults(
    copier: typing.Callable[[Field], Field],
) -> None:
    original = _schema()
    copied = copier(original)
    assert copied == original
    assert hash(copied) == hash(original)
    fields = copied.config_type.fields  # type: ignore[attr-defined]
    assert fields["hosts"].default_provided is False
    assert fields["maybe"].default_provided is True
    assert fields["mode"].config_type.values[0].python_value is Color.RED


class _ForeignType(ConfigType):
    """A ConfigType subclass from outside ophost: never accepted in a schema."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(depth=1, identity=())

    @property
    def kind(self) -> ConfigKind:
        return ConfigKind.SHAPE

    def _same(self, other: ConfigType) -> bool:
        return True

    def __reduce__(self) -> tuple[object, ...]:
        return (_ForeignType, ())


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(
            lambda: resolve({"a": _ForeignType()}),
            f"{WHERE}: invalid config schema at config_schema.a: _ForeignType is not one of "
            "ophost's config types; subclass Shape, Permissive, Selector, Array, Noneable or Enum "
            "instead",
            id="in-dict",
        ),
        pytest.param(
            lambda: Field(_ForeignType()),
            "Field: invalid config schema at config: _ForeignType is not one of ophost's config "
            "types; subclass Shape, Permissive, Selector, Array, Noneable or Enum instead",
            id="field",
        ),
        pytest.param(
            lambda: Array(_ForeignType()),
            "Array: invalid config schema at inner: _ForeignType is not one of ophost's config "
            "types; subclass Shape, Permissive, Selector, Array, Noneable or Enum instead",
            id="array",
        ),
    ],
)
def test_foreign_config_type_subclasses_are_rejected(
    build: typing.Callable[[], object], message: str
) -> None:
    with pytest.raises(DefinitionError) as info:
        build()
    assert str(info.value) == message


def test_subclass_of_a_config_type_is_accepted() -> None:
    class DbShape(Shape):
        __slots__ = ()

    field = resolve({"db": DbShape({"port": int})})
    assert isinstance(field.config_type.fields["db"].config_type, DbShape)  # type: ignore[attr-defined]
