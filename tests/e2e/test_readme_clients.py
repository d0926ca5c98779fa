"""The README's Go and TypeScript snippets compile and run against the served examples.

Each snippet is taken verbatim from its README section; only the address
``127.0.0.1:50051`` is replaced with the test server's. The Go snippet is built
inside the Go client's module (``client/go/_readme``), the TypeScript one inside
the TypeScript package (``client/ts/_readme``), so both use the client as a user of
this repository would. They carry the ``crosslang`` marker, so ``make e2e`` runs
them and ``make unit`` leaves them out; ``make e2e`` sets OPHOST_REQUIRE_TOOLS, so
without Go or Node they fail instead of skipping.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ophost.server import OpHostServer, load_ops
from tests.tools import missing_tool

pytestmark = pytest.mark.crosslang

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
ADDRESS = "127.0.0.1:50051"


def snippet(title: str, language: str) -> str:
    """The first ``language`` code block of the README section ``## title``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end != -1 else len(text)]
    match = re.search(rf"```{language}\n(.*?)```", section, re.DOTALL)
    assert match is not None, f"no {language} block in README section {title!r}"
    return match.group(1)


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        missing_tool(f"{tool} is not on PATH")
    return path


@pytest.fixture
async def examples() -> AsyncIterator[str]:
    loaded = load_ops(module="examples.ops")
    async with OpHostServer(loaded.ops, resources=loaded.resources) as server:
        yield server.address


async def run(*command: str, cwd: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 300)
    text = output.decode(errors="replace")
    assert process.returncode == 0, f"{' '.join(command)} failed:\n{text}"
    return text


def check_output(output: str) -> None:
    """What every snippet prints: the ops, add(2, 3), and count_up's streamed events."""
    assert "add" in output, output
    assert "count_up" in output, output
    assert re.search(r"\b5n?\b", output), output
    assert "step 3 of 3" in output, output  # count_up's last log line
    assert "finished" in output.lower().splitlines()[-1], output  # the terminal event, last


async def test_go_snippet_runs(examples: str) -> None:
    go = require("go")
    code = snippet("Call an op from Go", "go")
    assert ADDRESS in code
    folder = REPO / "client" / "go" / "_readme"
    folder.mkdir(exist_ok=True)
    (folder / "main.go").write_text(code.replace(ADDRESS, examples), encoding="utf-8")
    check_output(await run(go, "run", "./_readme", cwd=folder.parent))


async def test_typescript_snippet_runs(examples: str) -> None:
    node = require("node")
    code = snippet("Call an op from TypeScript", "ts")
    assert ADDRESS in code
    package = REPO / "client" / "ts"
    tsc = package / "node_modules" / ".bin" / "tsc"
    if not (package / "dist" / "src" / "index.js").exists() or not tsc.exists():
        missing_tool("the TypeScript client is not built (run `make ts-build`)")
    folder = package / "_readme"
    folder.mkdir(exist_ok=True)
    (folder / "snippet.ts").write_text(code.replace(ADDRESS, examples), encoding="utf-8")
    # The snippet imports "@ophost/client", which resolves to this package's build
    # through its "exports" (a package may import itself by name).
    await run(
        str(tsc),
        "--ignoreConfig",
        "--strict",
        "--target",
        "es2022",
        "--module",
        "nodenext",
        "--moduleResolution",
        "nodenext",
        "--types",
        "node",
        "--skipLibCheck",
        "--rootDir",
        "_readme",
        "--outDir",
        "_readme/dist",
        "_readme/snippet.ts",
        cwd=package,
    )
    check_output(await run(node, "_readme/dist/snippet.js", cwd=package))
