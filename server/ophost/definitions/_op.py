"""``OpDefinition``: a described op, and the checks its parts go through.

The ``@op`` decorator, which builds one from a function, is in
:mod:`ophost.definitions._op_decorator`.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar
from typing import Any as TypingAny

from ophost.definitions._config import Field, resolve_config_schema
from ophost.definitions._io import (
    NO_DEFAULT,
    In,
    InputDefinition,
    Out,
    OutputDefinition,
    lenient_metadata,
)
from ophost.definitions._names import validate_name
from ophost.definitions._retry import RetryPolicy
from ophost.definitions._types import Any_, DagsterType, TypeKind
from ophost.errors import DefinitionError, InvalidArgumentError

if TYPE_CHECKING:
    from ophost.definitions._invoke import DirectResult

__all__ = [
    "ComputeKind",
    "DecoratedFn",
    "OpDefinition",
    "check_ins",
    "check_outs",
    "configured",
    "input_def",
    "output_def",
]


# Only built-in scalar types check a default when the op is defined (as in Dagster).
_SCALAR_KINDS = frozenset({TypeKind.INT, TypeKind.FLOAT, TypeKind.STRING, TypeKind.BOOL})


class ComputeKind(enum.Enum):
    """How an op body produces its results."""

    FUNCTION = "function"
    GENERATOR = "generator"
    COROUTINE = "coroutine"
    ASYNC_GENERATOR = "async_generator"
    CORE = "core"  # a hand-built definition's fn(context, inputs) -> events


@dataclass(frozen=True)
class DecoratedFn:
    """What the engine and direct invocation need to know to call a decorated function."""

    fn: Callable[..., TypingAny]
    kind: ComputeKind
    context_param: str | None
    positional_only: tuple[str, ...]
    has_kwargs: bool
    positional_inputs: tuple[str, ...]
    param_names: tuple[str, ...]
    # The context parameter is keyword-only (``def f(*, context, ...)``): pass it by name.
    context_keyword_only: bool = False

    def arguments(
        self, context: object, values: Mapping[str, object]
    ) -> tuple[list[object], dict[str, object]]:
        """Positional and keyword arguments for calling the function.

        The context goes first (by name when it is a keyword-only parameter); positional-only
        parameters are passed by position and every other input by keyword.
        """
        args: list[object] = []
        kwargs: dict[str, object] = {}
        if self.context_param is not None:
            if self.context_keyword_only:
                kwargs[self.context_param] = context
            else:
                args.append(context)
        for name in self.positional_only:
            if name in values:
                args.append(values[name])
        for name, value in values.items():
            if name not in self.positional_only:
                kwargs[name] = value
        return args, kwargs


_NO_CONFIG: TypingAny = object()  # "configured() was called without its config"


@dataclass(frozen=True)
class _ConfigMapping:
    parent: OpDefinition
    config_or_fn: object


class OpDefinition:
    """A described op: its name, inputs, outputs, config schema, policy and body.

    Built by ``@op`` (the usual way) or directly:
    ``OpDefinition(compute_fn, name, ins=None, outs=None, description=None,
    config_schema=None, required_resource_keys=None, tags=None, version=None,
    retry_policy=None, code_version=None)``, where a hand-built ``compute_fn`` has the
    signature ``fn(context, inputs: dict) -> iterable of events`` and yields
    :class:`Output` objects itself. Hand-built definitions execute normally but cannot
    be called directly.
    """

    # Set by functools.update_wrapper for decorated ops, mirroring the function.
    __name__: str
    __wrapped__: Callable[..., TypingAny]

    def __init__(
        self,
        compute_fn: Callable[..., TypingAny],
        name: str,
        ins: Mapping[str, In] | None = None,
        outs: Mapping[str, Out] | None = None,
        description: str | None = None,
        config_schema: object = None,
        required_resource_keys: Iterable[str] | None = None,
        tags: Mapping[str, object] | None = None,
        version: str | None = None,
        retry_policy: RetryPolicy | None = None,
        code_version: str | None = None,
    ) -> None:
        validate_name(name, what="op name")
        where = f'op "{name}"'
        if not callable(compute_fn):
            raise DefinitionError(f"{where}: compute_fn must be callable")
        ins = check_ins(where, ins)
        outs_map = check_outs(where, outs)
        input_defs = [
            input_def(where, n, i, i.dagster_type or Any_, i.description, i.default_value)
            for n, i in ins.items()
        ]
        output_defs = [
            output_def(where, n, o, o.dagster_type or Any_, o.description)
            for n, o in outs_map.items()
        ]
        self._init(
            name=name,
            description=description,
            input_defs=input_defs,
            output_defs=output_defs,
            config_schema=config_schema,
            required_resource_keys=required_resource_keys,
            tags=tags,
            version=version,
            code_version=code_version,
            retry_policy=retry_policy,
            compute_fn=compute_fn,
            decorated=None,
        )

    @classmethod
    def _build(cls, **kwargs: TypingAny) -> OpDefinition:
        self = cls.__new__(cls)
        self._init(**kwargs)
        return self

    def _init(
        self,
        *,
        name: str,
        description: str | None,
        input_defs: Sequence[InputDefinition],
        output_defs: Sequence[OutputDefinition],
        config_schema: object,
        required_resource_keys: Iterable[str] | None,
        tags: Mapping[str, object] | None,
        version: str | None,
        code_version: str | None,
        retry_policy: RetryPolicy | None,
        compute_fn: Callable[..., TypingAny],
        decorated: DecoratedFn | None,
        config_mapping: _ConfigMapping | None = None,
        config_field: Field | None = None,
    ) -> None:
        where = f'op "{name}"'
        if description is not None and not isinstance(description, str):
            raise DefinitionError(
                f"{where}: description must be a str, got {type(description).__name__}"
            )
        if version is not None and code_version is not None and version != code_version:
            raise DefinitionError(
                f"{where}: version and code_version are the same setting; give only one"
            )
        chosen_version = code_version if code_version is not None else version
        if chosen_version is not None and not isinstance(chosen_version, str):
            raise DefinitionError(
                f"{where}: version must be a str, got {type(chosen_version).__name__}"
            )
        if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
            raise DefinitionError(
                f"{where}: retry_policy must be a RetryPolicy, got {type(retry_policy).__name__}"
            )
        _check_unique(where, "input", [d.name for d in input_defs])
        _check_unique(where, "output", [d.name for d in output_defs])
        self._name = name
        self._description = description
        self._input_defs = tuple(input_defs)
        self._output_defs = tuple(output_defs)
        self._inputs_by_name = {d.name: d for d in self._input_defs}
        self._outputs_by_name = {d.name: d for d in self._output_defs}
        self._config_field = (
            config_field
            if config_field is not None
            else resolve_config_schema(config_schema, where=f"{where} config_schema")
        )
        self._required_resource_keys = _check_resource_keys(where, required_resource_keys)
        self._tags = MappingProxyType(_encode_tags(where, tags))
        self._version = chosen_version
        self._retry_policy = retry_policy
        self._compute_fn = compute_fn
        self._decorated = decorated
        self._config_mapping = config_mapping

    # -- properties ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def description(self) -> str | None:
        return self._description

    @property
    def tags(self) -> Mapping[str, str]:
        return self._tags

    @property
    def version(self) -> str | None:
        return self._version

    @property
    def code_version(self) -> str | None:
        return self._version

    @property
    def retry_policy(self) -> RetryPolicy | None:
        return self._retry_policy

    @property
    def required_resource_keys(self) -> frozenset[str]:
        return self._required_resource_keys

    @property
    def config_schema(self) -> Field:
        return self._config_field

    @property
    def input_defs(self) -> tuple[InputDefinition, ...]:
        return self._input_defs

    @property
    def output_defs(self) -> tuple[OutputDefinition, ...]:
        return self._output_defs

    @property
    def input_dict(self) -> dict[str, InputDefinition]:
        return dict(self._inputs_by_name)

    @property
    def output_dict(self) -> dict[str, OutputDefinition]:
        return dict(self._outputs_by_name)

    def input_named(self, name: str) -> InputDefinition | None:
        """The input called ``name``, if there is one (no copy of :attr:`input_dict` made)."""
        return self._inputs_by_name.get(name)

    def output_named(self, name: str) -> OutputDefinition | None:
        """The output called ``name``, if there is one (no copy of :attr:`output_dict` made)."""
        return self._outputs_by_name.get(name)

    def input_def_named(self, name: str) -> InputDefinition:
        """The input called ``name``; ``KeyError`` naming the op's inputs if there is none."""
        return _named(self, "input", name, self._inputs_by_name)

    def output_def_named(self, name: str) -> OutputDefinition:
        """The output called ``name``; ``KeyError`` naming the op's outputs if there is none."""
        return _named(self, "output", name, self._outputs_by_name)

    @property
    def ins(self) -> dict[str, In]:
        return {d.name: d.to_in() for d in self._input_defs}

    @property
    def outs(self) -> dict[str, Out]:
        return {d.name: d.to_out() for d in self._output_defs}

    @property
    def positional_inputs(self) -> tuple[str, ...]:
        if self._decorated is None:
            return tuple(d.name for d in self._input_defs)
        return self._decorated.positional_inputs

    @property
    def node_type_str(self) -> str:
        return "op"

    @property
    def compute_fn(self) -> Callable[..., TypingAny]:
        return self._compute_fn

    @property
    def decorated_fn(self) -> DecoratedFn | None:
        """The decorated function's calling convention; ``None`` for hand-built ops."""
        return self._decorated

    @property
    def config_mapping(self) -> _ConfigMapping | None:
        return self._config_mapping

    def __repr__(self) -> str:
        return f"<OpDefinition {self._name!r}>"

    # -- configured ---------------------------------------------------------------------

    def configured(
        self,
        config_or_config_fn: object = _NO_CONFIG,
        name: str | None = None,
        config_schema: object = None,
        description: str | None = None,
    ) -> OpDefinition:
        """A new op with the same body whose config is supplied (or mapped) by this call.

        A constant is validated against this op's schema when the new op runs; a function
        receives the new op's validated config and returns config for this op. Without
        ``config_schema`` the new op accepts any config, optionally. ``name`` is required.
        """
        if config_or_config_fn is _NO_CONFIG:
            raise InvalidArgumentError(
                f'op "{self._name}".configured: the config (a constant, or a function of the '
                "new op's config) is required"
            )
        if name is None:
            raise InvalidArgumentError(
                f'op "{self._name}".configured: name is required (the new op needs its own name)'
            )
        validate_name(name, what=f'op "{self._name}".configured name')
        return OpDefinition._build(
            name=name,
            description=description if description is not None else self._description,
            input_defs=self._input_defs,
            output_defs=self._output_defs,
            config_schema=config_schema,
            required_resource_keys=self._required_resource_keys,
            tags=dict(self._tags),
            version=self._version,
            code_version=None,
            retry_policy=self._retry_policy,
            compute_fn=self._compute_fn,
            decorated=self._decorated,
            config_mapping=_ConfigMapping(parent=self, config_or_fn=config_or_config_fn),
        )

    # -- direct invocation ----------------------------------------------------------------

    def __call__(self, *args: TypingAny, **kwargs: TypingAny) -> DirectResult:
        from ophost.definitions._invoke import invoke

        return invoke(self, args, kwargs)


