"""Op definitions (:class:`OpSpec`) and retry policies <-> their ``ophost.v1`` messages."""

from __future__ import annotations

from ophost.codec import config as config_codec
from ophost.codec import metadata as metadata_codec
from ophost.codec import types as types_codec
from ophost.codec import values
from ophost.definitions._config import Any, Field
from ophost.definitions._io import NO_DEFAULT, InputDefinition, OutputDefinition
from ophost.definitions._op import OpDefinition
from ophost.definitions._op_spec import REMOTE_DEFAULT, OpSpec
from ophost.definitions._retry import Backoff, Jitter, RetryPolicy
from ophost.errors import CodecError, OpHostError
from ophost.v1 import op_pb2

__all__ = [
    "from_proto",
    "input_from_proto",
    "input_to_proto",
    "output_from_proto",
    "output_to_proto",
    "retry_policy_from_proto",
    "retry_policy_to_proto",
    "to_proto",
]

_BACKOFF = {Backoff.LINEAR: op_pb2.BACKOFF_LINEAR, Backoff.EXPONENTIAL: op_pb2.BACKOFF_EXPONENTIAL}
_BACKOFF_BACK = {v: k for k, v in _BACKOFF.items()}
_JITTER = {Jitter.FULL: op_pb2.JITTER_FULL, Jitter.PLUS_MINUS: op_pb2.JITTER_PLUS_MINUS}
_JITTER_BACK = {v: k for k, v in _JITTER.items()}
_INT32_MAX = 2**31 - 1


def retry_policy_to_proto(policy: RetryPolicy, *, path: str = "retry_policy") -> op_pb2.RetryPolicy:
    if not -_INT32_MAX - 1 <= policy.max_retries <= _INT32_MAX:
        raise CodecError(path, f"max_retries {policy.max_retries} does not fit in 32 bits")
    message = op_pb2.RetryPolicy(max_retries=policy.max_retries)
    if policy.delay is not None:
        message.delay_seconds = float(policy.delay)
    if policy.backoff is not None:
        message.backoff = _BACKOFF[policy.backoff]
    if policy.jitter is not None:
        message.jitter = _JITTER[policy.jitter]
    return message


def retry_policy_from_proto(
    message: op_pb2.RetryPolicy, *, path: str = "retry_policy"
) -> RetryPolicy:
    backoff = _BACKOFF_BACK.get(message.backoff) if message.backoff else None
    jitter = _JITTER_BACK.get(message.jitter) if message.jitter else None
    if message.backoff and backoff is None:
        raise CodecError(path, f"unknown backoff {message.backoff}")
    if message.jitter and jitter is None:
        raise CodecError(path, f"unknown jitter {message.jitter}")
    try:
        return RetryPolicy(
            max_retries=message.max_retries,
            delay=message.delay_seconds if message.HasField("delay_seconds") else None,
            backoff=backoff,
            jitter=jitter,
        )
    except OpHostError as exc:
        raise CodecError(path, str(exc)) from None


def input_to_proto(definition: InputDefinition, *, path: str = "inputs") -> op_pb2.InputSpec:
    where = f"{path}.{definition.name}"
    message = op_pb2.InputSpec(name=definition.name, required=definition.is_required)
    message.type.CopyFrom(types_codec.to_proto(definition.dagster_type))
    if definition.description is not None:
        message.description = definition.description
    if definition.has_default_value and definition.default_value is not REMOTE_DEFAULT:
        try:
            message.default_value.CopyFrom(values.to_proto(definition.default_value, path=where))
        except CodecError:
            message.ClearField("default_value")  # the default exists but has no wire form
    message.metadata.extend(
        metadata_codec.entries_to_proto(definition.metadata_entries, path=where)
    )
    if definition.asset_key is not None:
        message.asset_key.CopyFrom(metadata_codec.asset_key_to_proto(definition.asset_key))
    return message


def input_from_proto(message: op_pb2.InputSpec, *, path: str = "inputs") -> InputDefinition:
    where = f"{path}.{message.name}"
    dtype = types_codec.from_proto(message.type, path=f"{where}.type")
    if message.HasField("default_value"):
        default: object = values.from_proto(message.default_value, path=f"{where}.default")
    elif not message.required and not dtype.is_nothing:
        default = REMOTE_DEFAULT
    else:
        default = NO_DEFAULT
    return InputDefinition(
        name=message.name,
        dagster_type=dtype,
        description=message.description if message.HasField("description") else None,
        default_value=default,
        metadata_entries=tuple(metadata_codec.entries_from_proto(message.metadata, path=where)),
        asset_key=metadata_codec.asset_key_from_proto(message.asset_key)
        if message.HasField("asset_key")
        else None,
    )


def output_to_proto(definition: OutputDefinition, *, path: str = "outputs") -> op_pb2.OutputSpec:
    where = f"{path}.{definition.name}"
    message = op_pb2.OutputSpec(name=definition.name, required=definition.is_required)
    message.type.CopyFrom(types_codec.to_proto(definition.dagster_type))
    if definition.description is not None:
        message.description = definition.description
    message.metadata.extend(
        metadata_codec.entries_to_proto(definition.metadata_entries, path=where)
    )
    if definition.asset_key is not None:
        message.asset_key.CopyFrom(metadata_codec.asset_key_to_proto(definition.asset_key))
    return message


def output_from_proto(message: op_pb2.OutputSpec, *, path: str = "outputs") -> OutputDefinition:
    where = f"{path}.{message.name}"
    return OutputDefinition(
        name=message.name,
        dagster_type=types_codec.from_proto(message.type, path=f"{where}.type"),
        description=message.description if message.HasField("description") else None,
        is_required=message.required,
        metadata_entries=tuple(metadata_codec.entries_from_proto(message.metadata, path=where)),
        asset_key=metadata_codec.asset_key_from_proto(message.asset_key)
        if message.HasField("asset_key")
        else None,
    )


def to_proto(op: OpSpec | OpDefinition) -> op_pb2.OpDefinition:
    """Encode an op's full description."""
    spec = op if isinstance(op, OpSpec) else OpSpec.from_definition(op)
    message = op_pb2.OpDefinition(name=spec.name)
    if spec.description is not None:
        message.description = spec.description
    message.inputs.extend(input_to_proto(d) for d in spec.inputs)
    message.outputs.extend(output_to_proto(d) for d in spec.outputs)
    message.config.CopyFrom(config_codec.to_proto(spec.config))
    message.tags.update(spec.tags)
    if spec.code_version is not None:
        message.code_version = spec.code_version
    if spec.retry_policy is not None:
        message.retry_policy.CopyFrom(retry_policy_to_proto(spec.retry_policy))
    message.required_resource_keys.extend(sorted(spec.required_resource_keys))
    return message


def from_proto(message: op_pb2.OpDefinition) -> OpSpec:
    """Decode an op's description (the body stays on the server)."""
    path = f"op {message.name!r}"
    return OpSpec(
        name=message.name,
        description=message.description if message.HasField("description") else None,
        inputs=tuple(input_from_proto(i, path=f"{path}.inputs") for i in message.inputs),
        outputs=tuple(output_from_proto(o, path=f"{path}.outputs") for o in message.outputs),
        config=config_codec.from_proto(message.config, path=f"{path}.config")
        if message.HasField("config")
        else Field(Any, is_required=False),
        tags=dict(message.tags),
        code_version=message.code_version if message.HasField("code_version") else None,
        retry_policy=retry_policy_from_proto(message.retry_policy)
        if message.HasField("retry_policy")
        else None,
        required_resource_keys=frozenset(message.required_resource_keys),
    )
