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
    Map,
    Noneable,
    Permissive,
    ScalarType,
    Selector,
    Shape,
)
from ophost.errors import CodecError, OpHostError
from ophost.v1 import config_pb2, type_pb2

__all__ = ["from_proto", "to_proto", "type_from_proto", "type_to_proto"]

_SCALARS: dict[ConfigKind, type_pb2.ScalarKind.ValueType] = {
    ConfigKind.INT: type_pb2.SCALAR_KIND_INT,
    ConfigKind.FLOAT: type_pb2.SCALAR_KIND_FLOAT,
    ConfigKind.STRING: type_pb2.SCALAR_KIND_STRING,
    ConfigKind.BOOL: type_pb2.SCALAR_KIND_BOOL,
}
_SCALARS_BACK = {wire: kind for kind, wire in _SCALARS.items()}

# The config types whose value is a dict of named fields; each has its own arm on the wire.
_FieldsType = Shape | Permissive | Selector


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
    # Past the scalars, the branches test the class rather than the kind, so that mypy
    # knows which attributes the type has. Each config class has exactly one kind, so
    # this picks the same branch the kind would.
    if kind is ConfigKind.ANY:
        message.any_type.SetInParent()
    elif kind in _SCALARS:
        message.scalar_type = _SCALARS[kind]
    elif isinstance(config_type, (Shape, Permissive, Selector)):
        _fields_to_proto(config_type, _shape_arm(message, config_type), path)
    elif isinstance(config_type, Array):
        message.array_type.element.CopyFrom(type_to_proto(config_type.inner, path=f"{path}[]"))
    elif isinstance(config_type, Noneable):
        message.noneable_type.inner.CopyFrom(type_to_proto(config_type.inner, path=path))
    elif isinstance(config_type, Enum):
        _enum_to_proto(config_type, message.enum_type)
    elif isinstance(config_type, Map):
        message.map_type.key_type = _SCALARS[config_type.key_type.kind]
        message.map_type.value_type.CopyFrom(
            type_to_proto(config_type.inner_type, path=f"{path}{{}}")
        )
        if config_type.key_label_name is not None:
            message.map_type.key_label_name = config_type.key_label_name
    else:
        raise CodecError(path, f"unknown config kind {kind}")
    return message


def _shape_arm(message: config_pb2.ConfigType, config_type: _FieldsType) -> config_pb2.ConfigShape:
    """The oneof arm that carries this kind of fields type."""
    if isinstance(config_type, Permissive):
        return message.permissive_type
    if isinstance(config_type, Selector):
        return message.selector_type
    return message.shape_type


def _fields_to_proto(config_type: _FieldsType, arm: config_pb2.ConfigShape, path: str) -> None:
    arm.SetInParent()
    for field_name, field in config_type.fields.items():
        arm.fields.append(to_proto(field, name=field_name, path=f"{path}.{field_name}"))
    if config_type.description is not None:
        arm.description = config_type.description


def _enum_to_proto(config_type: Enum, enum_type: config_pb2.ConfigEnum) -> None:
    enum_type.name = config_type.name
    for value in config_type.values:
        wire = enum_type.values.add(config_value=value.config_value)
        if value.description is not None:
            wire.description = value.description


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
        if kind == "shape_type":
            return Shape(*_fields_from_proto(message.shape_type, path))
        if kind == "permissive_type":
            return Permissive(*_fields_from_proto(message.permissive_type, path))
        if kind == "selector_type":
            return Selector(*_fields_from_proto(message.selector_type, path))
        if kind == "array_type":
            return Array(type_from_proto(message.array_type.element, path=f"{path}[]"))
        if kind == "noneable_type":
            return Noneable(type_from_proto(message.noneable_type.inner, path=path))
        if kind == "map_type":
            map_type = message.map_type
            key_kind = _SCALARS_BACK.get(map_type.key_type)
            if key_kind is None:
                raise CodecError(path, f"unknown map key kind {map_type.key_type}")
            if not map_type.HasField("value_type"):
                raise CodecError(path, "a map config type needs a value_type")
            return Map(
                ScalarType(key_kind),
                type_from_proto(map_type.value_type, path=f"{path}{{}}"),
                key_label_name=(
                    map_type.key_label_name if map_type.HasField("key_label_name") else None
                ),
            )
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


def _fields_from_proto(
    arm: config_pb2.ConfigShape, path: str
) -> tuple[dict[str, Field], str | None]:
    """The fields and the description of a shape, permissive shape or selector."""
    fields = {f.name: from_proto(f, path=f"{path}.{f.name}") for f in arm.fields}
    description = arm.description if arm.HasField("description") else None
    return fields, description
