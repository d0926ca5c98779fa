"""``OphostResource``: run an op on a remote ophost host from a Dagster op or asset.

The op's events are replayed into the Dagster step as they arrive: materializations,
observations and expectation results through ``context.log_event``, log lines through
``context.log``. A remote failure fails the step with a ``dagster.Failure`` carrying
the remote error and the op's own failure metadata. When the Dagster run is
terminated while the remote op runs (Dagster raises its interruption in the step),
the remote execution is canceled before the interruption goes on.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Mapping
from typing import Any as TypingAny

import dagster
from dagster._core.errors import DagsterExecutionInterruptedError

from ophost.definitions import (
    AssetMaterialization,
    AssetObservation,
    BoolMetadataValue,
    DagsterAssetMetadataValue,
    DagsterRunMetadataValue,
    ExecutionFinished,
    ExecutionStatus,
    ExpectationResult,
    FloatMetadataValue,
    IntMetadataValue,
    JsonMetadataValue,
    LogMessage,
    MarkdownMetadataValue,
    MetadataEntry,
    NullMetadataValue,
    PathMetadataValue,
    StepFailed,
    TextMetadataValue,
    UrlMetadataValue,
)
from ophost_client import OpHostClient, SyncExecutionStream

__all__ = ["OphostResource", "RemoteOpCanceled"]

_NO_CONFIG = object()


class RemoteOpCanceled(dagster.Failure):
    """The remote execution was canceled by someone else while the step waited for it."""


class OphostResource(dagster.ConfigurableResource):  # type: ignore[type-arg]
    """A remote ophost host: ``target`` (``host:port``) and how to reach it.

    ``token`` is sent as a bearer token; ``tls_ca`` (a PEM file path) turns TLS on.
    """

    target: str
    token: str | None = None
    tls_ca: str | None = None
    timeout: float = 30.0

    def run(
        self,
        context: dagster.OpExecutionContext,
        op_name: str,
        inputs: Mapping[str, object] | None = None,
        *,
        config: object = _NO_CONFIG,
        tags: Mapping[str, str] | None = None,
    ) -> dict[str, object]:
        """Run ``op_name`` remotely and return its outputs (name to value).

        The remote events appear in this step's event log as they come.
        """
        options: dict[str, object] = {"timeout": self.timeout, "token": self.token}
        if self.tls_ca is not None:
            with open(self.tls_ca, "rb") as ca:
                options["tls_ca"] = ca.read()
        extra: dict[str, object] = {} if config is _NO_CONFIG else {"config": config}
        with OpHostClient(self.target, **options) as client:  # type: ignore[arg-type]
            stream = client.execute(op_name, dict(inputs or {}), tags=tags, **extra)  # type: ignore[arg-type]
            events: queue.Queue[object] = queue.Queue()
            reader = threading.Thread(
                target=_read, args=(stream, events), name="ophost-dagster-stream", daemon=True
            )
            execution_id = ""
            try:
                execution_id = stream.accepted()
                context.log.info(f"ophost execution {execution_id} of op {op_name!r} started")
                reader.start()
                failure: StepFailed | None = None
                while True:
                    # Short waits: Dagster's interruption is raised in this thread, and
                    # it is seen between two of them.
                    try:
                        body = events.get(timeout=0.1)
                    except queue.Empty:
                        continue
                    if body is _END:
                        break
                    if isinstance(body, BaseException):
                        raise body
                    if isinstance(body, StepFailed):
                        failure = body
                    _replay(context, body)
            except (DagsterExecutionInterruptedError, KeyboardInterrupt):
                if execution_id:
                    client.cancel(execution_id, reason="the Dagster run was interrupted")
                raise
            finally:
                stream.close()
                if reader.is_alive():
                    reader.join(timeout=5.0)
            return _outcome(op_name, execution_id, stream.finished, failure, stream.outputs)


_END = object()


def _read(stream: SyncExecutionStream, events: queue.Queue[object]) -> None:
    """Hand the stream's event bodies to the step's thread, then ``_END`` (or the error)."""
    try:
        for event in stream:
            events.put(event.body)
    except Exception as exc:  # noqa: BLE001 - handed to the step's thread, raised there
        events.put(exc)
    events.put(_END)


def _outcome(
    op_name: str,
    execution_id: str,
    finished: ExecutionFinished | None,
    failure: StepFailed | None,
    outputs: dict[str, object],
) -> dict[str, object]:
    where = f"ophost op {op_name!r} (execution {execution_id})"
    if finished is None:
        raise dagster.Failure(description=f"{where}: the stream ended before the execution did")
    if finished.status is ExecutionStatus.SUCCEEDED:
        return dict(outputs)
    if finished.status is ExecutionStatus.CANCELED:
        raise RemoteOpCanceled(description=f"{where} was canceled")
    error = failure.error if failure is not None else finished.error
    metadata: dict[str, TypingAny] = {"ophost_execution_id": execution_id}
    description = f"{where} failed"
    if error is not None:
        description += f": {error.type_name}: {error.message}"
        metadata["remote_error_type"] = error.type_name
        metadata["remote_error_message"] = error.message
        if error.stack:
            metadata["remote_stack"] = dagster.MetadataValue.md(
                "```\n" + "".join(error.stack) + "\n```"
            )
    if failure is not None and failure.user_failure is not None:
        if failure.user_failure.description:
            description += f" ({failure.user_failure.description})"
        metadata.update(_metadata(failure.user_failure.metadata_entries))
    raise dagster.Failure(description=description, metadata=metadata)


def _replay(context: dagster.OpExecutionContext, body: object) -> None:
    if isinstance(body, AssetMaterialization):
        context.log_event(
            dagster.AssetMaterialization(
                asset_key=list(body.asset_key.path),
                description=body.description,
                metadata=_metadata(body.metadata_entries),
                partition=body.partition,
            )
        )
    elif isinstance(body, AssetObservation):
        context.log_event(
            dagster.AssetObservation(
                asset_key=list(body.asset_key.path),
                description=body.description,
                metadata=_metadata(body.metadata_entries),
                partition=body.partition,
            )
        )
    elif isinstance(body, ExpectationResult):
        context.log_event(
            dagster.ExpectationResult(
                success=body.success,
                label=body.label,
                description=body.description,
                metadata=_metadata(body.metadata_entries),
            )
        )
    elif isinstance(body, LogMessage):
        context.log.log(_LEVELS.get(body.level.value, 20), body.message)


_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


def _metadata(entries: object) -> dict[str, dagster.MetadataValue]:
    found: dict[str, dagster.MetadataValue] = {}
    for entry in entries:  # type: ignore[attr-defined]
        assert isinstance(entry, MetadataEntry)
        found[entry.label] = _value(entry.entry_data)
    return found


def _value(value: object) -> dagster.MetadataValue:
    mv = dagster.MetadataValue
    if isinstance(value, TextMetadataValue):
        return mv.text(value.text)
    if isinstance(value, IntMetadataValue):
        return mv.int(value.value) if value.value is not None else mv.null()
    if isinstance(value, FloatMetadataValue):
        return mv.float(value.value) if value.value is not None else mv.null()
    if isinstance(value, BoolMetadataValue):
        return mv.bool(value.value) if value.value is not None else mv.null()
    if isinstance(value, UrlMetadataValue):
        return mv.url(value.url)
    if isinstance(value, PathMetadataValue):
        return mv.path(value.path)
    if isinstance(value, JsonMetadataValue):
        return mv.json(value.data)
    if isinstance(value, MarkdownMetadataValue):
        return mv.md(value.md_str)
    if isinstance(value, NullMetadataValue):
        return mv.null()
    if isinstance(value, DagsterRunMetadataValue):
        return mv.dagster_run(value.run_id)
    if isinstance(value, DagsterAssetMetadataValue):
        return mv.asset(dagster.AssetKey(list(value.asset_key.path)))
    return mv.text(str(getattr(value, "value", value)))
