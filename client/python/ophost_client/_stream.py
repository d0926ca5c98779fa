"""The events of one execution as an async iterator, with re-attach and chunk reassembly.

An :class:`ExecutionStream` reads one of two RPCs: ``Execute`` (it started the
execution: ``start``, the chunks of large inputs, then ``accepted`` and event batches)
or ``StreamEvents`` (it follows an existing execution). It decodes every event into
the classes the engine produces (``ophost.execution``), holds an output whose value
travels as chunks until the last chunk arrives (docs/protocol.md, 5.2), and checks that
sequences follow each other without a gap.

When the connection breaks after the execution was accepted, the stream re-opens
``StreamEvents`` after the last sequence it fully received (never inside a chunk run:
from just before the output holding the reference) and carries on, so the caller sees
every event exactly once, in order.

A stream knows its client only through the :class:`~ophost_client._session.Session`
they share (the stub, whether the client is open, the server's info, the re-attach
policy); its own call options (deadline, metadata) go with each RPC it opens.
"""

from __future__ import annotations

import asyncio
import collections
import sys
from typing import TYPE_CHECKING

import grpc

from ophost.codec import events as events_codec
from ophost.codec.chunks import ChunkAssembler, ChunkError
from ophost.definitions import (
    ExecutionEvent,
    ExecutionFinished,
    ExecutionStatus,
    OutputProduced,
    StepFailed,
    StepRestarted,
)
from ophost.v1 import event_pb2
from ophost.v1 import op_host_service_pb2 as pb
from ophost_client._info import ExecutionInfo
from ophost_client._options import (
    CLIENT_TIMEOUT,
    CallOptions,
    Metadata,
    Timeout,
    check_timeout,
    merge_metadata,
)
from ophost_client._request import StartRequest
from ophost_client._session import Session
from ophost_client._status import from_aio_error, from_status, is_transient
from ophost_client.errors import (
    ClientClosedError,
    ExecutionCanceledError,
    OpFailedError,
    OpHostClientError,
    OpHostRpcError,
    ProtocolError,
    StreamBrokenError,
)

if TYPE_CHECKING:
    from types import TracebackType

    _ExecuteCall = grpc.aio.StreamStreamCall[pb.ExecuteRequest, pb.ExecuteResponse]
    _EventsCall = grpc.aio.UnaryStreamCall[pb.StreamEventsRequest, pb.StreamEventsResponse]

__all__ = ["MAX_OUTPUT_BYTES", "ExecutionStream"]

# The most bytes of chunked output values the stream holds at once while reassembling.
MAX_OUTPUT_BYTES = 1 << 30


