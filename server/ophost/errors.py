"""The errors ophost raises.

Every error the authoring API and the in-process engine raise on purpose derives
from :class:`OpHostError`. The tree, with the Dagster category each class stands
for::

    OpHostError
    ├── InvalidArgumentError        (also a TypeError)  Dagster: CheckError / ParamCheckError
    ├── DefinitionError                                 Dagster: DagsterInvalidDefinitionError
    │   └── InvalidConfigDefinitionError                Dagster: DagsterInvalidConfigDefinitionError
    ├── InvariantViolationError                         Dagster: DagsterInvariantViolationError
    │   └── OutputNotFoundError                         Dagster: DagsterStepOutputNotFoundError
    ├── InvalidInvocationError                          Dagster: DagsterInvalidInvocationError
    ├── TypeCheckFailedError                            Dagster: DagsterTypeCheckDidNotPass
    ├── InvalidMetadataError                            Dagster: DagsterInvalidMetadata
    ├── InvalidConfigError                              Dagster: DagsterInvalidConfigError
    ├── CodecError                                      (ophost) a value has no wire form, or a
    │                                                   message from the wire is malformed
    └── UserCodeError                                   Dagster: DagsterUserCodeExecutionError
        ├── TypeCheckFunctionError                      Dagster: DagsterTypeCheckError
        └── ConfigMappingFunctionError                  Dagster: DagsterConfigMappingFunctionError

``ExecutionInterruptedError`` derives from ``BaseException`` (like ``KeyboardInterrupt``)
so that ``except Exception`` in an op does not swallow it: an op raises it, through
``context.raise_if_cancel_requested()``, to stop when its execution is canceled.

``Failure`` and ``RetryRequested`` are not errors of ophost: op authors raise them
to steer execution, exactly as in Dagster. An exception raised by an op body is not
wrapped: the step failure event records it as it is (type, message, stack, causes),
and ``execute_in_process`` re-raises the original exception, as Dagster does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

__all__ = [
    "CodecError",
    "ConfigErrorDetail",
    "ConfigMappingFunctionError",
    "DefinitionError",
    "ExecutionInterruptedError",
    "InvalidArgumentError",
    "InvalidConfigDefinitionError",
    "InvalidConfigError",
    "InvalidInvocationError",
    "InvalidMetadataError",
    "InvariantViolationError",
    "OpHostError",
    "OutputNotFoundError",
    "TypeCheckFailedError",
    "TypeCheckFunctionError",
    "UserCodeError",
]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class OpHostError(Exception):
    """Root of every error ophost raises on purpose."""


class InvalidArgumentError(OpHostError, TypeError):
    """A public function or constructor was given an argument of the wrong type."""


class DefinitionError(OpHostError):
    """An op, input, output, type or policy definition is not valid.

    Raised when the definition is built (at decoration time for ``@op``), with a
    message naming the op and the offending argument.
    """


class InvalidConfigDefinitionError(DefinitionError):
    """A config schema is not valid: a value in it is not a config type, a field is None...

    Raised while the schema is resolved (when the op, ``Field`` or ``Shape`` is built),
    with a message naming where the schema came from and the path inside it. It is a
    :class:`DefinitionError`, so code catching that sees it too.
    """


class InvariantViolationError(OpHostError):
    """User code broke a rule of the runtime contract (bad yields, duplicate outputs...)."""


class OutputNotFoundError(InvariantViolationError):
    """An op finished without producing one of its required outputs."""


class InvalidInvocationError(OpHostError):
    """An op was called directly (``my_op(...)``) with arguments that do not fit it."""


class _Entry(Protocol):
    """What this module needs to know of a ``MetadataEntry`` (defined above it)."""

    @property
    def label(self) -> str: ...
    @property
    def value(self) -> object: ...
    @property
    def description(self) -> str | None: ...


class TypeCheckFailedError(OpHostError):
    """An input or output value did not pass the type check of its declared type.

    ``metadata_entries`` are the ``MetadataEntry`` objects of the failed check and
    ``dagster_type`` the type checked against (typed loosely here: this module sits
    below the definitions that declare them).
    """

    def __init__(
        self,
        message: str,
        *,
        description: str | None = None,
        metadata_entries: Sequence[_Entry] = (),
        dagster_type: object = None,
    ) -> None:
        super().__init__(message)
        self.description = description
        self.metadata_entries = list(metadata_entries)
        self.dagster_type = dagster_type


class InvalidMetadataError(OpHostError):
    """A metadata value could not be normalised into one of the metadata kinds."""


@dataclass(frozen=True)
class ConfigErrorDetail:
    """One problem found while validating config: where it is and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class InvalidConfigError(OpHostError):
    """Config did not validate against its schema. ``errors`` lists every problem."""

    def __init__(self, preamble: str, errors: Sequence[ConfigErrorDetail]) -> None:
        self.preamble = preamble
        self.errors = list(errors)
        lines = [preamble, *(f"  {err}" for err in self.errors)]
        super().__init__("\n".join(lines))


class CodecError(OpHostError, ValueError):
    """A value cannot be put on the wire, or a message read from it is malformed.

    ``path`` says where in the value or message the problem is (``outputs.result[3]``).
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message


class ExecutionInterruptedError(BaseException):
    """The execution was canceled; raised inside an op to stop it."""


class UserCodeError(OpHostError):
    """Wraps an exception raised by user code (an op body, a type check, a config function)."""

    def __init__(
        self, message: str, *, user_exception: BaseException, original_exc_info: ExcInfo
    ) -> None:
        super().__init__(message)
        self.user_exception = user_exception
        self.original_exc_info = original_exc_info


class TypeCheckFunctionError(UserCodeError):
    """The check function of a custom type raised an exception."""


class ConfigMappingFunctionError(UserCodeError):
    """The config function given to ``OpDefinition.configured`` raised an exception."""
