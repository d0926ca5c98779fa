"""Plugins and fixtures every test folder may use.

``pytester`` runs pytest on generated test files. The PostgreSQL fixtures come from
``tests/postgres.py`` (its docstring says where the server comes from):

- ``postgres_server``: one server for the whole session (``.dsn``, ``.host``, ``.port``);
- ``postgres_dsn``: the DSN of a new, empty database on it for one test, dropped after;
- ``postgres_cluster``: a private server for one test, which it may ``kill()`` and
  ``restart()`` to cut its connections;
- ``postgres_bindir``: the directory of the PostgreSQL programs, for tests that call
  ``running_postgres()`` themselves.

Each skips its test when PostgreSQL is missing, or fails it when it is required.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import postgres

pytest_plugins = ["pytester"]
# The stores' shared checks live outside test modules: their asserts say what differed too.
pytest.register_assert_rewrite("tests.unit.store_contract")


def _psycopg() -> None:
    # The Python 3.10 run (make compat) installs ophost without its postgresql extra.
    pytest.importorskip("psycopg", reason="psycopg is not installed (ophost[postgresql])")


@pytest.fixture(scope="session")
def postgres_bindir() -> Path:
    try:
        return postgres.find_bindir()
    except postgres.PostgresUnavailable as error:
        reason = str(error)
    if postgres.postgres_required():
        pytest.fail(f"PostgreSQL is required here (CI or OPHOST_REQUIRE_TOOLS): {reason}")
    pytest.skip(f"no PostgreSQL: {reason}")


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> Iterator[postgres.PostgresServer]:
    _psycopg()
    external = os.environ.get(postgres.ENV_DSN)
    if external:
        yield postgres.ExternalPostgres(external)
        return
    # Asked for here, not as an argument: a server named by the DSN needs no programs.
    bindir: Path = request.getfixturevalue("postgres_bindir")
    with postgres.running_postgres(bindir=bindir) as cluster:
        yield cluster


@pytest.fixture
def postgres_dsn(
    postgres_server: postgres.PostgresServer, request: pytest.FixtureRequest
) -> Iterator[str]:
    name = postgres.database_name_for(request.node.name)
    yield postgres.fresh_database(postgres_server.dsn, name)
    postgres.drop_database(postgres_server.dsn, name)


@pytest.fixture
def postgres_cluster(postgres_bindir: Path) -> Iterator[postgres.PostgresCluster]:
    _psycopg()
    with postgres.running_postgres(bindir=postgres_bindir) as cluster:
        yield cluster
