"""``OpSpec``: what can be known about an op without its body.

This is the described view of an op that travels on the wire: name, inputs,
outputs, types, config schema, tags, version, retry policy and resource keys. The
server builds one from an :class:`OpDefinition`; clients decode one from the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ophost.definitions._config import Field
from ophost.definitions._io import InputDefinition, OutputDefinition
from ophost.definitions._op import OpDefinition
from ophost.definitions._retry import RetryPolicy

__all__ = ["OpSpec", "REMOTE_DEFAULT"]


class _RemoteDefault:
    """The op has a default for this input that cannot be represented on the wire."""

    _instance: _RemoteDefault | None = None

    def __new__(cls) -> _RemoteDefault:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "REMOTE_DEFAULT"


REMOTE_DEFAULT = _RemoteDefault()


@dataclass(frozen=True)
class OpSpec:
    """The signature of an op: everything about it except its body."""

    name: str
    description: str | None
    inputs: tuple[InputDefinition, ...]
    outputs: tuple[OutputDefinition, ...]
    config: Field
    tags: Mapping[str, str] = field(default_factory=dict)
    code_version: str | None = None
    retry_policy: RetryPolicy | None = None
    required_resource_keys: frozenset[str] = frozenset()

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def from_definition(cls, op_def: OpDefinition) -> OpSpec:
        return cls(
            name=op_def.name,
            description=op_def.description,
            inputs=op_def.input_defs,
            outputs=op_def.output_defs,
            config=op_def.config_schema,
            tags=dict(op_def.tags),
            code_version=op_def.version,
            retry_policy=op_def.retry_policy,
            required_resource_keys=op_def.required_resource_keys,
        )

    def input(self, name: str) -> InputDefinition | None:
        return next((d for d in self.inputs if d.name == name), None)

    def output(self, name: str) -> OutputDefinition | None:
        return next((d for d in self.outputs if d.name == name), None)
