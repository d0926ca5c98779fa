"""Config validation: accepted values, processing (defaults, enums, extras) and error details."""

from __future__ import annotations

import enum
import typing

import pytest

import ophost.definitions._config as config_module
from ophost.definitions._config import (
    Any,
    Enum,
    EnumValue,
    Field,
    Noneable,
    Permissive,
    Selector,
    resolve_config_schema,
    validate_config,
)
from ophost.errors import ConfigErrorDetail, InvalidArgumentError, InvalidConfigError


class Color(enum.Enum):
    RED = "r"
    GREEN = "g"


def field_of(schema: object) -> Field:
    return resolve_config_schema(schema, where="test")


def problems(schema: object, value: object) -> list[tuple[str, str]]:
    with pytest.raises(InvalidConfigError) as info:
        validate_config(field_of(schema), value)
    return [(detail.path, detail.message) for detail in info.value.errors]


def test_public_names() -> None:
    assert sorted(config_module.__all__) == [
        "Any",
        "AnyType",
        "Array",
        "ConfigKind",
        "ConfigType",
        "Enum",
        "EnumValue",
        "Field",
        "Map",
        "Noneable",
        "Permissive",
        "ScalarType",
        "Selector",
        "Shape",
        "resolve_config_schema",
        "validate_config",
    ]


# --- values that validate -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        pytest.param(int, 3, id="int"),
        pytest.param(int, -(10**30), id="big-int"),
        pytest.param(float, 1.5, id="float"),
        pytest.param(float, 2, id="int-for-float"),
        pytest.param(str, "", id="str"),
        pytest.param(bool, False, id="bool"),
        pytest.param(Any, {"x": object}, id="any"),
        pytest.param(typing.Any, [1, "a"], id="typing-any"),
        pytest.param([int], [], id="empty-array"),
        pytest.param([[int]], [[1], [], [2, 3]], id="nested-array"),
        pytest.param(Noneable(int), 4, id="noneable-value"),
        pytest.param({"a": Noneable(int)}, {"a": None}, id="noneable-explicit-none"),
        pytest.param([Noneable(str)], ["a", None], id="noneable-elements"),
        pytest.param([Any], [None, 1], id="any-elements"),
        pytest.param(list, [1, "x", None], id="bare-list"),
        pytest.param({"a": int, "b": str}, {"b": "x", "a": 1}, id="shape"),
    ],
)
def test_valid_values_come_back_equal(schema: object, value: object) -> None:
    assert validate_config(field_of(schema), value) == value


def test_any_value_passes_through_unchanged() -> None:
    value = {"k": [1, 2]}
    assert validate_config(field_of(Any), value) is value


def test_int_for_float_is_kept_as_int() -> None:
    result = validate_config(field_of(float), 2)
    assert type(result) is int


def test_result_is_a_new_dict_in_declaration_order() -> None:
    value = {"b": 2, "a": 1}
    result = validate_config(field_of({"a": int, "b": int}), value)
    assert result is not value
    assert isinstance(result, dict)
    assert list(result) == ["a", "b"]


# --- scalar and structural mismatches -------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "value", "message"),
    [
        pytest.param(int, "x", 'expected int, got "x" (str)', id="str-for-int"),
        pytest.param(int, True, "expected int, got True (bool)", id="bool-for-int"),
        pytest.param(int, 1.0, "expected int, got 1.0 (float)", id="float-for-int"),
        pytest.param(float, True, "expected float, got True (bool)", id="bool-for-float"),
        pytest.param(float, "1.5", 'expected float, got "1.5" (str)', id="str-for-float"),
        pytest.param(str, 1, "expected str, got 1 (int)", id="int-for-str"),
        pytest.param(str, b"x", "expected str, got <bytes object> (bytes)", id="bytes-for-str"),
        pytest.param(bool, 1, "expected bool, got 1 (int)", id="int-for-bool"),
        pytest.param(bool, "true", 'expected bool, got "true" (str)', id="str-for-bool"),
        pytest.param([int], (1, 2), "expected a list, got (1, 2) (tuple)", id="tuple-for-list"),
        pytest.param([int], "ab", 'expected a list, got "ab" (str)', id="str-for-list"),
        pytest.param({"a": int}, [1], "expected a dict, got [1] (list)", id="list-for-shape"),
        pytest.param(Permissive(), 3, "expected a dict, got 3 (int)", id="int-for-permissive"),
        pytest.param(
            Selector({"a": int, "b": int}),
            "a",
            'expected a dict with exactly one of (a, b), got "a" (str)',
            id="str-for-selector",
        ),
        pytest.param(Noneable(int), "x", 'expected int, got "x" (str)', id="noneable-wrong-inner"),
        pytest.param(
            Enum("E", [EnumValue("A"), EnumValue("B")]),
            1,
            "expected one of A, B, got 1 (int)",
            id="int-for-enum",
        ),
        pytest.param(
            {"a": int}, {1: 1, "a": 1}, "field names must be str, got 1 (int)", id="int-key"
        ),
    ],
)
def test_mismatch_message(schema: object, value: object, message: str) -> None:
    assert problems(schema, value) == [("config", message)]


