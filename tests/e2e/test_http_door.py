"""The browser door: ``OpHostService`` over Connect and gRPC-Web, and the console's files.

Hosts serve on 127.0.0.1 with ``http_port=0`` (in this process, and one real ``ophost
serve --http-port 0``). The clients are independent of the host's code: ``urllib`` for
Connect's plain HTTP unary calls (what ``curl`` does), and the ``connectrpc`` package's
own client (over pyqwest) for binary calls, server streaming and gRPC-Web. The gRPC
port of the same host is read alongside, to show that both doors reach one engine and
one store.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shlex
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import grpc
import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.protocol import ProtocolType
from google.protobuf import any_pb2
from google.rpc import error_details_pb2  # type: ignore[import-untyped, unused-ignore]

from ophost.server import OpHostServer, hash_token
from ophost.v1 import execution_pb2
from ophost.v1 import op_host_service_pb2 as pb
from ophost.v1.op_host_service_connect import OpHostServiceClient
from ophost.v1.op_host_service_pb2_grpc import OpHostServiceStub

from .host_processes import REPO, hosts, start_host
from .security import OPS, make_pki, secured_host, wait_for_line, write_token_file

SERVICE = "ophost.v1.OpHostService"
TOKENS = {"alice": "alice-token-1", "bob": "bob-token-2", "reader": "reader-token-3"}


# -- helpers ---------------------------------------------------------------------------------


class Answer:
    """An HTTP answer: status, headers (lowercase names) and body."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def _fetch(
    url: str,
    *,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    method: str | None = None,
    context: ssl.SSLContext | None = None,
) -> Answer:
    request = urllib.request.Request(url, data=data, headers=dict(headers or {}), method=method)
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers), error.read())


async def fetch(url: str, **options: Any) -> Answer:
    return await asyncio.to_thread(_fetch, url, **options)


async def call_json(
    base: str,
    method: str,
    body: Mapping[str, Any],
    *,
    token: str | None = None,
    context: ssl.SSLContext | None = None,
) -> Answer:
    """A Connect unary call with a JSON body, as curl would make it."""
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return await fetch(
        f"{base}{SERVICE}/{method}",
        data=json.dumps(body).encode(),
        headers=headers,
        context=context,
    )


def details(error_body: Mapping[str, Any]) -> dict[str, Any]:
    """A Connect error's details, decoded, by their type name."""
    found: dict[str, Any] = {}
    for detail in error_body.get("details", []):
        data = base64.b64decode(detail["value"] + "=" * (-len(detail["value"]) % 4))
        kind = detail["type"].rpartition(".")[2]
        message = getattr(error_details_pb2, kind)()
        message.ParseFromString(data)
        found[detail["type"]] = message
    return found


def add_start(a: int, b: int) -> dict[str, Any]:
    return {
        "start": {
            "opName": "add",
            "inputs": [
                {"name": "a", "value": {"intValue": str(a)}},
                {"name": "b", "value": {"intValue": str(b)}},
            ],
        }
    }


def ticks_start(n: int, pause: float = 0.05) -> pb.StartExecutionRequest:
    request = pb.StartExecutionRequest()
    request.start.op_name = "ticks"
    added = request.start.inputs.add(name="n")
    added.value.int_value = n
    added = request.start.inputs.add(name="pause")
    added.value.double_value = pause
    return request


async def events_of(client: OpHostServiceClient, execution_id: str, **options: Any) -> list[Any]:
    """Every event of the execution, read with StreamEvents to its end."""
    events: list[Any] = []
    async for batch in client.stream_events(
        pb.StreamEventsRequest(execution_id=execution_id), **options
    ):
        events.extend(batch.events)
    return events


async def grpc_events(address: str, execution_id: str) -> bytes:
    """The same execution's events as the gRPC port sends them, joined."""
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_stream(
            f"/{SERVICE}/StreamEvents",
            request_serializer=pb.StreamEventsRequest.SerializeToString,
            response_deserializer=lambda data: data,
        )
        parts = [bytes(p) async for p in call(pb.StreamEventsRequest(execution_id=execution_id))]
    return b"".join(parts)


