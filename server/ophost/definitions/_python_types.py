"""Types for Python classes: ``PythonObjectDagsterType`` and making a class usable as a type.

``PythonObjectDagsterType(cls)`` is a type whose check is ``isinstance(value, cls)``.
``@usable_as_dagster_type`` and ``make_python_type_usable_as_dagster_type`` register a
type for a class, so that annotating an input or output with the class (or passing it
as ``dagster_type``) gives that type instead of the one ophost infers. A class can be
registered once; registering it again with another type is a ``DefinitionError``.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any as TypingAny
from typing import TypeVar

from ophost.definitions._types import (
    DagsterType,
    TypeKind,
    instance_check,
    register_python_type,
    registered_type,
    was_inferred,
)
from ophost.errors import DefinitionError, InvalidArgumentError

__all__ = [
    "PythonObjectDagsterType",
    "make_python_type_usable_as_dagster_type",
    "usable_as_dagster_type",
]

C = TypeVar("C", bound=type)


def _classes(python_type: object) -> tuple[type, ...]:
    if isinstance(python_type, type):
        return (python_type,)
    if (
        isinstance(python_type, tuple)
        and python_type
        and all(isinstance(cls, type) for cls in python_type)
    ):
        return python_type
    raise InvalidArgumentError(
        "PythonObjectDagsterType: python_type must be a class or a non-empty tuple of "
        f"classes, got {type(python_type).__name__}"
    )


class PythonObjectDagsterType(DagsterType):
    """A type whose values are instances of a Python class (or of one of several classes).

    ``PythonObjectDagsterType(python_type, key=None, name=None, description=None,
    metadata=None, required_resource_keys=None)``. The name defaults to the class name
    (``Union[A, B]`` for a tuple of classes) and the key to the name.
    """

    __slots__ = ("python_types",)

    def __init__(
        self,
        python_type: type | tuple[type, ...],
        key: str | None = None,
        name: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, object] | None = None,
        required_resource_keys: AbstractSet[str] | None = None,
    ) -> None:
        classes = _classes(python_type)
        if len(classes) == 1:
            type_str = classes[0].__name__
            typing_type: object = classes[0]
        else:
            type_str = "Union[" + ", ".join(cls.__name__ for cls in classes) + "]"
            typing_type = typing.Union[classes]  # noqa: UP007
        if name is None:
            name = type_str
        super().__init__(
            instance_check(classes, type_str),
            key=key,
            name=name,
            description=description,
            metadata=metadata,
            kind=TypeKind.CUSTOM,
            python_type=classes[0] if len(classes) == 1 else None,
            required_resource_keys=required_resource_keys,
            typing_type=typing_type,
        )
        self.python_types = classes


def make_python_type_usable_as_dagster_type(python_type: type, dagster_type: DagsterType) -> None:
    """Make annotations naming ``python_type`` resolve to ``dagster_type``.

    A class maps to one type: registering it again with a different type raises
    ``DefinitionError`` (registering the same type again does nothing), and so does
    registering a class that an op annotation already used (ophost inferred a type for
    it then, which the op keeps).
    """
    if not isinstance(python_type, type):
        raise InvalidArgumentError(
            "make_python_type_usable_as_dagster_type: python_type must be a class, got "
            f"{type(python_type).__name__}"
        )
    if not isinstance(dagster_type, DagsterType):
        raise InvalidArgumentError(
            "make_python_type_usable_as_dagster_type: dagster_type must be a DagsterType, got "
            f"{type(dagster_type).__name__}"
        )
    existing = registered_type(python_type)
    if existing is not None and existing is not dagster_type:
        raise DefinitionError(
            f"the class {python_type.__qualname__} is already usable as the type "
            f'"{existing.name}"; a class can be mapped to one type only, so it cannot '
            f'become "{dagster_type.name}" as well'
        )
    if existing is None and was_inferred(python_type):
        raise DefinitionError(
            f"the class {python_type.__qualname__} was already used in an annotation before "
            "it was made usable as a type, so ophost inferred a type for it; make it usable "
            "(usable_as_dagster_type or make_python_type_usable_as_dagster_type) before any "
            "op refers to it"
        )
    register_python_type(python_type, dagster_type)


def usable_as_dagster_type(
    name: str | type | None = None,
    description: str | None = None,
    loader: object = None,
    materializer: object = None,
) -> TypingAny:
    """Class decorator: annotations naming the class resolve to a type for it.

    Use it bare (``@usable_as_dagster_type``) or with a name and description
    (``@usable_as_dagster_type(name="Frame")``). The type is a
    :class:`PythonObjectDagsterType` of the class, named after the class unless
    ``name`` is given. ``loader`` and ``materializer`` (Dagster's input loading and
    output materialization from config) are not supported: ophost ops receive their
    input values from the caller.
    """
    if loader is not None or materializer is not None:
        raise DefinitionError(
            "usable_as_dagster_type: loader and materializer are not supported; ophost ops "
            "receive input values from the caller and return outputs to it"
        )
    if isinstance(name, type):
        return _register(name, None, None)
    if name is not None and not isinstance(name, str):
        raise InvalidArgumentError(
            f"usable_as_dagster_type: name must be a str, got {type(name).__name__}"
        )

    def decorate(cls: C) -> C:
        return _register(cls, name, description)

    return decorate


def _register(cls: C, name: str | None, description: str | None) -> C:
    if not isinstance(cls, type):
        raise InvalidArgumentError(
            f"usable_as_dagster_type decorates a class, got {type(cls).__name__}"
        )
    make_python_type_usable_as_dagster_type(
        cls, PythonObjectDagsterType(cls, name=name, description=description)
    )
    return cls
