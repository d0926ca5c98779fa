"""grpcurl, a generic gRPC client, uses the server through reflection alone.

No .proto file is given to grpcurl: it learns the service and every message from
the server's reflection service. grpcurl is installed into .tools/go/bin from the
Go module proxy by ``make tools``. These tests carry the ``crosslang`` marker: ``make
e2e`` installs grpcurl and runs them with OPHOST_REQUIRE_TOOLS set, so that a missing
binary fails the run instead of skipping them; ``make unit`` leaves them out.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ophost.server import OpHostServer
from tests.tools import missing_tool

pytestmark = pytest.mark.crosslang

GRPCURL = Path(__file__).resolve().parents[2] / ".tools" / "go" / "bin" / "grpcurl"
SERVICE = "ophost.v1.OpHostService"


@pytest.fixture
def grpcurl() -> Path:
    if not GRPCURL.exists():
        missing_tool(f"grpcurl is not installed at {GRPCURL} (run `make tools`)")
    return GRPCURL


async def run(grpcurl: Path, *args: str, succeed: bool = True) -> str:
    """grpcurl's output: stdout when it must succeed, stderr when it must fail."""
    process = await asyncio.create_subprocess_exec(
        str(grpcurl),
        "-plaintext",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert (process.returncode == 0) is succeed, (stdout + stderr).decode()
    return (stdout if succeed else stderr).decode()


def messages(output: str) -> list[dict[str, object]]:
    """grpcurl prints each response message as a JSON object (proto field names); split them."""
    decoder = json.JSONDecoder()
    found: list[dict[str, object]] = []
    position = 0
    text = output.strip()
    while position < len(text):
        message, end = decoder.raw_decode(text, position)
        found.append(message)
        position = end
        while position < len(text) and text[position].isspace():
            position += 1
    return found


async def test_lists_the_services(server: OpHostServer, grpcurl: Path) -> None:
    services = (await run(grpcurl, server.address, "list")).split()
    assert SERVICE in services
    assert "grpc.health.v1.Health" in services


async def test_describes_the_service(server: OpHostServer, grpcurl: Path) -> None:
    text = await run(grpcurl, server.address, "describe", SERVICE)
    assert "rpc Execute ( stream .ophost.v1.ExecuteRequest ) returns ( stream" in text
    assert "rpc ListOps ( .ophost.v1.ListOpsRequest )" in text


async def test_reads_an_op_signature(server: OpHostServer, grpcurl: Path) -> None:
    output = await run(grpcurl, "-d", '{"opName": "add"}', server.address, f"{SERVICE}/GetOp")
    (response,) = messages(output)
    op = response["op"]
    assert isinstance(op, dict)
    assert op["name"] == "add"
    assert [spec["name"] for spec in op["inputs"]] == ["a", "b"]


async def test_runs_an_op_over_the_execute_stream(server: OpHostServer, grpcurl: Path) -> None:
    start = {
        "start": {
            "opName": "add",
            "inputs": [
                {"name": "a", "value": {"intValue": "2"}},
                {"name": "b", "value": {"intValue": "40"}},
            ],
        }
    }
    output = await run(grpcurl, "-d", json.dumps(start), server.address, f"{SERVICE}/Execute")
    responses = messages(output)
    assert "accepted" in responses[0]
    events = [event for response in responses[1:] for event in response["events"]["events"]]  # type: ignore[index]
    outputs = [event["output"] for event in events if "output" in event]
    assert outputs == [
        {"output_name": "result", "value": {"int_value": "42"}, "type_check": {"success": True}}
    ]
    assert events[-1]["execution_finished"]["status"] == "EXECUTION_STATUS_SUCCEEDED"
    assert [event["sequence"] for event in events] == [str(n) for n in range(1, len(events) + 1)]


async def test_an_unknown_op_is_a_not_found_status(server: OpHostServer, grpcurl: Path) -> None:
    request = '{"opName": "nope"}'
    text = await run(grpcurl, "-d", request, server.address, f"{SERVICE}/GetOp", succeed=False)
    assert "Code: NotFound" in text
    assert "nope" in text
