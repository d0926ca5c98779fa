"""``@op``: turning a Python function into an :class:`OpDefinition`.

Implements Dagster's rules for reading a function: the context parameter (by name,
first position only), explicit ``ins`` merged with the signature, annotations to
types, defaults, outputs from ``out`` and the return annotation, and descriptions from
the docstring. Parameters and inputs are read by :mod:`ophost.definitions._op_inputs`,
outputs by :mod:`ophost.definitions._op_outputs`; this module runs the steps in order
and builds the definition.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any as TypingAny
from typing import overload

from ophost.definitions._docstring import op_description, parse_docstring
from ophost.definitions._io import In, Out
from ophost.definitions._names import validate_name
from ophost.definitions._op import ComputeKind, DecoratedFn, OpDefinition, check_ins
from ophost.definitions._op_inputs import (
    CONTEXT_PARAM_NAMES,
    OpParameters,
    read_parameters,
    resolve_inputs,
)
from ophost.definitions._op_outputs import resolve_outputs
from ophost.definitions._retry import RetryPolicy
from ophost.definitions._signature import resolve_annotations
from ophost.errors import DefinitionError

__all__ = ["CONTEXT_PARAM_NAMES", "op"]


class _OpBuilder:
    def __init__(self, **kwargs: TypingAny) -> None:
        self.kwargs = kwargs

    def __call__(self, fn: Callable[..., TypingAny]) -> OpDefinition:
        return _build_from_function(fn, **self.kwargs)


@overload
def op(name: Callable[..., TypingAny]) -> OpDefinition: ...


@overload
def op(
    name: str | None = None,
    description: str | None = None,
    ins: Mapping[str, In] | None = None,
    out: Out | Mapping[str, Out] | None = None,
    config_schema: object = None,
    required_resource_keys: set[str] | frozenset[str] | None = None,
    tags: Mapping[str, object] | None = None,
    version: str | None = None,
    retry_policy: RetryPolicy | None = None,
    *,
    code_version: str | None = None,
) -> Callable[[Callable[..., TypingAny]], OpDefinition]: ...


def op(
    name: TypingAny = None,
    description: str | None = None,
    ins: Mapping[str, In] | None = None,
    out: Out | Mapping[str, Out] | None = None,
    config_schema: object = None,
    required_resource_keys: set[str] | frozenset[str] | None = None,
    tags: Mapping[str, object] | None = None,
    version: str | None = None,
    retry_policy: RetryPolicy | None = None,
    *,
    code_version: str | None = None,
) -> OpDefinition | Callable[[Callable[..., TypingAny]], OpDefinition]:
    """Turn a function into an :class:`OpDefinition`.

    Works bare (``@op``), with arguments (``@op(out=Out(int))``) and with the name as
    the first positional argument (``@op("my_name")``).
    """
    if callable(name) and not isinstance(name, str):
        return _build_from_function(name)
    return _OpBuilder(
        name=name,
        description=description,
        ins=ins,
        out=out,
        config_schema=config_schema,
        required_resource_keys=required_resource_keys,
        tags=tags,
        version=version,
        retry_policy=retry_policy,
        code_version=code_version,
    )


def _build_from_function(
    fn: Callable[..., TypingAny],
    *,
    name: str | None = None,
    description: str | None = None,
    ins: Mapping[str, In] | None = None,
    out: Out | Mapping[str, Out] | None = None,
    config_schema: object = None,
    required_resource_keys: object = None,
    tags: Mapping[str, object] | None = None,
    version: str | None = None,
    retry_policy: RetryPolicy | None = None,
    code_version: str | None = None,
) -> OpDefinition:
    """Read ``fn`` in steps; a bad definition fails at the first step that checks it.

    The order of the steps is the order in which errors are reported, so keep it.
    """
    op_name = _op_name(fn, name)
    where = f'op "{op_name}"'
    explicit_ins = check_ins(where, ins)
    parameters = read_parameters(fn, where)
    annotations = resolve_annotations(fn, where)
    doc = parse_docstring(fn.__doc__)
    input_defs = resolve_inputs(where, parameters, explicit_ins, annotations, doc.params)
    kind = _compute_kind(fn)
    output_defs = resolve_outputs(where, out, annotations, kind, doc.returns)
    # The decorator is the one caller of the definition's private builder.
    definition = OpDefinition._build(  # noqa: SLF001
        name=op_name,
        description=description if description is not None else op_description(fn.__doc__),
        input_defs=input_defs,
        output_defs=output_defs,
        config_schema=config_schema,
        required_resource_keys=required_resource_keys,
        tags=tags,
        version=version,
        code_version=code_version,
        retry_policy=retry_policy,
        compute_fn=fn,
        decorated=_decorated_fn(fn, kind, parameters),
    )
    functools.update_wrapper(definition, fn)
    return definition


def _op_name(fn: object, name: object) -> str:
    """The op's name: ``name`` if given, else the function's; either must be a valid name."""
    if not callable(fn):
        raise DefinitionError(f"@op must decorate a function, got {type(fn).__name__}")
    fn_name = getattr(fn, "__name__", None)
    op_name = name if name else fn_name
    if name is not None and not isinstance(name, str):
        raise DefinitionError(f"@op: name must be a str, got {type(name).__name__}")
    return validate_name(op_name, what="op name")


def _compute_kind(fn: Callable[..., object]) -> ComputeKind:
    if inspect.isasyncgenfunction(fn):
        return ComputeKind.ASYNC_GENERATOR
    if inspect.iscoroutinefunction(fn):
        return ComputeKind.COROUTINE
    if inspect.isgeneratorfunction(fn):
        return ComputeKind.GENERATOR
    return ComputeKind.FUNCTION


def _decorated_fn(
    fn: Callable[..., TypingAny], kind: ComputeKind, parameters: OpParameters
) -> DecoratedFn:
    """What the engine and direct invocation need to call ``fn`` with its inputs."""
    return DecoratedFn(
        fn=fn,
        kind=kind,
        context_param=parameters.context_param,
        positional_only=parameters.positional_only,
        has_kwargs=parameters.has_kwargs,
        positional_inputs=parameters.positional_inputs,
        param_names=parameters.names,
        context_keyword_only=parameters.context_keyword_only,
    )
