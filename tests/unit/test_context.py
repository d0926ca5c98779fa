"""The execution context and ``build_op_context``: Dagster 0.14's members, and those left out."""

import logging
from collections.abc import Callable

import pytest

from ophost import (
    AssetMaterialization,
    AssetObservation,
    ExpectationResult,
    Field,
    InvalidArgumentError,
    InvalidInvocationError,
    InvariantViolationError,
    MetadataEntry,
    OpDefinition,
    OpExecutionContext,
    Out,
    Output,
    RetryPolicy,
    TypeCheck,
    build_op_context,
    execute_in_process,
    op,
)
from ophost.errors import OpHostError
from ophost.execution import ExecutionResult, LogLevel, LogMessage, OutputProduced

Call = Callable[[], object]


async def _no_sleep(_seconds: float) -> None:
    return None


def _run(op_def: OpDefinition, **kwargs: object) -> ExecutionResult:
    kwargs.setdefault("sleep", _no_sleep)
    return execute_in_process(op_def, **kwargs)  # type: ignore[arg-type]


def _raises(exc_type: type[BaseException], message: str, call: Call) -> BaseException:
    with pytest.raises(exc_type) as info:
        call()
    assert str(info.value) == message
    return info.value


def _logs(result: ExecutionResult) -> list[tuple[LogLevel, str, str]]:
    return [
        (e.body.level, e.body.message, e.body.logger_name)
        for e in result.events
        if isinstance(e.body, LogMessage)
    ]


# -- context.log --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "level"),
    [
        pytest.param("debug", LogLevel.DEBUG, id="debug"),
        pytest.param("info", LogLevel.INFO, id="info"),
        pytest.param("warning", LogLevel.WARNING, id="warning"),
        pytest.param("warn", LogLevel.WARNING, id="warn"),
        pytest.param("error", LogLevel.ERROR, id="error"),
        pytest.param("critical", LogLevel.CRITICAL, id="critical"),
        pytest.param("exception", LogLevel.ERROR, id="exception-outside-except"),
    ],
)
def test_log_methods_produce_log_events(method: str, level: LogLevel) -> None:
    @op
    def logs(context):  # type: ignore[no-untyped-def]
        getattr(context.log, method)("value is %s", 42)

    assert _logs(_run(logs)) == [(level, "value is 42", "ophost.op.logs")]


@pytest.mark.parametrize(
    ("method", "level"),
    [
        pytest.param("debug", logging.DEBUG, id="debug"),
        pytest.param("info", logging.INFO, id="info"),
        pytest.param("warning", logging.WARNING, id="warning"),
        pytest.param("warn", logging.WARNING, id="warn"),
        pytest.param("error", logging.ERROR, id="error"),
        pytest.param("critical", logging.CRITICAL, id="critical"),
        pytest.param("exception", logging.ERROR, id="exception-outside-except"),
    ],
)
def test_log_methods_directly_go_to_python_logging(
    method: str, level: int, caplog: pytest.LogCaptureFixture
) -> None:
    @op
    def logs(context):  # type: ignore[no-untyped-def]
        getattr(context.log, method)("value is %s", 42)

    with caplog.at_level(logging.DEBUG, logger="ophost"):
        logs(None)
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("ophost.op.logs", level, "value is 42")
    ]


def test_log_exception_appends_the_traceback() -> None:
    @op
    def logs(context):  # type: ignore[no-untyped-def]
        try:
            raise ValueError("boom")
        except ValueError:
            context.log.exception("caught")

    ((level, message, _name),) = _logs(_run(logs))
    assert level is LogLevel.ERROR
    first, *rest = message.split("\n")
    assert first == "caught"
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "ValueError: boom"


def test_log_events_keep_their_order_among_outputs() -> None:
    @op(out={"a": Out(), "b": Out()})
    def logs(context):  # type: ignore[no-untyped-def]
        context.log.info("before a")
        yield Output(1, "a")
        context.log.info("before b")
        yield Output(2, "b")

    kinds = [
        e.body.message if isinstance(e.body, LogMessage) else e.body.output_name
        for e in _run(logs).events
        if isinstance(e.body, (LogMessage, OutputProduced))
    ]
    assert kinds == ["before a", "a", "before b", "b"]


# -- op_config / solid_config -------------------------------------------------------------


@op
def config_reader(context):  # type: ignore[no-untyped-def]
    return (context.op_config, context.solid_config)


