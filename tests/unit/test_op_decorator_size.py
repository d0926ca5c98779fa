"""The ``@op`` decorator stays readable: short steps in modules of a reviewable size.

``@op`` reads a function in steps (name, parameters, inputs, outputs, the definition),
spread over three modules. A step that grows past the limit should be split again
rather than the limit raised.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DEFINITIONS = Path(__file__).resolve().parents[2] / "server" / "ophost" / "definitions"
MODULES = ["_op_decorator.py", "_op_inputs.py", "_op_outputs.py"]
MAX_FUNCTION_LINES = 50
MAX_MODULE_LINES = 350


@pytest.mark.parametrize("module", MODULES)
def test_functions_are_short(module: str) -> None:
    tree = ast.parse((DEFINITIONS / module).read_text(encoding="utf-8"))
    long = {
        node.name: node.end_lineno - node.lineno + 1
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    }
    assert long == {}, f"{module}: functions longer than {MAX_FUNCTION_LINES} lines"


@pytest.mark.parametrize("module", MODULES)
def test_modules_stay_small(module: str) -> None:
    lines = (DEFINITIONS / module).read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_MODULE_LINES, f"{module} has {lines} lines"
