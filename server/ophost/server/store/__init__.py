"""Where the host keeps executions: the :class:`ExecutionStore` seam and its stores.

:class:`MemoryExecutionStore` (the default) keeps them in this process's memory.
Pass another store to ``OpHostServer(store=...)``: the host talks to nothing else
about executions.
"""

from ophost.server.store._interface import (
    TERMINAL_STATES,
    ExecutionRecord,
    ExecutionStore,
    ExecutionUpdate,
    NewExecution,
    RequestIdConflictError,
    State,
)
from ophost.server.store._memory import MemoryExecutionStore

__all__ = [
    "TERMINAL_STATES",
    "ExecutionRecord",
    "ExecutionStore",
    "ExecutionUpdate",
    "MemoryExecutionStore",
    "NewExecution",
    "RequestIdConflictError",
    "State",
]