@op(config_schema={"a": int, "b": Field(str, default_value="d")})
def shaped_config(context):  # type: ignore[no-untyped-def]
    return (context.op_config, context.solid_config)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        pytest.param(lambda: _run(config_reader).output_value(), (None, None), id="run-none"),
        pytest.param(
            lambda: _run(config_reader, config={"x": 1}).output_value(),
            ({"x": 1}, {"x": 1}),
            id="run-any",
        ),
        pytest.param(
            lambda: _run(shaped_config, config={"a": 1}).output_value(),
            ({"a": 1, "b": "d"}, {"a": 1, "b": "d"}),
            id="run-defaults",
        ),
        pytest.param(lambda: config_reader(None), (None, None), id="direct-none"),
        pytest.param(
            lambda: config_reader(build_op_context(op_config=5)), (5, 5), id="direct-given"
        ),
        pytest.param(
            lambda: shaped_config(build_op_context(op_config={"a": 2})),
            ({"a": 2, "b": "d"}, {"a": 2, "b": "d"}),
            id="direct-defaults",
        ),
    ],
)
def test_op_config(call: Call, expected: object) -> None:
    assert call() == expected


# -- resources ----------------------------------------------------------------------------


@op(required_resource_keys={"db", "cache"})
def uses_resources(context):  # type: ignore[no-untyped-def]
    return (context.resources.db, context.resources.cache, context.resources._asdict())


@op(required_resource_keys={"db"})
def undeclared_resource(context):  # type: ignore[no-untyped-def]
    return context.resources.cache


@op(required_resource_keys={"db"})
def writes_resource(context):  # type: ignore[no-untyped-def]
    context.resources.db = 1


def test_resources_one_attribute_per_required_key() -> None:
    given = {"db": "conn", "cache": {}, "unused": 1}
    expected: tuple[object, ...] = ("conn", {}, {"db": "conn", "cache": {}})
    assert _run(uses_resources, resources=given).output_value() == expected
    assert uses_resources(build_op_context(resources=given)) == expected


_UNDECLARED = (
    'resource "cache" is not available to op "undeclared_resource": declare it in '
    "required_resource_keys (available: db)"
)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            lambda: undeclared_resource(build_op_context(resources={"db": 1, "cache": 2})),
            id="direct",
        ),
        pytest.param(lambda: _run(undeclared_resource, resources={"db": 1, "cache": 2}), id="run"),
    ],
)
def test_undeclared_resource_is_a_clear_error(call: Call) -> None:
    exc = _raises(InvariantViolationError, _UNDECLARED, call)
    assert isinstance(exc, AttributeError)  # hasattr() keeps working


def test_resources_are_read_only() -> None:
    _raises(
        InvariantViolationError,
        "context.resources is read-only",
        lambda: writes_resource(build_op_context(resources={"db": 0})),
    )


def test_missing_resource_in_a_run() -> None:
    _raises(
        InvalidInvocationError,
        'op "uses_resources" requires resource(s) cache, which were not provided',
        lambda: _run(uses_resources, resources={"db": 1}),
    )


# -- identity: run_id, op_def, op ---------------------------------------------------------


@op(tags={"team": "data", "n": 1})
def identity(context):  # type: ignore[no-untyped-def]
    return (
        context.run_id,
        context.op_def,
        context.solid_def,
        context.op.name,
        context.op.tags,
        context.solid.name,
    )


def test_identity_in_a_run() -> None:
    result = _run(identity, run_id="run-123")
    assert result.output_value() == (
        "run-123",
        identity,
        identity,
        "identity",
        {"team": "data", "n": "1"},
        "identity",
    )


def test_identity_in_a_run_without_run_id_uses_the_generated_one() -> None:
    result = _run(identity)
    run_id = result.output_value()[0]  # type: ignore[index]
    assert run_id == result.run_id
    assert len(run_id) == 32


def test_identity_directly() -> None:
    assert identity(None) == (
        "EPHEMERAL",
        identity,
        identity,
        "identity",
        {"team": "data", "n": "1"},
        "identity",
    )


def test_identity_of_a_configured_op() -> None:
    renamed = identity.configured({}, "renamed")
    run_id, op_def, solid_def, name, tags, solid_name = renamed(None)
    assert (run_id, op_def, solid_def, name, tags, solid_name) == (
        "EPHEMERAL",
        renamed,
        renamed,
        "renamed",
        {"team": "data", "n": "1"},
        "renamed",
    )


