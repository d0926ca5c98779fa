"""Throwaway PostgreSQL servers for the tests and benchmarks of the PostgreSQL store.

Where the tests get a server
    The pytest fixtures in ``tests/conftest.py`` start one throwaway cluster per test
    session (``postgres_server``) and give each test that asks for ``postgres_dsn`` a new,
    empty database on it, dropped afterwards. Tests that crash the server on purpose ask
    for ``postgres_cluster``, a private cluster of their own (``kill()``, ``restart()``).

    A cluster is made by ``initdb`` in a fresh temporary directory and served by the
    ``postgres`` program on 127.0.0.1 at a free port, with trust authentication; it is
    stopped (``pg_ctl stop -m fast``) and its directory removed at the end. The programs
    come from Debian's ``postgresql`` package, the highest version under
    ``/usr/lib/postgresql/<version>/bin``. As root (CI), they run as the ``postgres``
    user through ``runuser``, since PostgreSQL refuses to run as root; as anyone else
    they run as the current user. ``.ci/run`` installs the package when it is missing.

Using a server that already runs
    ``OPHOST_TEST_POSTGRES_DSN=postgresql://user:pw@host:5432/postgres`` makes the tests
    create their databases on that server (the role needs CREATEDB) instead of starting
    one. ``postgres_cluster`` still needs the programs, since it kills its server.

Without PostgreSQL
    The tests that need it are skipped, with the reason. They fail instead when ``CI``
    or ``OPHOST_REQUIRE_TOOLS`` is set, except that ``make unit`` and ``make e2e`` set
    ``OPHOST_POSTGRES_OPTIONAL`` outside CI when the programs are missing, so that a
    developer's machine without PostgreSQL still runs the rest. ``OPHOST_POSTGRES_BIN``
    names the directory holding ``initdb``, ``postgres`` and ``pg_ctl`` and overrides the
    search (``OPHOST_POSTGRES_BIN=/nonexistent`` shows what happens without them).

From the shell, ``python -m tests.postgres check`` says which programs would be used,
and ``python -m tests.postgres serve`` runs a throwaway server until Ctrl-C (for
benchmarks or a look with psql).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

if TYPE_CHECKING:
    # Imported when used: the Python 3.10 run (make compat) has no psycopg.
    import psycopg

ENV_DSN = "OPHOST_TEST_POSTGRES_DSN"
ENV_BIN = "OPHOST_POSTGRES_BIN"
ENV_OPTIONAL = "OPHOST_POSTGRES_OPTIONAL"

DEBIAN_ROOT = Path("/usr/lib/postgresql")
PROGRAMS = ("initdb", "postgres", "pg_ctl")
SERVER_USER = "postgres"
HOST = "127.0.0.1"

# Server settings for tests. max_connections leaves room for several host processes,
# each with a pool. fsync=off makes a new database about three times quicker (~85 ms
# against ~270 ms here) and loses nothing when the tests crash the server: kill() ends
# processes, not the machine, so what was committed is in the kernel's cache and
# survives. Benchmarks of commit latency want {"fsync": "on"}.
TEST_SETTINGS: Mapping[str, str] = {
    "listen_addresses": HOST,
    "max_connections": "200",
    "fsync": "off",
}

START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server programs are not on this machine."""


class PostgresServer(Protocol):
    """What every test server offers: where it listens and a DSN of its main database."""

    @property
    def dsn(self) -> str: ...

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def postgres_required() -> bool:
    """Whether a missing PostgreSQL fails a test rather than skipping it."""
    if _flag("CI"):
        return True
    return _flag("OPHOST_REQUIRE_TOOLS") and not _flag(ENV_OPTIONAL)


def _has_programs(directory: Path) -> bool:
    return all((directory / name).is_file() for name in PROGRAMS)


