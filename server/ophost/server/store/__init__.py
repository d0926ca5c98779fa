"""Where the host keeps executions: the :class:`ExecutionStore` seam and its stores.

:class:`MemoryExecutionStore` keeps them in this process's memory (the default of
``OpHostServer``); the SQLite store (the default of ``ophost serve``) and the
PostgreSQL store keep them in a database that outlives the process and that several
host processes can share. :func:`open_store` makes one from a URL. Pass a store (or a
URL) to ``OpHostServer(store=...)``: the host talks to nothing else about executions.
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
from ophost.server.store._open import DEFAULT_STORE_URL, open_store, store_path

__all__ = [
    "DEFAULT_STORE_URL",
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
    "open_store",
    "store_path",
]
