"""Run the conformance cases with every client and print a table of case x client.

``python -m tests.conformance.run [--client python|go|ts ...] [--case SUBSTRING] [--secure]
[--door http] [--ops ophost|dagster]``

Starts the servers (see README.md, "Targets"), feeds each client's conformance
program the cases, compares what it reports with the expectations and exits 1 if
any case failed for any client. The Go and TypeScript programs must be built first
(``make conformance`` does that). With ``--secure`` the servers speak mTLS and
authenticate callers with a token file, the programs connect with the CA, a client
certificate and a token, and the cases that need this (``requires: [secure]``) run
too (README.md, "The secure run"). With ``--door http`` the servers also open their
browser door, and the TypeScript program calls it over connect-web's Connect and
gRPC-Web transports (Node's ``fetch``), starting executions with ``StartExecution`` and
following them with ``StreamEvents``; only the cases that fit unary and server-streaming
calls run (README.md, "The browser door run"). With ``--ops dagster`` the
servers host the twins of the conformance ops written with Dagster
(``tests/conformance/dagster_ops.py``), which must give the same results (README.md,
"The Dagster twins").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ophost.definitions import OpDefinition
from ophost.execution import Executor, ProcessExecutor, RayExecutor, worker_command
from ophost.execution._loader import load_ops
from ophost.server import AccessInterceptor, OpHostServer, TlsFiles, hash_token
from ophost_client import AsyncOpHostClient
from tests.conformance import ops as conformance_ops
from tests.conformance.normalise import compare
from tests.pki import PkiFiles, write_pki
from tests.tcp_proxy import CuttableProxy

ROOT = Path(__file__).resolve().parents[2]
CASES_DIR = Path(__file__).resolve().parent / "cases"
LOG_DIR = ROOT / ".conformance"

COMMANDS: dict[str, list[str]] = {
    "python": [sys.executable, "-m", "tests.conformance.python_client"],
    "go": [str(ROOT / "client/go/bin/conformance")],
    "ts": ["node", str(ROOT / "client/ts/dist/conformance/main.js")],
}
# The browser door run's clients: the TypeScript program over each connect-web
# transport (the document's ``transport``).
DOOR_CLIENTS: dict[str, str] = {
    "ts-connect": "connect",
    "ts-connect-binary": "connect-binary",
    "ts-grpc-web": "grpc-web",
}
# Cases a door client cannot pass for a reason of its own, not the host's: the case id
# and why, by client. JSON numbers cannot say -0 in JavaScript (JSON.stringify(-0) is
# "0"), so protobuf-es sends a float input of -0.0 as 0 in a JSON body.
DOOR_CLIENT_SKIPS: dict[str, dict[str, str]] = {
    "ts-connect": {"values/float_minus_zero": "protobuf-es writes -0.0 as 0 in JSON"},
}
# The largest value a case may send to the browser door: what travels inline in a
# StartExecution (Limits' inline threshold; larger ones need Execute's chunked upload).
DOOR_INLINE_BYTES = 1 << 20

# The flaky target resets a connection once it carried this much from the server,
# at most MAX_CUTS times per program run.
CUT_EACH_AFTER_BYTES = 32 * 1024
MAX_CUTS = 3

Json = Any

# What a run offers, for the cases' ``requires`` (README.md, "Requirements").
SECURE = "secure"
FEATURES = frozenset({SECURE})

# The identities of the secure run's token file: the name a case gives in ``token``
# (or ``attach_token``), and its entry. ``runner`` is every program's own token.
# ``capped`` already runs its one execution on the main server when the programs
# start (the runner holds it), so its next start is refused. ``wrong`` has a token
# that is in no identity.
IDENTITIES: dict[str, str] = {
    "runner": 'ops = ["*"]\nactions = ["list", "run", "read", "cancel"]',
    "other": 'ops = ["*"]\nactions = ["list", "run", "read", "cancel"]',
    "limited": 'ops = ["echo"]\nactions = ["list", "run", "read"]',
    "capped": 'ops = ["*"]\nactions = ["list", "run", "read", "cancel"]\n'
    "max_concurrent_executions = 1",
}


# The modules holding the conformance ops: ophost's own, and their twins written with
# Dagster (loaded through ophost's loader, which adapts them).
OPS_MODULES = {"ophost": conformance_ops.__name__, "dagster": "tests.conformance.dagster_ops"}
# What the Dagster twins name differently, as Dagster does: its own Failure class, and
# the retry request whose limit was exceeded (ophost's engine names that failure itself).
DAGSTER_NAMES = {
    "ophost.Failure": "dagster.Failure",
    "ophost.RetryLimitExceeded": "dagster.RetryRequested",
}


def hosted_ops(kind: str) -> list[OpDefinition]:
    """The conformance ops of ``kind`` (``ophost`` or ``dagster``), in order."""
    if kind == "ophost":
        return list(conformance_ops.ALL)
    return list(load_ops(module=OPS_MODULES[kind], resources=False).ops.values())


def renamed(expect: Json, names: Mapping[str, str]) -> Json:
    """``expect`` with every string in ``names`` replaced by its value there."""
    if isinstance(expect, str):
        return names.get(expect, expect)
    if isinstance(expect, list):
        return [renamed(item, names) for item in expect]
    if isinstance(expect, dict):
        return {key: renamed(value, names) for key, value in expect.items()}
    return expect


@dataclass(frozen=True)
class Case:
    id: str
    request: dict[str, Json]
    expect: Json
    needs_cuts: bool
    requires: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Security:
    """The secure run's certificates, token file and tokens (by identity name)."""

    pki: PkiFiles
    token_file: Path
    tokens: dict[str, str]

    def tls(self) -> TlsFiles:
        return TlsFiles(cert=self.pki.server_cert, key=self.pki.server_key, client_ca=self.pki.ca)

    def client(self, target: str, identity: str = "runner") -> AsyncOpHostClient:
        """A Python client of ``target`` with the CA, the client certificate and a token."""
        return AsyncOpHostClient(
            target,
            tls_ca=self.pki.ca,
            tls_cert=self.pki.client_cert,
            tls_key=self.pki.client_key,
            token=self.tokens[identity],
        )

    def for_programs(self) -> dict[str, Json]:
        """What the programs are told (the document's ``security``)."""
        return {
            "ca": str(self.pki.ca),
            "cert": str(self.pki.client_cert),
            "key": str(self.pki.client_key),
            "token": self.tokens["runner"],
            "tokens": {name: token for name, token in self.tokens.items() if name != "runner"},
        }