# -- retry_number -------------------------------------------------------------------------


def test_retry_number_counts_attempts() -> None:
    seen: list[int] = []

    @op(retry_policy=RetryPolicy(max_retries=3))
    def flaky(context):  # type: ignore[no-untyped-def]
        seen.append(context.retry_number)
        if context.retry_number < 2:
            raise ValueError("again")
        return context.retry_number

    result = _run(flaky)
    assert seen == [0, 1, 2]
    assert result.output_value() == 2


@op
def retry_reader(context):  # type: ignore[no-untyped-def]
    return context.retry_number


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: retry_reader(None), id="direct-none"),
        pytest.param(lambda: retry_reader(build_op_context()), id="direct-context"),
        pytest.param(lambda: _run(retry_reader).output_value(), id="run-first-attempt"),
        pytest.param(lambda: build_op_context().retry_number, id="unbound-context"),
    ],
)
def test_retry_number_is_zero_on_the_first_attempt(call: Call) -> None:
    assert call() == 0


# -- tags ---------------------------------------------------------------------------------


@op(tags={"op_tag": "x"})
def tag_reader(context):  # type: ignore[no-untyped-def]
    return {key: (context.has_tag(key), context.get_tag(key)) for key in ("team", "op_tag", "none")}


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        pytest.param(
            lambda: _run(tag_reader, tags={"team": "data"}).output_value(),
            {"team": (True, "data"), "op_tag": (False, None), "none": (False, None)},
            id="run-tags",
        ),
        pytest.param(
            lambda: _run(tag_reader).output_value(),
            {"team": (False, None), "op_tag": (False, None), "none": (False, None)},
            id="run-no-tags",
        ),
        pytest.param(
            lambda: tag_reader(build_op_context(tags={"team": "t"})),
            {"team": (True, "t"), "op_tag": (False, None), "none": (False, None)},
            id="direct-tags",
        ),
        pytest.param(
            lambda: tag_reader(None),
            {"team": (False, None), "op_tag": (False, None), "none": (False, None)},
            id="direct-no-tags",
        ),
    ],
)
def test_has_tag_and_get_tag_read_execution_tags(call: Call, expected: object) -> None:
    assert call() == expected


# -- log_event ----------------------------------------------------------------------------


@op
def event_logger(context, event):  # type: ignore[no-untyped-def]
    context.log_event(event)
    return 1


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(AssetMaterialization("table", description="d"), id="materialization"),
        pytest.param(
            AssetObservation("table", metadata={"rows": 2}, partition="p"), id="observation"
        ),
        pytest.param(ExpectationResult(True, label="ok"), id="expectation"),
    ],
)
def test_log_event_records_events(event: object) -> None:
    result = _run(event_logger, inputs={"event": event})
    bodies = [
        e.body
        for e in result.events
        if isinstance(e.body, (AssetMaterialization, AssetObservation, ExpectationResult))
    ]
    assert bodies == [event]
    order = [type(e.body).__name__ for e in result.events]
    assert order.index(type(event).__name__) < order.index("OutputProduced")

    context = build_op_context()
    assert event_logger(context, event) == 1
    assert context.get_events() == [event]


@pytest.mark.parametrize(
    ("event", "type_name"),
    [
        pytest.param(Output(1), "Output", id="output"),
        pytest.param(TypeCheck(True), "TypeCheck", id="type-check"),
        pytest.param("text", "str", id="str"),
        pytest.param(None, "NoneType", id="none"),
        pytest.param(MetadataEntry("a", value=1), "MetadataEntry", id="metadata-entry"),
    ],
)
def test_log_event_rejects_other_objects(event: object, type_name: str) -> None:
    exc = _raises(
        InvalidArgumentError,
        "context.log_event accepts an AssetMaterialization, an AssetObservation or an "
        f"ExpectationResult, got {type_name}",
        lambda: event_logger(None, event),
    )
    assert isinstance(exc, OpHostError)


# -- add_output_metadata / get_output_metadata --------------------------------------------


def test_add_output_metadata_reaches_the_output() -> None:
    @op
    def single(context):  # type: ignore[no-untyped-def]
        context.add_output_metadata({"rows": 3})
        return 1

    (produced,) = _run(single).output_events()
    assert produced.metadata_entries == (MetadataEntry("rows", value=3),)


