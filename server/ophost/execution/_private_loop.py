"""Running a coroutine to completion on a loop of its own, leaving the thread's loop alone.

``asyncio.run`` ends by clearing the calling thread's current event loop, so code that
calls ``asyncio.get_event_loop()`` afterwards (common in scripts and notebooks that mix
synchronous and asynchronous code) fails. Synchronous entry points of ophost run their
coroutine on a private loop that is never installed as the thread's loop, so the
thread's loop state is exactly what it was before the call.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import TypeVar

__all__ = ["run_on_private_loop"]

T = TypeVar("T")


def run_on_private_loop(coro: Coroutine[object, object, T]) -> T:
    """Run ``coro`` to completion on a new loop that is never set as the thread's loop."""
    if sys.version_info >= (3, 11):
        # A Runner given a loop factory neither installs its loop nor clears the thread's.
        with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
            return runner.run(coro)
    loop = asyncio.new_event_loop()  # pragma: no cover - Python 3.10 only
    try:  # pragma: no cover - Python 3.10 only
        return loop.run_until_complete(coro)
    finally:  # pragma: no cover - Python 3.10 only
        _close(loop)


def _close(loop: asyncio.AbstractEventLoop) -> None:  # pragma: no cover - Python 3.10 only
    try:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
