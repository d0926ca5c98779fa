"""The execution store seam: where executions and their events are kept.

An :class:`ExecutionStore` is the one owner of an execution's state and of its event
log, and the **only** place sequence numbers are assigned: :meth:`ExecutionStore.append`
numbers the events it is given from the last one stored, without gaps, whoever calls
it and however many call it at once. Everything the host says about an execution
(``GetExecution``, ``ListExecutions``, ``StreamEvents``, the ``Execute`` stream) is
read from it. Implementations live side by side in this package and pass one shared
contract suite (``tests/unit/store_contract.py``).

Events are stored as **records**: the serialized ``ophost.v1.Event`` framed as one
element of a batch (``EventBatch.events``, ``StreamEventsResponse.events``), built by
the host's wire layer from a *tail* (the event without its execution id and sequence)
when the store has numbered it. A record is ``bytes``, or pieces to be joined (a
large value's chunk keeps its data as a view until the response carrying it is made);
a store that writes records somewhere joins the pieces itself.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from ophost.errors import OpHostError
from ophost.server._wire import Record, Tail
from ophost.v1 import error_pb2, execution_pb2, value_pb2

__all__ = [
    "TERMINAL_STATES",
    "ExecutionQuery",
    "ExecutionRecord",
    "ExecutionStore",
    "ExecutionUpdate",
    "LostExecution",
    "NewExecution",
    "PageKey",
    "RequestIdConflictError",
    "State",
    "StoreError",
    "StoreFullError",
    "StoreOpenError",
    "StoreUnavailableError",
]

State: TypeAlias = execution_pb2.ExecutionState.ValueType
PENDING = execution_pb2.EXECUTION_STATE_PENDING
RUNNING = execution_pb2.EXECUTION_STATE_RUNNING
CANCEL_REQUESTED = execution_pb2.EXECUTION_STATE_CANCEL_REQUESTED
TERMINAL_STATES = frozenset(
    {
        execution_pb2.EXECUTION_STATE_SUCCEEDED,
        execution_pb2.EXECUTION_STATE_FAILED,
        execution_pb2.EXECUTION_STATE_CANCELED,
    }
)


class StoreError(OpHostError):
    """The store failed to do what was asked of it."""


class StoreOpenError(StoreError):
    """The store cannot be opened (a missing, unreadable, corrupt or too new file or
    database); the message names it."""


class StoreFullError(StoreError):
    """The store has no room for more writes (disk full or its size limit reached).

    What was written before is kept and can still be read.
    """


class StoreUnavailableError(StoreError):
    """The store cannot be reached now (a lost database connection that could not be
    restored)."""


class RequestIdConflictError(OpHostError):
    """A request id was used again for a different start request."""

    def __init__(self, request_id: str, existing: ExecutionRecord) -> None:
        super().__init__(f"request id {request_id!r} was used for a different start request")
        self.request_id = request_id
        self.existing = existing


@dataclass(frozen=True, slots=True)
class NewExecution:
    """What the host knows of an execution when it creates it."""

    execution_id: str
    op_name: str
    request_id: str
    # A digest of the start request, to tell a retried start from a conflicting one.
    fingerprint: bytes
    tags: Mapping[str, str]
    created_at: float
    # The start request as the store keeps it (a serialized ``ExecutionStart`` with
    # every value inline), so that another process can run the op again after the
    # one running it was lost, and a client can start it again (``GetExecution``'s
    # ``include_start``). It counts towards the bytes an execution keeps.
    start: bytes = b""
    op_version: str = ""
    # The identity that started it ("" when the host authenticates nobody).
    principal: str = ""


@dataclass(frozen=True, slots=True)
class ExecutionQuery:
    """Which executions to list: all the filters given must hold.

    ``created_after`` is inclusive and ``created_before`` exclusive (seconds since
    the epoch). ``principals`` and ``op_names`` limit the listing to what the caller
    may read: only executions started by one of ``principals``, of one of
    ``op_names`` (``None``: no such limit; an empty set: nothing).
    """

    op_name: str = ""
    states: frozenset[State] = frozenset()
    created_after: float | None = None
    created_before: float | None = None
    principals: frozenset[str] | None = None
    op_names: frozenset[str] | None = None

    def matches(self, record: ExecutionRecord) -> bool:
        return (
            (not self.op_name or record.op_name == self.op_name)
            and (not self.states or record.state in self.states)
            and (self.created_after is None or record.created_at >= self.created_after)
            and (self.created_before is None or record.created_at < self.created_before)
            and (self.principals is None or record.principal in self.principals)
            and (self.op_names is None or record.op_name in self.op_names)
        )


@dataclass(frozen=True, slots=True, order=True)
class PageKey:
    """Where a page of executions (newest first) ends: the last one's creation and id."""

    created_at: float
    id: str


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """An execution as the store holds it at one moment."""

    id: str
    op_name: str
    request_id: str
    fingerprint: bytes
    tags: Mapping[str, str]
    state: State
    attempt: int
    last_sequence: int
    outputs: tuple[value_pb2.NamedValue, ...]
    error: error_pb2.ErrorData | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    cancel_requested: bool
    # The identity that started it ("" when the host authenticated nobody).
    principal: str = ""

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def page_key(self) -> PageKey:
        return PageKey(self.created_at, self.id)


