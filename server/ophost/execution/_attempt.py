"""The executor seam: what an executor is asked to run, and what it hands back.

The engine (:mod:`ophost.execution._engine`) owns an execution's life: its framework
events, retries, backoff and cancellation. For each attempt it asks an
:class:`Executor` to run the op's user code (the input type checks, the body, the
output checks and encodings) and reads back, through an :class:`Attempt`, the events
that code produced and how the attempt ended. Every executor (threads today,
processes and Ray next) implements these two small protocols; the engine, and so the
semantics, stay the same for all of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ophost.definitions import (
    AssetMaterialization,
    AssetObservation,
    CancelOutcome,
    EventBody,
    ExpectationResult,
    InputChecked,
    LogMessage,
    OutputProduced,
    RetryRequested,
    StepFailed,
)
from ophost.execution._prepare import PreparedExecution

if TYPE_CHECKING:
    # Only the type: running ops in process does not load protobuf.
    from ophost.codec.chunks import EncodedValue

__all__ = [
    "Attempt",
    "AttemptCanceled",
    "AttemptEvent",
    "AttemptFailed",
    "AttemptOutcome",
    "AttemptRequest",
    "AttemptSucceeded",
    "Clock",
    "EncodedEvent",
    "EngineEvent",
    "Executor",
    "OutputEncoder",
]

Clock = Callable[[], float]
# Puts an output's value in wire form (inline, or a chunked reference and its chunks),
# given the output's name and value. Raises CodecError for a value with no wire form.
OutputEncoder = Callable[[str, object], "EncodedValue"]
# The event kinds user code produces during an attempt.
AttemptEvent = (
    InputChecked
    | OutputProduced
    | AssetMaterialization
    | AssetObservation
    | ExpectationResult
    | LogMessage
)


class EncodedEvent:
    """An event an op body produced in another process, already written as its tail.

    ``tail`` is the serialized event without its head (as
    :class:`~ophost.execution._tails.EventWriter` writes it), stored as it is;
    ``kind`` is its kind's field name (``"log"``, ``"output"``...); ``output`` is an
    output event's name and value in wire form (``ophost.v1.NamedValue``), else None.
    """

    __slots__ = ("kind", "output", "tail")

    def __init__(self, tail: bytes, kind: str, output: object = None) -> None:
        self.tail = tail
        self.kind = kind
        self.output = output

    def __repr__(self) -> str:
        return f"EncodedEvent(kind={self.kind!r}, {len(self.tail)} bytes)"


class EngineEvent:
    """One event as the engine emits it: which attempt, when, what; no sequence number.

    ``encoded`` is set on an :class:`~ophost.definitions.OutputProduced` when the
    engine was given an :data:`OutputEncoder`: the value in wire form, made when the
    output was produced (so a value with no wire form fails the step there).

    Treat it as immutable. It is a plain class with slots, not a frozen dataclass,
    because the host makes one per event: several times cheaper to create.
    """

    __slots__ = ("attempt", "body", "encoded", "timestamp")

    def __init__(
        self,
        attempt: int,
        timestamp: float,
        body: EventBody | EncodedEvent,
        encoded: EncodedValue | None = None,
    ) -> None:
        self.attempt = attempt
        self.timestamp = timestamp
        self.body = body
        self.encoded = encoded

    def __repr__(self) -> str:
        return (
            f"EngineEvent(attempt={self.attempt}, timestamp={self.timestamp}, "
            f"body={self.body!r}, encoded={self.encoded!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EngineEvent):
            return NotImplemented
        return (self.attempt, self.timestamp, self.body, self.encoded) == (
            other.attempt,
            other.timestamp,
            other.body,
            other.encoded,
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class AttemptRequest:
    """Everything an executor needs to run one attempt of a prepared execution."""

    prepared: PreparedExecution
    run_id: str
    attempt: int
    tags: Mapping[str, str] = field(default_factory=dict)
    encode_output: OutputEncoder | None = None
    # The start request as the host accepted it (a serialized ``ExecutionStart``, with
    # uploaded values inline): what an executor running the body elsewhere sends on.
    start: bytes = b""
    # Keep the outputs' Python values in the outcome (for in-process results).
    keep_outputs: bool = True
    clock: Clock = time.time


@dataclass(frozen=True, slots=True)
class AttemptSucceeded:
    """The body finished and every required output was produced."""

    outputs: dict[str, object]


@dataclass(frozen=True, slots=True)
class AttemptFailed:
    """The attempt failed.

    ``retry`` is the retry the op asked for (``RetryRequested``) or its retry policy
    offers; ``raised`` is the exception, when it was raised in this process.
    """

    failure: StepFailed
    raised: BaseException | None = None
    retry: RetryRequested | None = None


@dataclass(frozen=True, slots=True)
class AttemptCanceled:
    """The attempt stopped after a cancel request; ``outcome`` says how."""

    outcome: CancelOutcome


AttemptOutcome = AttemptSucceeded | AttemptFailed | AttemptCanceled


class Attempt(Protocol):
    """One running attempt, read by the engine on the event loop.

    Events come in the order user code produced them; the outcome comes after the
    last of them. :meth:`take` never blocks; :meth:`wait` does, until :meth:`take`
    has something.
    """

    def take(self) -> tuple[list[EngineEvent], AttemptOutcome | None]:
        """The events ready now and, once the attempt has ended, its outcome."""
        ...

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until :meth:`take` has something; False if ``timeout`` seconds passed first."""
        ...

    def cancel(self, grace: float) -> None:
        """Ask the body to stop.

        The attempt then ends with :class:`AttemptCanceled`: cooperatively when the
        body stops within ``grace`` seconds, otherwise as the executor can (abandoned
        for a thread, which cannot be stopped from outside).
        """
        ...


class Executor(Protocol):
    """Runs attempts of op bodies. ``start`` returns at once; the attempt runs on."""

    def start(self, request: AttemptRequest) -> Attempt: ...