# -- argument checks -----------------------------------------------------------------------


_Def = TypeVar("_Def", InputDefinition, OutputDefinition)


def _named(op_def: OpDefinition, what: str, name: object, defs: Mapping[str, _Def]) -> _Def:
    if not isinstance(name, str):
        raise InvalidArgumentError(
            f'op "{op_def.name}": {what} name must be a str, got {type(name).__name__}'
        )
    found = defs.get(name)
    if found is None:
        known = ", ".join(f'"{n}"' for n in defs) or "none"
        raise KeyError(f'op "{op_def.name}" has no {what} "{name}" (its {what}s: {known})')
    return found


def _check_unique(where: str, what: str, names: Sequence[str]) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise DefinitionError(f'{where}: duplicate {what} name "{n}"')
        seen.add(n)


_M = TypeVar("_M", In, Out)


def _check_mapping(
    where: str, arg: str, value: Mapping[object, object], cls: type[_M]
) -> dict[str, _M]:
    checked: dict[str, _M] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise DefinitionError(f"{where}: {arg} keys must be str, got {type(key).__name__}")
        if not isinstance(item, cls):
            raise DefinitionError(
                f'{where}: {arg}["{key}"] must be an {cls.__name__}, got {type(item).__name__}'
            )
        checked[key] = item
    return checked


