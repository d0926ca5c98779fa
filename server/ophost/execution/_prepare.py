"""Checking a request to run an op before anything runs: inputs, config, resources."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ophost.definitions._op import OpDefinition
from ophost.definitions._op_config import resolve_op_config
from ophost.errors import (
    ConfigErrorDetail,
    InvalidInvocationError,
)

__all__ = ["InvalidInputsError", "PreparedExecution", "prepare_execution"]


class InvalidInputsError(InvalidInvocationError):
    """The inputs given for an execution do not fit the op. ``problems`` lists each one."""

    def __init__(self, op_name: str, problems: list[ConfigErrorDetail]) -> None:
        self.op_name = op_name
        self.problems = problems
        lines = [f'Inputs for op "{op_name}" are invalid:', *(f"  {p}" for p in problems)]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class PreparedExecution:
    op_def: OpDefinition
    input_values: dict[str, object]
    op_config: object
    resources: dict[str, object]


def prepare_execution(
    op_def: OpDefinition,
    inputs: Mapping[str, object] | None,
    config: object,
    resources: Mapping[str, object] | None,
    *,
    check_resources: bool = True,
) -> PreparedExecution:
    """Check every part of a run request and fill defaults; raise listing all problems.

    ``check_resources=False`` leaves the resources to whoever runs the body (a
    worker process builds its own).
    """
    given = dict(inputs or {})
    problems: list[ConfigErrorDetail] = []
    values: dict[str, object] = {}
    known = {d.name for d in op_def.input_defs}
    for name in given:
        if name not in known:
            problems.append(
                ConfigErrorDetail(
                    f"inputs.{name}",
                    f'op "{op_def.name}" has no input "{name}" '
                    f"(inputs: {', '.join(sorted(known)) or 'none'})",
                )
            )
    for d in op_def.input_defs:
        if d.dagster_type.is_nothing:
            if given.get(d.name) is not None:
                problems.append(
                    ConfigErrorDetail(f"inputs.{d.name}", "is a Nothing input and takes no value")
                )
            continue
        if d.name in given:
            values[d.name] = given[d.name]
        elif d.has_default_value:
            values[d.name] = d.default_value
        else:
            problems.append(
                ConfigErrorDetail(f"inputs.{d.name}", "no value provided for required input")
            )
    if problems:
        raise InvalidInputsError(op_def.name, problems)
    missing = sorted(op_def.required_resource_keys - set(resources or {}))
    if missing and check_resources:
        raise InvalidInvocationError(
            f'op "{op_def.name}" requires resource(s) {", ".join(missing)}, which were not provided'
        )
    op_config = resolve_op_config(op_def, config)
    return PreparedExecution(
        op_def=op_def,
        input_values=values,
        op_config=op_config,
        resources=dict(resources or {}),
    )
