"""Turning what an op body returns or yields into outputs and events (run-time rules)."""

from __future__ import annotations

import inspect
from collections.abc import Sequence

from ophost.definitions._io import OutputDefinition
from ophost.definitions._op_events import LOGGABLE_EVENTS, Output
from ophost.errors import InvariantViolationError

__all__ = ["ALLOWED_YIELDS", "check_yielded", "coerce_return", "rename_tuple_output"]

ALLOWED_YIELDS = (Output, *LOGGABLE_EVENTS)


def check_yielded(op_name: str, item: object) -> None:
    """Raise if an op yielded something that is not an output or an event."""
    if not isinstance(item, ALLOWED_YIELDS):
        raise InvariantViolationError(
            f'op "{op_name}" yielded a value of type {type(item).__name__} rather than an '
            "instance of Output, AssetMaterialization, or ExpectationResult"
        )


def rename_tuple_output(
    op_name: str, element: object, out: OutputDefinition, index: int
) -> Output[object]:
    """Wrap element ``index`` of a returned tuple as the output at that position."""
    if isinstance(element, Output):
        if element.output_name not in ("result", out.name):
            raise InvariantViolationError(
                f'op "{op_name}": the Output at position {index} of the returned tuple is '
                f'explicitly named "{element.output_name}", which does not match the output '
                f'"{out.name}" at that position'
            )
        if element.output_name == out.name:
            return element
        return Output(element.value, out.name, metadata_entries=list(element.metadata_entries))
    if isinstance(element, LOGGABLE_EVENTS):
        raise InvariantViolationError(
            f'op "{op_name}" returned an {type(element).__name__} inside its tuple of outputs; '
            "events must be yielded, not returned"
        )
    return Output(element, out.name)


def coerce_return(op_name: str, value: object, outputs: Sequence[OutputDefinition]) -> list[object]:
    """The items a returned value stands for (outputs, or a returned generator's items)."""
    if isinstance(value, LOGGABLE_EVENTS):
        raise InvariantViolationError(
            f'op "{op_name}" returned an {type(value).__name__}; events must be yielded, '
            "not returned"
        )
    if inspect.isgenerator(value):
        return list(value)
    if isinstance(value, Output):
        return [value]
    if len(outputs) == 1:
        return [Output(value, outputs[0].name)]
    if not outputs:
        if value is None:
            return []
        raise InvariantViolationError(
            f'op "{op_name}" is explicitly defined to return no results, but it returned a '
            f"value of type {type(value).__name__}"
        )
    if isinstance(value, tuple):
        if len(value) != len(outputs):
            raise InvariantViolationError(
                f'op "{op_name}" returned a tuple of {len(value)} element(s) but has '
                f"{len(outputs)} outputs ({', '.join(o.name for o in outputs)})"
            )
        return [
            rename_tuple_output(op_name, element, out, index)
            for index, (element, out) in enumerate(zip(value, outputs, strict=True))
        ]
    if value is None:
        # Nothing is emitted; the missing required outputs are reported afterwards.
        return []
    raise InvariantViolationError(
        f'op "{op_name}" has {len(outputs)} outputs and returned a single value of type '
        f"{type(value).__name__}; return a tuple with one value per output "
        f"({', '.join(o.name for o in outputs)}) or yield Output objects"
    )
