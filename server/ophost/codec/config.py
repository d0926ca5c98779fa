"""Config schemas (:class:`Field` and config types) <-> ``ophost.v1.ConfigField``."""

from __future__ import annotations

from ophost.codec import values
from ophost.definitions._config import (
    Any,
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
)
from ophost.errors import CodecError, OpHostError
from ophost.v1 import config_pb2, type_pb2

__all__ = ["from_proto", "to_proto", "type_from_proto", "type_to_proto"]

_SCALARS = {
    ConfigKind.INT: type_pb2.SCALAR_KIND_INT,
    ConfigKind.FLOAT: type_pb2.SCALAR_KIND_FLOAT,
    ConfigKind.STRING: type_pb2.SCALAR_KIND_STRING,
    ConfigKind.BOOL: type_pb2.SCALAR_KIND_BOOL,
}
_SCALARS_BACK = {wire: kind for kind, wire in _SCALARS.items()}
_SHAPES = {
    ConfigKind.SHAPE: ("shape_type", Shape),
    ConfigKind.PERMISSIVE: ("permissive_type", Permissive),
    ConfigKind.SELECTOR: ("selector_type", Selector),
}


def to_proto(field: Field, *, name: str = "", path: str = "config") -> config_pb2.ConfigField:
    """Encode a field; the top-level field of an op has no name."""
    message = config_pb2.ConfigField(name=name, required=field.is_required)
    message.type.CopyFrom(type_to_proto(field.config_type, path=path))
    if field.default_provided:
        message.default_value.CopyFrom(values.to_proto(field.default_value, path=f"{path}.default"))
    if field.description is not None:
        message.description = field.description
    return message


def type_to_proto(config_type: ConfigType, *, path: str = "config") -> config_pb2.ConfigType:
    message = config_pb2.ConfigType()
    kind = config_type.kind
    if kind is ConfigKind.ANY:
        message.any_type.SetInParent()
    elif kind in _SCALARS:
        message.scalar_type = _SCALARS[kind]
    elif kind in _SHAPES:
        arm = getattr(message, _SHAPES[kind][0])
        arm.SetInParent()
        for field_name, field in config_type.fields.items():  # type: ignore[attr-defined]
            arm.fields.append(to_proto(field, name=field_name, path=f"{path}.{field_name}"))
        if config_type.description is not None:
            arm.description = config_type.description
    elif kind is ConfigKind.ARRAY:
        message.array_type.element.CopyFrom(
            type_to_proto(config_type.inner, path=f"{path}[]")  # type: ignore[attr-defined]
        )
    elif kind is ConfigKind.NONEABLE:
        message.noneable_type.inner.CopyFrom(
            type_to_proto(config_type.inner, path=path)  # type: ignore[attr-defined]
        )
    elif kind is ConfigKind.ENUM:
        enum_type = message.enum_type
        enum_type.name = config_type.name  # type: ignore[attr-defined]
        for value in config_type.values:  # type: ignore[attr-defined]
            wire = enum_type.values.add(config_value=value.config_value)
            if value.description is not None:
                wire.description = value.description
    else:
        raise CodecError(path, f"unknown config kind {kind}")
    return message


def from_proto(message: config_pb2.ConfigField, *, path: str = "config") -> Field:
    config_type = type_from_proto(message.type, path=path)
    description = message.description if message.HasField("description") else None
    try:
        if message.HasField("default_value"):
            default = values.from_proto(message.default_value, path=f"{path}.default")
            # Optional shapes, selectors and noneables carry an implied default, which can
            # hold values (such as None for a selector's field) that an explicit default
            # may not. Rebuild the field the same way when the wire default is that one.
            implied = Field(config_type, description=description)
            if (
                not message.required
                and implied.default_provided
                and implied.default_value == default
            ):
                return implied
            return Field(config_type, default_value=default, description=description)
        return Field(config_type, is_required=message.required, description=description)
    except OpHostError as exc:
        raise CodecError(path, str(exc)) from None


def type_from_proto(message: config_pb2.ConfigType, *, path: str = "config") -> ConfigType:
    kind = message.WhichOneof("kind")
    try:
        if kind == "any_type":
            return Any
        if kind == "scalar_type":
            scalar = _SCALARS_BACK.get(message.scalar_type)
            if scalar is None:
                raise CodecError(path, f"unknown scalar kind {message.scalar_type}")
            return ScalarType(scalar)
        if kind in ("shape_type", "permissive_type", "selector_type"):
            arm = getattr(message, kind)
            fields = {f.name: from_proto(f, path=f"{path}.{f.name}") for f in arm.fields}
            description = arm.description if arm.HasField("description") else None
            if kind == "shape_type":
                return Shape(fields, description=description)
            if kind == "permissive_type":
                return Permissive(fields, description=description)
            return Selector(fields, description=description)
        if kind == "array_type":
            return Array(type_from_proto(message.array_type.element, path=f"{path}[]"))
        if kind == "noneable_type":
            return Noneable(type_from_proto(message.noneable_type.inner, path=path))
        if kind == "enum_type":
            return Enum(
                message.enum_type.name,
                [
                    EnumValue(
                        v.config_value,
                        description=v.description if v.HasField("description") else None,
                    )
                    for v in message.enum_type.values
                ],
            )
    except CodecError:
        raise
    except OpHostError as exc:
        raise CodecError(path, str(exc)) from None
    raise CodecError(path, "the config type has no kind set")
