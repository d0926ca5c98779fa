"""The PostgreSQL fixtures give working servers: fresh databases, and a cluster to crash.

The store's tests rely on these: a database per test that is really empty and really
separate, and a server whose ``kill()`` cuts live connections while ``restart()``
brings back what was committed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import postgres

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (ophost[postgresql])")


def test_a_fresh_database_takes_a_table_and_gives_the_rows_back(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO items VALUES (1, 'one'), (2, 'two')")
        conn.commit()
    with psycopg.connect(postgres_dsn) as conn:
        rows = conn.execute("SELECT id, name FROM items ORDER BY id").fetchall()
    assert rows == [(1, "one"), (2, "two")]


def test_each_test_gets_its_own_empty_database(
    postgres_dsn: str, postgres_server: postgres.PostgresServer
) -> None:
    # The table of the test above is not here, and the database is not the main one.
    assert postgres_dsn != postgres_server.dsn
    with psycopg.connect(postgres_dsn) as conn:
        (tables,) = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
        (database,) = conn.execute("SELECT current_database()").fetchone()
    assert tables == 0
    assert database.startswith("t_test_each_test_gets_its_own")


def test_the_server_takes_the_connections_of_several_pooled_hosts(
    postgres_server: postgres.PostgresServer,
) -> None:
    with psycopg.connect(postgres_server.dsn) as conn:
        (limit,) = conn.execute("SHOW max_connections").fetchone()
    if os.environ.get(postgres.ENV_DSN) is None:
        assert int(limit) >= 200


def test_fresh_database_replaces_one_of_the_same_name(
    postgres_server: postgres.PostgresServer,
) -> None:
    name = postgres.database_name_for("replace me")
    dsn = postgres.fresh_database(postgres_server.dsn, name)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE leftover (x int)")
            # Left open on purpose: replacing the database ends this session.
            again = postgres.fresh_database(postgres_server.dsn, name)
            assert again == dsn
            with pytest.raises(psycopg.OperationalError):
                conn.execute("SELECT 1")
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT to_regclass('leftover')").fetchone() == (None,)
    finally:
        postgres.drop_database(postgres_server.dsn, name)


def test_kill_cuts_connections_and_restart_keeps_committed_data(
    postgres_cluster: postgres.PostgresCluster,
) -> None:
    dsn = postgres_cluster.dsn
    port = postgres_cluster.port
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (1), (2), (3)")

    before = psycopg.connect(dsn, autocommit=True)
    try:
        postgres_cluster.kill()
        assert not postgres_cluster.running
        with pytest.raises(psycopg.OperationalError):
            before.execute("SELECT 1")
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(dsn, connect_timeout=2)
    finally:
        before.close()

    postgres_cluster.restart()
    assert postgres_cluster.port == port
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT n FROM kept ORDER BY n").fetchall()
    assert rows == [(1,), (2,), (3,)]


def test_stop_then_restart_serves_again(postgres_cluster: postgres.PostgresCluster) -> None:
    postgres_cluster.stop()
    assert not postgres_cluster.running
    postgres_cluster.restart()
    with psycopg.connect(postgres_cluster.dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_the_cluster_directory_is_removed_at_the_end(postgres_bindir: Path) -> None:
    with postgres.running_postgres(bindir=postgres_bindir, database="other") as cluster:
        assert cluster.dsn.endswith(f":{cluster.port}/other")
        root = cluster.root
        assert root.is_dir()
    assert not root.exists()
    assert not cluster.running


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("postgresql://postgres@127.0.0.1:5433/ophost", "postgresql://postgres@127.0.0.1:5433/t_1"),
        ("postgres://u:p@h/db?sslmode=disable", "postgres://u:p@h/t_1?sslmode=disable"),
    ],
)
def test_database_dsn_swaps_only_the_database_of_a_url(dsn: str, expected: str) -> None:
    assert postgres.database_dsn(dsn, "t_1") == expected


def test_database_dsn_swaps_only_the_database_of_keywords() -> None:
    from psycopg.conninfo import conninfo_to_dict

    swapped = postgres.database_dsn("host=h port=5 dbname=db", "t 1")
    assert conninfo_to_dict(swapped) == {"host": "h", "port": "5", "dbname": "t 1"}


def test_database_names_are_valid_and_distinct() -> None:
    long_name = "test_x[" + "y" * 200 + "]"
    names = {postgres.database_name_for(long_name) for _ in range(20)}
    assert len(names) == 20
    assert all(len(name.encode()) <= 63 and name.startswith("t_test_x_y") for name in names)
