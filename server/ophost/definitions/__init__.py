"""The definitions layer: everything an op author writes, and the events an execution produces.

``op``, ``In``/``Out``, config, types, the events an op yields (``Output``,
``AssetMaterialization``, ...), metadata, asset keys and the op's context are defined
here, together with the records of an execution's event stream (``ExecutionEvent`` and
its bodies). Nothing here runs an execution, encodes a message or imports grpc or
protobuf: the codec, the engine, the host and the clients all build on this layer.
Calling an op directly (``my_op(context, x)``) is part of the authoring API and lives
here too.
"""

from ophost.definitions._asset_key import AssetKey
from ophost.definitions._checks import check_dagster_type
from ophost.definitions._config import (
    Any,
    Array,
    Enum,
    EnumValue,
    Field,
    Map,
    Noneable,
    Permissive,
    Selector,
    Shape,
)
from ophost.definitions._context import OpExecutionContext, build_op_context
from ophost.definitions._execution_events import (
    CancelOutcome,
    ErrorData,
    ErrorSource,
    EventBody,
    ExecutionEvent,
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    InputChecked,
    LogLevel,
    LogMessage,
    OutputProduced,
    RetryScheduled,
    StepFailed,
    StepRestarted,
    StepStarted,
    StepSucceeded,
    UserFailure,
)
from ophost.definitions._io import In, Out
from ophost.definitions._metadata import (
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
from ophost.definitions._op import OpDefinition, configured
from ophost.definitions._op_decorator import op
from ophost.definitions._op_events import (
    AssetMaterialization,
    AssetObservation,
    ExpectationResult,
    Failure,
    Output,
    RetryRequested,
    TypeCheck,
)
from ophost.definitions._op_spec import OpSpec
from ophost.definitions._python_types import (
    PythonObjectDagsterType,
    make_python_type_usable_as_dagster_type,
    usable_as_dagster_type,
)
from ophost.definitions._retry import Backoff, Jitter, RetryPolicy
from ophost.definitions._table import (
    TableColumn,
    TableColumnConstraints,
    TableConstraints,
    TableRecord,
    TableSchema,
)
from ophost.definitions._type_families import Dict, List, Optional, Set, Tuple
from ophost.definitions._types import (
    Bool,
    DagsterType,
    Float,
    Int,
    Nothing,
    String,
    TypeCheckContext,
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
    # types
    "Int",
    "Float",
    "String",
    "Bool",
    "List",
    "Optional",
    "Set",
    "Tuple",
    "Dict",
    "PythonObjectDagsterType",
    "usable_as_dagster_type",
    "make_python_type_usable_as_dagster_type",
    "check_dagster_type",
    # config
    "Any",
    "Array",
    "Enum",
    "EnumValue",
    "Field",
    "Map",
    "Noneable",
    "Permissive",
    "Selector",
    "Shape",
    # events
    "Output",
    "AssetMaterialization",
    "AssetObservation",
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
    # the events of an execution, as the engine produces them and clients decode them
    "CancelOutcome",
    "ErrorData",
    "ErrorSource",
    "EventBody",
    "ExecutionEvent",
    "ExecutionFinished",
    "ExecutionStarted",
    "ExecutionStatus",
    "InputChecked",
    "LogLevel",
    "LogMessage",
    "OutputProduced",
    "RetryScheduled",
    "StepFailed",
    "StepRestarted",
    "StepStarted",
    "StepSucceeded",
    "UserFailure",
]