@pytest.fixture
async def door() -> AsyncIterator[OpHostServer]:
    async with secured_host(http_port=0) as server:
        yield server


def base_of(server: OpHostServer) -> str:
    assert server.http_url is not None
    return server.http_url


def connect_client(server: OpHostServer, **options: Any) -> OpHostServiceClient:
    return OpHostServiceClient(base_of(server).rstrip("/"), **options)


# -- the real command ------------------------------------------------------------------------


def _documented_curl() -> list[str]:
    """The first curl command of docs/http.md, as arguments."""
    text = (REPO / "docs" / "http.md").read_text(encoding="utf-8")
    commands = re.findall(r"^(curl .*?)(?:\n(?!  ))", text, re.MULTILINE | re.DOTALL)
    assert commands, "docs/http.md shows no curl command"
    return shlex.split(commands[0].replace("\\\n", " "))


def _curl_as_urllib(arguments: list[str], port: int) -> tuple[str, dict[str, str], bytes]:
    """What a curl command asks for: its URL (on ``port``), headers and body."""
    url, headers, body = "", {}, b""
    rest = iter(arguments[1:])
    for argument in rest:
        if argument == "-s":
            continue
        if argument == "-H":
            name, _, value = next(rest).partition(":")
            headers[name.strip()] = value.strip()
        elif argument == "-d":
            body = next(rest).encode()
        else:
            url = re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{port}", argument)
    return url, headers, body


async def test_ophost_serve_opens_the_door_and_the_documented_curl_call_works(
    tmp_path: Path,
) -> None:
    ops = tmp_path / "ops.py"
    ops.write_text(
        "from ophost import op\n\n\n@op\ndef add(a: int, b: int) -> int:\n    return a + b\n",
        encoding="utf-8",
    )
    host = await start_host(
        "-f", str(ops), "--port", "0", "--http-port", "0", "--store", "memory",
        "--executor", "thread", "--http-cors-origin", "*", cwd=tmp_path,
    )  # fmt: skip
    async with hosts(host):
        await wait_for_line(host.lines, "warning: the browser door lets pages from any origin")
        line = await wait_for_line(host.lines, "browser door")
        match = re.search(r"at http://127\.0\.0\.1:(\d+)/$", line)
        assert match is not None, line
        port = int(match.group(1))
        assert port != int(host.address.rpartition(":")[2])
        url, headers, body = _curl_as_urllib(_documented_curl(), port)
        assert url.endswith("/StartExecution")
        answer = await fetch(url, data=body, headers={**headers, "origin": "https://x.example"})
        assert answer.status == 200, answer.body
        assert answer.headers["access-control-allow-origin"] == "*"
        execution = answer.json()["execution"]
        assert execution["opName"] == "add"
        # Read to the end on the door, then check the outcome on the gRPC port: one store.
        async with OpHostServiceClient(f"http://127.0.0.1:{port}") as client:
            events = await events_of(client, execution["id"])
        assert events[-1].WhichOneof("kind") == "execution_finished"
        async with grpc.aio.insecure_channel(host.address) as channel:
            got = await OpHostServiceStub(channel).GetExecution(
                pb.GetExecutionRequest(execution_id=execution["id"])
            )
        assert got.execution.outputs[0].value.int_value == 5
        assert await host.stop() == 0
    assert any(line.endswith("stopped") for line in host.lines)