class ExecutionStream:
    """The events of one execution, decoded, in sequence order (``async for``).

    Made by ``AsyncOpHostClient.execute`` (the execution starts when the stream is
    first iterated or awaited through :meth:`accepted`) and ``.attach``. Use it as an
    async context manager, or call :meth:`aclose`, to end the RPC early; the
    execution itself keeps running on the server.

    ``timeout`` (seconds, ``None``: none) is a deadline for the whole stream, counted
    from when it starts and covering its re-attaches; ``metadata`` is sent with every
    RPC the stream makes.
    """

    def __init__(
        self,
        session: Session,
        *,
        request: StartRequest | None = None,
        execution_id: str | None = None,
        after_sequence: int = 0,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> None:
        if (request is None) == (execution_id is None):
            raise ValueError("give either a start request or an execution id")
        if after_sequence < 0:
            raise ValueError(f"after_sequence must be >= 0, got {after_sequence}")
        check_timeout(timeout)
        self._session = session
        self._timeout = timeout
        self._metadata = session.with_defaults(metadata)
        # The deadline runs from when the stream opens: set then.
        self._options: CallOptions | None = None
        self._request = request
        self._execution_id = execution_id
        self._execution: ExecutionInfo | None = None
        self._after = after_sequence
        self._execute_call: _ExecuteCall | None = None
        self._events_call: _EventsCall | None = None
        self._open_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        self._opened = False
        self._open_error: BaseException | None = None
        self._closed = False
        # Receiving: decoded events not yet handed out, the last sequence received,
        # and the output (if any) whose chunks are still arriving.
        self._ready: collections.deque[ExecutionEvent] = collections.deque()
        self._last_sequence = after_sequence
        self._pending: event_pb2.Event | None = None
        self._assembler = _new_assembler()
        self._skip_orphan_chunks = after_sequence > 0
        self._terminal_received = False
        self._failures = 0  # consecutive breaks without an event in between
        self._reattached = 0
        # Delivered: what the caller has seen.
        self._delivered = after_sequence
        self._outputs: dict[str, object] = {}
        self._failure: ExecutionEvent | None = None
        self._finished: ExecutionEvent | None = None

    # -- what the caller sees ------------------------------------------------------------

    @property
    def execution_id(self) -> str | None:
        """The execution's id: known once accepted (see :meth:`accepted`), or when attached."""
        return self._execution_id

    @property
    def execution(self) -> ExecutionInfo | None:
        """The execution as it was when accepted (``None`` for an attached stream)."""
        return self._execution

    @property
    def outputs(self) -> dict[str, object]:
        """The outputs of the current attempt delivered so far, by name."""
        return dict(self._outputs)

    @property
    def finished(self) -> ExecutionFinished | None:
        """The terminal event's body once it was delivered, else ``None``."""
        if self._finished is None:
            return None
        body = self._finished.body
        assert isinstance(body, ExecutionFinished)
        return body

    @property
    def last_sequence(self) -> int:
        """The sequence of the last event delivered (``after_sequence`` before any)."""
        return self._delivered

    @property
    def reattach_count(self) -> int:
        """How many times the stream re-attached after a break."""
        return self._reattached

    async def accepted(self) -> str:
        """Start the execution (if not yet started) and return its id once accepted."""
        await self._ensure_open()
        assert self._execution_id is not None
        return self._execution_id

    def __aiter__(self) -> ExecutionStream:
        return self

    async def __anext__(self) -> ExecutionEvent:
        await self._ensure_open()
        while not self._ready:
            if self._closed or self._terminal_received:
                self._end_call()
                raise StopAsyncIteration
            await self._pump()
        if self._closed:
            raise StopAsyncIteration
        event = self._ready.popleft()
        self._observe(event)
        return event

    async def result(self) -> dict[str, object]:
        """Read to the end; return the outputs of the final attempt.

        Raises :class:`~ophost_client.errors.OpFailedError` when the execution failed
        and :class:`~ophost_client.errors.ExecutionCanceledError` when it was canceled.
        """
        async for _ in self:
            pass
        finished = self._finished
        if finished is None:
            raise OpHostClientError("the stream was closed before the execution finished")
        body = finished.body
        assert isinstance(body, ExecutionFinished)
        execution_id = finished.execution_id
        if body.status is ExecutionStatus.SUCCEEDED:
            return dict(self._outputs)
        if body.status is ExecutionStatus.CANCELED:
            raise ExecutionCanceledError(execution_id, finished)
        raise OpFailedError(execution_id, self._failure, finished)

    async def cancel(
        self,
        reason: str = "",
        *,
        timeout: Timeout = CLIENT_TIMEOUT,
        metadata: Metadata | None = None,
    ) -> None:
        """Ask the server to cancel the execution; its events keep coming to the end.

        Sent on the ``Execute`` stream when this stream started the execution and that
        RPC is still open (it then travels with that stream's metadata and deadline),
        else with ``CancelExecution``: that call takes ``timeout`` (the client's default
        if not given) and is sent with the stream's metadata, ``metadata`` replacing the
        values of the keys it sets.
        """
        execution_id = await self.accepted()
        call = self._execute_call
        if call is not None and not call.done():
            try:
                async with self._write_lock:
                    await call.write(pb.ExecuteRequest(cancel=pb.ExecuteCancel(reason=reason)))
            except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
                pass  # the stream broke under us: cancel by id instead
            else:
                return
        merged = merge_metadata(self._metadata, tuple(metadata or ()))
        await self._session.cancel_execution(
            execution_id, reason, self._session.begin(timeout, merged)
        )

    async def aclose(self) -> None:
        """End the RPC; the execution keeps running. Iteration then stops."""
        self._closed = True
        self._end_call()

    async def __aenter__(self) -> ExecutionStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _observe(self, event: ExecutionEvent) -> None:
        self._delivered = event.sequence
        body = event.body
        if isinstance(body, StepRestarted):
            self._outputs.clear()  # outputs are those of the final attempt
        elif isinstance(body, OutputProduced):
            self._outputs[body.output_name] = body.value
        elif isinstance(body, StepFailed):
            self._failure = event
        elif isinstance(body, ExecutionFinished):
            self._finished = event

    # -- opening ---------------------------------------------------------------------------

    async def _ensure_open(self) -> None:
        if self._opened:
            return
        async with self._open_lock:
            if self._open_error is not None:
                raise self._open_error
            if self._is_open():  # another task opened it while this one waited
                return
            if self._closed:
                raise OpHostClientError("the stream is closed")
            self._options = CallOptions.begin(self._timeout, self._metadata)
            try:
                if self._request is not None:
                    await self._open_execute(self._request)
                else:
                    self._open_events(self._after)
            except Exception as exc:
                self._open_error = exc  # never start a second execution on a retry
                self._end_call()
                raise
            except BaseException:
                self._open_error = OpHostClientError("starting the execution was interrupted")
                self._end_call()
                raise
            self._opened = True

    def _call_options(self) -> CallOptions:
        assert self._options is not None  # set when the stream opens
        return self._options

    async def _open_execute(self, request: StartRequest) -> None:
        self._session.check_open()
        options = self._call_options()
        info = await self._session.cached_server_info(options)
        start, chunks = request.chunked(info)
        call: _ExecuteCall = self._session.stub.Execute(
            timeout=options.remaining(), metadata=options.metadata
        )
        self._execute_call = call
        try:
            async with self._write_lock:
                await call.write(pb.ExecuteRequest(start=start))
                for chunk in chunks:
                    await call.write(pb.ExecuteRequest(chunk=chunk))
            response = await call.read()
        except grpc.aio.AioRpcError as exc:
            raise from_aio_error(exc) from exc
        except asyncio.InvalidStateError as exc:  # the server ended the call while we wrote
            raise await _call_error(call) from exc
        if not isinstance(response, pb.ExecuteResponse):
            raise ProtocolError("the Execute stream ended before the execution was accepted")
        if response.WhichOneof("kind") != "accepted":
            raise ProtocolError(
                f"the Execute stream sent {response.WhichOneof('kind')} before accepted"
            )
        accepted = response.accepted
        self._execution_id = accepted.execution_id
        self._execution = ExecutionInfo.from_proto(accepted.execution)

    def _is_open(self) -> bool:
        return self._opened

    def _open_events(self, after_sequence: int) -> None:
        self._session.check_open()
        assert self._execution_id is not None
        options = self._call_options()
        self._events_call = self._session.stub.StreamEvents(
            pb.StreamEventsRequest(execution_id=self._execution_id, after_sequence=after_sequence),
            timeout=options.remaining(),
            metadata=options.metadata,
        )

    def _end_call(self) -> None:
        for call in (self._execute_call, self._events_call):
            if call is not None and not call.done():
                call.cancel()
        self._execute_call = None
        self._events_call = None

    # -- receiving -------------------------------------------------------------------------

    async def _read_batch(self) -> list[event_pb2.Event] | None:
        """The events of the next message of the current RPC; ``None`` at its end (OK)."""
        if self._execute_call is not None:
            response = await self._execute_call.read()
            if not isinstance(response, pb.ExecuteResponse):
                return None
            kind = response.WhichOneof("kind")
            if kind == "events":
                return list(response.events.events)
            if kind == "accepted":
                raise ProtocolError("the Execute stream sent a second accepted")
            return []  # a message kind this client does not know
        if self._events_call is None:
            return None
        message = await self._events_call.read()
        if not isinstance(message, pb.StreamEventsResponse):
            return None
        return list(message.events)

    async def _pump(self) -> None:
        """Read one message and process its events, re-attaching if the RPC broke."""
        try:
            batch = await self._read_batch()
        except asyncio.CancelledError:
            if _task_cancelling():
                raise
            if self._closed:
                return  # aclose() from another task cancelled the call under us
            if self._session.closed:
                raise ClientClosedError("the client was closed while the stream was open") from None
            raise
        except grpc.aio.AioRpcError as exc:
            if self._closed:
                return
            error = from_aio_error(exc)
            error.__cause__ = exc
            if error.code is grpc.StatusCode.DEADLINE_EXCEEDED:
                raise error from exc  # the call's own deadline: re-attaching cannot help
            if not is_transient(error):
                if self._reattached:
                    raise self._broken(error) from error
                raise error from exc
            await self._reattach(error)
            return
        if batch is None:
            if not self._closed:
                await self._reattach(None)  # the RPC ended before the terminal event
            return
        if batch:
            self._failures = 0
        for message in batch:
            self._process(message)

    def _broken(self, error: OpHostRpcError | None) -> StreamBrokenError:
        assert self._execution_id is not None
        return StreamBrokenError(
            self._execution_id,
            last_sequence=self._resume_point(),
            attempts=max(self._failures - 1, 0),
            last_error=error,
        )

    async def _reattach(self, error: OpHostRpcError | None) -> None:
        if self._session.closed:
            raise ClientClosedError("the client was closed while the stream was open") from error
        self._failures += 1
        policy = self._session.reattach
        if self._failures > policy.attempts:
            raise self._broken(error) from error
        delay = policy.delay(self._failures)
        left = self._call_options().remaining()  # past the deadline: DEADLINE_EXCEEDED
        await asyncio.sleep(delay if left is None else min(delay, left))
        if self._closed:
            return
        self._end_call()
        if self._pending is not None:
            # Resume from just before the output whose chunks were cut off.
            self._last_sequence = self._pending.sequence - 1
            self._pending = None
            self._assembler = _new_assembler()
        self._reattached += 1
        self._open_events(self._last_sequence)

    def _resume_point(self) -> int:
        if self._pending is not None:
            return self._pending.sequence - 1
        return self._last_sequence

    def _process(self, message: event_pb2.Event) -> None:
        expected = self._last_sequence + 1
        if message.sequence != expected or self._terminal_received:
            what = "after the terminal event" if self._terminal_received else f"not {expected}"
            raise ProtocolError(
                f"execution {self._execution_id}: received event {message.sequence}, {what} "
                "(sequences must follow each other without gaps or repeats)"
            )
        self._last_sequence = message.sequence
        kind = message.WhichOneof("kind")
        if self._pending is not None:
            self._add_chunk(message, kind)
            return
        if kind == "value_chunk":
            if self._skip_orphan_chunks:
                return  # attached in the middle of a chunk run: its output came before
            raise ProtocolError(f"event {message.sequence} is a value chunk with no output")
        self._skip_orphan_chunks = False
        if kind is None:
            return  # an event kind this client does not know: skipped (protocol, 2)
        if kind == "output" and message.output.value.WhichOneof("kind") == "chunked_value":
            try:
                self._assembler.expect(
                    message.output.value.chunked_value, path=f"outputs.{message.output.output_name}"
                )
            except ChunkError as exc:
                raise ProtocolError(f"event {message.sequence}: {exc}") from exc
            self._pending = message
            return
        if kind == "execution_finished":
            self._terminal_received = True
        self._ready.append(events_codec.from_proto(message))

    def _add_chunk(self, message: event_pb2.Event, kind: str | None) -> None:
        pending = self._pending
        assert pending is not None
        value_id = pending.output.value.chunked_value.value_id
        if kind != "value_chunk":
            raise ProtocolError(
                f"event {message.sequence} ({kind}) came before every chunk of output "
                f"{pending.output.output_name!r} (event {pending.sequence}) arrived"
            )
        try:
            self._assembler.add(message.value_chunk)
            if not self._assembler.complete(value_id):
                return
            value = self._assembler.take(value_id)
        except ChunkError as exc:
            raise ProtocolError(f"event {message.sequence}: {exc}") from exc
        self._pending = None
        pending.output.value.CopyFrom(value)
        self._ready.append(events_codec.from_proto(pending))


def _new_assembler() -> ChunkAssembler:
    return ChunkAssembler(max_total_bytes=MAX_OUTPUT_BYTES)


def _task_cancelling() -> bool:
    """Whether the current task itself is being cancelled (always assumed before 3.11)."""
    if sys.version_info >= (3, 11):
        task = asyncio.current_task()
        return task is None or task.cancelling() > 0
    return True


async def _call_error(call: _ExecuteCall) -> OpHostRpcError:
    return from_status(await call.code(), await call.details(), await call.trailing_metadata())
