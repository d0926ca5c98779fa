"""Running an input's or output's type check, shared by runs and direct invocation."""

from __future__ import annotations

from ophost.definitions._context import OpExecutionContext
from ophost.definitions._op_events import TypeCheck
from ophost.definitions._types import DagsterType, TypeCheckContext
from ophost.errors import OpHostError, TypeCheckFailedError, TypeCheckFunctionError

__all__ = ["run_type_check", "type_check_context", "type_check_failed"]


def type_check_context(context: OpExecutionContext) -> TypeCheckContext:
    """What a check function receives, taken from the op's context."""
    return TypeCheckContext(run_id=context.run_id, log=context.log, resources=context.resources)


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
