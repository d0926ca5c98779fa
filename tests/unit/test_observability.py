"""The observation seam without a server: the engine's attempt hook, log fields and formats,
missing extras, and the options ``ophost serve --workers`` hands each worker."""

from __future__ import annotations

import contextlib
import contextvars
import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from ophost import RetryPolicy, op
from ophost.cli import build_parser, main
from ophost.cli._settings import resolve, worker_flags
from ophost.execution import OpRun, ThreadExecutor, prepare_execution
from ophost.server._logs import (
    LOG_FORMAT_ENV,
    LOG_LEVEL_ENV,
    ExecutionFieldsFilter,
    JsonFormatter,
    LogObserver,
    TextFormatter,
    configure_from_environment,
    configure_logging,
    execution_context,
    execution_fields,
)
from ophost.server._observe import MissingExtraError, combine, require
from ophost.server._workers import _worker_command

_CURRENT_ATTEMPT: contextvars.ContextVar[str] = contextvars.ContextVar("attempt", default="")
_tries: dict[str, int] = {}


@op(retry_policy=RetryPolicy(max_retries=1))
def sees_the_attempt(context, key: str) -> str:  # type: ignore[no-untyped-def]
    _tries[key] = _tries.get(key, 0) + 1
    if _tries[key] == 1:
        raise ConnectionError("again")
    return _CURRENT_ATTEMPT.get()


@op
async def sees_it_too() -> str:
    return _CURRENT_ATTEMPT.get()


class _Observer:
    def __init__(self) -> None:
        self.entered: list[int] = []

    @contextlib.contextmanager
    def attempt(self, attempt: int) -> Iterator[object]:
        self.entered.append(attempt)
        token = _CURRENT_ATTEMPT.set(f"attempt {attempt}")
        try:
            yield None
        finally:
            _CURRENT_ATTEMPT.reset(token)


@pytest.mark.parametrize(
    ("definition", "attempts"), [(sees_the_attempt, [0, 1]), (sees_it_too, [0])]
)
async def test_the_engine_starts_each_attempt_in_what_its_observer_made_current(
    definition: object, attempts: list[int]
) -> None:
    observer = _Observer()
    inputs = {"key": f"k-{id(observer)}"} if attempts == [0, 1] else {}
    run = OpRun(
        prepare_execution(definition, inputs, None, None),  # type: ignore[arg-type]
        executor=ThreadExecutor(),
        observer=observer,
    )
    async for _ in run.events():
        pass
    assert observer.entered == attempts
    # The body (in a worker thread, or a task on the loop) saw the value the hook set,
    # though the hook had reset it by the time the body ran.
    assert run.outputs == {"result": f"attempt {attempts[-1]}"}
    assert _CURRENT_ATTEMPT.get() == ""


def test_a_missing_extra_names_what_to_install() -> None:
    with pytest.raises(MissingExtraError) as info:
        require("ophost_no_such_module", "metrics", "metrics (--metrics-port)")
    message = str(info.value)
    assert message.startswith("metrics (--metrics-port) needs the module 'ophost_no_such_module'")
    assert message.endswith("install it with: pip install 'ophost[metrics]'")
    assert require("json", "x", "y") is json


class _Recording:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    def execution(self, execution_id: str, op_name: str) -> _Recording:
        self.log.append(f"{self.name} execution {execution_id} {op_name}")
        return self

    def streamed(self, method: str, events: int, size: int) -> None:
        self.log.append(f"{self.name} streamed {method} {events} {size}")

    @contextlib.contextmanager
    def attempt(self, attempt: int) -> Iterator[object]:
        self.log.append(f"{self.name} attempt {attempt}")
        yield None
        self.log.append(f"{self.name} attempt {attempt} started")

    def events(self, batch: object) -> None:
        self.log.append(f"{self.name} events")

    def close(self) -> None:
        self.log.append(f"{self.name} close")


def test_combine_tells_each_observer_in_turn() -> None:
    log: list[str] = []
    first, second = _Recording("a", log), _Recording("b", log)
    assert combine([first]) is first
    both = combine([first, second])
    watch = both.execution("e1", "add")
    with watch.attempt(2):
        log.append("executor starts")
    watch.events([])
    watch.close()
    both.streamed("Execute", 3, 120)
    assert log == [
        "a execution e1 add",
        "b execution e1 add",
        "a attempt 2",
        "b attempt 2",
        "executor starts",
        "b attempt 2 started",
        "a attempt 2 started",
        "a events",
        "b events",
        "a close",
        "b close",
        "a streamed Execute 3 120",
        "b streamed Execute 3 120",
    ]


# -- log lines ----------------------------------------------------------------------------


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.getLogger("ophost.test").makeRecord(
        "ophost.test", logging.WARNING, __file__, 1, message, (), None, extra=extra
    )
    record.created = 1_700_000_000.25
    return record


def test_json_lines_carry_the_fields_and_the_exception() -> None:
    record = _record("went wrong", **execution_fields("abc", "add", 2))
    try:
        raise KeyError("k")
    except KeyError:
        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["time"] == "2023-11-14T22:13:20.250Z"
    assert line["level"] == "WARNING"
    assert (line["logger"], line["message"]) == ("ophost.test", "went wrong")
    assert (line["execution_id"], line["op"], line["attempt"]) == ("abc", "add", 2)
    assert "KeyError: 'k'" in line["exception"]
    assert "op_logger" not in line
    assert "trace_id" not in line


