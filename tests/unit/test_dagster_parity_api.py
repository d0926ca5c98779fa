"""What a Dagster 0.14 user writes, working in ophost as it does in Dagster.

Each test names the Dagster 0.14.20 behaviour it compares against and the module of the
released ``dagster`` 0.14 package that implements it (the API reference is at
https://docs.dagster.io/_apidocs/, with the 0.14 pages in its version archive). The
differences ophost keeps on purpose are in docs/dagster-differences.md.
"""

from __future__ import annotations

import asyncio
import enum
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from typing import Tuple  # noqa: UP035 - the spelling Dagster 0.14 users write

import pytest

from ophost import (
    Array,
    DefinitionError,
    Enum,
    EnumValue,
    Field,
    InvalidArgumentError,
    InvalidConfigError,
    MetadataValue,
    Noneable,
    Out,
    Output,
    TableColumn,
    TableColumnConstraints,
    TableConstraints,
    TableRecord,
    TableSchema,
    TypeCheckFailedError,
    build_op_context,
    execute_in_process,
    op,
)


class Size(enum.Enum):
    SMALL = 1
    LARGE = 2


SIZES = Enum.from_python_enum(Size)


# --- Tuple[Output[...], ...] return annotations --------------------------------------------


@op(out={"name": Out(), "count": Out()})
def named_pair() -> Tuple[Output[str], Output[int]]:  # noqa: UP006
    return Output("ada", "name"), Output(3, "count")


def test_tuple_of_outputs_annotation_types_each_output() -> None:
    """Dagster 0.14 (``dagster.core.definitions.inference``): with several outputs the
    return annotation is a ``Tuple`` whose element i types output i, and ``Output[T]``
    stands for ``T`` (the single-output rule), so ``Tuple[Output[str], Output[int]]``
    gives outputs of type String and Int."""
    assert [(d.name, d.dagster_type.display_name) for d in named_pair.output_defs] == [
        ("name", "String"),
        ("count", "Int"),
    ]
    assert execute_in_process(named_pair).outputs == {"name": "ada", "count": 3}
    assert named_pair() == (Output("ada", "name"), Output(3, "count"))


def test_tuple_of_outputs_annotation_is_checked_at_run_time() -> None:
    """The element types are the outputs' Dagster types, checked when the op runs."""

    @op(out={"name": Out(), "count": Out()})
    def wrong() -> Tuple[Output[str], Output[int]]:  # noqa: UP006
        return Output("ada", "name"), Output("three", "count")  # type: ignore[arg-type]

    with pytest.raises(TypeCheckFailedError, match='step output "count" - expected type "Int"'):
        execute_in_process(wrong)


def test_bare_output_element_is_any() -> None:
    """A bare ``Output`` element, like a bare ``Output`` return annotation, means Any."""

    @op(out={"a": Out(), "b": Out()})
    def loose() -> Tuple[Output, Output[bool]]:  # type: ignore[type-arg]  # noqa: UP006
        return Output(object(), "a"), Output(True, "b")

    assert [d.dagster_type.display_name for d in loose.output_defs] == ["Any", "Bool"]


# --- invalid defaults of config fields -----------------------------------------------------


@pytest.mark.parametrize(
    ("build", "problems"),
    [
        pytest.param(
            lambda: Field(int, default_value="3"),
            ['default_value: expected int, got "3" (str)'],
            id="str-for-int",
        ),
        pytest.param(
            lambda: Field([SIZES], default_value=[Size.SMALL, "LARGE"]),
            [
                "default_value[0]: expected one of SMALL, LARGE, got Size.SMALL (Size); "
                'write the name "SMALL" instead of the member'
            ],
            id="list-of-enum-members",
        ),
        pytest.param(
            lambda: Field(Noneable(SIZES), default_value=Size.LARGE),
            [
                "default_value: expected one of SMALL, LARGE, got Size.LARGE (Size); "
                'write the name "LARGE" instead of the member'
            ],
            id="noneable-enum-member",
        ),
        pytest.param(
            lambda: Field({"a": int, "b": Array(str)}, default_value={"a": 1.5, "b": [1]}),
            [
                "default_value.a: expected int, got 1.5 (float)",
                "default_value.b[0]: expected str, got 1 (int)",
            ],
            id="every-problem",
        ),
    ],
)
def test_invalid_default_is_invalid_config(build: Callable[[], Field], problems: list[str]) -> None:
    """Dagster 0.14 (``dagster.config.field.Field``) validates an explicit default when
    the field is built and raises ``DagsterInvalidConfigError`` with the preamble
    "Invalid default_value for Field." and the problems found; ophost's counterpart is
    ``InvalidConfigError`` (not a ``DefinitionError``)."""
    with pytest.raises(InvalidConfigError) as info:
        build()
    assert not isinstance(info.value, DefinitionError)
    assert info.value.preamble == "Invalid default_value for Field."
    assert [str(error) for error in info.value.errors] == problems
    assert str(info.value).splitlines()[0] == "Invalid default_value for Field."


