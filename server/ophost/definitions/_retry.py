"""Retry policies: how often and after how long a failed op runs again."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from ophost.errors import DefinitionError, InvalidArgumentError

__all__ = ["Backoff", "Jitter", "RetryPolicy"]


class Backoff(enum.Enum):
    """How the delay grows from one retry to the next."""

    LINEAR = "LINEAR"
    EXPONENTIAL = "EXPONENTIAL"


class Jitter(enum.Enum):
    """Randomness applied to the delay, to spread out retries."""

    FULL = "FULL"
    PLUS_MINUS = "PLUS_MINUS"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When an op fails, run it again up to ``max_retries`` times.

    ``max_retries=N`` allows N retries, so N + 1 attempts in all. ``delay`` is the
    base wait in seconds; ``backoff`` and ``jitter`` need a delay to act on.
    """

    max_retries: int = 1
    delay: float | None = None
    backoff: Backoff | None = None
    jitter: Jitter | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.max_retries, int):
            raise InvalidArgumentError(
                f"RetryPolicy: max_retries must be an int, got {type(self.max_retries).__name__}"
            )
        if self.delay is not None and not isinstance(self.delay, (int, float)):
            raise InvalidArgumentError(
                f"RetryPolicy: delay must be a number of seconds, got {type(self.delay).__name__}"
            )
        if self.backoff is not None and not isinstance(self.backoff, Backoff):
            raise InvalidArgumentError(
                f"RetryPolicy: backoff must be a Backoff, got {type(self.backoff).__name__}"
            )
        if self.jitter is not None and not isinstance(self.jitter, Jitter):
            raise InvalidArgumentError(
                f"RetryPolicy: jitter must be a Jitter, got {type(self.jitter).__name__}"
            )
        if self.backoff is not None and self.delay is None:
            raise DefinitionError(
                "RetryPolicy: can not set backoff without also setting delay "
                "(backoff scales the delay)"
            )
        if self.jitter is not None and self.delay is None:
            raise DefinitionError(
                "RetryPolicy: can not set jitter without also setting delay "
                "(jitter randomises the delay)"
            )

    def calculate_delay(self, attempt_num: int) -> float:
        """Seconds to wait before retry number ``attempt_num`` (the first retry is 1).

        Without a delay the wait is the int ``0``. The randomness comes from the
        standard library's global ``random`` generator, so seeding it makes the
        result reproducible.
        """
        base = self.delay or 0
        if self.backoff is Backoff.LINEAR:
            delay = base * attempt_num
        elif self.backoff is Backoff.EXPONENTIAL:
            delay = (2**attempt_num - 1) * base
        else:
            delay = base
        if self.jitter is Jitter.FULL:
            return random.random() * delay
        if self.jitter is Jitter.PLUS_MINUS:
            # The spread is the base delay, not the backed-off one.
            return delay + (2 * random.random() * base - base)
        return delay