@pytest.mark.parametrize(
    ("schema", "value", "message"),
    [
        pytest.param({"a": int}, {"a": None}, "expected int, got None", id="scalar"),
        pytest.param({"a": [int]}, {"a": None}, "expected a list, got None", id="array"),
        pytest.param(
            {"a": {"b": Field(int, default_value=1)}},
            {"a": None},
            "expected a dict, got None",
            id="all-optional-shape",
        ),
        pytest.param(
            {"a": Enum("E", [EnumValue("X")])},
            {"a": None},
            "expected one of X, got None",
            id="enum",
        ),
        pytest.param(
            {"a": Noneable(Noneable(int))},
            {"a": "s"},
            'expected int, got "s" (str)',
            id="double-noneable",
        ),
    ],
)
def test_none_below_the_top_is_only_valid_for_noneable_and_any(
    schema: object, value: object, message: str
) -> None:
    assert problems(schema, value) == [("config.a", message)]


# --- shapes: missing, unexpected, defaults --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            {"port": 1},
            [("config", 'missing required field "host"')],
            id="missing-one",
        ),
        pytest.param(
            {},
            [
                ("config", 'missing required field "host"'),
                ("config", 'missing required field "port"'),
            ],
            id="missing-each-listed",
        ),
        pytest.param(
            {"host": "h", "port": 1, "prot": 2},
            [
                (
                    "config",
                    'unexpected field "prot", did you mean "port"? (known fields: host, port)',
                )
            ],
            id="did-you-mean",
        ),
        pytest.param(
            {"host": "h", "port": 1, "zzz": 2},
            [("config", 'unexpected field "zzz" (known fields: host, port)')],
            id="no-close-name",
        ),
        pytest.param(
            {"host": "h", "port": 1, "a": 1, "b": 2},
            [
                ("config", 'unexpected field "a" (known fields: host, port)'),
                ("config", 'unexpected field "b" (known fields: host, port)'),
            ],
            id="each-unexpected-listed",
        ),
    ],
)
def test_shape_field_problems(value: object, expected: list[tuple[str, str]]) -> None:
    assert problems({"host": str, "port": int}, value) == expected


def test_unexpected_field_in_empty_shape() -> None:
    assert problems({}, {"a": 1}) == [
        ("config", 'unexpected field "a" (no fields are defined here)')
    ]


def test_every_problem_is_listed_with_its_path() -> None:
    schema = {
        "db": {"host": str, "port": int},
        "hosts": [str],
        "mode": Enum("Mode", [EnumValue("RED"), EnumValue("GREEN")]),
    }
    value = {"db": {"host": 1, "prot": 5432}, "hosts": ["a", "b", 3], "mode": "PURPLE", "x": 0}
    assert problems(schema, value) == [
        ("config.db.host", "expected str, got 1 (int)"),
        ("config.db", 'missing required field "port"'),
        ("config.db", 'unexpected field "prot", did you mean "port"? (known fields: host, port)'),
        ("config.hosts[2]", "expected str, got 3 (int)"),
        ("config.mode", 'value "PURPLE" is not one of RED, GREEN'),
        ("config", 'unexpected field "x" (known fields: db, hosts, mode)'),
    ]