def test_enum_member_as_default_of_an_enum_field_is_a_definition_error() -> None:
    """Only a single ``Enum`` field given a Python enum member raises Dagster's
    invalid-definition error (the default must be the member's name); ophost raises
    ``DefinitionError`` there, and accepts the name."""
    with pytest.raises(DefinitionError) as info:
        Field(SIZES, default_value=Size.SMALL)
    assert not isinstance(info.value, InvalidConfigError)
    assert "give its name as a string instead, one of: SMALL, LARGE" in str(info.value)
    assert Field(SIZES, default_value="SMALL").default_value == "SMALL"
    assert Field([SIZES], default_value=["SMALL"]).default_value == ["SMALL"]


def test_valid_enum_default_reaches_the_op_as_its_python_value() -> None:
    """A default written as the config name is processed like given config."""
    mode = Enum("Mode", [EnumValue("FAST", python_value=1), EnumValue("SAFE", python_value=2)])

    @op(config_schema={"mode": Field(mode, default_value="SAFE")})
    def pick(context) -> object:  # type: ignore[no-untyped-def]
        return context.op_config["mode"]

    assert execute_in_process(pick).outputs == {"result": 2}


# --- context.run_config on a direct call ---------------------------------------------------


@op
def c(context) -> object:  # type: ignore[no-untyped-def]
    return context.run_config


@op(config_schema={"n": int})
def with_config(context) -> object:  # type: ignore[no-untyped-def]
    return context.run_config


def test_direct_call_run_config_holds_only_the_resource_config() -> None:
    """Dagster 0.14 (``dagster.core.execution.context.invocation``, the bound
    invocation context): ``run_config`` of an op called with ``build_op_context()``
    is ``{'resources': {}}``."""
    assert c(build_op_context()) == {"resources": {}}


def test_direct_call_run_config_names_the_config_under_solids() -> None:
    """With op config, the 0.14 invocation context reports it under ``solids``."""
    assert with_config(build_op_context(op_config={"n": 2})) == {
        "solids": {"with_config": {"config": {"n": 2}}},
        "resources": {},
    }


def test_run_config_inside_a_run_is_the_run_config() -> None:
    """Inside a run, ``run_config`` is the run's config, keyed by op name under ``ops``."""
    result = execute_in_process(with_config, config={"n": 1})
    assert result.outputs == {"result": {"ops": {"with_config": {"config": {"n": 1}}}}}


# --- the caller's event loop ---------------------------------------------------------------


@op
def sync_op() -> int:
    return 1


@op
async def async_op() -> int:
    await asyncio.sleep(0)
    return 2


@pytest.fixture
def own_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()


@pytest.mark.parametrize("op_def", [sync_op, async_op], ids=["sync", "async"])
def test_execute_in_process_keeps_the_threads_loop(
    own_loop: asyncio.AbstractEventLoop, op_def: object
) -> None:
    """``execute_in_process`` runs synchronously; like Dagster's, it must not change the
    calling thread's event loop: the loop set before is still current afterwards."""
    execute_in_process(op_def)  # type: ignore[arg-type]
    assert asyncio.get_event_loop() is own_loop
    assert not own_loop.is_closed()
    assert own_loop.run_until_complete(asyncio.sleep(0, result="usable")) == "usable"


def test_execute_in_process_leaves_a_thread_without_loop_without_one() -> None:
    """A thread that had no loop still has none, and can create and set one as before."""
    seen: list[object] = []

    def worker() -> None:
        execute_in_process(sync_op)
        try:
            asyncio.get_event_loop()
        except RuntimeError:
            seen.append("no loop")
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        seen.append(asyncio.get_event_loop() is loop)
        asyncio.set_event_loop(None)
        loop.close()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == ["no loop", True]


