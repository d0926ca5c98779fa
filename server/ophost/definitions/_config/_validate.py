"""``validate_config``: check config against a ``Field`` and return the processed value."""

from __future__ import annotations

from ophost.definitions._config._field import Field
from ophost.definitions._config._process import Walk, accepts_none, copy_default, expected
from ophost.definitions._config._render import describe, has_class
from ophost.errors import InvalidArgumentError, InvalidConfigError

__all__ = ["validate_config"]


def validate_config(
    field: Field, value: object, *, root: str = "config", preamble: str | None = None
) -> object:
    """Validate ``value`` against ``field`` and return it processed.

    At this top level ``None`` means "no config was given": the field's default is
    used if it has one, a type that accepts ``None`` (``Noneable``, ``Any``) gives
    ``None``, an optional field without a default gives ``None``, and a required field
    is an error. Below the top level ``None`` is an ordinary value.

    The result has defaults filled in, enum strings mapped to their Python values and
    permissive extras kept; dicts follow the declaration order of their fields, with
    permissive extras after them. Problems raise ``InvalidConfigError`` listing all of
    them, with paths that start at ``root`` (``config.db.port``, ``config.hosts[2]``);
    ``preamble`` is the first line of its message.
    """
    if not has_class(field, Field):
        raise InvalidArgumentError(
            f"validate_config: field must be a Field (see resolve_config_schema), "
            f"got {describe(field)}"
        )
    if not has_class(root, str):
        raise InvalidArgumentError(f"validate_config: root must be a str, got {describe(root)}")
    if preamble is not None and not has_class(preamble, str):
        raise InvalidArgumentError(
            f"validate_config: preamble must be a str or None, got {describe(preamble)}"
        )
    root = str.__str__(root)
    config_type = field.config_type
    walk = Walk(post_process=True)
    result: object = None
    if value is not None:
        result = walk.value(config_type, value, root)
    elif field.default_provided:
        result = walk.value(config_type, copy_default(field.default_value), root)
    elif field.is_required and not accepts_none(config_type):
        walk.fail(root, f"required config was not given (expected {expected(config_type)})")
    if walk.errors:
        raise InvalidConfigError(
            str.__str__(preamble) if preamble is not None else f"{root} does not match its schema",
            walk.errors,
        )
    return result