@contextlib.contextmanager
def security_files() -> Iterator[Security]:
    """Certificates made with trustme and a token file, in a folder removed at the end."""
    with tempfile.TemporaryDirectory(prefix="ophost-conformance-tls-") as folder:
        pki = write_pki(Path(folder))
        tokens = {name: secrets.token_urlsafe(32) for name in IDENTITIES}
        lines = []
        for name, entry in IDENTITIES.items():
            token_hash = hash_token(tokens[name])
            lines += [f"[identities.{name}]", f'token_hash = "{token_hash}"', entry, ""]
        token_file = Path(folder) / "tokens.toml"
        token_file.write_text("\n".join(lines), encoding="utf-8")
        tokens["wrong"] = secrets.token_urlsafe(32)
        yield Security(pki, token_file, tokens)


@dataclass
class Outcome:
    problems: list[str] = field(default_factory=list)
    # Why the case was not run for this client (see DOOR_CLIENT_SKIPS), if it was not.
    skipped: str | None = None

    @property
    def passed(self) -> bool:
        return not self.problems


def load_cases(pattern: str | None = None) -> list[Case]:
    cases: list[Case] = []
    seen: set[str] = set()
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            case = dict(raw)
            expect = case.pop("expect")
            needs_cuts = bool(case.pop("expect_resets", False))
            requires = frozenset(case.pop("requires", ()))
            if case["id"] in seen:
                raise ValueError(f"{path.name}: case id {case['id']!r} is used twice")
            if not requires <= FEATURES:
                raise ValueError(
                    f"{path.name}: case {case['id']!r} requires {sorted(requires - FEATURES)}, "
                    f"which no run offers (known: {sorted(FEATURES)})"
                )
            seen.add(case["id"])
            case.setdefault("target", "main")
            if pattern is None or pattern in case["id"]:
                cases.append(Case(case["id"], case, expect, needs_cuts, requires))
    return cases