async def test_worker_processes_share_the_doors_port(tmp_path: Path) -> None:
    ops = tmp_path / "ops.py"
    ops.write_text(
        "from ophost import op\n\n\n@op\ndef add(a: int, b: int) -> int:\n    return a + b\n",
        encoding="utf-8",
    )
    host = await start_host(
        "-f", str(ops), "--port", "0", "--http-port", "0", "--workers", "2",
        "--store", f"sqlite:///{tmp_path / 'shared.db'}", "--executor", "thread", cwd=tmp_path,
    )  # fmt: skip
    async with hosts(host):
        line = await wait_for_line(host.lines, "browser door on")
        match = re.search(r"browser door on 127\.0\.0\.1:(\d+), shared", line)
        assert match is not None, line
        base = f"http://127.0.0.1:{match.group(1)}/"
        ids = []
        for a in range(4):
            started = await call_json(base, "StartExecution", add_start(a, 1))
            assert started.status == 200, started.body
            ids.append(started.json()["execution"]["id"])
        # Whichever process answers, it reads every execution from the shared store.
        async with OpHostServiceClient(base.rstrip("/")) as client:
            for execution_id in ids:
                events = await events_of(client, execution_id)
                assert events[-1].WhichOneof("kind") == "execution_finished"
        assert await host.stop() == 0


# -- unary calls and streaming ---------------------------------------------------------------


async def test_unary_calls_with_json_as_curl_sends_them(door: OpHostServer) -> None:
    base = base_of(door)
    info = await call_json(base, "GetServerInfo", {})
    assert info.status == 200
    assert info.headers["content-type"] == "application/json"
    assert info.json()["protocolVersion"] == "1"
    # Chunked uploads need Execute, which the door does not serve: it does not offer them.
    assert "chunked_upload" not in info.json().get("capabilities", [])
    listed = await call_json(base, "ListOps", {"view": "OP_VIEW_FULL"})
    assert {op["name"] for op in listed.json()["ops"]} == {op.name for op in OPS}
    one = await call_json(base, "GetOp", {"opName": "add"})
    assert [i["name"] for i in one.json()["op"]["inputs"]] == ["a", "b"]
    started = await call_json(base, "StartExecution", add_start(20, 22))
    execution_id = started.json()["execution"]["id"]
    async with connect_client(door) as client:
        await events_of(client, execution_id)
    got = await call_json(base, "GetExecution", {"executionId": execution_id})
    assert got.json()["execution"]["state"] == "EXECUTION_STATE_SUCCEEDED"
    assert got.json()["execution"]["outputs"][0]["value"]["intValue"] == "42"
    page = await call_json(base, "ListExecutions", {"opName": "add"})
    assert [e["id"] for e in page.json()["executions"]] == [execution_id]
    # A call without side effects may also be a GET.
    query = urllib.parse.urlencode(
        {"encoding": "json", "message": json.dumps({"opName": "add"}), "connect": "v1"}
    )
    by_get = await fetch(f"{base}{SERVICE}/GetOp?{query}")
    assert by_get.status == 200
    assert by_get.json()["op"]["name"] == "add"


async def test_binary_calls_stream_events_to_the_end_and_match_the_grpc_port(
    door: OpHostServer,
) -> None:
    async with connect_client(door) as client:
        started = await client.start_execution(ticks_start(5, 0.01))
        execution_id = started.execution.id
        events = await events_of(client, execution_id)
        kinds = [event.WhichOneof("kind") for event in events]
        assert kinds[0] == "execution_started"
        assert kinds[-1] == "execution_finished"
        assert kinds.count("log") == 5
        assert [event.sequence for event in events] == list(range(1, len(events) + 1))
        # Resuming after a sequence gives the rest, as on the gRPC port.
        rest = await client.stream_events(
            pb.StreamEventsRequest(execution_id=execution_id, after_sequence=3)
        ).__anext__()
        assert rest.events[0].sequence == 4
    door_bytes = b"".join(event.SerializeToString() for event in events)
    framed = pb.StreamEventsResponse(events=events).SerializeToString()
    assert framed == await grpc_events(door.address, execution_id)
    assert door_bytes


