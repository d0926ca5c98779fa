"""A store that cannot be opened or written: clear errors, nothing lost, serving goes on."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import grpc
import pytest

from ophost.server.store._sqlite import SqliteExecutionStore
from ophost.v1 import execution_pb2
from ophost.v1 import op_host_service_pb2 as pb
from ophost_client import AsyncOpHostClient, OpHostRpcError, StreamBrokenError
from tests.postgres import PostgresCluster

from .host_processes import WAIT, hosts, raw_events, spawn_host, start_host, write_ops
from .test_durable import _stub, until

pytestmark = pytest.mark.timeout(180)


async def refused(*args: str, cwd: Path, honour_file_modes: bool = False) -> tuple[int, str]:
    """Run ``ophost serve`` expecting it not to start: its exit code and output."""
    process = await spawn_host(*args, "--port", "0", cwd=cwd, honour_file_modes=honour_file_modes)
    output, _ = await asyncio.wait_for(process.communicate(), WAIT)
    return process.returncode or 0, output.decode()


async def test_a_corrupt_store_file_is_refused_by_name(tmp_path: Path) -> None:
    ops = write_ops(tmp_path)
    store = tmp_path / "store.db"
    store.write_bytes(b"this is not a database, only some text" * 200)
    code, output = await refused("-f", str(ops), "--store", f"sqlite:///{store}", cwd=tmp_path)
    assert code == 1
    assert f"cannot open the execution store {store}: file is not a database" in output
    assert "Traceback" not in output
    assert store.read_bytes().startswith(b"this is not a database")  # left as it was


async def test_a_store_written_by_a_newer_ophost_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SqliteExecutionStore(path)
    await store.open()
    await store.close()
    import sqlite3

    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE ophost_schema SET version = 99")
    code, output = await refused(
        "-f", str(write_ops(tmp_path)), "--store", f"sqlite:///{path}", cwd=tmp_path
    )
    assert code == 1
    assert f"cannot open the execution store {path}: its schema version is 99" in output
    assert "upgrade ophost" in output


@pytest.fixture
def file_modes_apply() -> None:
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: file modes cannot be made to apply")


@pytest.mark.usefixtures("file_modes_apply")
async def test_an_unreadable_store_file_is_refused_by_name(tmp_path: Path) -> None:
    ops = write_ops(tmp_path)
    store = tmp_path / "store.db"
    opened = SqliteExecutionStore(store)
    await opened.open()
    await opened.close()
    store.chmod(0o000)
    code, output = await refused(
        "-f", str(ops), "--store", f"sqlite:///{store}", cwd=tmp_path, honour_file_modes=True
    )
    assert code == 1
    assert f"cannot open the execution store {store}: it is not readable" in output


@pytest.mark.usefixtures("file_modes_apply")
async def test_a_read_only_store_file_is_refused_by_name(tmp_path: Path) -> None:
    ops = write_ops(tmp_path)
    store = tmp_path / "store.db"
    opened = SqliteExecutionStore(store)
    await opened.open()
    await opened.close()
    store.chmod(0o444)
    code, output = await refused(
        "-f", str(ops), "--store", f"sqlite:///{store}", cwd=tmp_path, honour_file_modes=True
    )
    assert code == 1
    assert f"cannot open the execution store {store}:" in output
    assert "read-only" in output or "readonly" in output or "unable to open" in output


async def test_a_full_store_fails_what_it_cannot_write_and_keeps_the_rest(tmp_path: Path) -> None:
    ops = write_ops(tmp_path)
    path = tmp_path / "store.db"
    capped = f"sqlite:///{path}?max_bytes={400 * 1024}"
    host = await start_host("-f", str(ops), "--port", "0", "--store", capped, cwd=tmp_path)
    async with hosts(host), grpc.aio.insecure_channel(host.address) as channel:
        stub = _stub(channel)
        async with AsyncOpHostClient(host.address) as client:
            assert await client.call("add", {"a": 2, "b": 3}) == {"result": 5}
            small = (await stub.ListExecutions(pb.ListExecutionsRequest())).executions[0]
            before = await raw_events(host.address, small.id)
            with pytest.raises(OpHostRpcError) as info:
                await client.call("chatter", {"n": 5000, "size": 400})
            assert info.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert info.value.reason == "STORE_FULL"
            assert str(path) in info.value.message
            # Reads go on, and what was written before is all there.
            assert await raw_events(host.address, small.id) == before
            listed = await stub.ListExecutions(pb.ListExecutionsRequest())
            assert len(listed.executions) == 2
            (chatter,) = [e for e in listed.executions if e.op_name == "chatter"]

            async def marked_failed() -> bool:
                found = await stub.GetExecution(pb.GetExecutionRequest(execution_id=chatter.id))
                return found.execution.state == execution_pb2.EXECUTION_STATE_FAILED

            await until(marked_failed, "the unwritable execution to be marked failed")
            found = await stub.GetExecution(pb.GetExecutionRequest(execution_id=chatter.id))
            assert "events could not be written" in found.execution.error.message
            assert "is full" in found.execution.error.message
        assert await host.stop() == 0
    # With room again, the same file serves on: nothing was lost or half-written.
    roomy = await start_host(
        "-f", str(ops), "--port", "0", "--store", f"sqlite:///{path}", cwd=tmp_path
    )
    async with hosts(roomy), AsyncOpHostClient(roomy.address) as client:
        assert await raw_events(roomy.address, small.id) == before
        assert await client.call("chatter", {"n": 10, "size": 10}) == {"result": 10}
        assert await roomy.stop() == 0


async def test_a_postgresql_connection_lost_mid_run_is_restored(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    ops = write_ops(tmp_path)
    store = f"{postgres_cluster.dsn}?reconnect_seconds=20"
    host = await start_host("-f", str(ops), "--port", "0", "--store", store, cwd=tmp_path)
    async with hosts(host), AsyncOpHostClient(host.address) as client:
        async with client.execute("ticks", {"n": 60, "pause": 0.05}) as stream:
            seen = []
            async for event in stream:
                seen.append(event)
                if len(seen) == 10:
                    postgres_cluster.kill()  # every connection drops at once
                    await asyncio.sleep(1.0)
                    postgres_cluster.restart()
            try:
                assert await stream.result() == {"result": 60}
            except Exception:
                print("\n".join(host.lines))
                raise
        assert [e.sequence for e in seen] == list(range(1, len(seen) + 1))
        stored = await raw_events(host.address, seen[0].execution_id)
        assert len(pb.StreamEventsResponse.FromString(stored).events) == len(seen)
        assert await client.call("add", {"a": 1, "b": 1}) == {"result": 2}
        assert await host.stop() == 0


async def test_a_postgresql_connection_that_stays_lost_fails_the_run_clearly(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    ops = write_ops(tmp_path)
    store = f"{postgres_cluster.dsn}?reconnect_seconds=1"
    host = await start_host("-f", str(ops), "--port", "0", "--store", store, cwd=tmp_path)
    # No re-attach: the stream's own error is what is checked.
    async with hosts(host), AsyncOpHostClient(host.address, reattach_attempts=0) as client:
        assert await client.call("add", {"a": 1, "b": 1}) == {"result": 2}
        execution_id: str | None = None

        async def run_through_the_loss() -> None:
            nonlocal execution_id
            async with client.execute("ticks", {"n": 200, "pause": 0.05}) as stream:
                seen = 0
                async for _ in stream:
                    seen += 1
                    if seen == 10:
                        postgres_cluster.kill()
                        execution_id = stream.execution_id

        with pytest.raises(StreamBrokenError) as info:
            await run_through_the_loss()
        last = info.value.last_error
        assert last is not None
        assert last.code is grpc.StatusCode.UNAVAILABLE
        assert last.reason == "STORE_UNAVAILABLE"
        postgres_cluster.restart()
        async with grpc.aio.insecure_channel(host.address) as channel:
            stub = _stub(channel)
            assert execution_id is not None

            async def marked_failed() -> bool:
                found = await stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
                return found.execution.state == execution_pb2.EXECUTION_STATE_FAILED

            await until(marked_failed, "the execution to be marked failed")
            stored = pb.StreamEventsResponse.FromString(
                await raw_events(host.address, execution_id)
            )
            sequences = [e.sequence for e in stored.events]
            assert sequences == list(range(1, len(sequences) + 1))  # no hole, nothing half
        # The host serves on once the database is back.
        assert await client.call("add", {"a": 2, "b": 2}) == {"result": 4}
        assert await host.stop() == 0