def _version_key(directory: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", directory.name))


def find_bindir() -> Path:
    """The directory of ``initdb``, ``postgres`` and ``pg_ctl``, or PostgresUnavailable."""
    override = os.environ.get(ENV_BIN)
    if override:
        if _has_programs(Path(override)):
            return Path(override)
        raise PostgresUnavailable(
            f"{ENV_BIN}={override} does not hold the PostgreSQL programs {', '.join(PROGRAMS)}"
        )
    versions = [
        path.parent
        for path in DEBIAN_ROOT.glob("*/bin")
        if path.parent.name[:1].isdigit() and _has_programs(path)
    ]
    if versions:
        return max(versions, key=_version_key) / "bin"
    # Not Debian (a developer's Mac, say): whatever initdb is on PATH.
    found = shutil.which("initdb")
    if found and _has_programs(Path(found).resolve().parent):
        return Path(found).resolve().parent
    raise PostgresUnavailable(
        f"no PostgreSQL server programs in {DEBIAN_ROOT}/<version>/bin or on PATH; install"
        f" Debian's postgresql package, or point {ENV_DSN} at a running server"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # The command name (field 2) is in parentheses and may hold spaces.
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[1]) == pid:
                children.append(int(stat.parent.name))
    return children


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie counts: it holds no resources)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def _tempdir_parent() -> str | None:
    """Where to make the cluster's directory: it must be reachable by the server's user."""
    if not _as_root():
        return None
    default = Path(tempfile.gettempdir()).resolve()
    reachable = all(p.stat().st_mode & 0o001 for p in [default, *default.parents])
    return None if reachable else "/tmp"


class PostgresCluster:
    """A throwaway PostgreSQL server of its own, made by :func:`running_postgres`.

    ``dsn`` names its database (``ophost`` unless told otherwise) as the ``postgres``
    superuser over TCP; ``admin_dsn`` names the ``postgres`` maintenance database.
    """

    user = SERVER_USER
    host = HOST

    def __init__(
        self,
        bindir: Path,
        root: Path,
        *,
        database: str = "ophost",
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.bindir = bindir
        self.root = root
        self.data_dir = root / "data"
        self.log_path = root / "server.log"
        self.database = database
        self.settings = {**TEST_SETTINGS, **(settings or {})}
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._as_postgres = _as_root()

    @property
    def dsn(self) -> str:
        return database_dsn(self.admin_dsn, self.database)

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/postgres"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- lifecycle -------------------------------------------------------------

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bindir / program), *args]
        if self._as_postgres:
            return ["runuser", "-u", SERVER_USER, "--", *command]
        return command

    def _env(self) -> dict[str, str]:
        # PGDATA, PGPORT and the like from the caller's shell must not steer the server.
        return {k: v for k, v in os.environ.items() if not k.startswith("PG")}

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(
            self._command(program, *args),
            cwd=self.root,
            env=self._env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
        if result.returncode != 0:
            output = result.stdout.decode(errors="replace").strip()
            raise RuntimeError(f"{program} failed ({result.returncode}):\n{output}")

    def create(self) -> None:
        """Make the data directory and start the server with the database created."""
        if self._as_postgres:
            shutil.chown(self.root, SERVER_USER, SERVER_USER)
        self._run(
            "initdb",
            *("-D", str(self.data_dir), "-U", SERVER_USER, "--auth=trust"),
            *("--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"),
        )
        # A free port may be taken by someone else before the server binds it: try again.
        for attempt in range(3):
            self.port = _free_port()
            try:
                self._start()
                break
            except RuntimeError:
                if attempt == 2 or "already in use" not in self.log_tail():
                    raise
        if self.database != "postgres":
            fresh_database(self.admin_dsn, self.database)

    def _start(self) -> None:
        # A postmaster.pid left by kill() would look "ready" before the new server is.
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        where = ("-D", str(self.data_dir), "-p", str(self.port), "-k", str(self.root))
        options = [f"-c{key}={value}" for key, value in self.settings.items()]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self._command("postgres", *where, *options),
                cwd=self.root,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._ready():
            if self._process.poll() is not None:
                raise RuntimeError(f"PostgreSQL did not start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"PostgreSQL not ready in {START_TIMEOUT}s:\n{self.log_tail()}")
            time.sleep(0.02)

    def _ready(self) -> bool:
        # pg_ctl -w waits the same way: line 8 of postmaster.pid says "ready" once
        # the server accepts connections.
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[7].strip() == "ready"

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _wait(self) -> None:
        if self._process is not None:
            try:
                self._process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def stop(self) -> None:
        """Shut the server down cleanly (fast mode: sessions are ended, no waiting)."""
        if self.running:
            try:
                self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w")
            except RuntimeError:
                self.kill()
                raise
        self._wait()

    def kill(self) -> None:
        """Crash the server: SIGKILL to the postmaster and every process it started.

        Its clients lose their connections at once, and committed data stays on disk
        (only the processes die), so :meth:`restart` recovers it.
        """
        pid = self._postmaster_pid() if self.running else None
        if pid is None:
            # Not up, or not far enough to have written its pid: end what we started.
            if self._process is not None:
                self._process.kill()
            self._wait()
            return
        children = _child_pids(pid)
        for victim in [pid, *children]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        self._wait()
        # A new postmaster refuses to start while an old backend still holds the
        # shared memory.
        deadline = time.monotonic() + STOP_TIMEOUT
        while not all(_gone(child) for child in children) and time.monotonic() < deadline:
            time.sleep(0.01)

    def restart(self) -> None:
        """Start the server again on the same data and port (stopping it first if up)."""
        self.stop()
        self._start()

    def close(self) -> None:
        """Stop the server and remove its directory."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def running_postgres(
    *,
    database: str = "ophost",
    settings: Mapping[str, str] | None = None,
    bindir: Path | None = None,
) -> Iterator[PostgresCluster]:
    """A new PostgreSQL cluster with ``database`` created in it; removed at the end.

    ``settings`` add to or override :data:`TEST_SETTINGS` (``{"fsync": "on"}``...).
    Raises :class:`PostgresUnavailable` when the programs are missing.
    """
    programs = bindir or find_bindir()
    root = Path(tempfile.mkdtemp(prefix="ophost-pg-", dir=_tempdir_parent()))
    cluster = PostgresCluster(programs, root, database=database, settings=settings)
    try:
        cluster.create()
        yield cluster
    finally:
        cluster.close()


class ExternalPostgres:
    """A server that already runs, named by ``OPHOST_TEST_POSTGRES_DSN``; never stopped here."""

    def __init__(self, dsn: str) -> None:
        from psycopg.conninfo import conninfo_to_dict

        self.dsn = dsn
        params = conninfo_to_dict(dsn)
        self.host = str(params.get("host") or "localhost")
        self.port = int(str(params.get("port") or 5432))


# -- databases -----------------------------------------------------------------


def database_dsn(dsn: str, name: str) -> str:
    """``dsn`` with its database replaced by ``name`` (URL or key=value form)."""
    if dsn.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(dsn)
        return urlunsplit(parts._replace(path="/" + quote(name, safe="")))
    from psycopg.conninfo import make_conninfo

    return make_conninfo(dsn, dbname=name)


def fresh_database(dsn: str, name: str) -> str:
    """Create an empty database ``name`` (replacing one of that name); return its DSN.

    ``dsn`` is any database of the server, connected to as a role that may create
    databases. The copy is of ``template0``, so nothing added to ``template1`` leaks in.
    """
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn, autocommit=True) as conn:
        _drop(conn, name)
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    return database_dsn(dsn, name)


def drop_database(dsn: str, name: str) -> None:
    """Drop database ``name`` if it exists, ending any sessions still connected to it."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        _drop(conn, name)


def _drop(conn: psycopg.Connection[Any], name: str) -> None:
    from psycopg import sql

    # WITH (FORCE) arrived in PostgreSQL 13.
    force = sql.SQL(" WITH (FORCE)") if conn.info.server_version >= 130000 else sql.SQL("")
    statement = sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)) + force
    conn.execute(statement)


