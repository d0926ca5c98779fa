"""An op's config as its body sees it: validated, with defaults and ``configured`` layers."""

from __future__ import annotations

from ophost.definitions._config import validate_config
from ophost.definitions._op import OpDefinition
from ophost.errors import ConfigMappingFunctionError

__all__ = ["resolve_op_config"]


def resolve_op_config(op_def: OpDefinition, raw: object, *, root: str = "config") -> object:
    """Validate ``raw`` against the op's schema and resolve ``configured`` layers."""
    return _resolve(op_def, raw, root=root, preamble=f'Config for op "{op_def.name}" is invalid')


def _resolve(op_def: OpDefinition, raw: object, *, root: str, preamble: str) -> object:
    value = validate_config(op_def.config_schema, raw, root=root, preamble=preamble)
    mapping = op_def.config_mapping
    if mapping is None:
        return value
    if callable(mapping.config_or_fn):
        try:
            inner = mapping.config_or_fn(value)
        except Exception as exc:
            raise ConfigMappingFunctionError(
                f'The config function of configured op "{op_def.name}" raised '
                f"{type(exc).__name__}: {exc}",
                user_exception=exc,
                original_exc_info=(type(exc), exc, exc.__traceback__),
            ) from exc
    else:
        inner = mapping.config_or_fn
    # Each layer is named after the op that supplied the config it failed on.
    return _resolve(
        mapping.parent,
        inner,
        root=root,
        preamble=f'Config that op "{op_def.name}" supplies to op "{mapping.parent.name}" is '
        "invalid",
    )