@contextlib.contextmanager
def store_urls(kind: str) -> Iterator[dict[str, str]]:
    """A store URL per server (each its own store) of ``kind``: memory, sqlite, postgresql."""
    names = ("main", "tight", "draining")
    if kind == "memory":
        yield dict.fromkeys(names, "memory")
        return
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="ophost-conformance-") as folder:
            yield {name: f"sqlite:///{folder}/{name}.db" for name in names}
        return
    from tests import postgres

    given = os.environ.get("OPHOST_TEST_POSTGRES_DSN")
    with contextlib.ExitStack() as stack:
        dsn = given or stack.enter_context(postgres.running_postgres()).dsn
        urls = {}
        for name in names:
            urls[name] = postgres.fresh_database(dsn, f"conformance_{name}")
            stack.callback(postgres.drop_database, dsn, f"conformance_{name}")
        yield urls


def fits_the_door(case: Case) -> bool:
    """Whether a case can run on the browser door: unary and server-streaming calls only.

    Not the cases that need the flaky proxy's resets (a gRPC connection to cut), the
    secure run, or a value too large to travel inline (only ``Execute`` uploads chunks).
    """
    if case.needs_cuts or case.request.get("target") == "flaky" or case.requires:
        return False
    return _largest_pattern(case.request) <= DOOR_INLINE_BYTES


def _largest_pattern(value: Json) -> int:
    if isinstance(value, dict):
        sizes = [_largest_pattern(item) for item in value.values()]
        if "bytes_pattern" in value:
            sizes.append(int(value["bytes_pattern"]))
        return max(sizes, default=0)
    if isinstance(value, list):
        return max((_largest_pattern(item) for item in value), default=0)
    return 0


@contextlib.asynccontextmanager
async def servers(
    stores: Mapping[str, str],
    executor: str = "thread",
    security: Security | None = None,
    door: str = "grpc",
    ops: str = "ophost",
) -> AsyncIterator[dict[str, str]]:
    """The main, tight and draining servers; yields their addresses by target name.

    ``executor`` is where they run op bodies: ``thread`` (the host's threads),
    ``process`` (pools of worker processes loading ``tests.conformance.ops``) or ``ray``
    (Ray tasks loading it, on a local Ray started here and stopped at the end). With
    ``security`` they serve mTLS and authenticate callers with its token file. With
    ``door="http"`` each also serves its browser door: its URL is the target
    ``<name>_http``.
    ``ops`` says which conformance ops they host (see :func:`hosted_ops`).
    """
    hosted = hosted_ops(ops)
    with tempfile.TemporaryDirectory(prefix="ophost-conformance-") as scratch:
        os.environ[conformance_ops.RELEASE_FILE_ENV] = os.path.join(scratch, "release")
        conformance_ops.RELEASE.clear()
        if executor == "ray":
            # After the release file's variable is set: Ray's workers inherit it.
            start_local_ray(RAY_LOGICAL_CPUS)
        protected: dict[str, Any] = {}
        if security is not None:
            protected = {"tls": security.tls(), "withhold_errors": False}
        if door == "http":
            protected["http_port"] = 0
        main = OpHostServer(
            hosted,
            max_concurrent_executions=16,
            store=stores["main"],
            executor=_executor(executor, 4, hosted, OPS_MODULES[ops]),
            **protected,
            **_access(security),
        )
        tight = OpHostServer(
            hosted,
            max_concurrent_executions=1,
            store=stores["tight"],
            executor=_executor(executor, 1, hosted, OPS_MODULES[ops]),
            **protected,
            **_access(security),
        )
        draining = OpHostServer(
            hosted,
            drain_grace_seconds=600,
            store=stores["draining"],
            executor=_executor(executor, 1, hosted, OPS_MODULES[ops]),
            **protected,
            **_access(security),
        )
        try:
            async with _serving(main, tight, draining, security) as targets:
                yield targets
        finally:
            if executor == "ray":
                stop_local_ray()


