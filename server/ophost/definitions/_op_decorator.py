"""``@op``: turning a Python function into an :class:`OpDefinition`.

Implements Dagster's rules for reading a function: the context parameter (by name,
first position only), explicit ``ins`` merged with the signature, annotations to
types, defaults, outputs from ``out`` and the return annotation, and descriptions from
the docstring.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any as TypingAny
from typing import overload

from ophost.definitions._docstring import op_description, parse_docstring
from ophost.definitions._io import NO_DEFAULT, In, InputDefinition, Out, OutputDefinition
from ophost.definitions._names import validate_name
from ophost.definitions._op import (
    ComputeKind,
    DecoratedFn,
    OpDefinition,
    check_ins,
    check_outs,
    input_def,
    output_def,
)
from ophost.definitions._op_events import Output
from ophost.definitions._retry import RetryPolicy
from ophost.definitions._signature import resolve_annotations
from ophost.definitions._type_resolution import resolve_dagster_type
from ophost.definitions._types import Any_, DagsterType
from ophost.errors import DefinitionError, InvariantViolationError

__all__ = ["CONTEXT_PARAM_NAMES", "op"]

CONTEXT_PARAM_NAMES = frozenset({"context", "_context", "context_", "_"})


def _compute_kind(fn: Callable[..., object]) -> ComputeKind:
    if inspect.isasyncgenfunction(fn):
        return ComputeKind.ASYNC_GENERATOR
    if inspect.iscoroutinefunction(fn):
        return ComputeKind.COROUTINE
    if inspect.isgeneratorfunction(fn):
        return ComputeKind.GENERATOR
    return ComputeKind.FUNCTION


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
    if not callable(fn):
        raise DefinitionError(f"@op must decorate a function, got {type(fn).__name__}")
    fn_name = getattr(fn, "__name__", None)
    op_name = name if name else fn_name
    if name is not None and not isinstance(name, str):
        raise DefinitionError(f"@op: name must be a str, got {type(name).__name__}")
    op_name = validate_name(op_name, what="op name")
    where = f'op "{op_name}"'
    explicit_ins = check_ins(where, ins)
    explicit_outs = out

    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise DefinitionError(f"{where}: cannot read the function's signature: {exc}") from None
    params = list(signature.parameters.values())
    annotations = resolve_annotations(fn, where)
    doc = parse_docstring(fn.__doc__)

    context_param: str | None = None
    context_keyword_only = False
    if params and params[0].name in CONTEXT_PARAM_NAMES:
        context_param = params[0].name
        context_keyword_only = params[0].kind is inspect.Parameter.KEYWORD_ONLY
        params = params[1:]

    nothing_inputs = {
        n
        for n, i in explicit_ins.items()
        if i.dagster_type is not None and i.dagster_type.is_nothing
    }
    has_kwargs = False
    matched: dict[str, inspect.Parameter] = {}
    inferred: list[inspect.Parameter] = []
    for param in params:
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            raise DefinitionError(
                f'{where}: the positional vararg parameter "*{param.name}" is not allowed; '
                "inputs must be named parameters"
            )
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            has_kwargs = True
        elif param.name in nothing_inputs:
            raise DefinitionError(
                f'{where}: input "{param.name}" is a Nothing input and must not appear in the '
                "function's signature (Nothing inputs carry no value)"
            )
        elif param.name in explicit_ins:
            matched[param.name] = param
        else:
            inferred.append(param)

    missing = [n for n in explicit_ins if n not in matched and n not in nothing_inputs]
    if missing and not has_kwargs:
        raise DefinitionError(
            f"{where}: the function does not have parameter(s) "
            + ", ".join(f'"{m}"' for m in missing)
            + ", which are declared in ins; add them to the signature (or accept **kwargs)"
        )

    input_defs: list[InputDefinition] = []
    for in_name in sorted(explicit_ins):
        declared = explicit_ins[in_name]
        matched_param = matched.get(in_name)
        dagster_type = declared.dagster_type
        if dagster_type is None:
            dagster_type = (
                _annotation_type(where, in_name, annotations.get(in_name, inspect.Parameter.empty))
                if matched_param is not None
                else Any_
            )
        default = declared.default_value
        if (
            default is NO_DEFAULT
            and matched_param is not None
            and matched_param.default is not matched_param.empty
        ):
            default = matched_param.default
        input_defs.append(
            input_def(
                where,
                in_name,
                declared,
                dagster_type,
                declared.description
                if declared.description is not None
                else doc.params.get(in_name),
                default,
            )
        )
    for param in inferred:
        dagster_type = _annotation_type(
            where, param.name, annotations.get(param.name, inspect.Parameter.empty)
        )
        if dagster_type.is_nothing:
            raise DefinitionError(
                f'{where} input "{param.name}": Nothing cannot be used as the annotation of a '
                'parameter; declare it with ins={"name": In(Nothing)} instead'
            )
        input_defs.append(
            input_def(
                where,
                param.name,
                None,
                dagster_type,
                doc.params.get(param.name),
                param.default if param.default is not param.empty else NO_DEFAULT,
            )
        )

    kind = _compute_kind(fn)
    output_defs = _resolve_outputs(where, explicit_outs, annotations, kind, doc.returns)

    positional_kinds = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )
    decorated = DecoratedFn(
        fn=fn,
        kind=kind,
        context_param=context_param,
        positional_only=tuple(
            p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_ONLY
        ),
        has_kwargs=has_kwargs,
        positional_inputs=tuple(p.name for p in params if p.kind in positional_kinds),
        param_names=tuple(p.name for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD),
        context_keyword_only=context_keyword_only,
    )
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
        decorated=decorated,
    )
    functools.update_wrapper(definition, fn)
    return definition


def _annotation_type(where: str, name: str, annotation: object) -> DagsterType:
    if annotation is inspect.Parameter.empty:
        return Any_
    return resolve_dagster_type(annotation, where=f'{where} input "{name}" annotation')


def _return_type(where: str, annotation: object, kind: ComputeKind) -> DagsterType:
    if annotation is inspect.Signature.empty or kind is ComputeKind.GENERATOR:
        return Any_
    if annotation is None:
        return Any_
    if annotation is Output:
        return Any_
    if getattr(annotation, "__origin__", None) is Output:
        args: tuple[object, ...] = getattr(annotation, "__args__", ())
        return resolve_dagster_type(
            args[0] if args else None, where=f"{where} return type annotation"
        )
    return resolve_dagster_type(annotation, where=f"{where} return type annotation")


def _resolve_outputs(
    where: str,
    out: object,
    annotations: Mapping[str, object],
    kind: ComputeKind,
    returns_doc: str | None,
) -> list[OutputDefinition]:
    annotation = annotations.get("return", inspect.Signature.empty)
    if kind is ComputeKind.GENERATOR:
        annotation = inspect.Signature.empty
    if out is None or isinstance(out, Out):
        declared = out if isinstance(out, Out) else None
        dtype = (
            declared.dagster_type
            if declared is not None and declared.dagster_type is not None
            else _return_type(where, annotation, kind)
        )
        description = declared.description if declared is not None else None
        return [
            output_def(
                where, "result", declared, dtype, description if description else returns_doc
            )
        ]
    outs = check_outs(where, out)
    if len(outs) == 1:
        ((out_name, declared),) = outs.items()
        dtype = declared.dagster_type or _return_type(where, annotation, kind)
        return [output_def(where, out_name, declared, dtype, declared.description)]
    element_types: list[object] | None = None
    if len(outs) >= 2 and annotation not in (inspect.Signature.empty, None):
        origin = getattr(annotation, "__origin__", None)
        args = list(getattr(annotation, "__args__", ()))
        if origin is not tuple:
            raise InvariantViolationError(
                f"{where}: expected a Tuple annotation for multiple outputs, got {annotation!r}"
            )
        if len(args) != len(outs):
            raise InvariantViolationError(
                f"{where}: the return annotation has {len(args)} element(s) but the op "
                f"declares {len(outs)} outputs"
            )
        element_types = args
    defs: list[OutputDefinition] = []
    for index, (out_name, declared_out) in enumerate(outs.items()):
        out_type = declared_out.dagster_type
        if out_type is None:
            out_type = (
                resolve_dagster_type(
                    element_types[index], where=f'{where} output "{out_name}" annotation'
                )
                if element_types is not None
                else Any_
            )
        defs.append(output_def(where, out_name, declared_out, out_type, declared_out.description))
    return defs
