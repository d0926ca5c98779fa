"""``List``, ``Optional``, ``Set``, ``Tuple`` and ``Dict``: Dagster's generic type spellings.

Op code written for Dagster annotates with these instead of the ``typing`` names, and
passes them as ``dagster_type``: ``In(List[int])``, ``Out(Optional[String])``,
``Dict[str, Int]``. Subscripting gives the same :class:`DagsterType` the ``typing``
spelling resolves to; used bare, ``List``, ``Set``, ``Tuple`` and ``Dict`` mean their
untyped forms. None of them is a config type (config lists are ``[int]`` or ``Array``).
"""

from __future__ import annotations

from ophost.definitions._type_resolution import resolve_dagster_type
from ophost.definitions._types import (
    DagsterType,
    TypeFamily,
    dict_of,
    list_of,
    optional_of,
    set_of,
    tuple_of,
)
from ophost.errors import DefinitionError

__all__ = ["Dict", "List", "Optional", "Set", "Tuple"]


def _args(args: object) -> tuple[object, ...]:
    return args if isinstance(args, tuple) else (args,)


def _one(family: str, args: object) -> DagsterType:
    values = _args(args)
    if len(values) != 1:
        raise DefinitionError(f"{family}[...] takes one type, got {len(values)}")
    return resolve_dagster_type(values[0], where=f"{family}[...]")


class _List(TypeFamily):
    __slots__ = ()

    def bare(self) -> DagsterType:
        return list_of(None)

    def __getitem__(self, args: object) -> DagsterType:
        return list_of(_one("List", args))


class _Optional(TypeFamily):
    __slots__ = ()

    def bare(self) -> DagsterType:
        raise DefinitionError("Optional needs the inner type: write Optional[<type>]")

    def __getitem__(self, args: object) -> DagsterType:
        return optional_of(_one("Optional", args))


class _Set(TypeFamily):
    __slots__ = ()

    def bare(self) -> DagsterType:
        return set_of(None)

    def __getitem__(self, args: object) -> DagsterType:
        return set_of(_one("Set", args))


class _Tuple(TypeFamily):
    __slots__ = ()

    def bare(self) -> DagsterType:
        return tuple_of(None)

    def __getitem__(self, args: object) -> DagsterType:
        values = _args(args)
        if any(value is Ellipsis for value in values):
            raise DefinitionError("Tuple[...] needs every element's type; '...' is not supported")
        return tuple_of(
            [
                resolve_dagster_type(value, where=f"Tuple[...] element {i}")
                for i, value in enumerate(values)
            ]
        )


class _Dict(TypeFamily):
    __slots__ = ()

    def bare(self) -> DagsterType:
        return dict_of(None, None)

    def __getitem__(self, args: object) -> DagsterType:
        values = _args(args)
        if len(values) != 2:
            raise DefinitionError(
                f"Dict[...] takes a key type and a value type, got {len(values)} type(s)"
            )
        return dict_of(
            resolve_dagster_type(values[0], where="Dict[...] key"),
            resolve_dagster_type(values[1], where="Dict[...] value"),
        )


List = _List("List")
Optional = _Optional("Optional")
Set = _Set("Set")
Tuple = _Tuple("Tuple")
Dict = _Dict("Dict")
