"""The README's Python examples run as written (client ones against a served example)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
ADDRESS = "127.0.0.1:50051"


def test_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
async def test_readme_example_runs(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    def run(source: str) -> None:
        exec(compile(source, str(README), "exec"), {"__name__": "readme_example"})

    if ADDRESS not in code:
        run(code)
        assert "ExecutionFinished" in capsys.readouterr().out
        return
    from ophost.server import OpHostServer, load_ops

    loaded = load_ops(module="examples.ops")
    async with OpHostServer(loaded.ops, resources=loaded.resources) as server:
        await asyncio.to_thread(run, code.replace(ADDRESS, server.address))
    out = capsys.readouterr().out
    assert "{'result': 3}" in out
    assert "ExecutionFinished" in out
