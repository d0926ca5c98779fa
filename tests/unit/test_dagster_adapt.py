"""Adapting Dagster ops: how each is described, what runs it, and how the loader finds them.

Each op is run in process (``ophost.execute_in_process``, the thread executor) so its
events can be read one by one; the host and the clients are covered by
``tests/e2e/test_dagster_serve.py``.
"""

# No `from __future__ import annotations`: Dagster reads the annotations as types.
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ophost import execute_in_process
from ophost.definitions import (
    AssetObservation,
    InputChecked,
    LogMessage,
    OutputProduced,
    StepFailed,
    TableMetadataValue,
    TextMetadataValue,
)
from ophost.definitions._config import ConfigKind
from ophost.definitions._types import TypeKind
from ophost.errors import InvalidConfigError
from ophost.execution._loader import LoadError, load_ops
from tests.dagster_support import require_dagster

require_dagster()

import dagster as dg  # noqa: E402
from dagster import OpExecutionContext  # noqa: E402

from ophost.dagster import ophost_op  # noqa: E402
from ophost.dagster._describe import metadata_value  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(autouse=True)
def _isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    # Only the user modules the loader imported: Dagster's own, imported lazily, stay
    # (importing them twice would register its serializers twice).
    for name in [n for n in sys.modules if n.startswith("_ophost_file_")]:
        del sys.modules[name]


COLOR = dg.Enum(
    "Color", [dg.EnumValue("RED", python_value=1), dg.EnumValue("BLUE", python_value=2)]
)


@dg.op(
    config_schema={
        "color": dg.Field(COLOR, default_value="RED"),
        "mode": dg.Selector({"fast": int, "slow": dg.Field(str, default_value="s")}),  # type: ignore[no-untyped-call]
        "sizes": [int],
        "label": dg.Field(dg.Noneable(str), is_required=False),
        "extra": dg.Permissive({"known": dg.Field(bool, default_value=True)}),  # type: ignore[no-untyped-call]
        "source": dg.Field(dg.StringSource, is_required=False),
    }
)
def configured_op(context: OpExecutionContext) -> str:
    config = context.op_config
    return f"{config['color']}|{config['mode']}|{config['sizes']}|{config['extra']}"


def test_the_config_schema_is_described_with_dagsters_defaults() -> None:
    adapted = ophost_op(configured_op, {})
    fields = adapted.config_schema.config_type.fields  # type: ignore[attr-defined]
    assert fields["color"].config_type.kind is ConfigKind.ENUM
    assert fields["color"].default_value == "RED"
    assert fields["mode"].config_type.kind is ConfigKind.SELECTOR
    assert fields["sizes"].config_type.kind is ConfigKind.ARRAY
    assert fields["label"].config_type.kind is ConfigKind.NONEABLE
    assert not fields["label"].is_required
    assert fields["extra"].config_type.kind is ConfigKind.PERMISSIVE
    # A scalar union has no ophost counterpart: described as Any, checked by Dagster.
    assert fields["source"].config_type.kind is ConfigKind.ANY


def test_config_reaches_the_op_as_dagster_processes_it() -> None:
    adapted = ophost_op(configured_op, {})
    result = execute_in_process(
        adapted, config={"mode": {"fast": 3}, "sizes": [1, 2], "extra": {"more": 1}}
    )
    # The enum's Python value, the selector as given, the permissive shape with its default.
    assert result.output_value() == "1|{'fast': 3}|[1, 2]|{'known': True, 'more': 1}"
    with pytest.raises(InvalidConfigError, match="sizes"):
        execute_in_process(adapted, config={"mode": {"fast": 3}, "sizes": ["x"]})


def _even(_context: object, value: object) -> dg.TypeCheck:
    return dg.TypeCheck(
        success=isinstance(value, int) and value % 2 == 0,
        description=f"{value!r} is not even",
        metadata={"value": dg.MetadataValue.text(repr(value))},
    )


EVEN = dg.DagsterType(type_check_fn=_even, name="Even", description="An even integer")


@dg.op(ins={"n": dg.In(EVEN), "items": dg.In(dg.List[int]), "maybe": dg.In(dg.Optional[str])})
def typed_op(n: int, items: list[int], maybe: str | None) -> int:
    return n + len(items)


def test_types_are_described_and_checked_as_in_dagster() -> None:
    adapted = ophost_op(typed_op, {})
    kinds = {d.name: (d.dagster_type.kind, d.dagster_type.name) for d in adapted.input_defs}
    assert kinds["n"] == (TypeKind.CUSTOM, "Even")
    assert kinds["items"][0] is TypeKind.LIST
    assert kinds["maybe"][0] is TypeKind.OPTIONAL
    assert execute_in_process(adapted, inputs={"n": 2, "items": [1], "maybe": None}).success
    failed = execute_in_process(
        adapted, inputs={"n": 3, "items": [], "maybe": "x"}, raise_on_error=False
    )
    checked = {e.body.input_name: e.body for e in failed.events if isinstance(e.body, InputChecked)}
    assert not checked["n"].type_check.success
    assert checked["n"].type_check.description == "3 is not even"
    assert checked["n"].type_check.metadata_entries[0].entry_data == TextMetadataValue("3")
    failure = [e.body for e in failed.events if isinstance(e.body, StepFailed)]
    assert "3 is not even" in failure[0].error.message


@dg.op(out=dg.Out(int))
def returns_a_string() -> object:
    return "x"


def test_a_failed_output_check_fails_the_step_with_dagsters_error() -> None:
    result = execute_in_process(ophost_op(returns_a_string, {}), raise_on_error=False)
    assert not any(isinstance(e.body, OutputProduced) for e in result.events)
    (failure,) = [e.body for e in result.events if isinstance(e.body, StepFailed)]
    assert failure.error.type_name == "dagster.DagsterTypeCheckDidNotPass"
    assert 'Type check failed for step output "result"' in failure.error.message