def check_ins(where: str, ins: object) -> dict[str, In]:
    if ins is None:
        return {}
    if not isinstance(ins, Mapping):
        raise DefinitionError(
            f"{where}: ins must be a dict of input name to In, got {type(ins).__name__}"
        )
    return _check_mapping(where, "ins", ins, In)


def check_outs(where: str, out: object) -> dict[str, Out]:
    if out is None:
        return {}
    if isinstance(out, Out):
        return {"result": out}
    if not isinstance(out, Mapping):
        raise DefinitionError(
            f"{where}: out must be an Out or a dict of output name to Out, got {type(out).__name__}"
        )
    return _check_mapping(where, "out", out, Out)


def _check_resource_keys(where: str, keys: object) -> frozenset[str]:
    if keys is None:
        return frozenset()
    if not isinstance(keys, (set, frozenset)):
        raise DefinitionError(
            f"{where}: required_resource_keys must be a set of str, got {type(keys).__name__}"
        )
    for key in keys:
        if not isinstance(key, str):
            raise DefinitionError(
                f"{where}: required_resource_keys must hold str, got {type(key).__name__}"
            )
    return frozenset(keys)


def _encode_tags(where: str, tags: object) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise DefinitionError(f"{where}: tags must be a dict, got {type(tags).__name__}")
    encoded: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str):
            raise DefinitionError(f"{where}: tag keys must be str, got {type(key).__name__}")
        if isinstance(value, str):
            encoded[key] = value
            continue
        try:
            text = json.dumps(value)
            same = json.loads(text) == value
        except (TypeError, ValueError, RecursionError):
            same = False
        if not same:
            raise DefinitionError(
                f'{where}: tag "{key}" has a value of type {type(value).__name__} that does '
                "not survive a JSON round trip; tag values must be str or JSON-serialisable"
            )
        encoded[key] = text
    return encoded


