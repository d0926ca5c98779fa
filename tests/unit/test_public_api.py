"""The public surface of ``ophost`` is pinned: adding or removing a name is a decision."""

from __future__ import annotations

import ophost
import ophost.codec
import ophost.errors
import ophost.execution
import ophost.testing
import ophost.testing.pytest_plugin

EXPECTED = [
    "Any",
    "Array",
    "AssetKey",
    "AssetMaterialization",
    "AssetObservation",
    "Backoff",
    "Bool",
    "BoolMetadataValue",
    "CodecError",
    "ConfigMappingFunctionError",
    "DagsterAssetMetadataValue",
    "DagsterPipelineRunMetadataValue",
    "DagsterRunMetadataValue",
    "DagsterType",
    "DefinitionError",
    "Dict",
    "Enum",
    "EnumValue",
    "ExecutionInterruptedError",
    "ExecutionResult",
    "ExpectationResult",
    "Failure",
    "Field",
    "Float",
    "FloatMetadataValue",
    "In",
    "Int",
    "IntMetadataValue",
    "InvalidArgumentError",
    "InvalidConfigDefinitionError",
    "InvalidConfigError",
    "InvalidInvocationError",
    "InvalidMetadataError",
    "InvariantViolationError",
    "Jitter",
    "JsonMetadataValue",
    "List",
    "Map",
    "MarkdownMetadataValue",
    "MetadataEntry",
    "MetadataValue",
    "Noneable",
    "Nothing",
    "NullMetadataValue",
    "OpDefinition",
    "OpExecutionContext",
    "OpHostError",
    "OpSpec",
    "Optional",
    "Out",
    "Output",
    "OutputNotFoundError",
    "PathMetadataValue",
    "Permissive",
    "PythonArtifactMetadataValue",
    "PythonObjectDagsterType",
    "RetryPolicy",
    "RetryRequested",
    "Selector",
    "Set",
    "Shape",
    "String",
    "TableColumn",
    "TableColumnConstraints",
    "TableConstraints",
    "TableMetadataValue",
    "TableRecord",
    "TableSchema",
    "TableSchemaMetadataValue",
    "TextMetadataValue",
    "Tuple",
    "TypeCheck",
    "TypeCheckContext",
    "TypeCheckFailedError",
    "TypeCheckFunctionError",
    "UrlMetadataValue",
    "UserCodeError",
    "__version__",
    "build_op_context",
    "check_dagster_type",
    "configured",
    "execute_in_process",
    "make_python_type_usable_as_dagster_type",
    "op",
    "usable_as_dagster_type",
]

# Names a Dagster user might reach for that ophost deliberately does not offer.
MUST_STAY_ABSENT = [
    "job",
    "graph",
    "DynamicOut",
    "DynamicOutput",
    "EventMetadata",
    "EventMetadataEntry",
    "TextMetadataEntryData",
    "InputDefinition",
    "OutputDefinition",
    "SolidDefinition",
]


def test_exact_public_names() -> None:
    assert sorted(ophost.__all__) == EXPECTED


def test_every_exported_name_resolves() -> None:
    for name in ophost.__all__:
        assert getattr(ophost, name) is not None


def test_removed_names_stay_absent() -> None:
    for name in MUST_STAY_ABSENT:
        assert not hasattr(ophost, name), name


def test_run_metadata_alias_is_the_same_class() -> None:
    assert ophost.DagsterRunMetadataValue is ophost.DagsterPipelineRunMetadataValue


def test_error_hierarchy() -> None:
    errors = ophost.errors
    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, Exception) and name != "OpHostError":
            assert issubclass(cls, errors.OpHostError), name
    assert issubclass(errors.InvalidArgumentError, TypeError)
    assert issubclass(errors.OutputNotFoundError, errors.InvariantViolationError)
    for user in (
        errors.TypeCheckFunctionError,
        errors.ConfigMappingFunctionError,
    ):
        assert issubclass(user, errors.UserCodeError)
    # Failure and RetryRequested are the author's control flow, not ophost errors.
    assert not issubclass(ophost.Failure, errors.OpHostError)
    assert not issubclass(ophost.RetryRequested, errors.OpHostError)


def test_submodule_surfaces() -> None:
    assert sorted(ophost.codec.__all__) == [
        "chunks",
        "config",
        "definitions",
        "events",
        "failures",
        "metadata",
        "status",
        "types",
        "values",
    ]
    assert "execute_in_process" in ophost.execution.__all__
    assert "ExecutionEvent" in ophost.execution.__all__


def test_testing_surface() -> None:
    assert sorted(ophost.testing.__all__) == [
        "RunningHost",
        "RunningHostInThread",
        "running_host",
        "running_host_in_thread",
    ]
    for name in ophost.testing.__all__:
        assert getattr(ophost.testing, name).__module__.startswith("ophost.testing")
    # The pytest plugin's fixtures are public too: users override and request them by name.
    assert sorted(ophost.testing.pytest_plugin.__all__) == [
        "ophost_client",
        "ophost_host",
        "ophost_host_in_thread",
        "ophost_host_options",
        "ophost_ops",
        "ophost_resources",
        "ophost_sync_client",
    ]
    for name in ophost.testing.pytest_plugin.__all__:
        assert hasattr(ophost.testing.pytest_plugin, name)


def test_the_pytest_plugin_is_registered() -> None:
    from importlib.metadata import entry_points

    [plugin] = [e for e in entry_points(group="pytest11") if e.name == "ophost"]
    assert plugin.load() is ophost.testing.pytest_plugin


def test_authoring_import_does_not_load_grpc() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ophost, ophost.execution; "
        "bad = [m for m in sys.modules if m == 'grpc' or m.startswith('google.protobuf')]; "
        "print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