def test_add_output_metadata_is_not_duplicated_on_tuple_returns() -> None:
    @op(out={"a": Out(), "b": Out()})
    def pair(context):  # type: ignore[no-untyped-def]
        context.add_output_metadata({"x": "1"}, output_name="a")
        context.add_output_metadata({"y": 2.5}, output_name="b")
        return (1, 2)

    produced = _run(pair).output_events()
    assert [(p.output_name, p.metadata_entries) for p in produced] == [
        ("a", (MetadataEntry("x", value="1"),)),
        ("b", (MetadataEntry("y", value=2.5),)),
    ]


def test_add_output_metadata_after_output_metadata() -> None:
    @op
    def both(context):  # type: ignore[no-untyped-def]
        context.add_output_metadata({"added": 1})
        return Output(1, metadata={"own": 2})

    (produced,) = _run(both).output_events()
    assert produced.metadata_entries == (
        MetadataEntry("own", value=2),
        MetadataEntry("added", value=1),
    )


@op(out={"a": Out(), "b": Out()})
def meta_two(context, steps):  # type: ignore[no-untyped-def]
    for kind, payload in steps:
        if kind == "yield":
            yield Output(1, payload)
        else:
            context.add_output_metadata(*payload)


@op
def meta_one(context, args, kwargs):  # type: ignore[no-untyped-def]
    context.add_output_metadata(*args, **kwargs)
    return 1


@op(out={})
def meta_none(context):  # type: ignore[no-untyped-def]
    context.add_output_metadata({"x": 1})


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        pytest.param(
            lambda: list(meta_two(None, [("add", ({"x": 1},))])),
            InvariantViolationError,
            'op "meta_two" has 2 outputs; add_output_metadata needs output_name to say which one',
            id="no-name-several-outputs",
        ),
        pytest.param(
            lambda: list(meta_two(None, [("yield", "a"), ("add", ({"x": 1}, "a"))])),
            InvariantViolationError,
            'op "meta_two": output "a" has already been emitted; add its metadata before '
            "yielding or returning it",
            id="already-emitted",
        ),
        pytest.param(
            lambda: list(meta_two(None, [("add", ({"x": 1}, "a")), ("add", ({"y": 2}, "a"))])),
            InvariantViolationError,
            'op "meta_two": add_output_metadata was already called for output "a"',
            id="called-twice",
        ),
        pytest.param(
            lambda: meta_one(None, ({"x": 1},), {"output_name": "other"}),
            InvariantViolationError,
            'op "meta_one" has no output "other" (outputs: result)',
            id="unknown-output",
        ),
        pytest.param(
            lambda: meta_one(None, ({"x": 1},), {"mapping_key": "k"}),
            InvariantViolationError,
            'op "meta_one": output "result" is not dynamic, so add_output_metadata takes no '
            "mapping_key",
            id="mapping-key-on-non-dynamic",
        ),
        pytest.param(
            lambda: meta_none(None),
            InvariantViolationError,
            'op "meta_none" has no outputs, so there is no output to add metadata to',
            id="zero-outputs",
        ),
        pytest.param(
            lambda: meta_one(None, ({"x": 1},), {"output_name": 3}),
            InvalidArgumentError,
            "context.add_output_metadata: output_name must be a str or None, got int",
            id="output-name-not-str",
        ),
        pytest.param(
            lambda: meta_one(None, (5,), {}),
            InvalidArgumentError,
            '"metadata" must be a mapping of str to value or None, got int',
            id="metadata-not-a-dict",
        ),
        pytest.param(
            lambda: meta_one(None, ({1: 2},), {}),
            InvalidArgumentError,
            'the keys of "metadata" must be str, got int',
            id="metadata-key-not-str",
        ),
    ],
)
def test_add_output_metadata_errors(call: Call, error: type[Exception], message: str) -> None:
    _raises(error, message, call)


def test_add_output_metadata_error_fails_a_run() -> None:
    @op
    def late(context):  # type: ignore[no-untyped-def]
        yield Output(1)
        context.add_output_metadata({"x": 1})

    _raises(
        InvariantViolationError,
        'op "late": output "result" has already been emitted; add its metadata before '
        "yielding or returning it",
        lambda: _run(late),
    )