async def test_grpc_web_unary_and_streaming(door: OpHostServer) -> None:
    async with connect_client(door, protocol=ProtocolType.GRPC_WEB) as client:
        listed = await client.list_ops(pb.ListOpsRequest())
        assert "ticks" in {op.name for op in listed.ops}
        started = await client.start_execution(ticks_start(3, 0.01))
        events = await events_of(client, started.execution.id)
        assert events[-1].WhichOneof("kind") == "execution_finished"
        error = await _connect_error(client.get_op(pb.GetOpRequest(op_name="nope")))
    assert error.code is Code.NOT_FOUND
    assert error.details[0].type_name == "google.rpc.ErrorInfo"


async def test_an_execution_started_on_the_grpc_port_is_followed_and_canceled_on_the_door(
    door: OpHostServer,
) -> None:
    async with grpc.aio.insecure_channel(door.address) as channel:
        stub = OpHostServiceStub(channel)
        started = await stub.StartExecution(ticks_start(2000, 0.01))
    execution_id = started.execution.id
    async with connect_client(door) as client:
        stream = client.stream_events(pb.StreamEventsRequest(execution_id=execution_id))
        first = await stream.__anext__()
        assert first.events[0].WhichOneof("kind") == "execution_started"
        canceled = await client.cancel_execution(
            pb.CancelExecutionRequest(execution_id=execution_id)
        )
        assert canceled.execution.id == execution_id
        rest = [event async for batch in stream for event in batch.events]
    assert rest[-1].WhichOneof("kind") == "execution_finished"
    assert rest[-1].execution_finished.cancel_requested


# -- errors ----------------------------------------------------------------------------------


async def _connect_error(awaitable: Any) -> ConnectError:
    try:
        await awaitable
    except ConnectError as error:
        return error
    raise AssertionError("expected a ConnectError")


async def test_refusals_are_connect_errors_with_codes_and_error_details(
    door: OpHostServer,
) -> None:
    base = base_of(door)
    missing = await call_json(base, "GetOp", {"opName": "ad"})
    assert missing.status == 404
    assert missing.json()["code"] == "not_found"
    assert "did you mean 'add'?" in missing.json()["message"]
    info = details(missing.json())["google.rpc.ErrorInfo"]
    assert (info.reason, info.domain, dict(info.metadata)) == (
        "OP_NOT_FOUND",
        "ophost",
        {"op": "ad"},
    )
    bad = await call_json(
        base,
        "StartExecution",
        {
            "start": {
                "opName": "add",
                "inputs": [
                    {"name": "a", "value": {"stringValue": "two"}},
                    {"name": "b", "value": {"intValue": "3"}},
                ],
            }
        },
    )
    assert bad.status == 400
    assert bad.json()["code"] == "invalid_argument"
    found = details(bad.json())
    assert found["google.rpc.ErrorInfo"].reason == "INVALID_INPUT"
    fields = {v.field for v in found["google.rpc.BadRequest"].field_violations}
    assert "inputs.a" in fields
    # A JSON field the message does not have is named, not ignored.
    typo = await call_json(base, "GetOp", {"opNme": "add"})
    assert typo.status == 400
    assert "opNme" in typo.json()["message"]
    unknown = await call_json(base, "GetExecution", {"executionId": "nope"})
    assert unknown.json()["code"] == "not_found"
    # The bidirectional call is not served here, and says what to use instead.
    execute = await fetch(
        f"{base}{SERVICE}/Execute",
        data=b"",
        headers={"content-type": "application/connect+json"},
    )
    assert b"StartExecution" in execute.body
    # Binary, through the connect client: the same code and details.
    async with connect_client(door) as client:
        error = await _connect_error(client.get_op(pb.GetOpRequest(op_name="nope")))
    assert error.code is Code.NOT_FOUND
    unpacked = any_pb2.Any(type_url="type.googleapis.com/google.rpc.ErrorInfo")
    unpacked.value = error.details[0].message_bytes
    info = error_details_pb2.ErrorInfo()
    assert unpacked.Unpack(info)
    assert info.reason == "OP_NOT_FOUND"