def test_main_thread_get_event_loop_works_after_execute_in_process() -> None:
    """The reported case, in a fresh interpreter: on the main thread, after
    ``execute_in_process``, ``asyncio.get_event_loop()`` gives a usable loop instead of
    raising (``asyncio.run`` would have cleared the thread's loop)."""
    script = textwrap.dedent(
        """
        import asyncio, warnings
        warnings.simplefilter("ignore", DeprecationWarning)
        from ophost import execute_in_process, op

        @op
        async def async_op() -> int:
            return 2

        @op
        def sync_op() -> int:
            return 1

        before = asyncio.new_event_loop()
        asyncio.set_event_loop(before)
        execute_in_process(async_op)
        execute_in_process(sync_op)
        assert asyncio.get_event_loop() is before
        asyncio.set_event_loop(None)
        before.close()
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr
    # A fresh main thread: whatever get_event_loop() does there without ophost (make a
    # loop, or raise on the Pythons that no longer make one), it does after the call too.
    assert _fresh_main_thread(call_ophost=True) == _fresh_main_thread(call_ophost=False)


def _fresh_main_thread(*, call_ophost: bool) -> str:
    script = textwrap.dedent(
        f"""
        import asyncio, warnings
        warnings.simplefilter("ignore", DeprecationWarning)
        from ophost import execute_in_process, op

        @op
        def sync_op() -> int:
            return 1

        if {call_ophost}:
            execute_in_process(sync_op)
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            print("no loop")
        else:
            print(loop.run_until_complete(asyncio.sleep(0, result="usable")))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# --- table metadata arguments --------------------------------------------------------------


RECORDS = [TableRecord(name="a", size=1), TableRecord(name="b", size=2)]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(
            lambda: TableRecord({"name": "a"}),
            "TableRecord: the cells are keyword arguments",
            id="record-positional-mapping",
        ),
        pytest.param(
            lambda: TableRecord(name=["a"]),  # type: ignore[arg-type]
            'TableRecord: the value of "name" must be a str, int, float, bool or None, got list',
            id="record-cell-type",
        ),
        pytest.param(
            lambda: TableSchema(columns=[TableColumn("a"), "b"]),  # type: ignore[list-item]
            'TableSchema: "columns" must contain only TableColumn, got str at index 1',
            id="schema-column-type",
        ),
        pytest.param(
            lambda: TableSchema(columns=(TableColumn("a"),)),  # type: ignore[arg-type]
            'TableSchema: "columns" must be a list of TableColumn, got tuple',
            id="schema-columns-tuple",
        ),
        pytest.param(
            lambda: TableSchema(columns=[TableColumn("a")], constraints=["a > 0"]),  # type: ignore[arg-type]
            'TableSchema: "constraints" must be a TableConstraints or None, got list',
            id="schema-constraints-type",
        ),
        pytest.param(
            lambda: TableConstraints(other=("a > 0",)),  # type: ignore[arg-type]
            'TableConstraints: "other" must be a list of str, got tuple',
            id="table-constraints-tuple",
        ),
        pytest.param(
            lambda: TableColumn("a", constraints=TableConstraints(other=[])),  # type: ignore[arg-type]
            'TableColumn: "constraints" must be a TableColumnConstraints or None, got '
            "TableConstraints",
            id="column-constraints-type",
        ),
        pytest.param(
            lambda: TableColumnConstraints(unique=1),  # type: ignore[arg-type]
            'TableColumnConstraints: "unique" must be a bool, got int',
            id="column-constraints-bool",
        ),
        pytest.param(
            lambda: MetadataValue.table(tuple(RECORDS)),  # type: ignore[arg-type]
            'TableMetadataValue: "records" must be a list of TableRecord, got tuple',
            id="table-records-tuple",
        ),
        pytest.param(
            lambda: MetadataValue.table([{"name": "a"}]),  # type: ignore[list-item]
            'TableMetadataValue: "records" must contain only TableRecord, got dict at index 0',
            id="table-record-type",
        ),
        pytest.param(
            lambda: MetadataValue.table([TableRecord(name="a"), TableRecord(size=1)]),
            "TableMetadataValue: all records must have the same fields",
            id="table-records-disagree",
        ),
        pytest.param(
            lambda: MetadataValue.table([]),
            'TableMetadataValue: "schema" must be given when "records" is empty',
            id="table-empty-needs-schema",
        ),
        pytest.param(
            lambda: MetadataValue.table(RECORDS, schema={"name": "string"}),  # type: ignore[arg-type]
            'TableMetadataValue: "schema" must be a TableSchema or None, got dict',
            id="table-schema-type",
        ),
    ],
)
def test_table_arguments_are_checked_as_in_dagster(
    build: Callable[[], object], message: str
) -> None:
    """Dagster 0.14 (``dagster.core.definitions.metadata.table`` and ``TableMetadataValue``):
    ``TableRecord(**fields)`` takes keyword arguments only, with str, int, float, bool or
    None values; ``TableSchema`` takes a list of ``TableColumn`` and an optional
    ``TableConstraints``; ``TableConstraints.other`` is a list of str; a column's
    constraints are ``TableColumnConstraints`` with strict bools; ``MetadataValue.table``
    takes a list of ``TableRecord`` that all have the same fields, needs a schema when
    there are none, and takes a ``TableSchema``. Each mistake is a check error in Dagster
    and an ``InvalidArgumentError`` (a ``TypeError``) in ophost."""
    with pytest.raises(InvalidArgumentError) as info:
        build()
    assert isinstance(info.value, TypeError)
    assert str(info.value).startswith(message)


def test_table_with_matching_schema_and_inferred_schema() -> None:
    """Valid tables build as in Dagster: a given schema is kept, a missing one is
    inferred from the first record (str -> "string", int -> "int")."""
    schema = TableSchema(columns=[TableColumn("name"), TableColumn("size", "int")])
    assert MetadataValue.table(RECORDS, schema=schema).schema is schema
    inferred = MetadataValue.table(RECORDS).schema
    assert [(col.name, col.type) for col in inferred.columns] == [
        ("name", "string"),
        ("size", "int"),
    ]
    assert TableRecord(**{"name": "a"}).data == {"name": "a"}  # noqa: PIE804
