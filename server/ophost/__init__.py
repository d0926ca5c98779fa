"""ophost: host Dagster-style ops and call them from any language over gRPC.

This package is the authoring API. Write ops exactly as in Dagster::

    from ophost import op, In, Out, Output

    @op(out=Out(int))
    def add(a: int, b: int) -> int:
        return a + b

and run them in process with :func:`execute_in_process`.
"""

from ophost._asset_key import AssetKey
from ophost._config import Any, Array, Enum, EnumValue, Field, Noneable, Permissive, Selector, Shape
from ophost._context import OpExecutionContext, build_op_context
from ophost._events import (
    AssetMaterialization,
    ExpectationResult,
    Failure,
    Output,
    RetryRequested,
    TypeCheck,
)
from ophost._execution.in_process import ExecutionResult, execute_in_process
from ophost._io import In, Out
from ophost._metadata import (
    BoolMetadataValue,
    DagsterAssetMetadataValue,
    DagsterPipelineRunMetadataValue,
    DagsterRunMetadataValue,
    FloatMetadataValue,
    IntMetadataValue,
    JsonMetadataValue,
    MarkdownMetadataValue,
    MetadataEntry,
    MetadataValue,
    NullMetadataValue,
    PathMetadataValue,
    PythonArtifactMetadataValue,
    TableMetadataValue,
    TableSchemaMetadataValue,
    TextMetadataValue,
    UrlMetadataValue,
)
from ophost._op import OpDefinition, configured
from ophost._op_decorator import op
from ophost._op_spec import OpSpec
from ophost._retry import Backoff, Jitter, RetryPolicy
from ophost._table import (
    TableColumn,
    TableColumnConstraints,
    TableConstraints,
    TableRecord,
    TableSchema,
)
from ophost._types import DagsterType, Nothing, TypeCheckContext
from ophost._version import __version__
from ophost.errors import (
    CodecError,
    ConfigMappingFunctionError,
    DefinitionError,
    ExecutionInterruptedError,
    InvalidArgumentError,
    InvalidConfigError,
    InvalidInvocationError,
    InvalidMetadataError,
    InvariantViolationError,
    OpHostError,
    OutputNotFoundError,
    TypeCheckFailedError,
    TypeCheckFunctionError,
    UserCodeError,
)

__all__ = [
    # ops
    "op",
    "OpDefinition",
    "OpSpec",
    "configured",
    "In",
    "Out",
    "Nothing",
    "DagsterType",
    "TypeCheckContext",
    "RetryPolicy",
    "Backoff",
    "Jitter",
    # config
    "Any",
    "Array",
    "Enum",
    "EnumValue",
    "Field",
    "Noneable",
    "Permissive",
    "Selector",
    "Shape",
    # events
    "Output",
    "AssetMaterialization",
    "ExpectationResult",
    "TypeCheck",
    "Failure",
    "RetryRequested",
    # metadata
    "MetadataValue",
    "MetadataEntry",
    "TextMetadataValue",
    "UrlMetadataValue",
    "PathMetadataValue",
    "JsonMetadataValue",
    "MarkdownMetadataValue",
    "PythonArtifactMetadataValue",
    "FloatMetadataValue",
    "IntMetadataValue",
    "BoolMetadataValue",
    "NullMetadataValue",
    "DagsterAssetMetadataValue",
    "DagsterPipelineRunMetadataValue",
    "DagsterRunMetadataValue",
    "TableMetadataValue",
    "TableSchemaMetadataValue",
    "TableRecord",
    "TableSchema",
    "TableColumn",
    "TableColumnConstraints",
    "TableConstraints",
    "AssetKey",
    # running
    "OpExecutionContext",
    "build_op_context",
    "execute_in_process",
    "ExecutionResult",
    # errors
    "OpHostError",
    "InvalidArgumentError",
    "DefinitionError",
    "ExecutionInterruptedError",
    "InvariantViolationError",
    "OutputNotFoundError",
    "InvalidInvocationError",
    "TypeCheckFailedError",
    "InvalidMetadataError",
    "InvalidConfigError",
    "UserCodeError",
    "TypeCheckFunctionError",
    "ConfigMappingFunctionError",
    "CodecError",
    "__version__",
]
