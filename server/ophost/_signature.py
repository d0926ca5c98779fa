"""Reading a function's annotations, including string (postponed) annotations."""

from __future__ import annotations

import typing
from collections.abc import Callable

from ophost.errors import DefinitionError

__all__ = ["resolve_annotations"]


def resolve_annotations(fn: Callable[..., object], where: str) -> dict[str, object]:
    """Map parameter names (and ``"return"``) to evaluated annotations.

    String annotations, as written under ``from __future__ import annotations``, are
    evaluated in the function's module like ``typing.get_type_hints`` does; one that
    cannot be evaluated is a :class:`DefinitionError` naming the parameter.
    Parameters without an annotation are absent from the result.
    """
    raw: dict[str, object] = dict(getattr(fn, "__annotations__", None) or {})
    if not raw:
        return {}
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - we re-evaluate one by one to name the culprit
        hints = None
    if hints is not None:
        # get_type_hints turns a bare None into NoneType; keep None for the return
        # annotation, where it means "no type".
        if "return" in raw and raw["return"] in (None, "None"):
            hints["return"] = None
        return {name: hints.get(name, raw[name]) for name in raw}
    namespace = dict(getattr(fn, "__globals__", {}))
    resolved: dict[str, object] = {}
    for name, annotation in raw.items():
        if isinstance(annotation, str):
            try:
                value: object = annotation
                # A quoted annotation under postponed evaluation is a string twice over.
                while isinstance(value, str):
                    value = eval(value, namespace)
                resolved[name] = value
            except Exception as exc:  # noqa: BLE001
                role = "return type" if name == "return" else f'parameter "{name}"'
                raise DefinitionError(
                    f"{where}: the annotation {annotation!r} of {role} cannot be resolved "
                    f"({type(exc).__name__}: {exc})"
                ) from None
        else:
            resolved[name] = annotation
    return resolved
