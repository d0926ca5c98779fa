"""Test modules that run Go, Node or a Go tool carry the ``crosslang`` marker; no others do.

``make unit`` runs the Python tests on a machine without Go or Node by leaving out the
tests marked ``crosslang``; ``make e2e`` builds the clients and tools and runs only
those. A module counts as needing an outside tool when it uses ``tests.tools`` (the
skip-or-fail helper for a missing tool) or names a tool's program or build output.
The marker goes on the whole module: ``pytestmark = pytest.mark.crosslang``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
THIS = Path(__file__).resolve()

OUTSIDE_TOOL = re.compile(
    r"tests\.tools|missing_tool"
    r"""|["'](?:go|gofmt|node|npm|npx|tsc|grpcurl)["']"""
    r"|\.tools/go|node_modules/|client/ts/dist|client/go/bin"
)


def _test_modules() -> list[Path]:
    found = [*TESTS.rglob("test_*.py"), *TESTS.rglob("conftest.py")]
    return sorted(p for p in found if p.resolve() != THIS)


def _uses_outside_tool(path: Path) -> bool:
    return OUTSIDE_TOOL.search(path.read_text(encoding="utf-8")) is not None


def _is_crosslang_mark(node: ast.expr) -> bool:
    return ast.unparse(node) == "pytest.mark.crosslang"


def _marked_crosslang(path: Path) -> bool:
    """Whether the module assigns ``pytestmark`` a value that includes the marker."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if not any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in targets):
            continue
        value = node.value
        marks = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
        if any(_is_crosslang_mark(mark) for mark in marks):
            return True
    return False


def _names(paths: list[Path]) -> list[str]:
    return [p.relative_to(TESTS).as_posix() for p in paths]


def test_the_scan_finds_the_known_cross_language_modules() -> None:
    using = _names([p for p in _test_modules() if _uses_outside_tool(p)])
    assert {"e2e/test_grpcurl.py", "e2e/test_readme_clients.py"} <= set(using)


def test_modules_that_need_an_outside_tool_are_marked() -> None:
    unmarked = [p for p in _test_modules() if _uses_outside_tool(p) and not _marked_crosslang(p)]
    assert _names(unmarked) == [], "add `pytestmark = pytest.mark.crosslang` to these modules"


def test_only_modules_that_need_an_outside_tool_are_marked() -> None:
    needless = [p for p in _test_modules() if _marked_crosslang(p) and not _uses_outside_tool(p)]
    assert _names(needless) == [], "these run without Go or Node; `make unit` should run them"
