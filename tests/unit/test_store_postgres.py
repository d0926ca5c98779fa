"""The PostgreSQL store: the shared store contract against a real server."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from ophost.server.store import ExecutionStore
from ophost.server.store._postgres import PostgresExecutionStore

from .store_contract import StoreContract


class TestPostgresStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _database(self, postgres_dsn: str) -> None:
        self.dsn = postgres_dsn

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