def test_three_problems_give_three_details() -> None:
    details = problems({"a": int, "b": str, "c": bool}, {"a": "x", "b": 1, "c": None})
    assert len(details) == 3


def test_defaults_are_filled_recursively() -> None:
    schema = {
        "db": {
            "host": Field(str, default_value="localhost"),
            "port": Field(int, default_value=5432),
            "opts": {
                "timeout": Field(float, default_value=1.5),
                "retry": Field(bool, is_required=False),
            },
        },
        "name": str,
        "tags": Field([str], default_value=["a"]),
        "limit": Noneable(int),
        "anything": Any,
        "optional": Field(int, is_required=False),
    }
    assert validate_config(field_of(schema), {"name": "n", "db": {"port": 1}}) == {
        "db": {"host": "localhost", "port": 1, "opts": {"timeout": 1.5}},
        "name": "n",
        "tags": ["a"],
        "limit": None,
        "anything": None,
    }


def test_partial_default_of_a_nested_shape_gets_the_rest_filled() -> None:
    schema = {
        "db": Field({"host": str, "port": Field(int, default_value=1)}, default_value={"host": "h"})
    }
    assert validate_config(field_of(schema), {}) == {"db": {"host": "h", "port": 1}}


def test_given_values_override_defaults() -> None:
    schema = {"a": Field(int, default_value=1), "b": {"c": Field(str, default_value="x")}}
    assert validate_config(field_of(schema), {"a": 2, "b": {"c": "y"}}) == {"a": 2, "b": {"c": "y"}}


def test_defaults_are_copied_for_every_validation() -> None:
    field = field_of({"items": Field(Any, default_value={"seen": []})})
    first = validate_config(field, {})
    assert isinstance(first, dict)
    first["items"]["seen"].append(1)
    assert validate_config(field, {}) == {"items": {"seen": []}}
    assert field.config_type.fields["items"].default_value == {"seen": []}  # type: ignore[attr-defined]


def test_uncopyable_default_is_used_as_is() -> None:
    class NoCopy:
        def __deepcopy__(self, memo: object) -> object:
            raise RuntimeError("no copies")

    default = NoCopy()
    field = field_of({"a": Field(Any, default_value=default)})
    assert validate_config(field, {}) == {"a": default}


# --- permissive -----------------------------------------------------------------------------


def test_permissive_keeps_extras_after_declared_fields() -> None:
    extra = {"nested": [1]}
    schema = Permissive({"a": Field(int, default_value=1), "b": str})
    result = validate_config(field_of(schema), {"z": extra, "b": "x", "y": None})
    assert result == {"a": 1, "b": "x", "z": extra, "y": None}
    assert isinstance(result, dict)
    assert list(result) == ["a", "b", "z", "y"]
    assert result["z"] is extra


def test_permissive_still_checks_declared_fields() -> None:
    assert problems(Permissive({"a": int}), {"a": "x", "other": 1}) == [
        ("config.a", 'expected int, got "x" (str)')
    ]
    assert problems(Permissive({"a": int}), {"other": 1}) == [
        ("config", 'missing required field "a"')
    ]


def test_bare_dict_schema_is_an_empty_permissive() -> None:
    assert validate_config(field_of(dict), {"x": 1}) == {"x": 1}
    assert validate_config(field_of(dict), None) == {}


# --- selectors ------------------------------------------------------------------------------

