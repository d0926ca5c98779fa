"""Where the host keeps executions: the :class:`ExecutionStore` seam and its stores.

:class:`MemoryExecutionStore` (the default) keeps them in this process's memory.
Pass another store to ``OpHostServer(store=...)``: the host talks to nothing else
about executions.
"""

from ophost.server.store._interface import (
    TERMINAL_STATES,
    ExecutionQuery,
    ExecutionRecord,
    ExecutionStore,
    ExecutionUpdate,
    LostExecution,
    NewExecution,
    PageKey,
    RequestIdConflictError,
    State,
    StoreError,
    StoreFullError,
    StoreOpenError,
    StoreUnavailableError,
)
from ophost.server.store._memory import MemoryExecutionStore

__all__ = [
    "TERMINAL_STATES",
    "ExecutionQuery",
    "ExecutionRecord",
    "ExecutionStore",
    "ExecutionUpdate",
    "LostExecution",
    "MemoryExecutionStore",
    "NewExecution",
    "PageKey",
    "RequestIdConflictError",
    "State",
    "StoreError",
    "StoreFullError",
    "StoreOpenError",
    "StoreUnavailableError",
]
