"""The host's service, whatever door a call came in by: messages in, engine calls, messages out.

:class:`OpHostService` holds what every RPC of ``OpHostService`` does once the caller is
known: request checks, the access checks of the caller's identity, the engine and store
calls, the response. It knows no transport. The gRPC servicer
(:mod:`ophost.server._servicer`) and the browser door (:mod:`ophost.server._http`) are
thin adapters over it, each turning its protocol's call into one of these methods and a
:class:`StatusError` (a request the host refuses) into its protocol's error.

Who is calling comes from :func:`ophost.server._access.current` (bound by the door that
authenticated the call, unrestricted without a token file): listings show only the ops
and executions the caller may see, and an op or execution outside them is refused with
``PERMISSION_DENIED`` before anything else is said about it. :meth:`OpHostService.stream_events`
yields responses the wire layer already serialized, and tells the host's observer how
many events and bytes each one carries.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import AsyncGenerator, Mapping

from ophost._version import __version__
from ophost.codec import definitions as definitions_codec
from ophost.codec import values as values_codec
from ophost.codec.chunks import ChunkAssembler
from ophost.definitions import DagsterType, OpSpec
from ophost.definitions._op import OpDefinition
from ophost.errors import (
    CodecError,
    ConfigErrorDetail,
    ConfigMappingFunctionError,
    InvalidConfigError,
    InvalidInvocationError,
    OpHostError,
)
from ophost.execution import InvalidInputsError, PreparedExecution, prepare_execution
from ophost.server import _access, _status, _wire
from ophost.server._access import CANCEL, LIST, READ, RUN
from ophost.server._executions import ExecutionRunner, fingerprint
from ophost.server._limits import OFF_LOOP_BYTES, Limits, UploadBuffer
from ophost.server._observe import NO_OBSERVER, HostObserver
from ophost.server._status import StatusError
from ophost.server._views import execution_to_proto, start_to_proto
from ophost.server._withhold import ErrorWithholder
from ophost.server.store import (
    ExecutionQuery,
    ExecutionRecord,
    ExecutionStore,
    PageKey,
    RequestIdConflictError,
    StoreFullError,
    StoreUnavailableError,
)
from ophost.v1 import execution_pb2, op_host_service_pb2, op_pb2, value_pb2

__all__ = [
    "PROTOCOL_VERSION",
    "OpHostService",
    "Upload",
    "check_start_refs",
    "refusal",
    "take_all",
]

PROTOCOL_VERSION = "1"
# What this server does of the protocol's optional behaviour (docs/protocol.md §12). It
# accepts acks but does not pace by them (flow control comes from gRPC and from the
# slowest stream's window), so it does not claim ack_pacing.
CAPABILITIES = ("chunked_upload",)
_DEFAULT_PAGE = 50
_MAX_PAGE = 500
# Room a response keeps for its page token and framing; a repeated field's tag and
# length take at most this much per entry.
_RESPONSE_MARGIN = 4096
_ENTRY_OVERHEAD = 8


class OpHostService:
    """Serves the ops of one registry; executions live in ``store``, run by ``runner``."""

    def __init__(
        self,
        ops: Mapping[str, OpDefinition],
        resources: Mapping[str, object],
        *,
        store: ExecutionStore,
        runner: ExecutionRunner,
        limits: Limits,
        server_id: str | None = None,
        check_resources: bool = True,
        observer: HostObserver = NO_OBSERVER,
        withhold: ErrorWithholder | None = None,
    ) -> None:
        self.ops = dict(ops)
        self.observer = observer
        self.withhold = withhold
        self.resources = dict(resources)
        self.check_resources = check_resources
        self.store = store
        self.runner = runner
        self.limits = limits
        self.server_id = server_id or uuid.uuid4().hex
        self.draining = False
        self.uploads = UploadBuffer(limits.max_upload_buffer_bytes)
        self._specs = {
            name: definitions_codec.to_proto(OpSpec.from_definition(op))
            for name, op in self.ops.items()
        }

    @property
    def buffered_upload_bytes(self) -> int:
        """The chunk bytes of incomplete uploads held now, over every ``Execute`` stream."""
        return self.uploads.held

    # -- server info and ops -------------------------------------------------------------

    async def server_info(
        self, request: op_host_service_pb2.GetServerInfoRequest
    ) -> op_host_service_pb2.GetServerInfoResponse:
        response = op_host_service_pb2.GetServerInfoResponse(
            protocol_version=PROTOCOL_VERSION,
            ophost_version=__version__,
            server_id=self.server_id,
            capabilities=list(CAPABILITIES),
        )
        limits = response.limits
        limits.inline_threshold_bytes = self.limits.inline_threshold_bytes
        limits.chunk_size_bytes = self.limits.chunk_size_bytes
        limits.max_message_bytes = self.limits.max_message_bytes
        limits.max_concurrent_executions = self.runner.max_concurrent
        limits.event_retention.FromNanoseconds(round(self.store.retention_seconds * 1e9))
        return response

    async def list_ops(
        self, request: op_host_service_pb2.ListOpsRequest
    ) -> op_host_service_pb2.ListOpsResponse:
        names = _access.current().visible_ops(self._specs)
        start, size = self._page(request.page_size, request.page_token, len(names))
        full = request.view == op_host_service_pb2.OP_VIEW_FULL
        page = [_view(self._specs[n], full=full) for n in names[start : start + size]]
        response = op_host_service_pb2.ListOpsResponse(ops=page)
        if start + size < len(names):
            response.next_page_token = self._token(start + size)
        return response

    async def get_op(
        self, request: op_host_service_pb2.GetOpRequest
    ) -> op_host_service_pb2.GetOpResponse:
        access = _access.current()
        access.check_op(LIST, request.op_name)
        spec = self._specs.get(request.op_name)
        if spec is None:
            raise _status.op_not_found(request.op_name, access.visible_ops(self._specs))
        return op_host_service_pb2.GetOpResponse(op=spec)

    # -- paging --------------------------------------------------------------------------

    def _token(self, offset: int) -> str:
        return base64.urlsafe_b64encode(f"{self.server_id}:{offset}".encode()).decode()

    def _page(self, page_size: int, token: str, total: int) -> tuple[int, int]:
        if page_size < 0:
            raise _status.malformed("page_size must not be negative", "page_size")
        size = min(page_size or _DEFAULT_PAGE, _MAX_PAGE)
        if not token:
            return 0, size
        try:
            server_id, _, offset_text = (
                base64.urlsafe_b64decode(token.encode()).decode().partition(":")
            )
            offset = int(offset_text)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            offset, server_id = -1, ""
        if server_id != self.server_id or not 0 <= offset <= total:
            raise _status.invalid_page_token()
        return offset, size

    # -- starting executions -------------------------------------------------------------

    def _prepare(
        self, start: execution_pb2.ExecutionStart, uploaded: Mapping[str, object]
    ) -> PreparedExecution:
        """Check a start message; raise :class:`StatusError` for anything wrong with it.

        ``uploaded`` holds the values that came in chunks, decoded, by path.
        """
        if self.draining:
            raise _status.draining(retry_after=1.0)
        op_def = self.ops.get(start.op_name)
        if op_def is None:
            raise _status.op_not_found(start.op_name, _access.current().visible_ops(self.ops))
        inputs: dict[str, object] = {}
        for named in start.inputs:
            path = f"inputs.{named.name}"
            if named.name in inputs:
                raise _status.malformed(f'input "{named.name}" is given twice', path)
            if path in uploaded:
                inputs[named.name] = uploaded[path]
                continue
            try:
                inputs[named.name] = values_codec.from_proto(named.value, path=path)
            except CodecError as exc:
                raise _status.malformed(str(exc), exc.path) from None
        config: object = None
        if "config" in uploaded:
            config = uploaded["config"]
        elif start.HasField("config"):
            try:
                config = values_codec.from_proto(start.config, path="config")
            except CodecError as exc:
                raise _status.malformed(str(exc), exc.path) from None
        try:
            prepared = prepare_execution(
                op_def, inputs, config, self.resources, check_resources=self.check_resources
            )
        except InvalidInputsError as exc:
            raise _status.invalid_inputs(op_def.name, exc.problems) from None
        except InvalidConfigError as exc:
            raise _status.invalid_config(op_def.name, exc) from None
        except ConfigMappingFunctionError as exc:
            text = str(exc)
            if self.withhold is not None:  # the config mapping is the op's own code
                text = self.withhold.message(text, what=f"the config mapping of op {op_def.name!r}")
            raise _status.invalid_config(
                op_def.name, InvalidConfigError(text, [ConfigErrorDetail("config", text)])
            ) from None
        except InvalidInvocationError as exc:
            raise _status.internal(str(exc)) from None
        problems = _input_type_problems(prepared)
        if problems:
            raise _status.invalid_inputs(op_def.name, problems)
        return prepared

    async def _start(
        self, start: execution_pb2.ExecutionStart, upload: Upload | None = None
    ) -> ExecutionRecord:
        """Start (or find, for a repeated request id) an execution."""
        access = _access.current()
        access.check_op(RUN, start.op_name)
        digest = b""
        if start.request_id:
            digest = fingerprint(start, upload.digests if upload else None)
            existing = await self.store.find_request(start.request_id)
            if existing is not None:
                return _repeated(existing, start.request_id, digest, access.identity)
        uploaded = upload.values if upload else {}
        if upload is None and start.ByteSize() <= OFF_LOOP_BYTES:
            prepared = self._prepare(start, uploaded)
            kept = start.SerializeToString()
        else:
            # Decoding, checking and re-encoding large values takes longer than the
            # event loop may be held: a worker thread does it.
            prepared = await asyncio.to_thread(self._prepare, start, uploaded)
            kept = await asyncio.to_thread(_kept_start, start, upload)
        try:
            record = await self.runner.start(
                prepared,
                start,
                digest,
                kept,
                principal=access.identity,
                principal_limit=access.max_concurrent,
            )
        except RequestIdConflictError:
            raise _status.request_id_conflict(start.request_id) from None
        return _repeated(record, start.request_id, digest, access.identity)

    def prepare_kept(self, kept: bytes) -> PreparedExecution:
        """Prepare a start request a durable store kept (to run it again after a loss).

        Raises :class:`StatusError` when it no longer validates against the op served.
        """
        start = execution_pb2.ExecutionStart.FromString(kept)
        draining, self.draining = self.draining, False
        try:
            return self._prepare(start, {})
        finally:
            self.draining = draining

    async def start_execution(
        self, request: op_host_service_pb2.StartExecutionRequest
    ) -> op_host_service_pb2.StartExecutionResponse:
        check_start_refs(request.start, allow_chunks=False)
        record = await self._start(request.start)
        return op_host_service_pb2.StartExecutionResponse(execution=execution_to_proto(record))

    # -- executions ----------------------------------------------------------------------

    async def _find(self, execution_id: str, action: str) -> ExecutionRecord:
        """The execution, if the caller may do ``action`` to it."""
        access = _access.current()
        access.check(action)
        record = await self.store.get(execution_id)
        if record is None:
            raise _status.execution_not_found(execution_id)
        access.check_execution(action, record.id, record.principal, record.op_name)
        return record

    async def get_execution(
        self, request: op_host_service_pb2.GetExecutionRequest
    ) -> op_host_service_pb2.GetExecutionResponse:
        record = await self._find(request.execution_id, READ)
        response = op_host_service_pb2.GetExecutionResponse(execution=execution_to_proto(record))
        if request.include_start:
            kept = await self.store.start_request(record.id)
            if kept:
                limits = self.limits
                response.start.CopyFrom(
                    start_to_proto(
                        kept,
                        inline_threshold=limits.inline_threshold_bytes,
                        chunk_size=limits.chunk_size_bytes,
                    )
                )
        return response

    async def cancel_execution(
        self, request: op_host_service_pb2.CancelExecutionRequest
    ) -> op_host_service_pb2.CancelExecutionResponse:
        if not _access.current().unrestricted:
            await self._find(request.execution_id, CANCEL)
        record = await self.store.request_cancel(request.execution_id)
        if record is None:
            raise _status.execution_not_found(request.execution_id)
        return op_host_service_pb2.CancelExecutionResponse(execution=execution_to_proto(record))

    async def list_executions(
        self, request: op_host_service_pb2.ListExecutionsRequest
    ) -> op_host_service_pb2.ListExecutionsResponse:
        if request.page_size < 0:
            raise _status.malformed("page_size must not be negative", "page_size")
        size = min(request.page_size or _DEFAULT_PAGE, _MAX_PAGE)
        principals, op_names = _access.current().listing_scope(self.ops)
        query = ExecutionQuery(
            op_name=request.op_name,
            states=frozenset(request.states),
            created_after=_seconds(request, "created_after"),
            created_before=_seconds(request, "created_before"),
            principals=principals,
            op_names=op_names,
        )
        before = _page_key(request.page_token, query) if request.page_token else None
        found = await self.store.executions(query, before=before, limit=size + 1)
        # A page also ends before it would pass the message size limit (executions
        # carry their inline outputs): the next page starts where it ended.
        room = self.limits.max_message_bytes - _RESPONSE_MARGIN
        executions: list[execution_pb2.Execution] = []
        for record in found[:size]:
            execution = execution_to_proto(record)
            room -= execution.ByteSize() + _ENTRY_OVERHEAD
            if room < 0 and executions:
                break
            executions.append(execution)
        response = op_host_service_pb2.ListExecutionsResponse(executions=executions)
        if len(found) > len(executions):
            response.next_page_token = _page_token(found[len(executions) - 1].page_key, query)
        return response

    async def stream_events(
        self, request: op_host_service_pb2.StreamEventsRequest
    ) -> AsyncGenerator[bytes, None]:
        """Replay then follow, as ``StreamEventsResponse`` batches."""
        record = await self._find(request.execution_id, READ)
        if request.after_sequence > record.last_sequence:
            raise _status.sequence_out_of_range(request.after_sequence, record.last_sequence)
        streamed = self.observer.streamed
        async for records in self.store.follow(
            request.execution_id,
            request.after_sequence,
            max_batch_bytes=self.limits.max_batch_bytes,
        ):
            data = _wire.stream_events_response(records)
            streamed("StreamEvents", len(records), len(data))
            yield data


def refusal(error: BaseException) -> StatusError | None:
    """The refusal an exception of the service stands for (None: not a refusal, a bug).

    A :class:`StatusError` is one; a store that is full or cannot be reached is
    ``RESOURCE_EXHAUSTED`` or ``UNAVAILABLE`` (retry in a second). Every door ends a
    call with it in its own protocol's words.
    """
    if isinstance(error, StatusError):
        return error
    if isinstance(error, StoreFullError):
        return _status.store_full(str(error))
    if isinstance(error, StoreUnavailableError):
        return _status.store_unavailable(str(error), retry_after=1.0)
    return None


def _seconds(request: op_host_service_pb2.ListExecutionsRequest, name: str) -> float | None:
    if not request.HasField(name):  # type: ignore[arg-type]
        return None
    stamp = getattr(request, name)
    return float(stamp.seconds) + float(stamp.nanos) / 1e9


def _repeated(
    record: ExecutionRecord, request_id: str, digest: bytes, identity: str
) -> ExecutionRecord:
    """The execution a start with a request id found: the caller's own, for the same start."""
    if record.principal != identity:
        raise _status.request_id_conflict(request_id, another_identity=True)
    if request_id and record.fingerprint != digest:
        raise _status.request_id_conflict(request_id)
    return record


