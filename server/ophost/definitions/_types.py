"""Types of inputs and outputs: ``DagsterType``, the built-in types and ``Nothing``.

A type has a display name, a unique key, a kind (which the wire schema mirrors)
and a check that decides whether a value belongs to it. Custom types bring their
own check function.
"""

from __future__ import annotations

import enum
import logging
import typing
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any as TypingAny
from typing import NamedTuple

from ophost.definitions._metadata import MetadataEntry, normalize_metadata
from ophost.definitions._op_events import TypeCheck
from ophost.errors import InvalidArgumentError, InvariantViolationError

__all__ = [
    "BOOL",
    "FLOAT",
    "INT",
    "STRING",
    "Any_",
    "Bool",
    "Float",
    "Int",
    "String",
    "DagsterType",
    "Nothing",
    "TypeCheckContext",
    "TypeKind",
]


class TypeKind(enum.Enum):
    """The shape of a type, as carried on the wire."""

    ANY = "ANY"
    NOTHING = "NOTHING"
    INT = "INT"
    FLOAT = "FLOAT"
    STRING = "STRING"
    BOOL = "BOOL"
    OPTIONAL = "OPTIONAL"
    LIST = "LIST"
    DICT = "DICT"
    SET = "SET"
    TUPLE = "TUPLE"
    CUSTOM = "CUSTOM"


class TypeCheckContext(NamedTuple):
    """What a custom type's check function receives as its first argument."""

    run_id: str
    log: logging.LoggerAdapter[logging.Logger] | TypingAny
    resources: TypingAny


TypeCheckFn = Callable[[TypingAny, TypingAny], "bool | TypeCheck"]

_NO_CONTEXT = TypeCheckContext(run_id="", log=logging.getLogger("ophost.typecheck"), resources=None)


class DagsterType:
    """A type for op inputs and outputs, checked at run time.

    ``DagsterType(type_check_fn, key=None, name=None, description=None, metadata=None)``
    builds a custom type: ``type_check_fn(context, value)`` returns a bool or a
    :class:`TypeCheck`. The name defaults to the key and the key to the name; at
    least one of them is required (``unique_name`` is the name as given).
    Keyword-only: ``required_resource_keys`` (a set of str), the resources the check
    reads from ``context.resources``; ``typing_type``, the Python typing form of the
    type's values (``typing.Any`` by default).
    """

    __slots__ = (
        "_check",
        "_given_name",
        "_typing_type",
        "description",
        "inner",
        "key",
        "kind",
        "metadata_entries",
        "name",
        "python_type",
        "required_resource_keys",
    )

    def __init__(
        self,
        type_check_fn: TypeCheckFn,
        key: str | None = None,
        name: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, object] | None = None,
        *,
        kind: TypeKind = TypeKind.CUSTOM,
        inner: Sequence[DagsterType] = (),
        python_type: type | None = None,
        required_resource_keys: AbstractSet[str] | None = None,
        typing_type: object = TypingAny,
    ) -> None:
        if not callable(type_check_fn):
            raise InvalidArgumentError(
                f"DagsterType: type_check_fn must be callable, got {type(type_check_fn).__name__}"
            )
        if key is None and name is None:
            raise InvalidArgumentError("DagsterType: give a name or a key")
        for arg, val in (("key", key), ("name", name), ("description", description)):
            if val is not None and not isinstance(val, str):
                raise InvalidArgumentError(
                    f"DagsterType: {arg} must be a str, got {type(val).__name__}"
                )
        if not isinstance(kind, TypeKind):
            raise InvalidArgumentError("DagsterType: kind must be a TypeKind")
        self._check = type_check_fn
        self._given_name = name
        self._typing_type = typing_type
        self.required_resource_keys: frozenset[str] = _resource_keys(required_resource_keys)
        self.key: str = key if key is not None else name  # type: ignore[assignment]
        self.name: str = name if name is not None else self.key
        self.description = description
        self.metadata_entries: list[MetadataEntry] = normalize_metadata(metadata, None)
        self.kind = kind
        self.inner: tuple[DagsterType, ...] = tuple(inner)
        self.python_type = python_type

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def unique_name(self) -> str:
        """The name the type was given; a type built from a key alone has none (an error)."""
        if self._given_name is None:
            raise InvariantViolationError(
                f'the type with key "{self.key}" was given no name, so it has no unique_name'
            )
        return self._given_name

    @property
    def typing_type(self) -> object:
        """The Python typing form of values of this type (``typing.Any`` unless known)."""
        return self._typing_type

    @property
    def is_nothing(self) -> bool:
        return self.kind is TypeKind.NOTHING

    @property
    def is_builtin(self) -> bool:
        return self.kind is not TypeKind.CUSTOM

    def type_check(self, context: TypeCheckContext | None, value: object) -> TypeCheck:
        """Run the check and normalise its result to a :class:`TypeCheck`.

        Exceptions from a custom check function propagate unchanged; the engine
        wraps them as user-code errors.
        """
        result = self._check(context if context is not None else _NO_CONTEXT, value)
        if isinstance(result, bool):
            return TypeCheck(success=result)
        if isinstance(result, TypeCheck):
            return result
        raise InvariantViolationError(
            f'type check function of type "{self.name}" returned a value of type '
            f"{type(result).__name__}; it must return a bool or a TypeCheck"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DagsterType):
            return NotImplemented
        return self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"DagsterType(name={self.name!r}, key={self.key!r})"