# The tight and draining servers each hold a Ray task (one logical CPU) for the whole
# run; the main server's cases need several more at once. Logical: Ray does not pin.
RAY_LOGICAL_CPUS = 8


def start_local_ray(cpus: int) -> None:
    """A local Ray for this process's executors: loopback only, no dashboard."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)


def stop_local_ray() -> None:
    import ray

    ray.shutdown()


def _access(security: Security | None) -> dict[str, Any]:
    """A server's interceptors: the token file's, in the secure run (one per server)."""
    if security is None:
        return {}
    return {"interceptors": [AccessInterceptor.from_file(security.token_file)]}


def _executor(kind: str, size: int, hosted: Sequence[OpDefinition], module: str) -> Executor | None:
    if kind == "thread":
        return None
    by_name = {op.name: op for op in hosted}
    if kind == "ray":
        return RayExecutor(by_name, module=module)
    return ProcessExecutor(by_name, worker_command(None, module), size=size)


@contextlib.asynccontextmanager
async def _serving(
    main: OpHostServer,
    tight: OpHostServer,
    draining: OpHostServer,
    security: Security | None = None,
) -> AsyncIterator[dict[str, str]]:
    async with main, tight:
        await draining.start()
        if security is None:
            holders = [AsyncOpHostClient(tight.address), AsyncOpHostClient(draining.address)]
        else:
            # The capped identity's one execution, held on the main server.
            holders = [
                security.client(tight.address),
                security.client(draining.address),
                security.client(main.address, "capped"),
            ]
        stop: asyncio.Task[None] | None = None
        try:
            for holder in holders:
                await holder.start("block")
            stop = asyncio.create_task(draining.stop())
            # The host offers no event for "draining has begun": poll its flag.
            while draining.servicer is None or not draining.servicer.draining:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            targets = {"main": main.address, "tight": tight.address, "draining": draining.address}
            for name, server in (("main", main), ("tight", tight), ("draining", draining)):
                if server.http_url is not None:
                    targets[f"{name}_http"] = server.http_url.rstrip("/")
            yield targets
        finally:
            conformance_ops.RELEASE.set()
            for holder in holders:
                await holder.close()
            if stop is not None:
                await stop
            else:
                await draining.stop(grace=0)


async def run_client(
    client: str,
    cases: Sequence[Case],
    targets: Mapping[str, str],
    security: Security | None = None,
) -> tuple[dict[str, Outcome], str]:
    """Run one client's program over the cases; its outcomes by case id and its stderr."""
    async with CuttableProxy(
        targets["main"], cut_each_after_bytes=CUT_EACH_AFTER_BYTES, max_cuts=MAX_CUTS
    ) as proxy:
        transport = DOOR_CLIENTS.get(client)
        sent_targets = dict(targets) | {"flaky": proxy.address}
        if transport is not None:
            sent_targets = {name: targets[f"{name}_http"] for name in ("main", "tight", "draining")}
        document: dict[str, Json] = {
            "client": client,
            "targets": sent_targets,
            "cases": [_for_client(case.request, client) for case in cases],
        }
        if transport is not None:
            document["transport"] = transport
        if security is not None:
            document["security"] = security.for_programs()
        budget = sum(case.request.get("timeout_seconds", 60) for case in cases) + 60
        process = await asyncio.create_subprocess_exec(
            *COMMANDS["ts" if transport is not None else client],
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
        )
        try:
            stdout, stderr = await asyncio.wait_for(
                process.communicate(json.dumps(document).encode()), budget
            )
        except TimeoutError:
            process.kill()
            stdout, stderr = await process.communicate()
        cuts = proxy.cuts
    results: dict[str, Json] = {}
    for line in stdout.decode(errors="replace").splitlines():
        if line.strip():
            try:
                entry = json.loads(line)
                results[entry["id"]] = entry["result"]
            except (ValueError, KeyError, TypeError):
                results.setdefault("<garbage>", line)
    outcomes: dict[str, Outcome] = {}
    skips = DOOR_CLIENT_SKIPS.get(client, {})
    for case in cases:
        if case.id in skips:
            outcomes[case.id] = Outcome(skipped=skips[case.id])
            continue
        if case.id not in results:
            outcomes[case.id] = Outcome(
                [f"no result (program exit code {process.returncode}; see its stderr)"]
            )
            continue
        problems = compare(case.expect, results[case.id])
        if case.needs_cuts and cuts == 0:
            problems.append("the flaky proxy never reset a connection, so nothing was re-attached")
        outcomes[case.id] = Outcome(problems)
    return outcomes, stderr.decode(errors="replace")


