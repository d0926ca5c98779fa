"""Tokens, client certificates and permissions, against a host with a token file.

Every case of the token file's rules, through the Python client (and bare stubs for
health and reflection): who is let in (UNAUTHENTICATED otherwise), which ops each
identity sees and runs, whose executions it may read, follow and cancel
(PERMISSION_DENIED with an ErrorInfo otherwise), and its own limit on concurrent
executions (RESOURCE_EXHAUSTED with a RetryInfo).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from ophost.server import OpHostServer, hash_token
from ophost_client import (
    AsyncOpHostClient,
    ExecutionState,
    OpHostClient,
    OpHostRpcError,
    bearer,
)

from .security import Pki, client, make_pki, rpc_error, secured_host, write_token_file

ALL_ACTIONS = ["list", "run", "read", "cancel"]
TOKENS = {name: secrets.token_urlsafe(24) for name in ("alice", "bob", "admin", "viewer", "runner")}


def identities() -> dict[str, dict[str, object]]:
    def entry(name: str, **fields: object) -> dict[str, object]:
        return {"token_hash": hash_token(TOKENS[name]), **fields}

    return {
        "alice": entry(
            "alice", ops=["add", "ticks", "rep*"], actions=ALL_ACTIONS, max_concurrent_executions=1
        ),
        "bob": entry("bob", ops=["*"], actions=ALL_ACTIONS),
        "admin": entry("admin", ops=["*"], actions=ALL_ACTIONS, executions_of=["*"]),
        "viewer": entry("viewer", ops=["add"], actions=["list", "read"], executions_of=["alice"]),
        "runner": entry("runner", ops=["ticks"], actions=["run"]),
    }


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[OpHostServer]:
    token_file = write_token_file(tmp_path / "tokens.toml", identities())
    async with secured_host(token_file=token_file) as host:
        yield host


@pytest.fixture
async def clients(server: OpHostServer) -> AsyncIterator[dict[str, AsyncOpHostClient]]:
    made = {name: client(server.address, token=token) for name, token in TOKENS.items()}
    made["nobody"] = client(server.address)
    try:
        yield made
    finally:
        for each in made.values():
            await each.close()


def assert_denied(error: OpHostRpcError, identity: str, action: str, **metadata: str) -> None:
    assert error.code is grpc.StatusCode.PERMISSION_DENIED, error
    assert error.reason == "PERMISSION_DENIED"
    assert error.domain == "ophost"
    assert error.metadata == {"identity": identity, "action": action, **metadata}


# -- who gets in ---------------------------------------------------------------------------


async def test_a_call_without_credentials_is_unauthenticated(
    clients: dict[str, AsyncOpHostClient],
) -> None:
    nobody = clients["nobody"]
    calls = [
        nobody.server_info(),
        nobody.list_ops(),
        nobody.get_op("add"),
        nobody.call("add", {"a": 1, "b": 2}),
        nobody.start("add", {"a": 1, "b": 2}),
        nobody.get_execution("x"),
        nobody.list_executions(),
        nobody.cancel("x"),
    ]
    for call in calls:
        error = await rpc_error(call)
        assert error.code is grpc.StatusCode.UNAUTHENTICATED
        assert error.reason == "UNAUTHENTICATED"
        assert "no credentials" in error.message
    attached = await rpc_error(nobody.attach("x").__anext__())
    assert attached.code is grpc.StatusCode.UNAUTHENTICATED


async def test_a_wrong_or_malformed_token_is_unauthenticated(server: OpHostServer) -> None:
    async with client(server.address, token="not-a-token-anyone-has") as wrong:
        error = await rpc_error(wrong.list_ops())
    assert error.code is grpc.StatusCode.UNAUTHENTICATED
    assert error.message == "the bearer token matches no identity"
    async with client(server.address) as bare:
        for metadata, problem in [
            ([("authorization", f"Basic {TOKENS['alice']}")], "must be 'Bearer <token>'"),
            ([("authorization", "Bearer ")], "must be 'Bearer <token>'"),
            ([bearer(TOKENS["alice"]), bearer(TOKENS["bob"])], "more than one authorization"),
        ]:
            error = await rpc_error(bare.list_ops(metadata=metadata))
            assert error.code is grpc.StatusCode.UNAUTHENTICATED
            assert problem in error.message
            assert TOKENS["alice"] not in error.message


async def test_the_bearer_scheme_is_case_insensitive(server: OpHostServer) -> None:
    async with client(server.address) as bare:
        specs = await bare.list_ops(metadata=[("authorization", f"bearer {TOKENS['bob']}")])
    assert len(specs) == 7


async def test_server_info_needs_an_identity_and_no_action(
    clients: dict[str, AsyncOpHostClient],
) -> None:
    info = await clients["runner"].server_info()
    assert info.protocol_version == "1"


# -- ops -----------------------------------------------------------------------------------


async def test_list_ops_shows_an_identity_only_its_ops(
    clients: dict[str, AsyncOpHostClient],
) -> None:
    assert [s.name for s in await clients["alice"].list_ops()] == ["add", "report", "ticks"]
    assert [s.name for s in await clients["viewer"].list_ops(full=True)] == ["add"]
    assert len(await clients["bob"].list_ops()) == 7


async def test_an_op_outside_the_allow_list_is_denied_whether_or_not_it_exists(
    clients: dict[str, AsyncOpHostClient],
) -> None:
    alice = clients["alice"]
    assert_denied(await rpc_error(alice.call("payroll")), "alice", "run", op="payroll")
    assert_denied(await rpc_error(alice.start("payroll")), "alice", "run", op="payroll")
    assert_denied(await rpc_error(alice.get_op("payroll")), "alice", "list", op="payroll")
    assert_denied(await rpc_error(alice.call("no_such_op")), "alice", "run", op="no_such_op")
    # Inside the allow-list, an unknown op is NOT_FOUND, naming only visible ops.
    missing = await rpc_error(alice.call("reprt"))
    assert missing.code is grpc.StatusCode.NOT_FOUND
    assert "payroll" not in missing.message
    assert "'report'" in missing.message
    assert (await alice.get_op("report")).name == "report"


async def test_an_action_the_identity_lacks_is_denied(
    clients: dict[str, AsyncOpHostClient],
) -> None:
    method = "/ophost.v1.OpHostService/"
    viewer_run = await rpc_error(clients["viewer"].call("add", {"a": 1, "b": 1}))
    assert_denied(viewer_run, "viewer", "run")
    assert f"{method}Execute" in viewer_run.message
    assert_denied(await rpc_error(clients["runner"].list_ops()), "runner", "list")
    assert_denied(await rpc_error(clients["runner"].list_executions()), "runner", "read")
    assert_denied(await rpc_error(clients["viewer"].cancel("x")), "viewer", "cancel")


# -- executions belong to the identity that started them ------------------------------------


async def test_others_can_neither_read_follow_nor_cancel_an_execution(
    clients: dict[str, AsyncOpHostClient],
) -> None:
    alice, bob, admin = clients["alice"], clients["bob"], clients["admin"]
    started = await alice.start("ticks", {"n": 400, "pause": 0.01})
    own = started.id
    assert_denied(await rpc_error(bob.get_execution(own)), "bob", "read", execution_id=own)
    assert_denied(await rpc_error(bob.cancel(own)), "bob", "cancel", execution_id=own)
    attach = bob.attach(own)
    assert_denied(await rpc_error(attach.__anext__()), "bob", "read", execution_id=own)
    assert own not in [e.id for e in await bob.list_executions()]
    # The owner, and an identity granted everyone's executions, may.
    assert (await alice.get_execution(own)).id == own
    assert own in [e.id for e in await alice.list_executions()]
    assert (await admin.get_execution(own)).id == own
    await admin.cancel(own)
    async with alice.attach(own) as stream:
        async for _ in stream:
            pass
    assert stream.finished is not None
    assert (await alice.get_execution(own)).state is ExecutionState.CANCELED


async def test_a_grant_covers_the_named_identities_and_the_allowed_ops_only(
    clients: dict[str, AsyncOpHostClient],
) -> None:
    alice, bob, viewer = clients["alice"], clients["bob"], clients["viewer"]
    alice_add = (await alice.start("add", {"a": 1, "b": 2})).id
    alice_report = (await alice.start("report")).id
    bob_add = (await bob.start("add", {"a": 5, "b": 5})).id
    assert (await viewer.get_execution(alice_add)).op_name == "add"
    assert_denied(
        await rpc_error(viewer.get_execution(alice_report)),
        "viewer",
        "read",
        execution_id=alice_report,
    )
    assert_denied(
        await rpc_error(viewer.get_execution(bob_add)), "viewer", "read", execution_id=bob_add
    )
    listed = {e.id for e in await viewer.list_executions()}
    assert listed == {alice_add}
    assert {e.id for e in await viewer.list_executions(page_size=1)} == {alice_add}
    everyone = {e.id for e in await clients["admin"].list_executions(page_size=1)}
    assert {alice_add, alice_report, bob_add} <= everyone


async def test_run_alone_streams_the_own_execution_but_cannot_cancel_it(
    clients: dict[str, AsyncOpHostClient],
) -> None:
    runner, admin = clients["runner"], clients["admin"]
    stream = runner.execute("ticks", {"n": 30, "pause": 0.02})
    execution_id = await stream.accepted()
    await stream.__anext__()
    await stream.cancel()
    with pytest.raises(OpHostRpcError) as refused:
        async for _ in stream:
            pass
    assert_denied(refused.value, "runner", "cancel")
    # The execution goes on without its stream, as after a disconnect.
    async with admin.attach(execution_id) as following:
        async for _ in following:
            pass
    assert following.outputs == {"result": 30}


async def test_a_request_id_cannot_reach_another_identitys_execution(
    clients: dict[str, AsyncOpHostClient],
) -> None:
    alice, bob = clients["alice"], clients["bob"]
    first = await alice.start("add", {"a": 1, "b": 2}, request_id="req-1")
    assert (await alice.start("add", {"a": 1, "b": 2}, request_id="req-1")).id == first.id
    error = await rpc_error(bob.start("add", {"a": 1, "b": 2}, request_id="req-1"))
    assert error.code is grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "REQUEST_ID_CONFLICT"
    assert "another identity" in error.message
    streamed = await rpc_error(bob.call("add", {"a": 1, "b": 2}, request_id="req-1"))
    assert streamed.reason == "REQUEST_ID_CONFLICT"


# -- per-identity limit ------------------------------------------------------------------------


async def test_an_identity_over_its_limit_gets_resource_exhausted_with_retry_info(
    clients: dict[str, AsyncOpHostClient],
) -> None:
    alice, bob = clients["alice"], clients["bob"]
    running = await alice.start("ticks", {"n": 1000, "pause": 0.01})
    for attempt in (alice.start("add", {"a": 1, "b": 1}), alice.call("add", {"a": 1, "b": 1})):
        error = await rpc_error(attempt)
        assert error.code is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert error.reason == "TOO_MANY_EXECUTIONS_FOR_IDENTITY"
        assert error.metadata == {"identity": "alice", "limit": "1"}
        assert error.retry_delay == 1.0
    assert await bob.call("add", {"a": 1, "b": 1}) == {"result": 2}  # others are not held
    await alice.cancel(running.id)
    async with alice.attach(running.id) as stream:
        async for _ in stream:
            pass
    assert await alice.call("add", {"a": 2, "b": 2}) == {"result": 4}


# -- per-call tokens, the blocking client ---------------------------------------------------


async def test_a_call_may_carry_another_token_than_its_client(
    clients: dict[str, AsyncOpHostClient],
) -> None:
    alice = clients["alice"]
    assert_denied(await rpc_error(alice.call("payroll")), "alice", "run", op="payroll")
    as_bob = [bearer(TOKENS["bob"])]
    assert await alice.call("payroll", metadata=as_bob) == {"result": "payroll"}
    stream = alice.execute("payroll", metadata=as_bob)
    async with stream:
        assert await stream.result() == {"result": "payroll"}
    # The stream's own execution belongs to bob, not to the client's identity.
    execution_id = stream.execution_id
    assert execution_id is not None
    assert_denied(
        await rpc_error(alice.get_execution(execution_id)),
        "alice",
        "read",
        execution_id=execution_id,
    )
    with pytest.raises(ValueError, match="printable ASCII"):
        bearer("two words")


async def test_the_blocking_client_sends_its_token(server: OpHostServer) -> None:
    def calls() -> tuple[dict[str, object], OpHostRpcError]:
        with OpHostClient(server.address, token=TOKENS["bob"]) as bob:
            result = bob.call("add", {"a": 20, "b": 22})
        with OpHostClient(server.address) as nobody:
            try:
                nobody.list_ops()
            except OpHostRpcError as error:
                return result, error
        raise AssertionError("a call without a token went through")

    # The server runs on this test's loop: the blocking client waits in a thread.
    result, refused = await asyncio.to_thread(calls)
    assert result == {"result": 42}
    assert refused.code is grpc.StatusCode.UNAUTHENTICATED


# -- health and reflection -----------------------------------------------------------------------


async def test_health_is_open_to_load_balancers_by_default(server: OpHostServer) -> None:
    async with grpc.aio.insecure_channel(server.address) as channel:
        health: Any = health_pb2_grpc.HealthStub(channel)  # typed for sync channels
        checked = await health.Check(health_pb2.HealthCheckRequest(service=""))
        assert checked.status == health_pb2.HealthCheckResponse.SERVING
        async for watched in health.Watch(health_pb2.HealthCheckRequest(service="")):
            assert watched.status == health_pb2.HealthCheckResponse.SERVING
            break


async def test_health_can_require_credentials(tmp_path: Path) -> None:
    token_file = write_token_file(tmp_path / "tokens.toml", identities(), health="authenticated")
    async with (
        secured_host(token_file=token_file) as server,
        grpc.aio.insecure_channel(server.address) as channel,
    ):
        health: Any = health_pb2_grpc.HealthStub(channel)  # typed for sync channels
        request = health_pb2.HealthCheckRequest(service="")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await health.Check(request)
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        watch = health.Watch(request)
        with pytest.raises(grpc.aio.AioRpcError) as refused_watch:
            await watch.read()
        assert refused_watch.value.code() is grpc.StatusCode.UNAUTHENTICATED
        # Health needs an identity, and no action.
        allowed = await health.Check(request, metadata=[bearer(TOKENS["runner"])])
        assert allowed.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_follows_the_rules_of_list_ops(server: OpHostServer) -> None:
    async def services(token: str | None) -> list[str]:
        metadata = [bearer(token)] if token is not None else []
        async with grpc.aio.insecure_channel(server.address) as channel:
            stub: Any = reflection_pb2_grpc.ServerReflectionStub(channel)  # type: ignore[arg-type]
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            async for response in stub.ServerReflectionInfo(iter([request]), metadata=metadata):
                return [s.name for s in response.list_services_response.service]
        raise AssertionError("no reflection response")

    assert "ophost.v1.OpHostService" in await services(TOKENS["alice"])
    for token, code in [(None, "UNAUTHENTICATED"), (TOKENS["runner"], "PERMISSION_DENIED")]:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await services(token)
        assert refused.value.code().name == code


# -- client certificates (mTLS) ---------------------------------------------------------------


async def test_client_certificates_identify_callers(tmp_path: Path) -> None:
    pki: Pki = make_pki(tmp_path)
    dashboard = pki.client("dashboard")
    ci_cert = pki.client("ci")
    stranger = pki.client("stranger")
    ci_token = secrets.token_urlsafe(24)
    token_file = write_token_file(
        tmp_path / "tokens.toml",
        {
            "dashboard": {
                "client_cert_subject": dashboard.subject,
                "ops": ["report"],
                "actions": ["list", "read"],
            },
            "ci": {
                "token_hash": hash_token(ci_token),
                "client_cert_subject": ci_cert.subject,
                "ops": ["*"],
                "actions": ALL_ACTIONS,
            },
        },
    )
    async with secured_host(tls=pki.tls(mtls=True), token_file=token_file) as server:
        address = server.address
        async with client(address, pki, cert=dashboard) as by_cert:
            assert [s.name for s in await by_cert.list_ops()] == ["report"]
            assert_denied(await rpc_error(by_cert.call("report")), "dashboard", "run")
        async with client(address, pki, cert=stranger) as unknown:
            error = await rpc_error(unknown.list_ops())
            assert error.code is grpc.StatusCode.UNAUTHENTICATED
            assert stranger.subject in error.message
        # ci needs its token and its certificate.
        async with client(address, pki, cert=ci_cert, token=ci_token) as both:
            assert await both.call("add", {"a": 1, "b": 1}) == {"result": 2}
        async with client(address, pki, cert=ci_cert) as cert_only:
            assert (await rpc_error(cert_only.list_ops())).code is grpc.StatusCode.UNAUTHENTICATED
        async with client(address, pki, cert=dashboard, token=ci_token) as wrong_cert:
            error = await rpc_error(wrong_cert.list_ops())
            assert error.code is grpc.StatusCode.UNAUTHENTICATED
            assert "needs its client certificate" in error.message


async def test_certificate_identities_need_a_server_that_asks_for_certificates(
    tmp_path: Path,
) -> None:
    pki = make_pki(tmp_path)
    token_file = write_token_file(
        tmp_path / "tokens.toml",
        {"dashboard": {"client_cert_subject": "CN=dashboard", "ops": ["*"], "actions": ["list"]}},
    )
    with pytest.raises(Exception, match="serve with --tls-client-ca") as refused:
        async with secured_host(tls=pki.tls(), token_file=token_file):
            pass
    assert type(refused.value).__name__ == "TokenFileError"


async def test_limits_hold_for_concurrent_starts(clients: dict[str, AsyncOpHostClient]) -> None:
    alice = clients["alice"]
    results = await asyncio.gather(
        *(alice.start("ticks", {"n": 500, "pause": 0.01}) for _ in range(5)),
        return_exceptions=True,
    )
    started = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, OpHostRpcError)]
    assert len(started) == 1
    assert len(refused) == 4
    assert all(r.reason == "TOO_MANY_EXECUTIONS_FOR_IDENTITY" for r in refused)
    await alice.cancel(started[0].id)
