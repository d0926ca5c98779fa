"""Input and output types (:class:`DagsterType`) <-> ``ophost.v1.TypeSpec``."""

from __future__ import annotations

from ophost.definitions._types import (
    BOOL,
    FLOAT,
    INT,
    STRING,
    Any_,
    DagsterType,
    Nothing,
    TypeKind,
    dict_of,
    list_of,
    optional_of,
    set_of,
    tuple_of,
)
from ophost.errors import CodecError, InvariantViolationError
from ophost.v1 import type_pb2

__all__ = ["from_proto", "to_proto"]

_SCALARS = {
    TypeKind.INT: (type_pb2.SCALAR_KIND_INT, INT),
    TypeKind.FLOAT: (type_pb2.SCALAR_KIND_FLOAT, FLOAT),
    TypeKind.STRING: (type_pb2.SCALAR_KIND_STRING, STRING),
    TypeKind.BOOL: (type_pb2.SCALAR_KIND_BOOL, BOOL),
}
_SCALAR_FROM_WIRE = dict(_SCALARS.values())


def to_proto(dtype: DagsterType) -> type_pb2.TypeSpec:
    message = type_pb2.TypeSpec(display_name=dtype.display_name, key=dtype.key)
    if dtype.description is not None:
        message.description = dtype.description
    kind = dtype.kind
    if kind is TypeKind.ANY:
        message.any_type.SetInParent()
    elif kind is TypeKind.NOTHING:
        message.nothing_type.SetInParent()
    elif kind in _SCALARS:
        message.scalar_type = _SCALARS[kind][0]
    elif kind is TypeKind.OPTIONAL:
        message.optional_type.inner.CopyFrom(to_proto(dtype.inner[0]))
    elif kind is TypeKind.LIST:
        message.list_type.SetInParent()
        if dtype.inner:
            message.list_type.element.CopyFrom(to_proto(dtype.inner[0]))
    elif kind is TypeKind.DICT:
        message.dict_type.SetInParent()
        if dtype.inner:
            message.dict_type.key.CopyFrom(to_proto(dtype.inner[0]))
            message.dict_type.value.CopyFrom(to_proto(dtype.inner[1]))
    elif kind is TypeKind.SET:
        message.set_type.SetInParent()
        if dtype.inner:
            message.set_type.element.CopyFrom(to_proto(dtype.inner[0]))
    elif kind is TypeKind.TUPLE:
        message.tuple_type.SetInParent()
        message.tuple_type.elements.extend(to_proto(e) for e in dtype.inner)
    else:
        python_type = dtype.python_type
        message.custom_type.python_type = (
            f"{python_type.__module__}.{python_type.__qualname__}" if python_type else ""
        )
        message.custom_type.required_resource_keys.extend(sorted(dtype.required_resource_keys))
    return message


def _remote_check(_context: object, _value: object) -> bool:
    raise InvariantViolationError(
        "this type was read from the wire; its check runs on the server that defines it"
    )


def from_proto(message: type_pb2.TypeSpec, *, path: str = "type") -> DagsterType:
    kind = message.WhichOneof("kind")
    description = message.description if message.HasField("description") else None
    if kind == "any_type":
        return Any_
    if kind == "nothing_type":
        return Nothing
    if kind == "scalar_type":
        scalar = _SCALAR_FROM_WIRE.get(message.scalar_type)
        if scalar is None:
            raise CodecError(path, f"unknown scalar kind {message.scalar_type}")
        return scalar
    if kind == "optional_type":
        return optional_of(from_proto(message.optional_type.inner, path=f"{path}.inner"))
    if kind == "list_type":
        lt = message.list_type
        return list_of(
            from_proto(lt.element, path=f"{path}.element") if lt.HasField("element") else None
        )
    if kind == "dict_type":
        dt = message.dict_type
        if dt.HasField("key") != dt.HasField("value"):
            raise CodecError(path, "a dict type gives both key and value types or neither")
        if not dt.HasField("key"):
            return dict_of(None, None)
        return dict_of(
            from_proto(dt.key, path=f"{path}.key"), from_proto(dt.value, path=f"{path}.value")
        )
    if kind == "set_type":
        st = message.set_type
        return set_of(
            from_proto(st.element, path=f"{path}.element") if st.HasField("element") else None
        )
    if kind == "tuple_type":
        elements = [
            from_proto(e, path=f"{path}.elements[{i}]")
            for i, e in enumerate(message.tuple_type.elements)
        ]
        return tuple_of(elements or None)
    if kind == "custom_type":
        if not message.key:
            raise CodecError(path, "a custom type needs a key")
        keys = message.custom_type.required_resource_keys
        if any(not key for key in keys):
            raise CodecError(path, "a required resource key is empty")
        return DagsterType(
            _remote_check,
            key=message.key,
            name=message.display_name or message.key,
            description=description,
            required_resource_keys=frozenset(keys),
        )
    raise CodecError(path, "the type has no kind set")