def _for_client(request: Mapping[str, Json], client: str) -> dict[str, Json]:
    """The case as sent: request ids made unique per client run."""
    sent = dict(request)
    if "request_id" in sent:
        sent["request_id"] = f"{sent['request_id']}-{client}-{os.getpid()}-{time.time_ns()}"
    return sent


def _cell(outcome: Outcome) -> str:
    if outcome.skipped is not None:
        return "skip"
    return "pass" if outcome.passed else "FAIL"


def table(
    cases: Sequence[Case], clients: Sequence[str], report: Mapping[str, Mapping[str, Outcome]]
) -> str:
    width = max([len(case.id) for case in cases] + [4])
    columns = [max(len(c), 6) for c in clients]
    header = "  ".join(c.ljust(w) for c, w in zip(clients, columns, strict=True))
    lines = ["case".ljust(width) + "  " + header]
    lines.append("-" * len(lines[0]))
    for case in cases:
        cells = [_cell(report[c][case.id]) for c in clients]
        lines.append(
            case.id.ljust(width)
            + "  "
            + "  ".join(cell.ljust(w) for cell, w in zip(cells, columns, strict=True))
        )
    totals = [sum(o.passed and o.skipped is None for o in report[c].values()) for c in clients]
    lines.append("-" * len(lines[0]))
    lines.append(
        "passed".ljust(width)
        + "  "
        + "  ".join(f"{t}/{len(cases)}".ljust(w) for t, w in zip(totals, columns, strict=True))
    )
    return "\n".join(lines)