SEL = Selector({"csv": {"sep": Field(str, default_value=",")}, "json": {"indent": int}})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param({"csv": {"sep": ";"}}, {"csv": {"sep": ";"}}, id="chosen"),
        pytest.param({"csv": {}}, {"csv": {"sep": ","}}, id="chosen-defaults-filled"),
        pytest.param({"csv": None}, {"csv": {"sep": ","}}, id="chosen-without-value"),
        pytest.param({"json": {"indent": 2}}, {"json": {"indent": 2}}, id="other-choice"),
    ],
)
def test_selector_valid(value: object, expected: object) -> None:
    assert validate_config(field_of(SEL), value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            {"csv": {}, "json": {"indent": 1}},
            [("config", "selector requires exactly one of (csv, json), got 2: csv, json")],
            id="two",
        ),
        pytest.param(
            {}, [("config", "selector requires exactly one of (csv, json), got none")], id="none"
        ),
        pytest.param(
            {"cvs": {}},
            [("config", 'unexpected field "cvs", did you mean "csv"? (known fields: csv, json)')],
            id="unknown",
        ),
        pytest.param(
            {"csv": {}, "xml": {}},
            [
                ("config", 'unexpected field "xml" (known fields: csv, json)'),
                ("config", "selector requires exactly one of (csv, json), got 2: csv, xml"),
            ],
            id="unknown-and-two",
        ),
        pytest.param(
            {"json": {}}, [("config.json", 'missing required field "indent"')], id="inner-problem"
        ),
        pytest.param(
            {"json": None}, [("config.json", 'missing required field "indent"')], id="inner-none"
        ),
    ],
)
def test_selector_problems(value: object, expected: list[tuple[str, str]]) -> None:
    assert problems(SEL, value) == expected


def test_selector_chosen_scalar_none_is_an_error() -> None:
    assert problems(Selector({"n": int, "s": str}), {"n": None}) == [
        ("config.n", "expected int, got None")
    ]


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        pytest.param(
            Selector({"fs": {"dir": Field(str, default_value="/tmp")}}),
            {},
            {"fs": {"dir": "/tmp"}},
            id="single-optional-shape-empty-dict",
        ),
        pytest.param(
            Selector({"fs": {"dir": Field(str, default_value="/tmp")}}),
            None,
            {"fs": {"dir": "/tmp"}},
            id="single-optional-shape-not-given",
        ),
        pytest.param(
            Selector({"n": Field(int, default_value=4)}), {}, {"n": 4}, id="single-scalar-default"
        ),
        pytest.param(
            Selector({"n": Field(int, is_required=False)}), {}, {"n": None}, id="single-no-default"
        ),
        pytest.param(
            {"store": Selector({"mem": Field(Permissive(), description="in memory")})},
            {},
            {"store": {"mem": {}}},
            id="nested-selector-filled",
        ),
    ],
)
def test_selector_with_single_optional_field_is_filled(
    schema: object, value: object, expected: object
) -> None:
    assert validate_config(field_of(schema), value) == expected


def test_selector_with_single_required_field_needs_it() -> None:
    assert problems(Selector({"n": int}), {}) == [
        ("config", "selector requires exactly one of (n), got none")
    ]


# --- enums ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("enum_type", "value", "expected"),
    [
        pytest.param(Enum("E", [EnumValue("A"), EnumValue("B")]), "B", "B", id="no-python-value"),
        pytest.param(
            Enum("E", [EnumValue("A", python_value=10), EnumValue("B", python_value=20)]),
            "B",
            20,
            id="python-value",
        ),
        pytest.param(Enum.from_python_enum(Color), "GREEN", Color.GREEN, id="from-python-enum"),
    ],
)
def test_enum_maps_to_python_value(enum_type: Enum, value: str, expected: object) -> None:
    assert validate_config(field_of(enum_type), value) == expected
    assert validate_config(field_of({"e": enum_type}), {"e": value}) == {"e": expected}


def test_enum_defaults_are_mapped_too() -> None:
    schema = {"color": Field(Enum.from_python_enum(Color), default_value="RED")}
    assert validate_config(field_of(schema), {}) == {"color": Color.RED}
    assert validate_config(field_of(schema), None) == {"color": Color.RED}


def test_enum_values_in_arrays_are_mapped() -> None:
    assert validate_config(field_of([Enum.from_python_enum(Color)]), ["RED", "GREEN"]) == [
        Color.RED,
        Color.GREEN,
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("PURPLE", 'value "PURPLE" is not one of RED, GREEN', id="unknown"),
        pytest.param(
            "GREN", 'value "GREN" is not one of RED, GREEN, did you mean "GREEN"?', id="close"
        ),
        pytest.param("red", 'value "red" is not one of RED, GREEN, did you mean "RED"?', id="case"),
        pytest.param(
            Color.RED,
            'expected one of RED, GREEN, got Color.RED (Color); write the name "RED" instead of '
            "the member",
            id="python-member",
        ),
    ],
)
def test_enum_problems(value: object, message: str) -> None:
    assert problems(Enum.from_python_enum(Color), value) == [("config", message)]


