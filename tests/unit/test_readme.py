"""The README's Python examples run as written.

Client examples run against a served example library; the example of testing ops (a
block that defines an ``ophost_ops`` fixture) is a pytest module, run by pytest.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
TEST_BLOCKS = [block for block in BLOCKS if "def ophost_ops" in block]
SCRIPT_BLOCKS = [block for block in BLOCKS if block not in TEST_BLOCKS]
ADDRESS = "127.0.0.1:50051"


def test_readme_has_python_examples() -> None:
    assert len(SCRIPT_BLOCKS) >= 2
    assert len(TEST_BLOCKS) == 1


@pytest.mark.parametrize(
    "code", SCRIPT_BLOCKS, ids=[f"block{i}" for i in range(len(SCRIPT_BLOCKS))]
)
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


@pytest.mark.parametrize("mode", ["auto", "strict"])
def test_readme_test_example_passes_under_pytest(pytester: pytest.Pytester, mode: str) -> None:
    [code] = TEST_BLOCKS
    pytester.makeini(
        f"[pytest]\nasyncio_mode = {mode}\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings =\n    error\n"
    )
    pytester.makepyfile(test_readme_example=code)
    result = pytester.runpytest()
    result.assert_outcomes(passed=code.count("\ndef test_") + code.count("\nasync def test_"))