def test_get_output_metadata() -> None:
    seen: list[object] = []

    @op(out={"a": Out(), "b": Out()})
    def reader(context):  # type: ignore[no-untyped-def]
        seen.append(context.get_output_metadata("a"))
        context.add_output_metadata({"n": 1, "s": "x"}, output_name="a")
        seen.append(context.get_output_metadata("a"))
        seen.append(context.get_output_metadata("b"))
        seen.append(context.get_output_metadata("missing"))
        return (1, 2)

    context = build_op_context()
    assert reader(context) == (1, 2)
    assert seen == [None, {"n": 1, "s": "x"}, None, None]
    assert context.get_output_metadata("a") == {"n": 1, "s": "x"}
    assert context.get_output_metadata("b") is None
    assert build_op_context().get_output_metadata("a") is None


# -- members ophost does not provide -------------------------------------------------------

_UNSUPPORTED = [
    "instance",
    "file_manager",
    "step_launcher",
    "pdb",
    "run",
    "pipeline_run",
    "job_name",
    "pipeline_name",
    "job_def",
    "pipeline_def",
    "mode_def",
    "op_handle",
    "solid_handle",
    "partition_time_window",
    "selected_asset_keys",
    "selected_output_names",
    "asset_key_for_output",
    "output_asset_partition_key",
    "output_asset_partitions_time_window",
]


@op
def member_reader(context, name):  # type: ignore[no-untyped-def]
    return getattr(context, name)


@pytest.mark.parametrize("name", _UNSUPPORTED)
@pytest.mark.parametrize(
    "where",
    [
        pytest.param(lambda name: member_reader(None, name), id="direct"),
        pytest.param(lambda name: _run(member_reader, inputs={"name": name}), id="run"),
        pytest.param(lambda name: getattr(build_op_context(), name), id="unbound"),
    ],
)
def test_unsupported_members_raise_a_clear_error(name: str, where: Callable[[str], object]) -> None:
    exc = _raises(
        InvariantViolationError,
        f"context.{name} is not available in ophost: ophost runs single ops, without a "
        "Dagster job, instance or partitions definition",
        lambda: where(name),
    )
    assert isinstance(exc, AttributeError)


def test_unknown_member_is_an_ophost_error_and_hasattr_still_works() -> None:
    @op
    def probe(context):  # type: ignore[no-untyped-def]
        return hasattr(context, "instance"), hasattr(context, "no_such_member")

    assert probe(None) == (False, False)
    _raises(
        InvariantViolationError,
        "the op context (OpExecutionContext) has no member 'no_such_member'",
        lambda: member_reader(None, "no_such_member"),
    )


@pytest.mark.parametrize(
    "name",
    [
        "op_def",
        "solid_def",
        "op",
        "solid",
        "has_tag",
        "get_tag",
        "log_event",
        "add_output_metadata",
    ],
)
def test_unbound_context_members_that_need_an_op(name: str) -> None:
    _raises(
        InvariantViolationError,
        f"context.{name} is not set on a context built by build_op_context until it is "
        "passed to an op; use it inside the op body",
        lambda: getattr(build_op_context(), name),
    )


def test_unbound_context_members() -> None:
    context = build_op_context(op_config={"a": 1}, resources={"db": 2}, partition_key="p")
    assert context.op_config == {"a": 1}
    assert context.solid_config == {"a": 1}
    assert context.resources.db == 2
    assert context.run_id == "EPHEMERAL"
    assert context.retry_number == 0
    assert context.has_partition_key is True
    assert context.get_mapping_key() is None
    assert context.get_events() == []


def test_partition_key() -> None:
    @op
    def partitioned(context):  # type: ignore[no-untyped-def]
        return context.has_partition_key, context.partition_key

    assert partitioned(build_op_context(partition_key="2024-01-01")) == (True, "2024-01-01")
    _raises(
        InvariantViolationError,
        'op "member_reader" is not running for a partition: there is no partition_key',
        lambda: member_reader(None, "partition_key"),
    )