def test_text_lines_put_the_fields_before_the_message() -> None:
    record = _record("hello", **execution_fields("abc", "add", 0))
    assert TextFormatter().format(record) == (
        "2023-11-14T22:13:20.250Z WARNING ophost.test [execution=abc op=add attempt=0] hello"
    )
    assert TextFormatter().format(_record("bare")) == (
        "2023-11-14T22:13:20.250Z WARNING ophost.test bare"
    )


def test_the_filter_adds_the_current_executions_fields() -> None:
    filter_ = ExecutionFieldsFilter()

    def inside() -> logging.LogRecord:
        LogObserver().execution("e7", "scaled")
        record = _record("in")
        assert filter_.filter(record)
        return record

    record = contextvars.copy_context().run(inside)
    assert (record.execution_id, record.op_name, record.attempt) == ("e7", "scaled", 0)  # type: ignore[attr-defined]
    outside = _record("out")
    assert filter_.filter(outside)
    assert not hasattr(outside, "execution_id")
    # A record that names its execution keeps it.
    own = _record("own", **execution_fields("mine", "add", 3))

    def named() -> None:
        LogObserver().execution("other", "other")
        filter_.filter(own)

    contextvars.copy_context().run(named)
    assert own.execution_id == "mine"  # type: ignore[attr-defined]


def test_configure_logging_checks_its_options_and_quiets_grpc() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("grpc").level)
    try:
        with pytest.raises(ValueError, match="log format"):
            configure_logging("xml", "info")
        with pytest.raises(ValueError, match="log level"):
            configure_logging("json", "loud")
        stream = io.StringIO()
        configure_logging("json", "debug", stream)
        assert root.level == logging.DEBUG
        assert logging.getLogger("grpc").getEffectiveLevel() == logging.INFO
        logging.getLogger("ophost.test").debug("shown")
        assert json.loads(stream.getvalue())["message"] == "shown"
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("grpc").setLevel(saved[2])


# -- ophost serve's options ------------------------------------------------------------------


def _serve_args(*extra: str) -> object:
    return build_parser().parse_args(["serve", "-f", "ops.py", *extra])


def _worker_commands(*extra: str, workers: int) -> list[list[str]]:
    """The command lines of the worker processes of ``serve -f ops.py *extra``."""
    args = build_parser().parse_args(["serve", "-f", "ops.py", *extra])
    settings, problems = resolve(vars(args), {}, None)
    assert problems == []
    for name, setting in settings.values.items():
        setattr(args, name, setting.value)
    flags = worker_flags(settings)
    return [_worker_command(args, flags, "sqlite:///x.db", 50051, n) for n in range(1, workers + 1)]


def _after(command: list[str], flag: str) -> str | None:
    return command[command.index(flag) + 1] if flag in command else None


def test_each_worker_gets_a_metrics_port_of_its_own() -> None:
    commands = _worker_commands("--workers", "3", "--metrics-port", "9400", "--tracing", workers=3)
    assert [_after(c, "--metrics-port") for c in commands] == ["9400", "9401", "9402"]
    assert all("--tracing" in c for c in commands)
    assert all(_after(c, "--log-level") == "warning" for c in commands)
    picked = _worker_commands(
        "--workers", "2", "--metrics-port", "0", "--log-format", "json", workers=2
    )
    assert _after(picked[1], "--metrics-port") == "0"
    assert _after(picked[1], "--log-format") == "json"
    plain = _worker_commands("--workers", "2", workers=2)[1]
    assert "--metrics-port" not in plain
    assert "--tracing" not in plain


def test_worker_metrics_ports_must_fit(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "serve",
            "-f",
            "ops.py",
            "--workers",
            "4",
            "--metrics-port",
            "65534",
            "--store",
            "sqlite:///x",
        ]
    )
    assert code == 2
    assert "leaves no port for worker 4" in capsys.readouterr().err


def test_the_log_options_are_checked_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    assert _serve_args("--log-level", "INFO").log_level == "info"  # type: ignore[attr-defined]
    with pytest.raises(SystemExit):
        _serve_args("--log-format", "xml")
    assert "invalid choice: 'xml'" in capsys.readouterr().err


def test_a_worker_process_logs_as_the_host_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LOG_FORMAT_ENV, raising=False)
    monkeypatch.delenv(LOG_LEVEL_ENV, raising=False)
    assert not configure_from_environment()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("grpc").level)
    try:
        monkeypatch.setenv(LOG_FORMAT_ENV, "json")
        monkeypatch.setenv(LOG_LEVEL_ENV, "info")
        assert configure_from_environment()
        assert root.level == logging.INFO
        [handler] = root.handlers
        assert isinstance(handler.formatter, JsonFormatter)
        # Each attempt a worker runs makes its fields current while it starts.
        with execution_context("e9", "add", 2):
            record = _record("in the body")
            assert handler.filter(record)
        assert (record.execution_id, record.op_name, record.attempt) == ("e9", "add", 2)  # type: ignore[attr-defined]
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("grpc").setLevel(saved[2])