def _resource_keys(keys: object) -> frozenset[str]:
    if keys is None:
        return frozenset()
    if not isinstance(keys, (set, frozenset)):
        raise InvalidArgumentError(
            f"DagsterType: required_resource_keys must be a set of str, got {type(keys).__name__}"
        )
    for key in keys:
        if not isinstance(key, str):
            raise InvalidArgumentError(
                f"DagsterType: required_resource_keys must hold str, got {type(key).__name__}"
            )
    return frozenset(keys)


def _describe(value: object) -> str:
    """``str(value)`` for a type check's message, cut to 200 characters, never raising."""
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not hide the check's result
        text = f"<{type(value).__name__} object>"
    if len(text) > 200:
        text = text[:197] + "..."
    return text


def _fail(value: object, expected: str) -> TypeCheck:
    return TypeCheck(
        success=False,
        description=(
            f'Value "{_describe(value)}" of python type "{type(value).__name__}" '
            f"must be a {expected}."
        ),
    )


# One shared passing result: TypeCheck is immutable, and built-in checks pass often.
_PASSED = TypeCheck(success=True)


def instance_check(
    classes: type | tuple[type, ...], expected: str
) -> Callable[[object, object], TypeCheck]:
    """A type check passing instances of ``classes``; its failure names ``expected``."""

    def check(_ctx: object, value: object) -> TypeCheck:
        if isinstance(value, classes):
            return _PASSED
        return TypeCheck(
            success=False,
            description=(
                f'Value "{_describe(value)}" of python type "{type(value).__name__}" '
                f"must be an instance of {expected}."
            ),
        )

    return check


def _scalar(kind: TypeKind, name: str, py: type, expected: str) -> DagsterType:
    def check(_ctx: object, value: object) -> TypeCheck:
        return _PASSED if isinstance(value, py) else _fail(value, expected)

    return DagsterType(check, key=name, name=name, kind=kind, python_type=py, typing_type=py)


def _any_check(_ctx: object, _value: object) -> TypeCheck:
    return _PASSED


def _nothing_check(_ctx: object, value: object) -> TypeCheck:
    if value is None:
        return TypeCheck(success=True)
    return TypeCheck(success=False, description=f"Value must be None, got a {type(value)}")


Any_ = DagsterType(_any_check, key="Any", name="Any", kind=TypeKind.ANY)
Nothing = DagsterType(
    _nothing_check, key="Nothing", name="Nothing", kind=TypeKind.NOTHING, typing_type=type(None)
)
INT = _scalar(TypeKind.INT, "Int", int, "int")
FLOAT = _scalar(TypeKind.FLOAT, "Float", float, "float")
STRING = _scalar(TypeKind.STRING, "String", str, "string")
BOOL = _scalar(TypeKind.BOOL, "Bool", bool, "bool")

# The names op code imports (Dagster's): each is both an op type and, in a config schema,
# the scalar config type of the same name.
Int = INT
Float = FLOAT
String = STRING
Bool = BOOL


def _check_each(
    elements: Sequence[tuple[DagsterType, object]], context: TypeCheckContext | None
) -> TypeCheck:
    for dtype, element in elements:
        result = dtype.type_check(context, element)
        if not result.success:
            return result
    return TypeCheck(success=True)


def optional_of(inner: DagsterType) -> DagsterType:
    def check(ctx: TypeCheckContext | None, value: object) -> TypeCheck:
        return TypeCheck(success=True) if value is None else inner.type_check(ctx, value)

    return DagsterType(
        check,
        key=f"Optional.{inner.key}",
        name=f"{inner.name}?",
        kind=TypeKind.OPTIONAL,
        inner=(inner,),
        typing_type=typing.Optional[inner.typing_type],  # noqa: UP045
    )


def list_of(inner: DagsterType | None) -> DagsterType:
    element = inner if inner is not None else Any_

    def check(ctx: TypeCheckContext | None, value: object) -> TypeCheck:
        if not isinstance(value, list):
            return _fail(value, "list")
        return _check_each([(element, item) for item in value], ctx)

    return DagsterType(
        check,
        key=f"List.{element.key}",
        name=f"[{element.name}]",
        kind=TypeKind.LIST,
        inner=() if inner is None else (inner,),
        python_type=list,
        typing_type=typing.List[element.typing_type],  # type: ignore[name-defined]  # noqa: UP006
    )


