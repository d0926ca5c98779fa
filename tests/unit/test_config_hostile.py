"""Hostile and extreme inputs: the config system answers with clear errors of its own."""

from __future__ import annotations

import typing

import pytest

from ophost.definitions._config import (
    Any,
    Array,
    ConfigType,
    Enum,
    EnumValue,
    Field,
    Noneable,
    Shape,
    resolve_config_schema,
    validate_config,
)
from ophost.errors import DefinitionError, InvalidConfigError


class Hostile:
    """Every comparison, hash and rendering raises."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __hash__(self) -> int:
        raise RuntimeError("hash")

    def __repr__(self) -> str:
        raise RuntimeError("repr")

    def __str__(self) -> str:
        raise RuntimeError("str")

    def __deepcopy__(self, memo: object) -> object:
        raise RuntimeError("deepcopy")


class ArmedStr(str):
    """A str that hashes, compares and prints normally until ``armed`` is set."""

    armed = False

    def __hash__(self) -> int:
        if ArmedStr.armed:
            raise RuntimeError("hash")
        return str.__hash__(self)

    def __eq__(self, other: object) -> bool:
        if ArmedStr.armed:
            raise RuntimeError("eq")
        return str.__eq__(self, other)

    def __str__(self) -> str:
        raise RuntimeError("str")

    def __repr__(self) -> str:
        raise RuntimeError("repr")


class BadDict(dict):  # type: ignore[type-arg]
    def items(self) -> typing.NoReturn:
        raise RuntimeError("items")

    def keys(self) -> typing.NoReturn:
        raise RuntimeError("keys")

    def __iter__(self) -> typing.NoReturn:
        raise RuntimeError("iter")

    def __getitem__(self, key: object) -> typing.NoReturn:
        raise RuntimeError("getitem")

    def __len__(self) -> int:
        raise RuntimeError("len")


class BadList(list):  # type: ignore[type-arg]
    def __iter__(self) -> typing.NoReturn:
        raise RuntimeError("iter")

    def __getitem__(self, index: object) -> typing.NoReturn:
        raise RuntimeError("getitem")

    def __len__(self) -> int:
        raise RuntimeError("len")


class FakeDict:
    """Claims to be a dict through ``__class__`` without being one."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return dict