async def test_a_request_over_the_message_limit_is_refused_and_the_host_serves_on(
    door: OpHostServer,
) -> None:
    base = base_of(door)
    huge = {"start": {"opName": "add", "tags": {"pad": "x" * (5 << 20)}}}
    answer = await call_json(base, "StartExecution", huge)
    assert answer.status >= 400
    assert answer.json()["code"] == "resource_exhausted"
    assert (await call_json(base, "ListOps", {})).status == 200


async def test_a_reader_that_goes_away_leaves_the_execution_and_the_host_running(
    door: OpHostServer,
) -> None:
    async with connect_client(door) as client:
        started = await client.start_execution(ticks_start(2000, 0.01))
        execution_id = started.execution.id
        async for batch in client.stream_events(pb.StreamEventsRequest(execution_id=execution_id)):
            assert batch.events
            break
    async with connect_client(door) as client:
        got = await client.get_execution(pb.GetExecutionRequest(execution_id=execution_id))
        assert got.execution.state == execution_pb2.EXECUTION_STATE_RUNNING
        await client.cancel_execution(pb.CancelExecutionRequest(execution_id=execution_id))
        events = await events_of(client, execution_id)
    assert events[-1].execution_finished.cancel_requested


async def test_op_errors_are_withheld_on_the_door_as_on_the_grpc_port() -> None:
    async with secured_host(http_port=0, withhold_errors=True) as server:
        base = base_of(server)
        started = await call_json(base, "StartExecution", {"start": {"opName": "boom"}})
        execution_id = started.json()["execution"]["id"]
        async with connect_client(server) as client:
            events = await events_of(client, execution_id)
        failure = next(e for e in events if e.WhichOneof("kind") == "step_failure")
        assert "hunter2" not in str(failure)
        assert failure.step_failure.error.error_id
        got = await call_json(base, "GetExecution", {"executionId": execution_id})
        assert "hunter2" not in got.body.decode()


# -- tokens ----------------------------------------------------------------------------------


def _identities() -> dict[str, dict[str, object]]:
    every = ["list", "run", "read", "cancel"]
    return {
        "alice": {
            "token_hash": hash_token(TOKENS["alice"]),
            "ops": ["*"],
            "actions": every,
            "executions_of": ["*"],
            "max_concurrent_executions": 1,
        },
        "bob": {"token_hash": hash_token(TOKENS["bob"]), "ops": ["*"], "actions": every},
        "reader": {
            "token_hash": hash_token(TOKENS["reader"]),
            "ops": ["report"],
            "actions": ["list", "read"],
        },
    }


async def test_tokens_identities_permissions_and_ownership_apply_on_the_door(
    tmp_path: Path,
) -> None:
    token_file = write_token_file(tmp_path / "tokens.toml", _identities())
    async with secured_host(token_file=token_file, http_port=0) as server:
        base = base_of(server)
        none = await call_json(base, "ListOps", {})
        assert none.status == 401
        assert none.json()["code"] == "unauthenticated"
        assert "authorization: Bearer" in none.json()["message"]
        wrong = await call_json(base, "ListOps", {}, token="not-a-token")
        assert wrong.json()["code"] == "unauthenticated"
        # Per-op permissions: reader sees and reads report only, and may not run.
        seen = await call_json(base, "ListOps", {}, token=TOKENS["reader"])
        assert [op["name"] for op in seen.json()["ops"]] == ["report"]
        refused = await call_json(base, "StartExecution", add_start(1, 2), token=TOKENS["reader"])
        assert refused.status == 403
        assert refused.json()["code"] == "permission_denied"
        # Ownership: bob's executions are his; alice reads everyone's.
        started = await call_json(base, "StartExecution", add_start(1, 2), token=TOKENS["bob"])
        execution_id = started.json()["execution"]["id"]
        mine = await call_json(base, "ListExecutions", {}, token=TOKENS["alice"])
        assert execution_id in [e["id"] for e in mine.json()["executions"]]
        alice_run = await call_json(
            base, "StartExecution", {"start": {"opName": "ticks", "inputs": [
                {"name": "n", "value": {"intValue": "2000"}},
                {"name": "pause", "value": {"doubleValue": 0.01}},
            ]}}, token=TOKENS["alice"],
        )  # fmt: skip
        alice_id = alice_run.json()["execution"]["id"]
        # Alice may run one execution at a time.
        second = await call_json(base, "StartExecution", add_start(3, 4), token=TOKENS["alice"])
        assert second.json()["code"] == "resource_exhausted"
        assert details(second.json())["google.rpc.ErrorInfo"].reason == (
            "TOO_MANY_EXECUTIONS_FOR_IDENTITY"
        )
        bobs = await call_json(base, "ListExecutions", {}, token=TOKENS["bob"])
        assert [e["id"] for e in bobs.json()["executions"]] == [execution_id]
        other = await call_json(
            base, "GetExecution", {"executionId": alice_id}, token=TOKENS["bob"]
        )
        assert other.json()["code"] == "permission_denied"
        # Streaming takes the token too.
        headers = {"authorization": f"Bearer {TOKENS['bob']}"}
        async with connect_client(server) as client:
            events = await events_of(client, execution_id, headers=headers)
            assert events[-1].WhichOneof("kind") == "execution_finished"
            error = await _connect_error(events_of(client, alice_id, headers=headers))
            assert error.code is Code.PERMISSION_DENIED
            error = await _connect_error(events_of(client, execution_id))
            assert error.code is Code.UNAUTHENTICATED
        canceled = await call_json(
            base, "CancelExecution", {"executionId": alice_id}, token=TOKENS["alice"]
        )
        assert canceled.status == 200