@dg.op(out=dg.Out(int))
def observing(context: OpExecutionContext) -> Iterator[object]:
    yield dg.AssetObservation(asset_key="lake", metadata={"files": 2})
    context.log_event(
        dg.AssetObservation(
            asset_key=["lake", "raw"],
            description="landing zone",
            partition="2024-01-01",
            tags={"source": "nightly"},
        )
    )
    yield dg.Output(1, metadata={"source": "lake"})


def test_output_metadata_and_observations() -> None:
    result = execute_in_process(ophost_op(observing, {}))
    bodies = [e.body for e in result.events]
    # Dagster's observations are observation events, in the order the op made them.
    observations = [b for b in bodies if isinstance(b, AssetObservation)]
    assert observations == [
        AssetObservation(["lake"], metadata={"files": 2}),
        AssetObservation(
            ["lake", "raw"],
            description="landing zone",
            partition="2024-01-01",
            tags={"source": "nightly"},
        ),
    ]
    assert not [b for b in bodies if isinstance(b, LogMessage)]
    kinds = [type(b).__name__ for b in bodies]
    assert kinds.index("AssetObservation") < kinds.index("OutputProduced")
    (output,) = [b for b in bodies if isinstance(b, OutputProduced)]
    assert [(m.label, m.entry_data) for m in output.metadata_entries] == [
        ("source", TextMetadataValue("lake"))
    ]


def test_table_metadata_keeps_its_records_and_schema() -> None:
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("id", "int", constraints=dg.TableColumnConstraints(nullable=False)),
            dg.TableColumn("name", "string"),
        ],
        constraints=dg.TableConstraints(other=["id is unique"]),
    )
    value = metadata_value(dg.MetadataValue.table([dg.TableRecord({"id": 1, "name": "a"})], schema))
    assert isinstance(value, TableMetadataValue)
    assert [record.data for record in value.records] == [{"id": 1, "name": "a"}]
    assert value.schema is not None
    assert [(c.name, c.type, c.constraints.nullable) for c in value.schema.columns] == [
        ("id", "int", False),
        ("name", "string", True),
    ]
    assert value.schema.constraints.other == ["id is unique"]


@dg.op
def asks_for_a_retry(context: OpExecutionContext) -> int:
    if context.retry_number < 2:
        raise dg.RetryRequested(max_retries=3, seconds_to_wait=0)
    return context.retry_number


@dg.op
def asks_too_often(context: OpExecutionContext) -> int:
    raise dg.RetryRequested(max_retries=1, seconds_to_wait=0)


def test_retry_requests_are_decided_by_dagster() -> None:
    result = execute_in_process(ophost_op(asks_for_a_retry, {}))
    assert result.output_value() == 2
    failed = execute_in_process(ophost_op(asks_too_often, {}), raise_on_error=False)
    assert not failed.success
    failures = [e.body for e in failed.events if isinstance(e.body, StepFailed)]
    assert [f.will_retry for f in failures] == [True, False]
    assert failures[-1].error.type_name == "dagster.RetryRequested"
    assert failures[-1].error.message == "Exceeded max_retries of 1"


@dg.op
def reads_tags(context: OpExecutionContext) -> str:
    tags = context.run.tags
    return f"{tags['team']}|{tags['ophost/execution_id']}|{context.retry_number}"


def test_the_callers_tags_and_the_execution_id_are_the_runs_tags() -> None:
    result = execute_in_process(ophost_op(reads_tags, {}), tags={"team": "data"}, run_id="r1")
    assert result.output_value() == "data|r1|0"


MODULE = """
import dagster as dg
from ophost import op


class Counter(dg.ConfigurableResource):
    start: int = 10


@dg.op(required_resource_keys={"counter"})
def count(context, step: int) -> int:
    return context.resources.counter.start + step


@dg.op
def double(x: int) -> int:
    return 2 * x


@dg.graph
def doubled(x: int) -> int:
    return double(x)


@dg.job
def counting():
    count()


@op
def native() -> str:
    return "ophost"


defs = dg.Definitions(jobs=[counting], resources={"counter": Counter(start=100)})
"""


def test_the_loader_hosts_module_ops_job_and_graph_ops_with_the_definitions_resources(
    tmp_path: Path,
) -> None:
    path = tmp_path / "pipeline.py"
    path.write_text(textwrap.dedent(MODULE))
    loaded = load_ops(file=str(path))
    assert sorted(loaded.ops) == ["count", "double", "native"]
    assert execute_in_process(loaded.ops["count"], inputs={"step": 1}).output_value() == 101
    assert execute_in_process(loaded.ops["double"], inputs={"x": 4}).output_value() == 8
    assert execute_in_process(loaded.ops["native"]).output_value() == "ophost"


def test_ophost_ops_may_list_dagster_ops(tmp_path: Path) -> None:
    path = tmp_path / "listed.py"
    path.write_text(textwrap.dedent(MODULE) + "\nophost_ops = [double, native]\n", encoding="utf-8")
    assert list(load_ops(file=str(path)).ops) == ["double", "native"]


def test_a_missing_resource_is_a_load_error_naming_the_op(tmp_path: Path) -> None:
    path = tmp_path / "unprovided.py"
    path.write_text(
        "import dagster as dg\n\n"
        "@dg.op(required_resource_keys={'db'})\n"
        "def query(context) -> int:\n"
        "    return 1\n",
        encoding="utf-8",
    )
    with pytest.raises(LoadError, match=r'Dagster op "query" requires resource\(s\) db'):
        load_ops(file=str(path))
