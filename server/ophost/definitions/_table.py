"""Table metadata helpers: records, columns, constraints and schemas.

All classes are immutable. They hold lists and dicts, so none of them is hashable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ophost.definitions._metadata_support import (
    check_bool,
    check_opt_str,
    check_str,
    check_str_list,
    describe,
    json_equal,
)
from ophost.errors import InvalidArgumentError

__all__ = [
    "TableColumn",
    "TableColumnConstraints",
    "TableConstraints",
    "TableRecord",
    "TableSchema",
    "TableValue",
]

TableValue = str | int | float | bool | None
"""What one cell of a :class:`TableRecord` may hold."""

_CELL_TYPES = (str, int, float)  # bool is an int


def _str_list(owner: str, arg: str, value: object) -> list[str]:
    """A ``list`` of str (a tuple is refused, as Dagster's table classes refuse it)."""
    if not isinstance(value, list):
        raise InvalidArgumentError(f'{owner}: "{arg}" must be a list of str, got {describe(value)}')
    return check_str_list(owner, arg, value)


@dataclass(frozen=True, init=False, eq=False)
class TableRecord:
    """One row of a table: a mapping of column name to a str, int, float, bool or None.

    The cells are given as keyword arguments, ``TableRecord(name="a", size=3)``, as in
    Dagster 0.14 (a mapping is unpacked: ``TableRecord(**row)``). Records compare by
    their data with the typed rules of JSON metadata: ``1``, ``1.0`` and ``True`` are
    different cells, and NaN equals NaN.
    """

    data: dict[str, TableValue]

    def __init__(self, *args: object, **fields: TableValue) -> None:
        if args:
            raise InvalidArgumentError(
                "TableRecord: the cells are keyword arguments, TableRecord(name=value, ...); "
                f"got {len(args)} positional argument(s) ({describe(args[0])}); unpack a "
                "mapping with TableRecord(**row)"
            )
        for name, cell in fields.items():
            if cell is not None and not isinstance(cell, _CELL_TYPES):
                raise InvalidArgumentError(
                    f'TableRecord: the value of "{name}" must be a str, int, float, bool '
                    f"or None, got {describe(cell)}"
                )
        object.__setattr__(self, "data", dict(fields))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TableRecord):
            return NotImplemented
        return json_equal(self.data, other.data)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, init=False)
class TableColumnConstraints:
    """Constraints on the values of one column."""

    nullable: bool
    unique: bool
    other: list[str]

    def __init__(
        self, nullable: bool = True, unique: bool = False, other: list[str] | None = None
    ) -> None:
        owner = "TableColumnConstraints"
        object.__setattr__(self, "nullable", check_bool(owner, "nullable", nullable))
        object.__setattr__(self, "unique", check_bool(owner, "unique", unique))
        object.__setattr__(self, "other", [] if other is None else _str_list(owner, "other", other))

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, init=False)
class TableConstraints:
    """Constraints on a whole table, as free-form descriptions."""

    other: list[str]

    def __init__(self, other: list[str]) -> None:
        object.__setattr__(self, "other", _str_list("TableConstraints", "other", other))

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, init=False)
class TableColumn:
    """One column of a table schema.

    ``type`` is free text; the values the UI understands are ``"string"``,
    ``"int"``, ``"float"`` and ``"bool"``.
    """

    name: str
    type: str
    description: str | None
    constraints: TableColumnConstraints

    def __init__(
        self,
        name: str,
        type: str = "string",  # shadows the builtin: it is the Dagster parameter name
        description: str | None = None,
        constraints: TableColumnConstraints | None = None,
    ) -> None:
        owner = "TableColumn"
        if constraints is None:
            constraints = TableColumnConstraints()
        elif not isinstance(constraints, TableColumnConstraints):
            raise InvalidArgumentError(
                f'{owner}: "constraints" must be a TableColumnConstraints or None, '
                f"got {describe(constraints)}"
            )
        object.__setattr__(self, "name", check_str(owner, "name", name))
        object.__setattr__(self, "type", check_str(owner, "type", type))
        object.__setattr__(self, "description", check_opt_str(owner, "description", description))
        object.__setattr__(self, "constraints", constraints)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, init=False)
class TableSchema:
    """The columns of a table, plus table-wide constraints."""

    columns: list[TableColumn]
    constraints: TableConstraints

    def __init__(
        self, columns: list[TableColumn], constraints: TableConstraints | None = None
    ) -> None:
        owner = "TableSchema"
        if not isinstance(columns, list):
            raise InvalidArgumentError(
                f'{owner}: "columns" must be a list of TableColumn, got {describe(columns)}'
            )
        for index, column in enumerate(columns):
            if not isinstance(column, TableColumn):
                raise InvalidArgumentError(
                    f'{owner}: "columns" must contain only TableColumn, '
                    f"got {describe(column)} at index {index}"
                )
        if constraints is None:
            constraints = TableConstraints(other=[])
        elif not isinstance(constraints, TableConstraints):
            raise InvalidArgumentError(
                f'{owner}: "constraints" must be a TableConstraints or None, '
                f"got {describe(constraints)}"
            )
        object.__setattr__(self, "columns", list(columns))
        object.__setattr__(self, "constraints", constraints)

    __hash__ = None  # type: ignore[assignment]

    @staticmethod
    def from_name_type_dict(name_type_dict: Mapping[str, str]) -> TableSchema:
        """A schema with one column per entry, ``{"name": "type"}``, in mapping order."""
        if not isinstance(name_type_dict, Mapping):
            raise InvalidArgumentError(
                'TableSchema.from_name_type_dict: "name_type_dict" must be a mapping of '
                f"str to str, got {describe(name_type_dict)}"
            )
        return TableSchema(
            columns=[TableColumn(name=name, type=kind) for name, kind in name_type_dict.items()]
        )