def database_name_for(test_name: str) -> str:
    """A database name for one test: readable, unique, within PostgreSQL's 63 bytes."""
    readable = re.sub(r"[^a-z0-9]+", "_", test_name.lower()).strip("_")[:45]
    return f"t_{readable}_{uuid.uuid4().hex[:8]}"


# -- command line ----------------------------------------------------------------


def _serve(out: IO[str]) -> int:
    # Ctrl-C or SIGTERM stops the server and removes its directory. (A shell starts a
    # background job with SIGINT ignored, hence the handler set again.)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with running_postgres() as cluster:
        print(f"PostgreSQL {cluster.bindir} serving {cluster.dsn}; Ctrl-C stops it", file=out)
        out.flush()
        with contextlib.suppress(KeyboardInterrupt):
            while cluster.running:
                time.sleep(0.5)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``check``: exit 0 when the tests can have a PostgreSQL server; ``serve``: run one."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else "check"
    if command == "serve":
        return _serve(sys.stdout)
    if command != "check":
        print("usage: python -m tests.postgres [check|serve]", file=sys.stderr)
        return 2
    if os.environ.get(ENV_DSN):
        print(f"PostgreSQL tests: using the server of {ENV_DSN}")
        return 0
    try:
        bindir = find_bindir()
    except PostgresUnavailable as error:
        outcome = "fail" if postgres_required() else "be skipped"
        print(f"PostgreSQL tests will {outcome}: {error}")
        return 1
    print(f"PostgreSQL tests: using {bindir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