# -- build_op_context ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        pytest.param(
            {"op_config": {"a": 1}, "config": {"a": 1}},
            InvalidInvocationError,
            "build_op_context: give op_config or config (its older name), not both",
            id="op_config-and-config",
        ),
        pytest.param(
            {"op_config": None, "config": {}},
            InvalidInvocationError,
            "build_op_context: give op_config or config (its older name), not both",
            id="op_config-none-and-config",
        ),
        pytest.param(
            {"resources_config": {"db": {}}},
            InvalidInvocationError,
            "build_op_context: resources_config is not supported: ophost resources are plain "
            "objects, pass them configured in resources=",
            id="resources_config",
        ),
        pytest.param(
            {"instance": object()},
            InvalidInvocationError,
            "build_op_context: instance is not supported: ophost has no Dagster instance",
            id="instance",
        ),
        pytest.param(
            {"mapping_key": "k"},
            InvalidInvocationError,
            "build_op_context: mapping_key is not supported: ophost has no dynamic outputs",
            id="mapping_key",
        ),
        pytest.param(
            {"resources": ["db"]},
            InvalidArgumentError,
            "build_op_context: resources must be a dict, got list",
            id="resources-list",
        ),
        pytest.param(
            {"resources": {1: "db"}},
            InvalidArgumentError,
            "build_op_context: resource keys must be str, got int",
            id="resources-key",
        ),
        pytest.param(
            {"partition_key": 1},
            InvalidArgumentError,
            "build_op_context: partition_key must be a str",
            id="partition_key",
        ),
        pytest.param(
            {"tags": 5},
            InvalidArgumentError,
            "build_op_context: tags must be a dict of str to str, got int",
            id="tags-not-dict",
        ),
        pytest.param(
            {"tags": {"a": 1}},
            InvalidArgumentError,
            "build_op_context: tags must be a dict of str to str, got str -> int",
            id="tags-value",
        ),
    ],
)
def test_build_op_context_errors(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    _raises(error, message, lambda: build_op_context(**kwargs))  # type: ignore[arg-type]


def test_build_op_context_as_a_context_manager() -> None:
    with build_op_context(op_config=3, resources={"db": "c"}) as context:
        assert config_reader(context) == (3, 3)
        assert context.resources.db == "c"


def test_build_op_context_legacy_config_name() -> None:
    assert config_reader(build_op_context(config=4)) == (4, 4)


def test_bound_context_type() -> None:
    seen: list[object] = []

    @op
    def grab(context):  # type: ignore[no-untyped-def]
        seen.append(context)

    context = build_op_context()
    grab(context)
    assert isinstance(seen[0], OpExecutionContext)
    assert seen[0] is not context  # type: ignore[comparison-overlap]


# -- bad arguments to context methods raise ophost errors ----------------------------------


@op
def calls_context(context, fn):  # type: ignore[no-untyped-def]
    return fn(context)


@pytest.mark.parametrize(
    ("use", "message"),
    [
        pytest.param(
            lambda c: c.has_tag(["x"]), "context.has_tag: key must be a str, got list", id="has_tag"
        ),
        pytest.param(
            lambda c: c.get_tag({}), "context.get_tag: key must be a str, got dict", id="get_tag"
        ),
        pytest.param(
            lambda c: c.get_output_metadata(["x"]),
            "context.get_output_metadata: output_name must be a str, got list",
            id="get_output_metadata",
        ),
        pytest.param(
            lambda c: c.log.log("LOUD", "m"),
            "context.log.log: level must be a logging level number or one of DEBUG, INFO, "
            "WARNING, WARN, ERROR, CRITICAL, got 'LOUD'",
            id="log-level-name",
        ),
        pytest.param(
            lambda c: c.log.log(None, "m"),
            "context.log.log: level must be a logging level number or one of DEBUG, INFO, "
            "WARNING, WARN, ERROR, CRITICAL, got None",
            id="log-level-none",
        ),
    ],
)
def test_bad_arguments_to_context_methods(use: Callable[[object], object], message: str) -> None:
    exc = _raises(InvalidArgumentError, message, lambda: calls_context(None, use))
    assert isinstance(exc, TypeError)  # InvalidArgumentError stays a TypeError
    _raises(InvalidArgumentError, message, lambda: _run(calls_context, inputs={"fn": use}))


def test_unbound_get_output_metadata_checks_its_argument() -> None:
    _raises(
        InvalidArgumentError,
        "context.get_output_metadata: output_name must be a str, got int",
        lambda: build_op_context().get_output_metadata(1),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        pytest.param("info", LogLevel.INFO, id="name-lower"),
        pytest.param("WARN", LogLevel.WARNING, id="warn-name"),
        pytest.param(logging.ERROR, LogLevel.ERROR, id="number"),
        pytest.param(15, LogLevel.DEBUG, id="between-levels"),
    ],
)
def test_log_log_accepts_level_numbers_and_names(level: object, expected: LogLevel) -> None:
    @op
    def logs(context):  # type: ignore[no-untyped-def]
        context.log.log(level, "m")

    assert _logs(_run(logs)) == [(expected, "m", "ophost.op.logs")]