class FakeClass:
    """Claims to be a class through ``__class__`` without being one."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return type


@pytest.fixture(autouse=True)
def _disarm() -> typing.Iterator[None]:
    ArmedStr.armed = False
    yield
    ArmedStr.armed = False


def field_of(schema: object) -> Field:
    return resolve_config_schema(schema, where="test")


def problems(schema: object, value: object) -> list[tuple[str, str]]:
    with pytest.raises(InvalidConfigError) as info:
        validate_config(field_of(schema), value)
    return [(detail.path, detail.message) for detail in info.value.errors]


def _nested_value(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        pytest.param(
            int, Hostile(), [("config", "expected int, got <Hostile object> (Hostile)")], id="obj"
        ),
        pytest.param(
            {"a": [int]},
            {"a": [1, Hostile()]},
            [("config.a[1]", "expected int, got <Hostile object> (Hostile)")],
            id="obj-in-list",
        ),
        pytest.param(
            {"a": int},
            FakeDict(),
            [("config", "expected a dict, got <FakeDict object> (FakeDict)")],
            id="fake-dict",
        ),
        pytest.param(
            {"a": int},
            {(1, 2): 1, None: 2, "a": 1},
            [
                ("config", "field names must be str, got (1, 2) (tuple)"),
                ("config", "field names must be str, got None"),
            ],
            id="non-str-keys",
        ),
        pytest.param(
            str,
            10**5000,
            [("config", "expected str, got <int of 16610 bits> (int)")],
            id="huge-int",
        ),
        pytest.param(
            int,
            "x" * 1000,
            [("config", 'expected int, got "' + "x" * 40 + '..." (str)')],
            id="long-str",
        ),
        pytest.param(
            int,
            _nested_value(10_000),
            [("config", "expected int, got [[[...]]] (list)")],
            id="deep-value",
        ),
        pytest.param(
            int,
            {"k": {"j": {"i": 1}}, "a": 2, "b": 3, "c": 4, "d": 5, "e": 6},
            [
                (
                    "config",
                    'expected int, got {"k": {"j": {...}}, "a": 2, "b": 3, "c": 4, "d": 5, ...} '
                    "(dict)",
                )
            ],
            id="wide-dict",
        ),
        pytest.param(
            int,
            list(range(100)),
            [("config", "expected int, got [0, 1, 2, 3, 4, ...] (list)")],
            id="long-list",
        ),
        pytest.param(
            {"port": int},
            {"port": 1, "x" * 500: 2},
            [("config", 'unexpected field "' + "x" * 40 + '..." (known fields: port)')],
            id="long-unknown-key",
        ),
        pytest.param(
            {"port": int},
            {"port": 1, "PORT": 2},
            [("config", 'unexpected field "PORT", did you mean "port"? (known fields: port)')],
            id="case-only-difference",
        ),
    ],
)
def test_hostile_values_give_clear_details(
    schema: object, value: object, expected: list[tuple[str, str]]
) -> None:
    assert problems(schema, value) == expected


def test_any_passes_deep_and_hostile_values_through() -> None:
    deep = _nested_value(10_000)
    hostile = Hostile()
    assert validate_config(field_of(Any), deep) is deep
    result = validate_config(field_of({"a": Any}), {"a": hostile})
    assert isinstance(result, dict)
    assert result["a"] is hostile


def test_str_subclass_keys_and_values_are_read_without_their_methods() -> None:
    key, enum_key, choice = ArmedStr("port"), ArmedStr("color"), ArmedStr("RED")
    value = {key: 1, enum_key: choice, ArmedStr("prot"): 2}
    ArmedStr.armed = True
    schema = {"port": int, "color": Enum("C", [EnumValue("RED", python_value=1)])}
    assert problems(schema, value) == [
        ("config", 'unexpected field "prot", did you mean "port"? (known fields: port, color)')
    ]


def test_str_subclass_keys_are_normalised_in_the_result() -> None:
    value = {ArmedStr("port"): 1, ArmedStr("color"): ArmedStr("RED")}
    ArmedStr.armed = True
    result = validate_config(
        field_of({"port": int, "color": Enum("C", [EnumValue("RED", python_value=1)])}), value
    )
    assert isinstance(result, dict)
    assert [type(k) for k in result] == [str, str]
    ArmedStr.armed = False
    assert result == {"port": 1, "color": 1}


def test_str_subclass_value_renders_without_its_methods() -> None:
    value = ArmedStr("abc")
    ArmedStr.armed = True
    assert problems(int, value) == [("config", 'expected int, got "abc" (ArmedStr)')]


def test_dict_and_list_subclasses_are_read_through_the_base_class() -> None:
    value = BadDict({"hosts": BadList(["a", 3]), "port": 1})
    assert problems({"hosts": [str], "port": int, "name": str}, value) == [
        ("config.hosts[1]", "expected str, got 3 (int)"),
        ("config", 'missing required field "name"'),
    ]
    assert problems(int, value) == [
        ("config", 'expected int, got {"hosts": ["a", 3], "port": 1} (BadDict)')
    ]


def test_many_problems_are_all_listed() -> None:
    details = problems([int], ["x"] * 1000)
    assert len(details) == 1000
    assert details[999] == ("config[999]", 'expected int, got "x" (str)')


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        pytest.param(Hostile(), "<Hostile object> (Hostile) is not a config type", id="hostile"),
        pytest.param(FakeClass(), "<FakeClass object> (FakeClass) is not a config type", id="fake"),
        pytest.param(
            FakeDict(), "<FakeDict object> (FakeDict) is not a config type", id="fakedict"
        ),
        pytest.param(
            {"a": Hostile()}, "<Hostile object> (Hostile) is not a config type", id="nested"
        ),
    ],
)
def test_hostile_schemas_give_definition_errors(schema: object, reason: str) -> None:
    with pytest.raises(DefinitionError) as info:
        field_of(schema)
    assert f": {reason}; a config schema is " in str(info.value)


def test_non_str_field_names_in_a_schema() -> None:
    with pytest.raises(DefinitionError) as info:
        field_of({(1,): int})
    assert str(info.value) == (
        "test: invalid config schema at config_schema: field names must be str, got (1,) (tuple)"
    )


def test_str_subclass_field_names_are_normalised_in_schemas() -> None:
    shape = Shape({ArmedStr("a"): int})
    ArmedStr.armed = True
    assert [type(name) for name in shape.fields] == [str]
    assert shape == Shape({"a": int})


def test_hostile_defaults_and_python_values_do_not_break_equality_or_repr() -> None:
    left = Field(Any, default_value=Hostile())
    right = Field(Any, default_value=Hostile())
    assert left != right
    assert left == left  # noqa: PLR0124 - identity must still count as equal
    assert repr(left) == "Field(Any, default_value=<Hostile object>, is_required=False)"
    enum_left = Enum("E", [EnumValue("A", python_value=Hostile())])
    enum_right = Enum("E", [EnumValue("A", python_value=Hostile())])
    assert enum_left != enum_right
    assert hash(enum_left) == hash(enum_right)
    assert repr(enum_left) == 'Enum("E", [EnumValue("A", python_value=<Hostile object>)])'


def test_hostile_default_is_used_uncopied() -> None:
    default = Hostile()
    result = validate_config(field_of({"a": Field(Any, default_value=default)}), {})
    assert isinstance(result, dict)
    assert result["a"] is default


def _deepest_array() -> ConfigType:
    deep: ConfigType = Array(int)
    for _ in range(98):
        deep = Array(deep)
    return deep


def test_deepest_allowed_schema_validates_compares_and_prints() -> None:
    deep = _deepest_array()
    field = Field(deep)
    assert validate_config(field, _nested_value(99)) == _nested_value(99)
    assert problems(deep, _nested_value(100)) == [
        ("config" + "[0]" * 99, "expected int, got [1] (list)")
    ]
    assert field == Field(_deepest_array())
    assert repr(deep).count("Array(") == 99


def test_deepest_allowed_nested_shapes_fill_defaults() -> None:
    schema: object = {"leaf": Field(int, default_value=1)}
    for _ in range(98):
        schema = {"x": schema}
    field = field_of(schema)
    result = validate_config(field, None)
    for _ in range(98):
        assert isinstance(result, dict)
        result = result["x"]
    assert result == {"leaf": 1}


def test_noneable_chain_at_depth_limit() -> None:
    deep: ConfigType = Noneable(int)
    for _ in range(98):
        deep = Noneable(deep)
    assert validate_config(Field(deep), 3) == 3
    with pytest.raises(DefinitionError):
        Noneable(deep)


def test_suggestions_stop_after_the_first_hundred_unknown_names() -> None:
    value = {"port": 1, **{f"prt{i:03}": i for i in range(150)}}
    details = problems({"port": int}, value)
    assert len(details) == 150
    suggested = [message for _, message in details if "did you mean" in message]
    assert len(suggested) == 100
    assert details[0] == (
        "config",
        'unexpected field "prt000", did you mean "port"? (known fields: port)',
    )
    assert details[149] == ("config", 'unexpected field "prt149" (known fields: port)')