def _query_digest(query: ExecutionQuery) -> str:
    parts: tuple[object, ...] = (
        query.op_name,
        sorted(query.states),
        query.created_after,
        query.created_before,
    )
    if query.principals is not None or query.op_names is not None:
        # Only for a caller limited by a token file, so that a token issued without one
        # (by another version of the host, say) still reads the same.
        parts += (
            sorted(query.principals) if query.principals is not None else None,
            sorted(query.op_names) if query.op_names is not None else None,
        )
    text = repr(parts)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _page_token(key: PageKey, query: ExecutionQuery) -> str:
    """Where the next page starts, and which query it belongs to (the same on every
    process sharing the store)."""
    text = json.dumps([key.created_at, key.id, _query_digest(query)], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode()


def _page_key(token: str, query: ExecutionQuery) -> PageKey:
    try:
        created_at, execution_id, digest = json.loads(base64.urlsafe_b64decode(token.encode()))
        key = PageKey(float(created_at), str(execution_id))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise _status.invalid_page_token() from None
    if digest != _query_digest(query):
        raise _status.invalid_page_token()
    return key


def take_all(
    assembler: ChunkAssembler, refs: Mapping[str, value_pb2.ChunkedValueRef]
) -> dict[str, object]:
    """The uploaded values, decoded, by path (in a worker thread: they may be large)."""
    return {path: assembler.take_decoded(ref.value_id) for path, ref in refs.items()}


def _kept_start(start: execution_pb2.ExecutionStart, upload: Upload | None) -> bytes:
    """The start request as a durable store keeps it: uploaded values made inline."""
    if upload is None or not upload.values:
        return start.SerializeToString()
    kept = execution_pb2.ExecutionStart()
    kept.CopyFrom(start)
    for named in kept.inputs:
        path = f"inputs.{named.name}"
        if path in upload.values:
            named.value.CopyFrom(values_codec.to_proto(upload.values[path], path=path))
    if "config" in upload.values:
        kept.config.CopyFrom(values_codec.to_proto(upload.values["config"], path="config"))
    return kept.SerializeToString()


def _view(spec: op_pb2.OpDefinition, *, full: bool) -> op_pb2.OpDefinition:
    if full:
        return spec
    basic = op_pb2.OpDefinition(name=spec.name)
    if spec.HasField("description"):
        basic.description = spec.description
    for source, target in ((spec.inputs, basic.inputs), (spec.outputs, basic.outputs)):
        for item in source:
            added = target.add(name=item.name)
            added.type.CopyFrom(item.type)
    return basic


def _input_type_problems(prepared: PreparedExecution) -> list[ConfigErrorDetail]:
    """Inputs that fail a built-in type's check: reported before anything runs."""
    problems: list[ConfigErrorDetail] = []
    for definition in prepared.op_def.input_defs:
        dtype = definition.dagster_type
        if not _is_builtin_tree(dtype):
            continue
        if definition.name not in prepared.input_values:
            continue
        try:
            result = dtype.type_check(None, prepared.input_values[definition.name])
        except OpHostError:
            continue
        if not result.success:
            problems.append(
                ConfigErrorDetail(
                    f"inputs.{definition.name}",
                    f'expected type "{dtype.display_name}": {result.description}',
                )
            )
    return problems


def _is_builtin_tree(dtype: DagsterType) -> bool:
    return dtype.is_builtin and all(_is_builtin_tree(t) for t in dtype.inner)


def check_start_refs(
    start: execution_pb2.ExecutionStart, *, allow_chunks: bool
) -> dict[str, value_pb2.ChunkedValueRef]:
    """The chunked references a start carries, by path (``inputs.x``, ``config``)."""
    refs: dict[str, value_pb2.ChunkedValueRef] = {}
    for named in start.inputs:
        if named.value.WhichOneof("kind") == "chunked_value":
            refs[f"inputs.{named.name}"] = named.value.chunked_value
    if start.HasField("config") and start.config.WhichOneof("kind") == "chunked_value":
        refs["config"] = start.config.chunked_value
    if refs and not allow_chunks:
        path = next(iter(refs))
        raise _status.malformed(
            "StartExecution cannot carry chunked values; send large values on Execute", path
        )
    ids = [ref.value_id for ref in refs.values()]
    if len(set(ids)) != len(ids):
        raise _status.malformed("two chunked values share one value_id")
    return refs


class Upload:
    """The values a start's references stood for, decoded, and (for request ids) digests."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}
        self._digests: dict[str, hashlib.blake2b] = {}

    def digest(self, path: str, data: bytes) -> None:
        hasher = self._digests.get(path)
        if hasher is None:
            hasher = self._digests[path] = hashlib.blake2b()
        hasher.update(data)

    @property
    def digests(self) -> dict[str, bytes]:
        return {path: hasher.digest() for path, hasher in self._digests.items()}
