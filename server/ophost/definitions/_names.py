"""Validation of definition names (ops, inputs, outputs)."""

from __future__ import annotations

import keyword
import re

from ophost.errors import DefinitionError, InvalidArgumentError

__all__ = ["NAME_PATTERN", "RESERVED_NAMES", "validate_name"]

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_]+$")

# Names that would collide with the framework's own vocabulary, plus every Python
# keyword. A leading digit is allowed.
RESERVED_NAMES = frozenset(
    {
        "context",
        "conf",
        "config",
        "meta",
        "arg_dict",
        "dict",
        "input_arg_dict",
        "output_arg_dict",
        "int",
        "str",
        "float",
        "bool",
        "input",
        "output",
        "type",
        *keyword.kwlist,
    }
)


def validate_name(name: object, *, what: str) -> str:
    """Return ``name`` if it is a valid definition name, else raise.

    ``what`` describes the name's role for the message, e.g. ``'op name'`` or
    ``'input "x" of op "y"'``.
    """
    if not isinstance(name, str):
        raise InvalidArgumentError(f"{what} must be a str, got {type(name).__name__}")
    if not NAME_PATTERN.fullmatch(name):
        raise DefinitionError(
            f'{what} "{name}" is not a valid name: names must match the regex '
            f"{NAME_PATTERN.pattern}"
        )
    if name in RESERVED_NAMES:
        raise DefinitionError(
            f'{what} "{name}" conflicts with a reserved ophost or Python keyword; '
            "choose another name"
        )
    return name
