"""The SQLite store: the shared store contract, plus what only a durable store does."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ophost.server.store import ExecutionStore
from ophost.server.store._sqlite import SqliteExecutionStore

from .store_contract import StoreContract


class TestSqliteStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self.folder = tmp_path

    def make_store(
        self,
        *,
        retention_seconds: float = 600.0,
        max_retained: int = 1000,
        max_retained_bytes: int | None = None,
        clock: Callable[[], float] | None = None,
    ) -> ExecutionStore:
        return SqliteExecutionStore(
            self.folder / "store.db",
            retention_seconds=retention_seconds,
            max_retained=max_retained,
            max_retained_bytes=max_retained_bytes,
            clock=clock or time.time,
        )
