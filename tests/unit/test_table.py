"""Table helpers: TableRecord, TableColumn(Constraints), TableConstraints, TableSchema."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Callable

import pytest

from ophost.definitions._table import (
    TableColumn,
    TableColumnConstraints,
    TableConstraints,
    TableRecord,
    TableSchema,
)
from ophost.errors import InvalidArgumentError

NAN = float("nan")
ROW: dict[str, int | str] = {"a": 1, "b": "y"}

# --- TableRecord ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "data"),
    [
        pytest.param(
            lambda: TableRecord(a="x", b=1, c=1.5, d=True, e=None),
            {"a": "x", "b": 1, "c": 1.5, "d": True, "e": None},
            id="keywords",
        ),
        pytest.param(TableRecord, {}, id="empty"),
        pytest.param(lambda: TableRecord(**ROW), {"a": 1, "b": "y"}, id="unpacked"),
        # 0.14 keyword form: a column may be called "data".
        pytest.param(lambda: TableRecord(data=1), {"data": 1}, id="column-named-data"),
    ],
)
def test_record_construction(build: Callable[[], TableRecord], data: dict[str, object]) -> None:
    record = build()
    assert record.data == data
    assert list(record.data) == list(data)


def test_record_copies_the_mapping() -> None:
    cells: dict[str, int] = {"a": 1}
    record = TableRecord(**cells)
    cells["a"] = 2
    assert record.data == {"a": 1}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(
            lambda: TableRecord(a=[1]),  # type: ignore[arg-type]
            'TableRecord: the value of "a" must be a str, int, float, bool or None, got list',
            id="list-cell",
        ),
        pytest.param(
            lambda: TableRecord(a={"b": 1}),  # type: ignore[arg-type]
            'TableRecord: the value of "a" must be a str, int, float, bool or None, got dict',
            id="dict-cell",
        ),
        pytest.param(
            lambda: TableRecord(a=b"x"),  # type: ignore[arg-type]
            'TableRecord: the value of "a" must be a str, int, float, bool or None, got bytes',
            id="bytes-cell",
        ),
        # Dagster 0.14 takes the cells as keyword arguments only: TableRecord(**data).
        pytest.param(
            lambda: TableRecord({"a": 1}),
            "TableRecord: the cells are keyword arguments, TableRecord(name=value, ...); got 1 "
            "positional argument(s) (dict); unpack a mapping with TableRecord(**row)",
            id="mapping",
        ),
        pytest.param(
            lambda: TableRecord({"a": 1}, b=2),
            "TableRecord: the cells are keyword arguments, TableRecord(name=value, ...); got 1 "
            "positional argument(s) (dict); unpack a mapping with TableRecord(**row)",
            id="mapping-and-keywords",
        ),
    ],
)
def test_record_errors(build: Callable[[], TableRecord], message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        build()
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        pytest.param(TableRecord(a=1, b="x"), TableRecord(b="x", a=1), True, id="order-ignored"),
        pytest.param(TableRecord(a=NAN), TableRecord(a=float("nan")), True, id="nan-equals-nan"),
        pytest.param(TableRecord(a=None), TableRecord(a=None), True, id="none"),
        # Typed, like every metadata payload: an int cell is not a float or bool cell.
        pytest.param(TableRecord(a=1), TableRecord(a=1.0), False, id="int-vs-float"),
        pytest.param(TableRecord(a=1), TableRecord(a=True), False, id="int-vs-bool"),
        pytest.param(TableRecord(a=1), TableRecord(a=1, b=2), False, id="extra-column"),
        pytest.param(TableRecord(a=1), {"a": 1}, False, id="vs-dict"),
    ],
)
def test_record_equality(left: TableRecord, right: object, equal: bool) -> None:
    assert (left == right) is equal
    assert (left != right) is not equal


# --- TableColumnConstraints, TableConstraints ---------------------------------------------


@pytest.mark.parametrize(
    ("build", "fields"),
    [
        pytest.param(TableColumnConstraints, (True, False, []), id="defaults"),
        pytest.param(
            lambda: TableColumnConstraints(False, True, ["> 0"]), (False, True, ["> 0"]), id="pos"
        ),
    ],
)
def test_column_constraints(
    build: Callable[[], TableColumnConstraints], fields: tuple[bool, bool, list[str]]
) -> None:
    constraints = build()
    assert (constraints.nullable, constraints.unique, constraints.other) == fields
    assert type(constraints.other) is list


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"nullable": 1}, 'TableColumnConstraints: "nullable" must be a bool, got int', id="int"
        ),
        pytest.param(
            {"unique": None}, 'TableColumnConstraints: "unique" must be a bool, got None', id="none"
        ),
        pytest.param(
            {"other": "x"},
            'TableColumnConstraints: "other" must be a list of str, got str',
            id="str-other",
        ),
        # ophost checks the elements too (0.14 does not), since they travel as strings.
        pytest.param(
            {"other": ["a", 1]},
            'TableColumnConstraints: "other" must contain only str, got int at index 1',
            id="int-element",
        ),
    ],
)
def test_column_constraints_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        TableColumnConstraints(**kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_table_constraints() -> None:
    assert TableConstraints(["unique (a, b)"]).other == ["unique (a, b)"]
    assert TableConstraints(other=[]).other == []
    with pytest.raises(TypeError):
        TableConstraints()  # type: ignore[call-arg]  # "other" is required (no default)


@pytest.mark.parametrize(
    ("other", "message"),
    [
        pytest.param(None, 'TableConstraints: "other" must be a list of str, got None', id="none"),
        pytest.param(
            ("a",), 'TableConstraints: "other" must be a list of str, got tuple', id="tuple"
        ),
        pytest.param(
            [1], 'TableConstraints: "other" must contain only str, got int at index 0', id="int"
        ),
    ],
)
def test_table_constraints_errors(other: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        TableConstraints(other)  # type: ignore[arg-type]
    assert str(info.value) == message


# --- TableColumn ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "fields"),
    [
        pytest.param(
            lambda: TableColumn("x"), ("x", "string", None, TableColumnConstraints()), id="default"
        ),
        pytest.param(
            lambda: TableColumn("x", "int"), ("x", "int", None, TableColumnConstraints()), id="pos"
        ),
        # The type is free text; nothing validates it.
        pytest.param(
            lambda: TableColumn("x", "my custom type", "d", TableColumnConstraints(unique=True)),
            ("x", "my custom type", "d", TableColumnConstraints(unique=True)),
            id="custom-type",
        ),
    ],
)
def test_column(build: Callable[[], TableColumn], fields: tuple[object, ...]) -> None:
    column = build()
    assert (column.name, column.type, column.description, column.constraints) == fields


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"name": None}, 'TableColumn: "name" must be a str, got None', id="name"),
        pytest.param(
            {"name": "x", "type": 1}, 'TableColumn: "type" must be a str, got int', id="t"
        ),
        pytest.param(
            {"name": "x", "description": 1},
            'TableColumn: "description" must be a str or None, got int',
            id="description",
        ),
        pytest.param(
            {"name": "x", "constraints": {}},
            'TableColumn: "constraints" must be a TableColumnConstraints or None, got dict',
            id="constraints",
        ),
    ],
)
def test_column_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        TableColumn(**kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


# --- TableSchema ---------------------------------------------------------------------


def test_schema_defaults_and_forms() -> None:
    columns = [TableColumn("a", "int"), TableColumn("b")]
    schema = TableSchema(columns)
    assert schema.columns == columns
    assert schema.constraints == TableConstraints(other=[])
    assert type(schema.columns) is list
    assert schema.columns is not columns
    with_constraints = TableSchema(columns, TableConstraints(["x"]))
    assert with_constraints.constraints.other == ["x"]
    assert with_constraints != schema
    with pytest.raises(TypeError):
        TableSchema()  # type: ignore[call-arg]  # "columns" is required


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ("a",), 'TableSchema: "columns" must be a list of TableColumn, got str', id="str"
        ),
        pytest.param(
            ([TableColumn("a"), "b"],),
            'TableSchema: "columns" must contain only TableColumn, got str at index 1',
            id="element",
        ),
        pytest.param(
            ([], ["x"]),
            'TableSchema: "constraints" must be a TableConstraints or None, got list',
            id="constraints",
        ),
    ],
)
def test_schema_errors(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        TableSchema(*args)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_schema_from_name_type_dict() -> None:
    schema = TableSchema.from_name_type_dict({"a": "int", "b": "string"})
    assert schema == TableSchema([TableColumn("a", "int"), TableColumn("b", "string")])


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        pytest.param(
            [("a", "int")],
            'TableSchema.from_name_type_dict: "name_type_dict" must be a mapping of str to str, '
            "got list",
            id="not-a-mapping",
        ),
        pytest.param({"a": 1}, 'TableColumn: "type" must be a str, got int', id="int-type"),
    ],
)
def test_schema_from_name_type_dict_errors(arg: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        TableSchema.from_name_type_dict(arg)  # type: ignore[arg-type]
    assert str(info.value) == message


# --- common properties --------------------------------------------------------------

SAMPLES = [
    pytest.param(TableRecord(a=1, b=NAN), id="record"),
    pytest.param(TableColumnConstraints(False, True, ["x"]), id="column-constraints"),
    pytest.param(TableConstraints(["x"]), id="constraints"),
    pytest.param(TableColumn("a", "int", "d"), id="column"),
    pytest.param(TableSchema([TableColumn("a")], TableConstraints(["x"])), id="schema"),
]


@pytest.mark.parametrize("value", SAMPLES)
def test_immutable(value: object) -> None:
    name = dataclasses.fields(value)[0].name  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, name, None)


@pytest.mark.parametrize("value", SAMPLES)
def test_round_trips_through_pickle_and_copy(value: object) -> None:
    assert pickle.loads(pickle.dumps(value)) == value
    assert copy.deepcopy(value) == value


@pytest.mark.parametrize("value", SAMPLES)
def test_not_hashable(value: object) -> None:
    # They hold lists and dicts, so (like those) they cannot be hashed.
    with pytest.raises(TypeError, match="unhashable"):
        hash(value)


def test_repr_is_readable() -> None:
    assert repr(TableColumn("a", "int")) == (
        "TableColumn(name='a', type='int', description=None, "
        "constraints=TableColumnConstraints(nullable=True, unique=False, other=[]))"
    )
    assert repr(TableRecord(a=1)) == "TableRecord(data={'a': 1})"