# --- the top level --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        pytest.param(None, None, id="no-schema"),
        pytest.param(Any, None, id="any"),
        pytest.param(Noneable(int), None, id="noneable"),
        pytest.param(Field(int, default_value=5), 5, id="default"),
        pytest.param(Field(Noneable(int), default_value=5), 5, id="noneable-default"),
        pytest.param(Field(int, is_required=False), None, id="optional-no-default"),
        pytest.param({"a": Field(int, default_value=1)}, {"a": 1}, id="all-optional-shape"),
        pytest.param({}, {}, id="empty-shape"),
        pytest.param(Field(Any, is_required=True), None, id="required-any-accepts-none"),
        pytest.param(Field(Noneable(int), is_required=True), None, id="required-noneable"),
    ],
)
def test_top_level_none_means_not_given(schema: object, expected: object) -> None:
    assert validate_config(field_of(schema), None) == expected


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        pytest.param({"a": int}, "required config was not given (expected a dict)", id="shape"),
        pytest.param(int, "required config was not given (expected int)", id="int"),
        pytest.param([str], "required config was not given (expected a list)", id="array"),
        pytest.param(
            Selector({"a": int, "b": int}),
            "required config was not given (expected a dict with exactly one of (a, b))",
            id="selector",
        ),
    ],
)
def test_missing_required_top_level_config(schema: object, message: str) -> None:
    assert problems(schema, None) == [("config", message)]


def test_root_and_preamble_are_used() -> None:
    with pytest.raises(InvalidConfigError) as info:
        validate_config(
            field_of({"port": int}),
            {"port": "x"},
            root="ops.load.config",
            preamble='Config for op "load" is invalid',
        )
    assert info.value.preamble == 'Config for op "load" is invalid'
    assert info.value.errors == [
        ConfigErrorDetail("ops.load.config.port", 'expected int, got "x" (str)')
    ]
    assert str(info.value) == (
        'Config for op "load" is invalid\n  ops.load.config.port: expected int, got "x" (str)'
    )


def test_default_preamble_names_the_root() -> None:
    with pytest.raises(InvalidConfigError) as info:
        validate_config(field_of(int), "x")
    assert info.value.preamble == "config does not match its schema"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda: validate_config({"a": int}, {}),  # type: ignore[arg-type]
            "validate_config: field must be a Field (see resolve_config_schema), got "
            '{"a": <class int>} (dict)',
            id="raw-schema",
        ),
        pytest.param(
            lambda: validate_config(Field(int), 1, root=None),  # type: ignore[arg-type]
            "validate_config: root must be a str, got None",
            id="root",
        ),
        pytest.param(
            lambda: validate_config(Field(int), 1, preamble=3),  # type: ignore[arg-type]
            "validate_config: preamble must be a str or None, got 3 (int)",
            id="preamble",
        ),
    ],
)
def test_validate_config_argument_errors(call: typing.Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        call()
    assert str(info.value) == message


# --- paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "value", "path"),
    [
        pytest.param({"a": {"b": int}}, {"a": {"b": "x"}}, "config.a.b", id="dotted"),
        pytest.param({"a": [[int]]}, {"a": [[1], [2, "x"]]}, "config.a[1][1]", id="indexes"),
        pytest.param({"a b": int}, {"a b": "x"}, 'config["a b"]', id="space-in-name"),
        pytest.param({"a.b": int}, {"a.b": "x"}, 'config["a.b"]', id="dot-in-name"),
        pytest.param({"1st": int}, {"1st": "x"}, "config.1st", id="leading-digit"),
        pytest.param(
            [{"a": Noneable([int])}], [{"a": None}, {"a": ["x"]}], "config[1].a[0]", id="mixed"
        ),
    ],
)
def test_error_paths(schema: object, value: object, path: str) -> None:
    assert [p for p, _ in problems(schema, value)] == [path]
