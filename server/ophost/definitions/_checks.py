"""Running an input's or output's type check, shared by runs and direct invocation."""

from __future__ import annotations

import logging
import typing

from ophost.definitions._context import OpExecutionContext, Resources
from ophost.definitions._op_events import Failure, TypeCheck
from ophost.definitions._type_resolution import resolve_dagster_type
from ophost.definitions._types import DagsterType, TypeCheckContext
from ophost.errors import (
    InvariantViolationError,
    OpHostError,
    TypeCheckFailedError,
    TypeCheckFunctionError,
)

__all__ = ["check_dagster_type", "run_type_check", "type_check_context", "type_check_failed"]


def check_dagster_type(dagster_type: object, value: object) -> TypeCheck:
    """Run the check of ``dagster_type`` on ``value`` outside any op, and return its result.

    ``dagster_type`` is anything accepted as ``In(dagster_type=...)`` except ``typing``
    constructs (use ``List[int]`` from ophost, not ``typing.List[int]``). A check that
    raises ``Failure`` gives a failed result with the failure's description; any other
    exception propagates. The check runs with run id ``"EPHEMERAL"`` and no resources.
    """
    if typing.get_origin(dagster_type) is not None or dagster_type is typing.Any:
        raise InvariantViolationError(
            f"check_dagster_type: {dagster_type!r} comes from the typing module; pass a type "
            "from ophost (Int, List[Int], Optional[...], a DagsterType) or a Python class"
        )
    dtype = resolve_dagster_type(dagster_type, where="check_dagster_type")
    context = TypeCheckContext(
        run_id="EPHEMERAL",
        log=logging.getLogger("ophost.typecheck"),
        resources=Resources({}, "<check_dagster_type>"),
    )
    try:
        return dtype.type_check(context, value)
    except Failure as failure:
        return TypeCheck(success=False, description=failure.description)


def type_check_context(
    context: OpExecutionContext, dagster_type: DagsterType | None = None
) -> TypeCheckContext:
    """What a check function receives, taken from the op's context.

    A type that declares ``required_resource_keys`` sees those resources (as in Dagster,
    where a type's check is scoped to the resources it requires); other types see the
    op's resources.
    """
    resources = (
        context.resources_for(dagster_type.required_resource_keys)
        if dagster_type is not None and dagster_type.required_resource_keys
        else context.resources
    )
    return TypeCheckContext(run_id=context.run_id, log=context.log, resources=resources)


def run_type_check(
    dagster_type: DagsterType, context: TypeCheckContext, value: object, what: str
) -> TypeCheck:
    """Check ``value``; an exception from a custom check becomes a TypeCheckFunctionError.

    ``what`` names the value for the message (``input "x"``).
    """
    try:
        return dagster_type.type_check(context, value)
    except OpHostError:
        raise
    except Exception as exc:
        raise TypeCheckFunctionError(
            f'The type check function of type "{dagster_type.display_name}" raised '
            f"{type(exc).__name__} while checking {what}: {exc}",
            user_exception=exc,
            original_exc_info=(type(exc), exc, exc.__traceback__),
        ) from exc


def type_check_failed(
    role: str, name: str, dagster_type: DagsterType, result: TypeCheck
) -> TypeCheckFailedError:
    """The error for a value of step ``role`` (input/output) ``name`` that failed its check."""
    return TypeCheckFailedError(
        f'Type check failed for step {role} "{name}" - expected type '
        f'"{dagster_type.display_name}". Description: {result.description}',
        description=result.description,
        metadata_entries=result.metadata_entries,
        dagster_type=dagster_type,
    )
