"""How ``@op`` reads a function's parameters: the context parameter and the inputs.

The context is recognised by the name of the first parameter only. Inputs declared in
``ins`` come first, sorted by name, and are matched with parameters of the same name;
every other parameter becomes an inferred input, in signature order.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ophost.definitions._io import NO_DEFAULT, In, InputDefinition
from ophost.definitions._op import input_def
from ophost.definitions._type_resolution import resolve_dagster_type
from ophost.definitions._types import Any_, DagsterType
from ophost.errors import DefinitionError

__all__ = ["CONTEXT_PARAM_NAMES", "OpParameters", "read_parameters", "resolve_inputs"]

CONTEXT_PARAM_NAMES = frozenset({"context", "_context", "context_", "_"})

_POSITIONAL_KINDS = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


@dataclass(frozen=True)
class OpParameters:
    """A function's parameters with the context parameter, if any, taken off the front."""

    params: tuple[inspect.Parameter, ...]
    context_param: str | None
    context_keyword_only: bool

    @property
    def has_kwargs(self) -> bool:
        return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in self.params)

    @property
    def positional_only(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.kind is inspect.Parameter.POSITIONAL_ONLY)

    @property
    def positional_inputs(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.kind in _POSITIONAL_KINDS)

    @property
    def names(self) -> tuple[str, ...]:
        """Every parameter name except ``**kwargs``."""
        return tuple(p.name for p in self.params if p.kind is not inspect.Parameter.VAR_KEYWORD)


def read_parameters(fn: Callable[..., object], where: str) -> OpParameters:
    """The function's parameters; a signature Python cannot read is a ``DefinitionError``."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise DefinitionError(f"{where}: cannot read the function's signature: {exc}") from None
    params = tuple(signature.parameters.values())
    if params and params[0].name in CONTEXT_PARAM_NAMES:
        keyword_only = params[0].kind is inspect.Parameter.KEYWORD_ONLY
        return OpParameters(params[1:], params[0].name, keyword_only)
    return OpParameters(params, None, False)


def resolve_inputs(
    where: str,
    parameters: OpParameters,
    explicit_ins: Mapping[str, In],
    annotations: Mapping[str, object],
    param_docs: Mapping[str, str],
) -> list[InputDefinition]:
    """The op's inputs: those declared in ``ins`` (sorted by name), then the inferred ones."""
    nothing_inputs = {
        n
        for n, i in explicit_ins.items()
        if i.dagster_type is not None and i.dagster_type.is_nothing
    }
    matched, inferred = _match_parameters(where, parameters, explicit_ins, nothing_inputs)
    missing = [n for n in explicit_ins if n not in matched and n not in nothing_inputs]
    if missing and not parameters.has_kwargs:
        raise DefinitionError(
            f"{where}: the function does not have parameter(s) "
            + ", ".join(f'"{m}"' for m in missing)
            + ", which are declared in ins; add them to the signature (or accept **kwargs)"
        )
    declared = [
        _declared_input(where, name, explicit_ins[name], matched.get(name), annotations, param_docs)
        for name in sorted(explicit_ins)
    ]
    return declared + [_inferred_input(where, p, annotations, param_docs) for p in inferred]


def _match_parameters(
    where: str,
    parameters: OpParameters,
    explicit_ins: Mapping[str, In],
    nothing_inputs: set[str],
) -> tuple[dict[str, inspect.Parameter], list[inspect.Parameter]]:
    """Split the parameters into those declared in ``ins`` (by name) and the others."""
    matched: dict[str, inspect.Parameter] = {}
    inferred: list[inspect.Parameter] = []
    for param in parameters.params:
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            raise DefinitionError(
                f'{where}: the positional vararg parameter "*{param.name}" is not allowed; '
                "inputs must be named parameters"
            )
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        if param.name in nothing_inputs:
            raise DefinitionError(
                f'{where}: input "{param.name}" is a Nothing input and must not appear in the '
                "function's signature (Nothing inputs carry no value)"
            )
        if param.name in explicit_ins:
            matched[param.name] = param
        else:
            inferred.append(param)
    return matched, inferred


def _declared_input(
    where: str,
    name: str,
    declared: In,
    param: inspect.Parameter | None,
    annotations: Mapping[str, object],
    param_docs: Mapping[str, str],
) -> InputDefinition:
    """An input from ``ins``; its parameter, if any, supplies a missing type or default."""
    dagster_type = declared.dagster_type
    if dagster_type is None:
        dagster_type = (
            _annotation_type(where, name, annotations.get(name, inspect.Parameter.empty))
            if param is not None
            else Any_
        )
    default = declared.default_value
    if default is NO_DEFAULT and param is not None and param.default is not param.empty:
        default = param.default
    description = declared.description if declared.description is not None else param_docs.get(name)
    return input_def(where, name, declared, dagster_type, description, default)


def _inferred_input(
    where: str,
    param: inspect.Parameter,
    annotations: Mapping[str, object],
    param_docs: Mapping[str, str],
) -> InputDefinition:
    """An input read from a parameter that ``ins`` does not declare."""
    dagster_type = _annotation_type(
        where, param.name, annotations.get(param.name, inspect.Parameter.empty)
    )
    if dagster_type.is_nothing:
        raise DefinitionError(
            f'{where} input "{param.name}": Nothing cannot be used as the annotation of a '
            'parameter; declare it with ins={"name": In(Nothing)} instead'
        )
    default = param.default if param.default is not param.empty else NO_DEFAULT
    return input_def(where, param.name, None, dagster_type, param_docs.get(param.name), default)


def _annotation_type(where: str, name: str, annotation: object) -> DagsterType:
    """The Dagster type of a parameter's annotation; no annotation means ``Any``."""
    if annotation is inspect.Parameter.empty:
        return Any_
    return resolve_dagster_type(annotation, where=f'{where} input "{name}" annotation')
