"""Reading a function's annotations, including string (postponed) annotations."""

from __future__ import annotations

from collections.abc import Callable

from ophost.errors import DefinitionError

__all__ = ["resolve_annotations"]

_NONE_TYPE = type(None)


def resolve_annotations(fn: Callable[..., object], where: str) -> dict[str, object]:
    """Map parameter names (and ``"return"``) to evaluated annotations.

    String annotations, as written under ``from __future__ import annotations``, are
    evaluated in the function's module; one that cannot be evaluated is a
    :class:`DefinitionError` naming the parameter. Unlike ``typing.get_type_hints`` on
    Python 3.10, a ``None`` default never turns ``int`` into ``Optional[int]``. A
    parameter annotated ``None`` means the ``NoneType`` (Nothing); a return annotation
    of ``None`` stays ``None`` (no type). Parameters without an annotation are absent.
    """
    raw: dict[str, object] = dict(getattr(fn, "__annotations__", None) or {})
    namespace = dict(getattr(fn, "__globals__", {}))
    resolved: dict[str, object] = {}
    for name, annotation in raw.items():
        value = annotation
        try:
            # A quoted annotation under postponed evaluation is a string twice over.
            for _ in range(2):
                if isinstance(value, str):
                    value = eval(value, namespace)
        except Exception as exc:  # noqa: BLE001 - any failure means "cannot resolve"
            role = "return type" if name == "return" else f'parameter "{name}"'
            raise DefinitionError(
                f"{where}: the annotation {annotation!r} of {role} cannot be resolved "
                f"({type(exc).__name__}: {exc})"
            ) from None
        if value is None and name != "return":
            value = _NONE_TYPE
        resolved[name] = value
    return resolved