async def run(
    clients: Sequence[str],
    pattern: str | None,
    stores: Mapping[str, str],
    executor: str = "thread",
    security: Security | None = None,
    door: str = "grpc",
    ops: str = "ophost",
) -> int:
    offered = FEATURES if security is not None else frozenset()
    matching = load_cases(pattern)
    if ops == "dagster":
        matching = [
            Case(c.id, c.request, renamed(c.expect, DAGSTER_NAMES), c.needs_cuts, c.requires)
            for c in matching
        ]
    cases = [case for case in matching if case.requires <= offered]
    if door == "http":
        left_out = [case.id for case in cases if not fits_the_door(case)]
        cases = [case for case in cases if fits_the_door(case)]
        print(
            f"conformance: {len(left_out)} case(s) left out of the browser door run "
            f"(they need Execute's chunked upload, a connection to cut or the secure run): "
            f"{', '.join(left_out)}",
            file=sys.stderr,
        )
    skipped = len(matching) - len(cases)
    if skipped:
        print(
            f"conformance: {skipped} case(s) skipped: they need what this run does not "
            f"offer ({', '.join(sorted(FEATURES - offered))}; see --secure)",
            file=sys.stderr,
        )
    if not cases:
        print(f"no case matches {pattern!r} in this run", file=sys.stderr)
        return 2
    report: dict[str, dict[str, Outcome]] = {}
    LOG_DIR.mkdir(exist_ok=True)
    suffix = (
        ("-secure" if security is not None else "")
        + ("-http" if door == "http" else "")
        + ("-dagster" if ops != "ophost" else "")
    )
    async with servers(stores, executor, security, door, ops) as targets:
        for client in clients:
            started = time.monotonic()
            outcomes, stderr = await run_client(client, cases, targets, security)
            (LOG_DIR / f"{client}{suffix}.stderr").write_text(stderr, encoding="utf-8")
            report[client] = outcomes
            passed = sum(o.passed and o.skipped is None for o in outcomes.values())
            for case_id, outcome in outcomes.items():
                if outcome.skipped is not None:
                    print(
                        f"conformance: {client}: {case_id} skipped: {outcome.skipped}",
                        file=sys.stderr,
                    )
            print(
                f"conformance: {client}: {passed}/{len(cases)} passed in "
                f"{time.monotonic() - started:.1f}s "
                f"(its stderr: .conformance/{client}{suffix}.stderr)",
                file=sys.stderr,
            )
    print(table(cases, clients, report))
    failed = False
    for client in clients:
        for case in cases:
            outcome = report[client][case.id]
            if not outcome.passed:
                failed = True
                print(f"\nFAIL {case.id} [{client}]")
                for problem in outcome.problems:
                    print(f"  {problem}")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.conformance.run", description=__doc__)
    parser.add_argument(
        "--client",
        action="append",
        choices=sorted([*COMMANDS, *DOOR_CLIENTS]),
        help="only these clients",
    )
    parser.add_argument("--case", help="only cases whose id contains this")
    parser.add_argument(
        "--store",
        choices=("memory", "sqlite", "postgresql"),
        default="memory",
        help="where the servers keep executions (postgresql: $OPHOST_TEST_POSTGRES_DSN, "
        "else a throwaway server; default: %(default)s)",
    )
    parser.add_argument(
        "--executor",
        choices=("thread", "process", "ray"),
        default="thread",
        help="where the servers run op bodies (default: %(default)s)",
    )
    parser.add_argument(
        "--secure",
        action="store_true",
        help="serve mTLS with a token file (certificates made with trustme); the programs "
        "connect with the CA, a client certificate and a token, and the cases that "
        "require 'secure' run too",
    )
    parser.add_argument(
        "--door",
        choices=("grpc", "http"),
        default="grpc",
        help="grpc: the clients call the gRPC port; http: the TypeScript program calls the "
        "browser door over connect-web's Connect and gRPC-Web transports, with the cases "
        "that fit unary and server-streaming calls (default: %(default)s)",
    )
    parser.add_argument(
        "--ops",
        choices=sorted(OPS_MODULES),
        default="ophost",
        help="which conformance ops the servers host: ophost's, or their twins written with "
        "Dagster (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.door == "http" and args.secure:
        parser.error("--door http runs without --secure (the door's security has its own tests)")
    clients = args.client or (list(DOOR_CLIENTS) if args.door == "http" else ["python", "go", "ts"])
    print(
        f"conformance: servers keep executions in {args.store}, run op bodies in "
        + {"thread": "threads", "process": "worker processes", "ray": "Ray tasks"}[args.executor]
        + (", serve mTLS and ask for tokens" if args.secure else "")
        + (f", host the {args.ops} twins of the ops" if args.ops != "ophost" else ""),
        file=sys.stderr,
    )
    with store_urls(args.store) as stores, contextlib.ExitStack() as stack:
        security = stack.enter_context(security_files()) if args.secure else None
        return asyncio.run(
            run(clients, args.case, stores, args.executor, security, args.door, args.ops)
        )


if __name__ == "__main__":
    sys.exit(main())
