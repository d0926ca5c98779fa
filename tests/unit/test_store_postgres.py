"""The PostgreSQL store: the shared store contract against a real server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import pytest

from ophost.server.store import ExecutionStore

# The driver is the ophost[postgresql] extra: an environment without it (make compat's)
# has nothing to test here. The fixture fails instead in CI when the server is missing.
pytest.importorskip("psycopg", reason="the PostgreSQL driver (ophost[postgresql]) is not installed")

from ophost.server.store._postgres import PostgresExecutionStore

from .store_contract import StoreContract


class TestPostgresStore(StoreContract):
    @pytest.fixture(autouse=True)
    async def _close_stores(self, postgres_dsn: str) -> AsyncIterator[None]:
        """The contract's own, after a database of its own (closed before it is dropped)."""
        self.dsn = postgres_dsn
        self._opened: list[ExecutionStore] = []
        yield
        for store in self._opened:
            await store.close()

    def make_store(
        self,
        *,
        retention_seconds: float = 600.0,
        max_retained: int = 1000,
        max_retained_bytes: int | None = None,
        clock: Callable[[], float] | None = None,
    ) -> ExecutionStore:
        return PostgresExecutionStore(
            self.dsn,
            retention_seconds=retention_seconds,
            max_retained=max_retained,
            max_retained_bytes=max_retained_bytes,
            clock=clock or time.time,
        )