# -- TLS -------------------------------------------------------------------------------------


async def test_tls_serves_https_with_the_hosts_certificate_and_reloads_it(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    async with secured_host(tls=pki.tls(), http_port=0) as server:
        assert server.http_url is not None
        assert server.http_url.startswith("https://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=str(pki.ca_file))
        answer = await call_json(server.http_url, "ListOps", {}, context=trusted)
        assert answer.status == 200
        # Plain HTTP to the TLS port does not get an answer of the service.
        plain = server.http_url.replace("https://", "http://")
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            await call_json(plain, "ListOps", {})
        # A new certificate from another CA: new connections get it after a reload.
        (tmp_path / "other").mkdir()
        other = make_pki(tmp_path / "other")
        pki.issue_server(other.ca, pki.server_cert, pki.server_key)
        assert server.certificates is not None
        assert server.certificates.reload()
        renewed = ssl.create_default_context(cafile=str(other.ca_file))
        answer = await call_json(server.http_url, "ListOps", {}, context=renewed)
        assert answer.status == 200
        with pytest.raises(urllib.error.URLError):
            await call_json(server.http_url, "ListOps", {}, context=trusted)


async def test_mtls_needs_a_client_certificate_on_the_door(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    cert = pki.client("browser")
    async with secured_host(tls=pki.tls(mtls=True), http_port=0) as server:
        assert server.http_url is not None
        without = ssl.create_default_context(cafile=str(pki.ca_file))
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            await call_json(server.http_url, "ListOps", {}, context=without)
        with_cert = ssl.create_default_context(cafile=str(pki.ca_file))
        with_cert.load_cert_chain(cert.cert, cert.key)
        answer = await call_json(server.http_url, "ListOps", {}, context=with_cert)
        assert answer.status == 200


# -- CORS ------------------------------------------------------------------------------------


def _preflight(base: str, origin: str) -> Answer:
    return _fetch(
        f"{base}{SERVICE}/ListOps",
        method="OPTIONS",
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,connect-protocol-version,authorization",
        },
    )


async def test_cors_is_off_by_default(door: OpHostServer) -> None:
    answer = await asyncio.to_thread(_preflight, base_of(door), "http://localhost:5173")
    assert "access-control-allow-origin" not in answer.headers
    simple = await fetch(
        f"{base_of(door)}{SERVICE}/ListOps",
        data=b"{}",
        headers={"content-type": "application/json", "origin": "http://localhost:5173"},
    )
    assert simple.status == 200
    assert "access-control-allow-origin" not in simple.headers


async def test_cors_allows_the_origins_given_and_no_others() -> None:
    async with secured_host(http_port=0, http_cors_origins=["http://localhost:5173"]) as server:
        base = base_of(server)
        allowed = await asyncio.to_thread(_preflight, base, "http://localhost:5173")
        assert allowed.status == 200
        assert allowed.headers["access-control-allow-origin"] == "http://localhost:5173"
        asked = allowed.headers["access-control-allow-headers"].lower()
        assert {"authorization", "content-type", "connect-protocol-version"} <= {
            h.strip() for h in asked.split(",")
        }
        refused = await asyncio.to_thread(_preflight, base, "https://evil.example")
        assert refused.status == 400
        assert "access-control-allow-origin" not in refused.headers
        answer = await fetch(
            f"{base}{SERVICE}/ListOps",
            data=b"{}",
            headers={"content-type": "application/json", "origin": "http://localhost:5173"},
        )
        assert answer.headers["access-control-allow-origin"] == "http://localhost:5173"
        assert "grpc-status" in answer.headers["access-control-expose-headers"].lower()


# -- static files ----------------------------------------------------------------------------


async def test_the_console_files_are_served_from_their_directory_only(tmp_path: Path) -> None:
    console = tmp_path / "static"
    (console / "assets").mkdir(parents=True)
    (console / "index.html").write_text("<!doctype html><title>console</title>", "utf-8")
    (console / "assets" / "app.js").write_text("console.log('hi');\n", "utf-8")
    (console / "assets" / "app.css").write_text("body { margin: 0 }\n", "utf-8")
    (tmp_path / "secret.txt").write_text("not for the web", "utf-8")
    (console / "link.txt").symlink_to(tmp_path / "secret.txt")
    async with secured_host(http_port=0, console_dir=console) as server:
        base = base_of(server)
        index = await fetch(base)
        assert index.status == 200
        assert index.headers["content-type"].startswith("text/html")
        assert b"<title>console</title>" in index.body
        script = await fetch(f"{base}assets/app.js")
        assert script.status == 200
        assert "javascript" in script.headers["content-type"]
        style = await fetch(f"{base}assets/app.css")
        assert style.headers["content-type"].startswith("text/css")
        for outside in (
            "assets/",
            "assets",
            "../secret.txt",
            "%2e%2e/secret.txt",
            "assets/..%2f..%2fsecret.txt",
            "link.txt",
            "missing.js",
        ):
            answer = await fetch(f"{base}{outside}")
            assert answer.status == 404, outside
            assert b"not for the web" not in answer.body, outside
            assert b"app.js" not in answer.body, outside


async def test_without_a_built_console_the_root_says_so(tmp_path: Path) -> None:
    async with secured_host(http_port=0, console_dir=tmp_path / "nothing") as server:
        answer = await fetch(base_of(server))
        assert answer.status == 404
        assert answer.headers["content-type"].startswith("text/plain")
        assert b"console is not built" in answer.body
        # The service is there all the same.
        assert (await call_json(base_of(server), "ListOps", {})).status == 200


# -- metrics ---------------------------------------------------------------------------------


async def test_metrics_count_the_doors_calls() -> None:
    async with secured_host(http_port=0, metrics_port=0) as server:
        await call_json(base_of(server), "ListOps", {})
        await call_json(base_of(server), "GetOp", {"opName": "nope"})
        scraped = (await fetch(f"http://{server.metrics_address}/metrics")).body.decode()
    handled = [
        line for line in scraped.splitlines() if line.startswith("grpc_server_handled_total")
    ]

    def count(method: str, code: str) -> float:
        return sum(
            float(line.rpartition(" ")[2])
            for line in handled
            if f'grpc_method="{method}"' in line and f'grpc_code="{code}"' in line
        )

    assert count("ListOps", "OK") == 1.0, handled
    assert count("GetOp", "NOT_FOUND") == 1.0, handled