def dict_of(key: DagsterType | None, value_type: DagsterType | None) -> DagsterType:
    def check(ctx: TypeCheckContext | None, value: object) -> TypeCheck:
        if not isinstance(value, dict):
            return _fail(value, "dict")
        if key is None or value_type is None:
            return TypeCheck(success=True)
        pairs: list[tuple[DagsterType, object]] = []
        for k, v in value.items():
            pairs.extend(((key, k), (value_type, v)))
        return _check_each(pairs, ctx)

    if key is not None and value_type is not None:
        return DagsterType(
            check,
            key=f"TypedPythonDict.{key.key}.{value_type.key}",
            name=f"Dict[{key.name},{value_type.name}]",
            kind=TypeKind.DICT,
            inner=(key, value_type),
            python_type=dict,
            typing_type=typing.Dict[key.typing_type, value_type.typing_type],  # type: ignore[name-defined]  # noqa: UP006
        )
    return DagsterType(
        check, key="PythonDict", name="dict", kind=TypeKind.DICT, python_type=dict, typing_type=dict
    )


def set_of(inner: DagsterType | None) -> DagsterType:
    def check(ctx: TypeCheckContext | None, value: object) -> TypeCheck:
        if not isinstance(value, (set, frozenset)):
            return _fail(value, "set")
        if inner is None:
            return TypeCheck(success=True)
        return _check_each([(inner, item) for item in value], ctx)

    if inner is None:
        return DagsterType(
            check, key="PythonSet", name="set", kind=TypeKind.SET, python_type=set, typing_type=set
        )
    return DagsterType(
        check,
        key=f"TypedPythonSet.{inner.key}",
        name=f"Set[{inner.name}]",
        kind=TypeKind.SET,
        inner=(inner,),
        python_type=set,
        typing_type=typing.Set[inner.typing_type],  # type: ignore[name-defined]  # noqa: UP006
    )


def tuple_of(elements: Sequence[DagsterType] | None) -> DagsterType:
    def check(ctx: TypeCheckContext | None, value: object) -> TypeCheck:
        if not isinstance(value, tuple):
            return _fail(value, "tuple")
        if elements is None:
            return TypeCheck(success=True)
        if len(value) != len(elements):
            return TypeCheck(
                success=False,
                description=(
                    f"Tuple {_describe(value)} has {len(value)} elements, expected {len(elements)}."
                ),
            )
        return _check_each(list(zip(elements, value, strict=True)), ctx)

    if elements is None:
        return DagsterType(
            check,
            key="PythonTuple",
            name="tuple",
            kind=TypeKind.TUPLE,
            python_type=tuple,
            typing_type=tuple,
        )
    return DagsterType(
        check,
        key="TypedPythonTuple" + ".".join(e.key for e in elements),
        name="Tuple[" + ",".join(e.name for e in elements) + "]",
        kind=TypeKind.TUPLE,
        inner=tuple(elements),
        python_type=tuple,
        typing_type=typing.Tuple[tuple(e.typing_type for e in elements)],  # noqa: UP006
    )


_INFERRED: dict[type, DagsterType] = {}


def inferred_class_type(cls: type) -> DagsterType:
    """The type ophost makes for an annotation naming an ordinary class (cached per class)."""
    found = _INFERRED.get(cls)
    if found is not None:
        return found
    qualified = f"{cls.__module__}.{cls.__name__}"
    dtype = DagsterType(
        instance_check(cls, qualified),
        key=f"_TypeHintInferred[{qualified}]",
        name=cls.__name__,
        kind=TypeKind.CUSTOM,
        python_type=cls,
        typing_type=cls,
    )
    _INFERRED[cls] = dtype
    return dtype


class TypeFamily:
    """A family of types written like a generic: ``List[int]``, ``Optional[str]``, ``Dict``.

    The families are Dagster's ``List``, ``Optional``, ``Set``, ``Tuple`` and ``Dict``:
    subscripting one builds a :class:`DagsterType`, and a family used bare where a type
    is expected stands for its untyped member (``List`` is ``[Any]``). Subclasses say
    what the bare family means (``bare``) and how arguments build a member (``__getitem__``).
    """

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def bare(self) -> DagsterType:
        """The type the family stands for when used without arguments."""
        raise NotImplementedError

    def __getitem__(self, args: object) -> DagsterType:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self._name

    def __reduce__(self) -> str:
        return self._name


_REGISTERED: dict[type, DagsterType] = {}


def was_inferred(cls: type) -> bool:
    """Whether an annotation already made ophost infer a type for ``cls``."""
    return cls in _INFERRED


def registered_type(cls: type) -> DagsterType | None:
    """The type made usable for ``cls`` (``usable_as_dagster_type``), if any."""
    return _REGISTERED.get(cls)


def register_python_type(cls: type, dtype: DagsterType) -> None:
    """Make annotations naming ``cls`` resolve to ``dtype`` (one type per class)."""
    _REGISTERED[cls] = dtype
