"""Capturing exceptions as :class:`ErrorData` (type, message, stack, causes)."""

from __future__ import annotations

import traceback

from ophost.definitions._execution_events import ErrorData

__all__ = ["error_data"]

_MAX_DEPTH = 16


def _type_name(exc: BaseException) -> str:
    """``module.QualName``, with ophost's own classes under their public module.

    Built-ins keep their ``builtins.`` prefix (the wire says ``builtins.ValueError``).
    A class defined in a private ophost module (``ophost.definitions._op_events.Failure``) is named
    where users import it from, the ``ophost`` package (``ophost.Failure``).
    """
    cls = type(exc)
    module = cls.__module__
    if module.startswith("ophost.") and any(part.startswith("_") for part in module.split(".")[1:]):
        module = "ophost"
    return f"{module}.{cls.__qualname__}"


def error_data(exc: BaseException, *, message: str | None = None) -> ErrorData:
    """Describe ``exc`` and its chain; ``message`` overrides the top-level message."""
    return _describe(exc, message, set(), 0)


def _describe(exc: BaseException, message: str | None, seen: set[int], depth: int) -> ErrorData:
    seen.add(id(exc))
    cause: ErrorData | None = None
    context: ErrorData | None = None
    if depth < _MAX_DEPTH:
        if exc.__cause__ is not None and id(exc.__cause__) not in seen:
            cause = _describe(exc.__cause__, None, seen, depth + 1)
        elif (
            exc.__context__ is not None
            and not exc.__suppress_context__
            and id(exc.__context__) not in seen
        ):
            context = _describe(exc.__context__, None, seen, depth + 1)
    try:
        text = str(exc) if message is None else message
    except Exception:  # noqa: BLE001 - a broken __str__ must not hide the failure
        text = f"<{type(exc).__name__}: str() failed>"
    stack = tuple(traceback.format_tb(exc.__traceback__)) if exc.__traceback__ else ()
    return ErrorData(
        type_name=_type_name(exc), message=text, stack=stack, cause=cause, context=context
    )
