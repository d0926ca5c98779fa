"""Stores by URL: ``memory``, ``sqlite:///path`` and ``postgresql://...``."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

from ophost.errors import InvalidArgumentError
from ophost.server.store._interface import ExecutionStore
from ophost.server.store._memory import MemoryExecutionStore

__all__ = ["DEFAULT_STORE_URL", "open_store", "store_path"]

#: Where ``ophost serve`` keeps executions unless told otherwise (relative to the
#: working directory).
DEFAULT_STORE_URL = "sqlite:///.ophost/ophost.db"


def store_path(url: str) -> Path | None:
    """The file of a ``sqlite:`` URL (three slashes: relative; four: absolute)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "sqlite":
        return None
    if parsed.netloc:
        raise InvalidArgumentError(
            f"store URL {url!r}: a SQLite URL has no host; write sqlite:///relative/path.db "
            "or sqlite:////absolute/path.db"
        )
    path = urllib.parse.unquote(parsed.path)
    if not path.startswith("/") or path == "/":
        raise InvalidArgumentError(
            f"store URL {url!r}: give the file, as sqlite:///path/to/file.db"
        )
    return Path(path[1:])


def open_store(
    url: str,
    *,
    retention_seconds: float = 600.0,
    max_retained: int = 1000,
    max_retained_bytes: int | None = None,
    lease_seconds: float = 10.0,
    follow_window: int = 4096,
) -> ExecutionStore:
    """The store a URL names (not opened yet: the host calls ``open``).

    ``memory`` keeps executions in this process only. ``sqlite:///path/file.db`` keeps
    them in a SQLite file (``?max_bytes=N`` caps its size). ``postgresql://user@host/db``
    keeps them in PostgreSQL (the ``ophost[postgresql]`` extra).
    """
    common: dict[str, Any] = {
        "retention_seconds": retention_seconds,
        "max_retained": max_retained,
        "max_retained_bytes": max_retained_bytes,
        "follow_window": follow_window,
    }
    if url == "memory":
        return MemoryExecutionStore(**common)
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "sqlite":
        from ophost.server.store._sqlite import SqliteExecutionStore

        path = store_path(url)
        assert path is not None
        options = urllib.parse.parse_qs(parsed.query)
        max_bytes = _int_option(url, options, "max_bytes")
        return SqliteExecutionStore(
            path, max_bytes=max_bytes, lease_seconds=lease_seconds, **common
        )
    if parsed.scheme in ("postgresql", "postgres"):
        try:
            from ophost.server.store._postgres import (
                PostgresExecutionStore,
            )
        except ImportError as exc:
            raise InvalidArgumentError(
                f"store URL {_safe(url)!r} needs the PostgreSQL driver: "
                f"pip install 'ophost[postgresql]' ({exc})"
            ) from None
        return PostgresExecutionStore(url, lease_seconds=lease_seconds, **common)
    raise InvalidArgumentError(
        f"store URL {_safe(url)!r} is not one ophost knows: use memory, "
        "sqlite:///path/to/file.db or postgresql://user@host/database"
    )


def _int_option(url: str, options: dict[str, list[str]], name: str) -> int | None:
    values = options.get(name)
    if not values:
        return None
    try:
        value = int(values[-1])
    except ValueError:
        value = 0
    if value < 1:
        raise InvalidArgumentError(f"store URL {url!r}: {name} must be a positive integer")
    return value


def _safe(url: str) -> str:
    """The URL without a password."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
    return urllib.parse.urlunsplit(parsed._replace(netloc=netloc))
