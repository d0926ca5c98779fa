"""Direct invocation: calling a decorated op like a function (``my_op(...)``)."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from typing import TYPE_CHECKING
from typing import Any as TypingAny

from ophost.definitions._checks import run_type_check, type_check_context, type_check_failed
from ophost.definitions._coerce import check_yielded, rename_tuple_output
from ophost.definitions._context import (
    OpExecutionContext,
    UnboundOpContext,
    build_op_context,
    python_log,
)
from ophost.definitions._op_config import resolve_op_config
from ophost.definitions._op_events import LOGGABLE_EVENTS, Output
from ophost.definitions._types import DagsterType
from ophost.errors import (
    InvalidInvocationError,
    InvariantViolationError,
    OutputNotFoundError,
)

if TYPE_CHECKING:
    from ophost.definitions._op import DecoratedFn, OpDefinition

__all__ = ["DirectResult", "invoke"]

DirectResult = TypingAny
_CONTEXT_TYPES = (UnboundOpContext, OpExecutionContext)


def invoke(op_def: OpDefinition, args: tuple[object, ...], kwargs: dict[str, object]) -> object:
    decorated = op_def.decorated_fn
    where = f'op "{op_def.name}"'
    if decorated is None:
        raise InvalidInvocationError(
            f"{where} was not constructed using the @op decorator; only decorated ops can be "
            "invoked directly (run it with execute_in_process instead)"
        )
    kwargs = dict(kwargs)
    positional = list(args)
    context: object = None
    if decorated.context_param is not None:
        context = _take_context(where, decorated.context_param, positional, kwargs)
    else:
        if positional and isinstance(positional[0], _CONTEXT_TYPES):
            raise InvalidInvocationError(
                f"{where} does not have a context argument, but a context was provided when "
                "invoking"
            )
        for key, value in kwargs.items():
            if isinstance(value, _CONTEXT_TYPES):
                raise InvalidInvocationError(
                    f'{where} does not have a context argument, but a context was provided as "'
                    f'{key}="'
                )
    if isinstance(context, OpExecutionContext):
        raise InvalidInvocationError(
            f"{where} was given the context of a running op; a context belongs to the op it "
            "was made for. Pass a context from build_op_context() instead"
        )
    if isinstance(context, UnboundOpContext):
        unbound = context
    else:
        _check_no_context_needed(op_def, where, has_param=decorated.context_param is not None)
        unbound = build_op_context()

    op_config = resolve_op_config(op_def, unbound.op_config)
    missing = sorted(op_def.required_resource_keys - set(unbound.resources_dict))
    if missing:
        raise InvalidInvocationError(
            f"{where} requires resource(s) {', '.join(missing)}, which were not provided to "
            "build_op_context(resources=...)"
        )
    bound = OpExecutionContext(
        op_def=op_def,
        op_config=op_config,
        resources=unbound.resources_dict,
        run_id="EPHEMERAL",
        run_tags=unbound.run_tags,
        retry_number=0,
        log_sink=python_log,
        event_sink=unbound.record_event,
        partition_key=unbound.partition_key,
        run_config=_direct_run_config(op_def.name, op_config),
    )
    unbound.bound = bound
    values = _bind_inputs(op_def, decorated, positional, kwargs)
    _check_inputs(op_def, bound, values)
    call_args, call_kwargs = decorated.arguments(bound, values)
    result = decorated.fn(*call_args, **call_kwargs)
    if inspect.isasyncgen(result):
        return _checked_async_gen(op_def, bound, result)
    if inspect.iscoroutine(result):
        return _checked_coroutine(op_def, bound, result)
    if inspect.isgenerator(result):
        return _checked_gen(op_def, bound, result)
    return _check_return(op_def, bound, result)


def _direct_run_config(op_name: str, op_config: object) -> dict[str, object]:
    """``context.run_config`` of a direct call, shaped as Dagster 0.14 shapes it.

    A direct call has no run, so the "run config" holds only what the call was given:
    the op's resolved config under ``solids`` when there is any (a falsy config is left
    out), and the resource config, which is always empty here (ophost resources are
    passed built).
    """
    run_config: dict[str, object] = {}
    if op_config:
        run_config["solids"] = {op_name: {"config": op_config}}
    run_config["resources"] = {}
    return run_config


def _take_context(
    where: str, param: str, positional: list[object], kwargs: dict[str, object]
) -> object:
    """Remove the context from the call's arguments and return it (``None`` if ``None``).

    Like calling the function itself: the first positional argument, if there is one,
    is the context; otherwise it must be given under the context parameter's name.
    """
    if positional:
        first = positional.pop(0)
        if first is not None and not isinstance(first, _CONTEXT_TYPES):
            raise InvalidInvocationError(
                f"{where} has a context argument, but no context was provided when invoking: "
                f"the first argument is of type {type(first).__name__}; pass "
                "build_op_context() (or None) as the first argument"
            )
        if param in kwargs:
            raise InvalidInvocationError(
                f'{where}: the context was given both positionally and as "{param}="'
            )
        return first
    if param not in kwargs:
        raise InvalidInvocationError(
            f"{where} has a context argument, but no context was provided when invoking; "
            "pass build_op_context() (or None) as the first argument"
        )
    context = kwargs.pop(param)
    if context is not None and not isinstance(context, _CONTEXT_TYPES):
        raise InvalidInvocationError(
            f'{where} has a context argument, but the value given for "{param}" is of type '
            f"{type(context).__name__}, not a context (use build_op_context())"
        )
    return context


def _check_no_context_needed(op_def: OpDefinition, where: str, *, has_param: bool) -> None:
    """Without a context an op can receive neither resources nor required config."""
    how = (
        "pass build_op_context({arg}=...) as the context"
        if has_param
        else "add a context parameter and pass build_op_context({arg}=...)"
    )
    if op_def.required_resource_keys:
        raise InvalidInvocationError(
            f"{where} requires resources ({', '.join(sorted(op_def.required_resource_keys))})"
            f", but no context was provided; {how.format(arg='resources')}"
        )
    if op_def.config_schema.is_required:
        raise InvalidInvocationError(
            f"{where} has required config, but no context was provided; "
            f"{how.format(arg='op_config')}"
        )


def _bind_inputs(
    op_def: OpDefinition,
    decorated: DecoratedFn,
    positional: list[object],
    kwargs: dict[str, object],
) -> dict[str, object]:
    where = f'op "{op_def.name}"'
    value_inputs = [d for d in op_def.input_defs if not d.dagster_type.is_nothing]
    input_dict = op_def.input_dict
    for key in kwargs:
        definition = input_dict.get(key)
        if definition is not None and definition.dagster_type.is_nothing:
            raise InvalidInvocationError(
                f'{where}: input "{key}" is a Nothing input and takes no value; Nothing '
                "dependencies are ignored when an op is invoked directly"
            )
    if len(positional) + len(kwargs) > len(value_inputs):
        raise InvalidInvocationError(
            f"{where}: too many input arguments were provided: got {len(positional)} "
            f"positional and {len(kwargs)} keyword argument(s), but the op has "
            f"{len(value_inputs)} input(s)"
        )
    if len(positional) > len(decorated.positional_inputs):
        raise InvalidInvocationError(
            f"{where}: too many positional input arguments: got {len(positional)}, the op "
            f"takes at most {len(decorated.positional_inputs)} positionally"
        )
    values: dict[str, object] = dict(zip(decorated.positional_inputs, positional, strict=False))
    for key, value in kwargs.items():
        if key in values:
            raise InvalidInvocationError(
                f'{where}: input "{key}" was given both positionally and by keyword'
            )
        if input_dict.get(key) is None and not decorated.has_kwargs:
            raise InvalidInvocationError(
                f'{where} has no input "{key}" (inputs: '
                f"{', '.join(d.name for d in value_inputs) or 'none'})"
            )
        values[key] = value
    for d in value_inputs:
        if d.name in values:
            continue
        if d.has_default_value:
            values[d.name] = d.default_value
        elif d.name in decorated.param_names:
            raise InvalidInvocationError(
                f'{where}: No value provided for required input "{d.name}".'
            )
    return values


def _type_check(
    op_def: OpDefinition,
    context: OpExecutionContext,
    dagster_type: DagsterType,
    value: object,
    role: str,
    name: str,
) -> None:
    what = f'{role} "{name}" of op "{op_def.name}"'
    result = run_type_check(dagster_type, type_check_context(context, dagster_type), value, what)
    if not result.success:
        raise type_check_failed(role, name, dagster_type, result)


def _check_inputs(
    op_def: OpDefinition, context: OpExecutionContext, values: Mapping[str, object]
) -> None:
    for d in op_def.input_defs:
        if d.name in values and not d.dagster_type.is_nothing:
            _type_check(op_def, context, d.dagster_type, values[d.name], "input", d.name)


def _check_output(
    op_def: OpDefinition, context: OpExecutionContext, output: Output[object]
) -> None:
    definition = op_def.output_dict.get(output.output_name)
    if definition is None:
        raise InvariantViolationError(
            f'op "{op_def.name}" returned an output "{output.output_name}" that does not exist. '
            f"The available outputs are {sorted(op_def.output_dict)}"
        )
    context.take_output_metadata(output.output_name)
    _type_check(
        op_def, context, definition.dagster_type, output.value, "output", output.output_name
    )


def _check_return(op_def: OpDefinition, context: OpExecutionContext, value: object) -> object:
    where = f'op "{op_def.name}"'
    outputs = op_def.output_defs
    if isinstance(value, LOGGABLE_EVENTS):
        raise InvariantViolationError(
            f"{where} returned an {type(value).__name__}; events must be yielded, not returned"
        )
    if isinstance(value, Output):
        _check_output(op_def, context, value)
        return value
    if not outputs:
        if value is not None:
            raise InvariantViolationError(
                f"{where} is explicitly defined to return no results, but it returned a "
                f"value of type {type(value).__name__}"
            )
        return None
    if len(outputs) == 1:
        _check_output(op_def, context, Output(value, outputs[0].name))
        return value
    if not isinstance(value, tuple):
        raise InvariantViolationError(
            f"{where} has {len(outputs)} outputs, but returned a single value of type "
            f"{type(value).__name__}; the result is ambiguous. Return a tuple with one value "
            "per output"
        )
    if len(value) != len(outputs):
        raise InvariantViolationError(
            f"{where} returned a tuple of {len(value)} element(s) but has {len(outputs)} "
            f"outputs ({', '.join(o.name for o in outputs)})"
        )
    for index, (element, out) in enumerate(zip(value, outputs, strict=True)):
        _check_output(op_def, context, rename_tuple_output(op_def.name, element, out, index))
    return value


class _StreamChecker:
    """Checks the items of a generator op as the caller consumes them."""

    def __init__(self, op_def: OpDefinition, context: OpExecutionContext) -> None:
        self.op_def = op_def
        self.context = context
        self.seen: set[str] = set()

    def item(self, item: object) -> object:
        check_yielded(self.op_def.name, item)
        if isinstance(item, Output):
            if item.output_name in self.seen:
                raise InvariantViolationError(
                    f'op "{self.op_def.name}" returned an output "{item.output_name}" '
                    "multiple times"
                )
            _check_output(self.op_def, self.context, item)
            self.seen.add(item.output_name)
        return item

    def finish(self) -> None:
        for definition in self.op_def.output_defs:
            if (
                definition.is_required
                and definition.name not in self.seen
                and not definition.dagster_type.is_nothing
            ):
                raise OutputNotFoundError(
                    f'op "{self.op_def.name}" did not return an output for non-optional '
                    f'output "{definition.name}"'
                )


def _checked_gen(
    op_def: OpDefinition, context: OpExecutionContext, gen: Iterator[object]
) -> Iterator[object]:
    checker = _StreamChecker(op_def, context)
    for item in gen:
        yield checker.item(item)
    checker.finish()


async def _checked_async_gen(
    op_def: OpDefinition, context: OpExecutionContext, gen: AsyncIterator[object]
) -> AsyncIterator[object]:
    checker = _StreamChecker(op_def, context)
    async for item in gen:
        yield checker.item(item)
    checker.finish()


async def _checked_coroutine(
    op_def: OpDefinition, context: OpExecutionContext, coro: Coroutine[object, object, object]
) -> object:
    return _check_return(op_def, context, await coro)