@dataclass(frozen=True, slots=True)
class LostExecution:
    """An unfinished execution whose host process was lost, now owned by this one.

    ``start`` is the start request the store kept; ``lost_host`` says which process
    ran it (``pid 4242 on web-1``).
    """

    record: ExecutionRecord
    start: bytes
    lost_host: str


@dataclass(frozen=True, slots=True)
class ExecutionUpdate:
    """What changes with a batch of events, recorded together with them.

    ``running`` moves a pending execution to running (and sets its start time);
    ``finished`` moves it to a terminal state (a cancel requested before is kept as the
    record's ``cancel_requested``). ``outputs`` are added to the record's outputs.
    """

    attempt: int | None = None
    running: bool = False
    outputs: tuple[value_pb2.NamedValue, ...] = ()
    finished: State | None = None
    error: error_pb2.ErrorData | None = None
    at: float = 0.0


class ExecutionStore(abc.ABC):
    """Executions and their event logs. Every method is called on the host's event loop.

    A store that outlives the process (``durable``) also keeps each execution's start
    request, holds a lease for the executions this process runs, and hands the
    unfinished executions of a lost process to another (:meth:`claim_lost`).
    """

    #: How long a finished execution is kept (seconds).
    retention_seconds: float
    #: Whether executions outlive this process (and so whether ``NewExecution.start``
    #: is worth building).
    durable: bool = False
    #: How often the host should call :meth:`claim_lost` (seconds; 0: never).
    claim_interval: float = 0.0
    #: How often the host should call :meth:`sweep` (seconds; 0: never).
    sweep_interval: float = 0.0

    @property
    def write_backlog_bytes(self) -> int:
        """Bytes of events waiting to be written (a queue depth, for metrics; 0 if none)."""
        return 0

    async def open(self) -> None:  # noqa: B027 - optional for stores with nothing to open
        """Get ready to serve (open files or connections, apply migrations).

        Raises :class:`StoreOpenError` naming what could not be opened.
        """

    @abc.abstractmethod
    async def create(self, new: NewExecution) -> tuple[ExecutionRecord, bool]:
        """Record a new execution (state PENDING, no events); returns it and True.

        With a request id already used, nothing is created: the existing execution is
        returned with False when the fingerprint is the same, else
        :class:`RequestIdConflictError` is raised.
        """

    @abc.abstractmethod
    async def find_request(self, request_id: str) -> ExecutionRecord | None:
        """The execution started with ``request_id``, if it is still kept."""

    @abc.abstractmethod
    async def append(
        self, execution_id: str, tails: Sequence[Tail], update: ExecutionUpdate | None = None
    ) -> int:
        """Number the events (``tails``, from the wire layer) and record them with ``update``.

        The first gets the sequence after the last one stored. Returns the last sequence.
        Implementations may make the caller wait while the execution's local streams lag
        far behind, so that a slow client slows its own op.
        """

    @abc.abstractmethod
    async def get(self, execution_id: str) -> ExecutionRecord | None:
        """The execution as it is now, or None if it is unknown (or no longer kept)."""

    async def start_request(self, execution_id: str) -> bytes | None:
        """The start request the execution was created with (``NewExecution.start``),
        or None when it is unknown, no longer kept, or this store keeps none."""
        return None

    @abc.abstractmethod
    async def executions(
        self,
        query: ExecutionQuery = ExecutionQuery(),
        *,
        before: PageKey | None = None,
        limit: int | None = None,
    ) -> list[ExecutionRecord]:
        """The executions kept that match ``query``, newest first (by creation, then id).

        ``before`` starts after that key (the last one of the previous page); at most
        ``limit`` are returned (None: all).
        """

    @abc.abstractmethod
    async def unfinished(self) -> list[ExecutionRecord]:
        """The executions not in a terminal state."""

    @abc.abstractmethod
    def follow(
        self,
        execution_id: str,
        after: int,
        *,
        max_batch_bytes: int,
        max_batch_events: int = 10_000,
        stop: Callable[[], bool] | None = None,
    ) -> AsyncIterator[list[Record]]:
        """The records after sequence ``after``, in batches: those stored, then live ones.

        Ends after the terminal event, or when ``stop()`` is true when the stream wakes
        (see :meth:`wake`). A batch holds at least one record and, beyond the first,
        at most ``max_batch_bytes`` bytes and ``max_batch_events`` records.
        """

    @abc.abstractmethod
    def wake(self, execution_id: str) -> None:
        """Wake this process's streams of the execution, so they check their ``stop``."""

    @abc.abstractmethod
    async def request_cancel(self, execution_id: str) -> ExecutionRecord | None:
        """Note that a cancel was asked for (state CANCEL_REQUESTED unless finished).

        Calls the callbacks registered with :meth:`on_cancel` for the execution.
        Returns the execution, or None if it is unknown.
        """

    @abc.abstractmethod
    def on_cancel(self, execution_id: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (on the loop) when a cancel is requested; returns the undo."""

    @abc.abstractmethod
    async def sweep(self) -> int:
        """Forget the finished executions retention no longer keeps; returns how many.

        An execution is forgotten whole: its record and every one of its events.
        """

    async def claim_lost(self) -> list[LostExecution]:
        """Take over the unfinished executions of host processes found lost.

        This process becomes their owner; the host then ends or retries each. A store
        that does not outlive its process has none.
        """
        return []

    async def close(self) -> None:  # noqa: B027 - optional for stores holding nothing open
        """Release what the store holds open (files, connections)."""