def input_def(
    where: str,
    name: str,
    declared: In | None,
    dagster_type: DagsterType,
    description: str | None,
    default: object,
) -> InputDefinition:
    validate_name(name, what=f"{where} input name")
    if_where = f'{where} input "{name}"'
    if description is not None and not isinstance(description, str):
        raise DefinitionError(f"{if_where}: description must be a str")
    if dagster_type.is_nothing and default is not NO_DEFAULT:
        raise DefinitionError(f"{if_where}: a Nothing input cannot have a default value")
    scalar = dagster_type.python_type if dagster_type.kind in _SCALAR_KINDS else None
    if scalar is not None and default is not NO_DEFAULT and not isinstance(default, scalar):
        raise DefinitionError(
            f"{if_where}: the default value {default!r} is not of the input's type "
            f'"{dagster_type.name}"'
        )
    metadata = declared.metadata if declared is not None else {}
    return InputDefinition(
        name=name,
        dagster_type=dagster_type,
        description=description,
        default_value=default,
        metadata_entries=lenient_metadata(metadata),
        asset_key=declared.asset_key if declared is not None else None,
        root_manager_key=declared.root_manager_key if declared is not None else None,
    )


def output_def(
    where: str, name: str, declared: Out | None, dagster_type: DagsterType, description: object
) -> OutputDefinition:
    validate_name(name, what=f"{where} output name")
    if description is not None and not isinstance(description, str):
        raise DefinitionError(f'{where} output "{name}": description must be a str')
    return OutputDefinition(
        name=name,
        dagster_type=dagster_type,
        description=description,
        is_required=declared.is_required if declared is not None else True,
        metadata_entries=lenient_metadata(declared.metadata if declared is not None else None),
        asset_key=declared.asset_key if declared is not None else None,
        io_manager_key=declared.io_manager_key if declared is not None else "io_manager",
    )


# -- the decorator -------------------------------------------------------------------------


def configured(
    configurable: OpDefinition, config_schema: object = None, **kwargs: object
) -> Callable[[object], OpDefinition]:
    """Decorator form of :meth:`OpDefinition.configured`.

    ``@configured(my_op, config_schema={...})`` on a function makes a config-mapping op
    named after the function; ``configured(my_op, name="x")({"a": 1})`` applies a
    constant. A constant needs ``name=``. Accepted keywords: ``name``, ``description``.
    """
    if not isinstance(configurable, OpDefinition):
        raise InvalidArgumentError(
            f"configured: the first argument must be an OpDefinition, got "
            f"{type(configurable).__name__}"
        )
    unknown = sorted(set(kwargs) - {"name", "description"})
    if unknown:
        raise InvalidArgumentError(
            f"configured: unexpected keyword argument(s) {', '.join(unknown)} "
            "(accepted: name, description)"
        )
    description = kwargs.get("description")
    if description is not None and not isinstance(description, str):
        raise InvalidArgumentError("configured: description must be a str")

    def apply(config_or_config_fn: object) -> OpDefinition:
        name = kwargs.get("name")
        if name is None:
            name = (
                getattr(config_or_config_fn, "__name__", None)
                if callable(config_or_config_fn)
                else None
            )
        if name is None:
            raise InvalidArgumentError(
                f'configured(op "{configurable.name}"): give name= when the config is a '
                "constant (a decorated function lends its own name)"
            )
        if not isinstance(name, str):
            raise InvalidArgumentError(f"configured: name must be a str, got {type(name).__name__}")
        return configurable.configured(
            config_or_config_fn, name, config_schema=config_schema, description=description
        )

    return apply
