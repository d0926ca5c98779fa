"""The ``OpHostService`` gRPC servicer: a thin adapter over the transport-neutral service.

Each unary and server-streaming handler passes its request to the transport-neutral
service and returns what it answers; a request the host refuses raises
:class:`StatusError`, which the error interceptor (:mod:`ophost.server._interceptors`)
turns into the RPC's status. ``Execute``, the bidirectional stream only gRPC carries,
lives here: it reads the start message and the chunks of large values, then streams the
execution's events as the wire layer serialized them, while serving the client's cancel
and ack messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc

from ophost.codec.chunks import ChunkAssembler, ChunkError, ChunkLimitError
from ophost.errors import CodecError
from ophost.server import _access, _status, _wire
from ophost.server._access import CANCEL
from ophost.server._service import (
    PROTOCOL_VERSION,
    OpHostService,
    Upload,
    check_start_refs,
    take_all,
)
from ophost.server._views import execution_to_proto
from ophost.v1 import execution_pb2, op_host_service_pb2

__all__ = ["PROTOCOL_VERSION", "OpHostServicer"]

_Context = grpc.aio.ServicerContext[Any, Any]


class OpHostServicer(OpHostService):
    """The service as ``grpc.aio`` handlers (the generated servicer's method names)."""

    # -- unary and server-streaming calls: the service's own methods ---------------------

    async def GetServerInfo(
        self, request: op_host_service_pb2.GetServerInfoRequest, context: _Context
    ) -> op_host_service_pb2.GetServerInfoResponse:
        return await self.server_info(request)

    async def ListOps(
        self, request: op_host_service_pb2.ListOpsRequest, context: _Context
    ) -> op_host_service_pb2.ListOpsResponse:
        return await self.list_ops(request)

    async def GetOp(
        self, request: op_host_service_pb2.GetOpRequest, context: _Context
    ) -> op_host_service_pb2.GetOpResponse:
        return await self.get_op(request)

    async def StartExecution(
        self, request: op_host_service_pb2.StartExecutionRequest, context: _Context
    ) -> op_host_service_pb2.StartExecutionResponse:
        return await self.start_execution(request)

    async def GetExecution(
        self, request: op_host_service_pb2.GetExecutionRequest, context: _Context
    ) -> op_host_service_pb2.GetExecutionResponse:
        return await self.get_execution(request)

    async def CancelExecution(
        self, request: op_host_service_pb2.CancelExecutionRequest, context: _Context
    ) -> op_host_service_pb2.CancelExecutionResponse:
        return await self.cancel_execution(request)

    async def ListExecutions(
        self, request: op_host_service_pb2.ListExecutionsRequest, context: _Context
    ) -> op_host_service_pb2.ListExecutionsResponse:
        return await self.list_executions(request)

    async def StreamEvents(
        self, request: op_host_service_pb2.StreamEventsRequest, context: _Context
    ) -> AsyncIterator[bytes]:
        async for data in self.stream_events(request):
            yield data

    # -- the bidirectional stream --------------------------------------------------------

    async def Execute(
        self,
        request_iterator: AsyncIterator[op_host_service_pb2.ExecuteRequest],
        context: _Context,
    ) -> AsyncIterator[bytes]:
        """The bidi stream: ``accepted``, then batches of events to the terminal one."""
        requests = request_iterator.__aiter__()
        start, upload = await self._read_start(requests)
        record = await self._start(start, upload)
        execution_id = record.id
        yield op_host_service_pb2.ExecuteResponse(
            accepted=op_host_service_pb2.ExecutionAccepted(
                execution_id=execution_id, execution=execution_to_proto(record)
            )
        ).SerializeToString()
        problems: list[Exception] = []
        reader = asyncio.ensure_future(self._read_rest(requests, execution_id, problems))
        batches = self.store.follow(
            execution_id,
            0,
            max_batch_bytes=self.limits.max_batch_bytes,
            stop=lambda: bool(problems),
        )
        streamed = self.observer.streamed
        try:
            async for records in batches:
                data = _wire.execute_events_response(records)
                streamed("Execute", len(records), len(data))
                yield data
            if problems:
                raise problems[0]
        finally:
            reader.cancel()
            await batches.aclose()  # type: ignore[attr-defined]

    async def _read_start(
        self, requests: AsyncIterator[op_host_service_pb2.ExecuteRequest]
    ) -> tuple[execution_pb2.ExecutionStart, Upload | None]:
        """The start message, and the values it references that come in chunks after it."""
        try:
            first = await requests.__anext__()
        except StopAsyncIteration:
            raise _status.out_of_order("the stream ended before its start message") from None
        if first.WhichOneof("kind") != "start":
            raise _status.out_of_order(
                f"the first message on an Execute stream must be start, got "
                f"{first.WhichOneof('kind') or 'an empty message'}"
            )
        start = first.start
        refs = check_start_refs(start, allow_chunks=True)
        if not refs:
            return start, None
        upload = Upload()
        # One stream may upload max_upload_bytes; all streams together buffer at most
        # max_upload_buffer_bytes, counted as chunks arrive (an announcement costs
        # nothing until its bytes come).
        limit = min(self.limits.max_upload_bytes, self.limits.max_upload_buffer_bytes)
        assembler = ChunkAssembler(max_total_bytes=limit)
        held = 0
        try:
            for path, ref in refs.items():
                assembler.expect(ref, path=path)
            while assembler.pending():
                try:
                    message = await requests.__anext__()
                except StopAsyncIteration:
                    raise _status.out_of_order(
                        "the stream ended before every chunk of the start's values arrived"
                    ) from None
                kind = message.WhichOneof("kind")
                if kind == "chunk":
                    size = len(message.chunk.data)
                    if not self.uploads.take(size):
                        raise _status.upload_buffer_full(self.uploads.limit, retry_after=1.0)
                    held += size
                    assembler.add(message.chunk)
                    if start.request_id:
                        upload.digest(assembler.path_of(message.chunk.value_id), message.chunk.data)
                elif kind != "ack":
                    raise _status.out_of_order(
                        "expected the chunks of the start's values, got "
                        f"{kind or 'an empty message'}"
                    )
            upload.values.update(await asyncio.to_thread(take_all, assembler, refs))
        except ChunkLimitError as exc:
            raise _status.upload_too_large(exc, exc.limit) from None
        except ChunkError as exc:
            raise _status.invalid_chunk(exc) from None
        except CodecError as exc:
            raise _status.malformed(str(exc), exc.path) from None
        finally:
            self.uploads.give_back(held)
        return start, upload

    async def _read_rest(
        self,
        requests: AsyncIterator[op_host_service_pb2.ExecuteRequest],
        execution_id: str,
        problems: list[Exception],
    ) -> None:
        """Serve the client's messages after start: cancel and ack; anything else is an error.

        Whatever ends the reading early (a message that does not decode or is out of
        order, a store that fails a cancel) goes into ``problems``, and the stream ends
        with it: nothing the client sends is ignored without a word. The execution
        goes on, as after a disconnect.
        """
        try:
            async for message in requests:
                kind = message.WhichOneof("kind")
                if kind == "cancel":
                    _access.current().check(CANCEL)
                    await self.store.request_cancel(execution_id)
                elif kind == "ack":
                    continue
                elif kind == "start":
                    raise _status.out_of_order("a second start on one Execute stream")
                elif kind == "chunk":
                    raise _status.out_of_order("a chunk for a value the start did not reference")
                else:
                    raise _status.malformed("an ExecuteRequest with no message set")
        except (asyncio.CancelledError, grpc.aio.AioRpcError):
            return
        except Exception as error:  # noqa: BLE001 - ends the stream; the interceptor maps it
            problems.append(error)
            self.store.wake(execution_id)
