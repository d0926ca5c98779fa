"""The ``context`` an op body receives, and ``build_op_context`` for direct calls."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING
from typing import Any as TypingAny

from ophost.definitions._metadata import MetadataEntry, normalize_metadata
from ophost.definitions._op_events import LOGGABLE_EVENTS, LoggableEvent
from ophost.errors import (
    ExecutionInterruptedError,
    InvalidArgumentError,
    InvalidInvocationError,
    InvariantViolationError,
)

if TYPE_CHECKING:
    from ophost.definitions._op import OpDefinition

__all__ = [
    "LogLevel",
    "OpExecutionContext",
    "OpLogger",
    "UnboundOpContext",
    "build_op_context",
    "python_log",
]

LogLevel = int
LogSink = Callable[[int, str, str], None]
EventSink = Callable[[LoggableEvent], None]

# Members of Dagster's context that make sense only inside a job or a Dagster instance.
_UNSUPPORTED = frozenset(
    {
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
    }
)


class ContextAttributeError(InvariantViolationError, AttributeError):
    """A context member that ophost does not provide was accessed."""


class OpLogger:
    """``context.log``: a logger whose records become log events of the execution."""

    def __init__(self, sink: LogSink, name: str) -> None:
        self._sink = sink
        self.name = name

    def _emit(self, level: int, msg: object, args: tuple[object, ...], exc: bool) -> None:
        text = str(msg)
        if args:
            try:
                text = text % args
            except (TypeError, ValueError):
                text = " ".join([text, *(str(a) for a in args)])
        if exc and sys.exc_info()[0] is not None:
            text = f"{text}\n{traceback.format_exc().rstrip()}"
        self._sink(level, text, self.name)

    def debug(self, msg: object, *args: object, **_kwargs: object) -> None:
        self._emit(logging.DEBUG, msg, args, False)

    def info(self, msg: object, *args: object, **_kwargs: object) -> None:
        self._emit(logging.INFO, msg, args, False)

    def warning(self, msg: object, *args: object, **_kwargs: object) -> None:
        self._emit(logging.WARNING, msg, args, False)

    warn = warning

    def error(self, msg: object, *args: object, **kwargs: object) -> None:
        self._emit(logging.ERROR, msg, args, bool(kwargs.get("exc_info")))

    def critical(self, msg: object, *args: object, **kwargs: object) -> None:
        self._emit(logging.CRITICAL, msg, args, bool(kwargs.get("exc_info")))

    def exception(self, msg: object, *args: object, **_kwargs: object) -> None:
        self._emit(logging.ERROR, msg, args, True)

    def log(self, level: int | str, msg: object, *args: object, **_kwargs: object) -> None:
        """Log at ``level``: a ``logging`` level number or name (``"INFO"``)."""
        self._emit(_log_level(level), msg, args, False)


_LEVEL_NAMES = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}


def _log_level(level: object) -> int:
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    if isinstance(level, str) and level.upper() in _LEVEL_NAMES:
        return _LEVEL_NAMES[level.upper()]
    raise InvalidArgumentError(
        "context.log.log: level must be a logging level number or one of "
        f"{', '.join(_LEVEL_NAMES)}, got {level!r}"
    )


def _check_key(method: str, what: str, key: object) -> None:
    if not isinstance(key, str):
        raise InvalidArgumentError(
            f"context.{method}: {what} must be a str, got {type(key).__name__}"
        )


class Resources:
    """``context.resources``: one attribute per resource key the op requires."""

    def __init__(self, values: Mapping[str, object], op_name: str) -> None:
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "_op_name", op_name)

    def __getattr__(self, name: str) -> object:
        values: dict[str, object] = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        if name.startswith("__"):
            raise AttributeError(name)
        op_name = object.__getattribute__(self, "_op_name")
        available = ", ".join(sorted(values)) or "none"
        raise ContextAttributeError(
            f'resource "{name}" is not available to op "{op_name}": declare it in '
            f"required_resource_keys (available: {available})"
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise InvariantViolationError("context.resources is read-only")

    def _asdict(self) -> dict[str, object]:
        return dict(object.__getattribute__(self, "_values"))

    def __repr__(self) -> str:
        return f"Resources({sorted(object.__getattribute__(self, '_values'))})"


class _NodeHandle:
    """``context.op``: the name and tags of the op being run."""

    def __init__(self, name: str, tags: Mapping[str, str]) -> None:
        self.name = name
        self.tags = dict(tags)

    def __repr__(self) -> str:
        return f"<op {self.name!r}>"


class OpExecutionContext:
    """What an op body can reach through its ``context`` parameter."""

    def __init__(
        self,
        *,
        op_def: OpDefinition,
        op_config: object,
        resources: Mapping[str, object],
        run_id: str,
        run_tags: Mapping[str, str],
        retry_number: int,
        log_sink: LogSink,
        event_sink: EventSink,
        partition_key: str | None = None,
        cancel_check: Callable[[], bool] | None = None,
        run_config: Mapping[str, object] | None = None,
    ) -> None:
        self._cancel_check = cancel_check
        self._run_config = None if run_config is None else dict(run_config)
        self._op_def = op_def
        self._op_config = op_config
        self._resources = Resources(
            {k: v for k, v in resources.items() if k in op_def.required_resource_keys},
            op_def.name,
        )
        self._given_resources = dict(resources)
        self._run_id = run_id
        self._run_tags = dict(run_tags)
        self._retry_number = retry_number
        self._log = OpLogger(log_sink, f"ophost.op.{op_def.name}")
        self._event_sink = event_sink
        self._partition_key = partition_key
        self._output_metadata: dict[str, list[MetadataEntry]] = {}
        self._raw_output_metadata: dict[str, dict[str, object]] = {}
        self._emitted_outputs: set[str] = set()

    # -- identity --------------------------------------------------------------------------

    @property
    def log(self) -> OpLogger:
        return self._log

    @property
    def op_config(self) -> TypingAny:
        return self._op_config

    solid_config = op_config

    @property
    def resources(self) -> TypingAny:
        return self._resources

    def resources_for(self, keys: frozenset[str]) -> Resources:
        """The resources named by ``keys`` (those a type's check requires), as given to the run."""
        return Resources(
            {k: v for k, v in self._given_resources.items() if k in keys}, self._op_def.name
        )

    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def run_config(self) -> dict[str, object]:
        if self._run_config is not None:
            return dict(self._run_config)
        return {"ops": {self._op_def.name: {"config": self._op_config}}}

    @property
    def op_def(self) -> OpDefinition:
        return self._op_def

    solid_def = op_def

    @property
    def op(self) -> _NodeHandle:
        return _NodeHandle(self._op_def.name, self._op_def.tags)

    solid = op

    @property
    def retry_number(self) -> int:
        return self._retry_number

    # -- cancellation ----------------------------------------------------------------------

    @property
    def cancel_requested(self) -> bool:
        """Whether the execution was asked to stop; long-running sync ops should poll it."""
        return self._cancel_check() if self._cancel_check is not None else False

    def raise_if_cancel_requested(self) -> None:
        """Raise :class:`ExecutionInterruptedError` when the execution was asked to stop."""
        if self.cancel_requested:
            raise ExecutionInterruptedError(f"{self.describe_op()} was canceled")

    def describe_op(self) -> str:
        return f'op "{self._op_def.name}"'

    # -- tags and partitions ---------------------------------------------------------------

    @property
    def tags(self) -> dict[str, str]:
        """The execution's tags (given by the caller when it starts the execution)."""
        return dict(self._run_tags)

    def has_tag(self, key: str) -> bool:
        _check_key("has_tag", "key", key)
        return key in self._run_tags

    def get_tag(self, key: str) -> str | None:
        _check_key("get_tag", "key", key)
        return self._run_tags.get(key)

    @property
    def has_partition_key(self) -> bool:
        return self._partition_key is not None

    @property
    def partition_key(self) -> str:
        if self._partition_key is None:
            raise InvariantViolationError(
                f"{self.describe_op()} is not running for a partition: there is no partition_key"
            )
        return self._partition_key

    def get_mapping_key(self) -> str | None:
        return None

    # -- events and output metadata --------------------------------------------------------

    def log_event(self, event: LoggableEvent) -> None:
        """Record a materialization, observation or expectation result without yielding it."""
        if not isinstance(event, LOGGABLE_EVENTS):
            raise InvalidArgumentError(
                "context.log_event accepts an AssetMaterialization, an AssetObservation or an "
                "ExpectationResult, "
                f"got {type(event).__name__}"
            )
        self._event_sink(event)

    def add_output_metadata(
        self,
        metadata: Mapping[str, object],
        output_name: str | None = None,
        mapping_key: str | None = None,
    ) -> None:
        """Attach metadata to an output that has not been emitted yet."""
        outputs = [d.name for d in self._op_def.output_defs]
        if output_name is not None and not isinstance(output_name, str):
            raise InvalidArgumentError(
                "context.add_output_metadata: output_name must be a str or None, got "
                f"{type(output_name).__name__}"
            )
        if not outputs:
            raise InvariantViolationError(
                f"{self.describe_op()} has no outputs, so there is no output to add metadata to"
            )
        if output_name is None:
            if len(outputs) != 1:
                raise InvariantViolationError(
                    f"{self.describe_op()} has {len(outputs)} outputs; add_output_metadata "
                    "needs output_name to say which one"
                )
            output_name = outputs[0]
        if output_name not in outputs:
            raise InvariantViolationError(
                f'{self.describe_op()} has no output "{output_name}" '
                f"(outputs: {', '.join(outputs) or 'none'})"
            )
        if mapping_key is not None:
            raise InvariantViolationError(
                f'{self.describe_op()}: output "{output_name}" is not dynamic, so '
                "add_output_metadata takes no mapping_key"
            )
        if output_name in self._emitted_outputs:
            raise InvariantViolationError(
                f'{self.describe_op()}: output "{output_name}" has already been emitted; '
                "add its metadata before yielding or returning it"
            )
        if output_name in self._output_metadata:
            raise InvariantViolationError(
                f"{self.describe_op()}: add_output_metadata was already called for output "
                f'"{output_name}"'
            )
        self._output_metadata[output_name] = normalize_metadata(metadata, None)
        self._raw_output_metadata[output_name] = dict(metadata)

    def get_output_metadata(
        self, output_name: str, mapping_key: str | None = None
    ) -> dict[str, object] | None:
        """The metadata dict given to ``add_output_metadata`` for an output, or ``None``."""
        _check_key("get_output_metadata", "output_name", output_name)
        raw = self._raw_output_metadata.get(output_name)
        return None if raw is None else dict(raw)

    def mark_emitted(self, output_name: str) -> None:
        """Count an output as emitted as soon as the body yields it (engine use)."""
        self._emitted_outputs.add(output_name)

    def take_output_metadata(self, output_name: str) -> list[MetadataEntry]:
        """Mark an output emitted and hand over the metadata added for it (engine use)."""
        self._emitted_outputs.add(output_name)
        return self._output_metadata.get(output_name, [])

    def reset_outputs(self) -> None:
        self._emitted_outputs.clear()

    def __getattr__(self, name: str) -> object:
        raise _missing_member("OpExecutionContext", name)


def _missing_member(owner: str, name: str) -> AttributeError:
    if name.startswith("__"):
        return AttributeError(f"{owner!r} object has no attribute {name!r}")
    if name in _UNSUPPORTED:
        return ContextAttributeError(
            f"context.{name} is not available in ophost: ophost runs single ops, "
            "without a Dagster job, instance or partitions definition"
        )
    return ContextAttributeError(f"the op context ({owner}) has no member {name!r}")


class UnboundOpContext:
    """A context made by :func:`build_op_context`, bound to an op when the op is called.

    Members that describe the op (``op_def``, ``add_output_metadata``, ...) exist only
    on the bound context the op body receives. After a call, ``get_output_metadata``
    and ``get_events`` report what the op body recorded.
    """

    def __init__(
        self,
        resources: Mapping[str, object] | None,
        op_config: object,
        partition_key: str | None,
        run_tags: Mapping[str, str] | None,
    ) -> None:
        self.resources_dict = dict(resources or {})
        self.op_config = op_config
        self.partition_key = partition_key
        self.run_tags = dict(run_tags or {})
        self.bound: OpExecutionContext | None = None
        self._events: list[LoggableEvent] = []

    def __enter__(self) -> UnboundOpContext:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    @property
    def solid_config(self) -> object:
        return self.op_config

    @property
    def log(self) -> OpLogger:
        return OpLogger(python_log, "ophost.direct")

    @property
    def resources(self) -> Resources:
        return Resources(self.resources_dict, "<unbound>")

    @property
    def run_id(self) -> str:
        return "EPHEMERAL"

    @property
    def retry_number(self) -> int:
        return 0

    @property
    def has_partition_key(self) -> bool:
        return self.partition_key is not None

    def get_mapping_key(self) -> str | None:
        return None

    def record_event(self, event: LoggableEvent) -> None:
        """Keep an event the op body logged with ``context.log_event`` (ophost use)."""
        self._events.append(event)

    def get_events(self) -> list[LoggableEvent]:
        """The events logged with ``context.log_event`` by the ops this context was given to."""
        return list(self._events)

    def get_output_metadata(
        self, output_name: str, mapping_key: str | None = None
    ) -> dict[str, object] | None:
        """The metadata the last op called with this context added for ``output_name``."""
        _check_key("get_output_metadata", "output_name", output_name)
        if self.bound is None:
            return None
        return self.bound.get_output_metadata(output_name, mapping_key)

    def __getattr__(self, name: str) -> object:
        if (
            not name.startswith("_")
            and name not in _UNSUPPORTED
            and hasattr(OpExecutionContext, name)
        ):
            raise ContextAttributeError(
                f"context.{name} is not set on a context built by build_op_context until it "
                "is passed to an op; use it inside the op body"
            )
        raise _missing_member("UnboundOpContext", name)


def python_log(level: int, message: str, name: str) -> None:
    """A log sink that writes to Python's logging (for ops called outside a run)."""
    logging.getLogger(name).log(level, message)


_NOT_GIVEN: TypingAny = object()


def build_op_context(
    resources: Mapping[str, object] | None = None,
    op_config: object = _NOT_GIVEN,
    resources_config: Mapping[str, object] | None = None,
    instance: object = None,
    config: object = _NOT_GIVEN,
    partition_key: str | None = None,
    mapping_key: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> UnboundOpContext:
    """Build a context for calling an op directly (``my_op(build_op_context(...), ...)``).

    ``resources`` maps resource keys to the objects the op uses; ``op_config`` is
    validated against the op's config schema when the op is called. ``config`` is the
    older name of ``op_config``; giving both is an error.
    """
    if op_config is not _NOT_GIVEN and config is not _NOT_GIVEN:
        raise InvalidInvocationError(
            "build_op_context: give op_config or config (its older name), not both"
        )
    if resources is not None and not isinstance(resources, Mapping):
        raise InvalidArgumentError(
            f"build_op_context: resources must be a dict, got {type(resources).__name__}"
        )
    for key in resources or {}:
        if not isinstance(key, str):
            raise InvalidArgumentError(
                f"build_op_context: resource keys must be str, got {type(key).__name__}"
            )
    if tags is not None:
        if not isinstance(tags, Mapping):
            raise InvalidArgumentError(
                f"build_op_context: tags must be a dict of str to str, got {type(tags).__name__}"
            )
        for key, value in tags.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise InvalidArgumentError(
                    "build_op_context: tags must be a dict of str to str, got "
                    f"{type(key).__name__} -> {type(value).__name__}"
                )
    if resources_config is not None:
        raise InvalidInvocationError(
            "build_op_context: resources_config is not supported: ophost resources are plain "
            "objects, pass them configured in resources="
        )
    if instance is not None:
        raise InvalidInvocationError(
            "build_op_context: instance is not supported: ophost has no Dagster instance"
        )
    if mapping_key is not None:
        raise InvalidInvocationError(
            "build_op_context: mapping_key is not supported: ophost has no dynamic outputs"
        )
    if partition_key is not None and not isinstance(partition_key, str):
        raise InvalidArgumentError("build_op_context: partition_key must be a str")
    chosen = op_config if op_config is not _NOT_GIVEN else config
    return UnboundOpContext(
        resources=resources,
        op_config=None if chosen is _NOT_GIVEN else chosen,
        partition_key=partition_key,
        run_tags=tags,
    )
