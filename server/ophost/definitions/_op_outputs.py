"""How ``@op`` reads a function's outputs: from ``out`` and the return annotation.

Without ``out``, or with a single ``Out``, the op has one output named ``result``. With
a dict of several outputs, a return annotation must be a ``Tuple`` with one element
type per output. A generator's return annotation is never read.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

from ophost.definitions._io import Out, OutputDefinition
from ophost.definitions._op import ComputeKind, check_outs, output_def
from ophost.definitions._op_events import Output
from ophost.definitions._type_resolution import resolve_dagster_type
from ophost.definitions._types import Any_, DagsterType
from ophost.errors import InvariantViolationError

__all__ = ["resolve_outputs"]


def resolve_outputs(
    where: str,
    out: object,
    annotations: Mapping[str, object],
    kind: ComputeKind,
    returns_doc: str | None,
) -> list[OutputDefinition]:
    """The op's outputs, in the order ``out`` declares them."""
    annotation = annotations.get("return", inspect.Signature.empty)
    if kind is ComputeKind.GENERATOR:
        annotation = inspect.Signature.empty
    if out is None or isinstance(out, Out):
        declared = out if isinstance(out, Out) else None
        return [_result_output(where, declared, annotation, kind, returns_doc)]
    outs = check_outs(where, out)
    if len(outs) == 1:
        ((out_name, declared_out),) = outs.items()
        dtype = declared_out.dagster_type or _return_type(where, annotation, kind)
        return [output_def(where, out_name, declared_out, dtype, declared_out.description)]
    return _several_outputs(where, outs, annotation)


def _result_output(
    where: str,
    declared: Out | None,
    annotation: object,
    kind: ComputeKind,
    returns_doc: str | None,
) -> OutputDefinition:
    """The single output ``result``, described by the docstring unless ``Out`` says more."""
    dtype = (
        declared.dagster_type
        if declared is not None and declared.dagster_type is not None
        else _return_type(where, annotation, kind)
    )
    description = declared.description if declared is not None else None
    return output_def(where, "result", declared, dtype, description if description else returns_doc)


def _several_outputs(
    where: str, outs: Mapping[str, Out], annotation: object
) -> list[OutputDefinition]:
    """Named outputs; a type ``Out`` leaves open comes from the annotation's tuple element."""
    element_types = _tuple_element_types(where, annotation, len(outs))
    defs: list[OutputDefinition] = []
    for index, (out_name, declared_out) in enumerate(outs.items()):
        out_type = declared_out.dagster_type
        if out_type is None:
            out_type = (
                _annotated_type(
                    element_types[index], where=f'{where} output "{out_name}" annotation'
                )
                if element_types is not None
                else Any_
            )
        defs.append(output_def(where, out_name, declared_out, out_type, declared_out.description))
    return defs


def _tuple_element_types(where: str, annotation: object, count: int) -> list[object] | None:
    """The element types of a ``Tuple`` return annotation for ``count`` (two or more) outputs."""
    if count < 2 or annotation in (inspect.Signature.empty, None):
        return None
    origin = getattr(annotation, "__origin__", None)
    args = list(getattr(annotation, "__args__", ()))
    if origin is not tuple:
        raise InvariantViolationError(
            f"{where}: expected a Tuple annotation for multiple outputs, got {annotation!r}"
        )
    if len(args) != count:
        raise InvariantViolationError(
            f"{where}: the return annotation has {len(args)} element(s) but the op "
            f"declares {count} outputs"
        )
    return args


def _return_type(where: str, annotation: object, kind: ComputeKind) -> DagsterType:
    """The Dagster type of a return annotation; ``Output[T]`` means ``T``."""
    if annotation is inspect.Signature.empty or kind is ComputeKind.GENERATOR:
        return Any_
    if annotation is None:
        return Any_
    return _annotated_type(annotation, where=f"{where} return type annotation")


def _annotated_type(annotation: object, *, where: str) -> DagsterType:
    """The type an output annotation names: ``Output[T]`` means ``T``, bare ``Output`` Any.

    This holds for the whole return annotation and for each element of a ``Tuple``
    annotation of several outputs (``Tuple[Output[str], Output[int]]``).
    """
    if annotation is Output:
        return Any_
    if getattr(annotation, "__origin__", None) is Output:
        args: tuple[object, ...] = getattr(annotation, "__args__", ())
        return resolve_dagster_type(args[0] if args else None, where=where)
    return resolve_dagster_type(annotation, where=where)
