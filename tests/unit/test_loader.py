"""Loading the ops ``ophost serve`` hosts from a file or a module, and every load error."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ophost.errors import OpHostError
from ophost.execution._loader import LoadedOps, LoadError, load_ops

HEADER = "from ophost import In, Out, op\n"


@pytest.fixture(autouse=True)
def _isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo what loading does to ``sys.path`` and ``sys.modules``."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


def _write(path: Path, source: str, *, header: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((HEADER if header else "") + textwrap.dedent(source), encoding="utf-8")
    return path


def _load_file(path: Path) -> LoadedOps:
    return load_ops(file=str(path))


def _line_of(path: Path, text: str) -> int:
    """The number of the first line of ``path`` that holds ``text`` (after indentation)."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return next(number for number, line in enumerate(lines, 1) if line.startswith(text))


def _error(path: Path) -> LoadError:
    with pytest.raises(LoadError) as info:
        _load_file(path)
    return info.value


TWO_OPS = textwrap.dedent(
    """
    @op
    def first():
        return 1

    @op(ins={"x": In(int)}, out=Out(int))
    def second(x):
        return x
    """
)


# --- which ops --------------------------------------------------------------------------


def test_module_level_ops_in_definition_order(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "ops.py",
        """
        @op
        def zeta():
            return 1

        not_an_op = 3

        @op
        def alpha():
            return 2

        @op(name="renamed")
        def middle():
            return 3
        """,
    )
    loaded = _load_file(path)
    assert list(loaded.ops) == ["zeta", "alpha", "renamed"]
    assert loaded.ops["renamed"].name == "renamed"
    assert loaded.resources == {}
    assert loaded.source == f"file {path.resolve()}"


def test_an_op_bound_to_two_names_appears_once_under_its_op_name(tmp_path: Path) -> None:
    path = _write(tmp_path / "ops.py", TWO_OPS + "\nalias = first\n")
    loaded = _load_file(path)
    assert list(loaded.ops) == ["first", "second"]
    assert loaded.ops["first"] is vars(sys.modules[_module_name(loaded)])["alias"]


def _module_name(loaded: LoadedOps) -> str:
    return next(iter(loaded.ops.values())).compute_fn.__module__


def test_two_different_ops_with_one_name_are_an_error(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "ops.py",
        """
        @op(name="same")
        def one():
            return 1

        @op(name="same")
        def two():
            return 2
        """,
    )
    error = _error(path)
    assert str(error) == (
        f"cannot load ops from file {path.resolve()}: two different ops are named 'same': "
        "module attribute 'one' and module attribute 'two' (op names must be unique)"
    )


def test_no_ops_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "empty.py", "x = 1\n")
    assert str(_error(path)) == (
        f"cannot load ops from file {path.resolve()}: it defines no ops (decorate functions "
        "with @op at module level, or list them in ophost_ops)"
    )


def test_ophost_ops_list_is_used_as_it_is(tmp_path: Path) -> None:
    path = _write(tmp_path / "ops.py", TWO_OPS + "\nophost_ops = [second]\n")
    assert list(_load_file(path).ops) == ["second"]


def test_ophost_ops_keeps_its_own_order_and_skips_repeats(tmp_path: Path) -> None:
    path = _write(tmp_path / "ops.py", TWO_OPS + "\nophost_ops = (second, first, second)\n")
    assert list(_load_file(path).ops) == ["second", "first"]


def test_ophost_ops_dict_keyed_by_op_name(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "ops.py", TWO_OPS + '\nophost_ops = {"second": second, "first": first}\n'
    )
    assert list(_load_file(path).ops) == ["second", "first"]


def test_ophost_ops_dict_key_must_be_the_op_name(tmp_path: Path) -> None:
    path = _write(tmp_path / "ops.py", TWO_OPS + '\nophost_ops = {"other": first}\n')
    assert str(_error(path)) == (
        f"cannot load ops from file {path.resolve()}: ophost_ops['other'] holds op 'first'; "
        "each key must be the name of its op"
    )


def test_ophost_ops_duplicate_names_name_both_entries(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "ops.py",
        """
        def _make():
            @op(name="dup")
            def inner():
                return 1
            return inner

        ophost_ops = [_make(), _make()]
        """,
    )
    assert str(_error(path)) == (
        f"cannot load ops from file {path.resolve()}: two different ops are named 'dup': "
        "ophost_ops[0] and ophost_ops[1] (op names must be unique)"
    )


def test_ophost_ops_items_must_be_ops(tmp_path: Path) -> None:
    path = _write(tmp_path / "ops.py", TWO_OPS + "\nophost_ops = [first, len]\n")
    assert str(_error(path)) == (
        f"cannot load ops from file {path.resolve()}: ophost_ops[1] is a "
        "builtin_function_or_method, not an op (an OpDefinition, as @op returns)"
    )


def test_ophost_ops_must_be_a_collection(tmp_path: Path) -> None:
    path = _write(tmp_path / "ops.py", TWO_OPS + "\nophost_ops = {first}\n")
    assert str(_error(path)) == (
        f"cannot load ops from file {path.resolve()}: ophost_ops must be a list, tuple or "
        "dict of ops, got set"
    )


def test_empty_ophost_ops_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "ops.py", TWO_OPS + "\nophost_ops = []\n")
    assert str(_error(path)) == (f"cannot load ops from file {path.resolve()}: ophost_ops is empty")


# --- resources --------------------------------------------------------------------------

NEEDS_DB = textwrap.dedent(
    """
    @op(required_resource_keys={"db", "cache"})
    def query(context):
        return 1

    @op(required_resource_keys={"db"})
    def write(context):
        return 2
    """
)


def test_resources_dict(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "ops.py", NEEDS_DB + '\nophost_resources = {"db": "conn", "cache": {}}\n'
    )
    loaded = _load_file(path)
    assert loaded.resources == {"db": "conn", "cache": {}}
    assert list(loaded.ops) == ["query", "write"]


def test_resources_from_a_callable(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "ops.py",
        NEEDS_DB
        + textwrap.dedent(
            """
            CALLS = []

            def ophost_resources():
                CALLS.append(1)
                return {"db": "conn", "cache": "c", "extra": 3}
            """
        ),
    )
    loaded = _load_file(path)
    assert loaded.resources == {"db": "conn", "cache": "c", "extra": 3}
    assert vars(sys.modules[_module_name(loaded)])["CALLS"] == [1]


def test_a_missing_resource_names_the_op_and_the_key(tmp_path: Path) -> None:
    path = _write(tmp_path / "ops.py", NEEDS_DB + '\nophost_resources = {"cache": 1}\n')
    assert str(_error(path)) == (
        f"cannot load ops from file {path.resolve()}: missing resources (provided in "
        "ophost_resources: 'cache'):\n"
        "  op 'query' requires resource 'db'\n"
        "  op 'write' requires resource 'db'"
    )


def test_missing_resources_without_ophost_resources(tmp_path: Path) -> None:
    path = _write(tmp_path / "ops.py", NEEDS_DB)
    assert str(_error(path)) == (
        f"cannot load ops from file {path.resolve()}: missing resources (provided in "
        "ophost_resources: none):\n"
        "  op 'query' requires resource 'cache'\n"
        "  op 'query' requires resource 'db'\n"
        "  op 'write' requires resource 'db'"
    )


def test_resources_must_be_a_dict(tmp_path: Path) -> None:
    path = _write(tmp_path / "ops.py", TWO_OPS + '\nophost_resources = [("db", 1)]\n')
    assert str(_error(path)) == (
        f"cannot load ops from file {path.resolve()}: ophost_resources must be a dict from "
        "resource key to resource, got list"
    )


def test_a_resource_callable_must_return_a_dict(tmp_path: Path) -> None:
    path = _write(tmp_path / "ops.py", TWO_OPS + "\ndef ophost_resources():\n    return None\n")
    assert str(_error(path)) == (
        f"cannot load ops from file {path.resolve()}: ophost_resources() must be a dict from "
        "resource key to resource, got NoneType"
    )


def test_resource_keys_must_be_strings(tmp_path: Path) -> None:
    path = _write(tmp_path / "ops.py", TWO_OPS + "\nophost_resources = {1: 'x'}\n")
    assert str(_error(path)) == (
        f"cannot load ops from file {path.resolve()}: ophost_resources has a key of type "
        "int (1); resource keys are str"
    )


def test_a_resource_callable_that_raises_carries_its_traceback(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "ops.py",
        TWO_OPS
        + textwrap.dedent(
            """
            def ophost_resources():
                raise ConnectionError("database is down")
            """
        ),
    )
    error = _error(path)
    message = str(error)
    assert message.startswith(
        f"cannot load ops from file {path.resolve()}: ophost_resources() raised "
        "ConnectionError:\nTraceback (most recent call last):\n"
    )
    assert message.endswith("ConnectionError: database is down")
    assert error.traceback is not None
    line = _line_of(path, 'raise ConnectionError("database is down")')
    assert error.traceback.splitlines()[1] == (
        f'  File "{path.resolve()}", line {line}, in ophost_resources'
    )
    assert isinstance(error.__cause__, ConnectionError)


# --- import errors ----------------------------------------------------------------------


def test_an_import_error_carries_the_original_traceback(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "broken.py",
        """
        def helper():
            raise ValueError("boom at import")

        helper()
        """,
    )
    error = _error(path)
    assert error.traceback is not None
    assert str(error) == (
        f"cannot load ops: importing file {path.resolve()} raised ValueError:\n"
        + error.traceback.rstrip()
    )
    lines = error.traceback.splitlines()
    # The traceback starts in the user's file: no frames of the loader or importlib.
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1] == f'  File "{path.resolve()}", line {_line_of(path, "helper()")}, in <module>'
    assert lines[3] == (
        f'  File "{path.resolve()}", line {_line_of(path, "raise ValueError")}, in helper'
    )
    assert lines[-1] == "ValueError: boom at import"
    assert "importlib" not in error.traceback
    assert "_loader.py" not in error.traceback
    assert isinstance(error.__cause__, ValueError)
    assert not any(name.startswith("_ophost_file_broken_") for name in sys.modules)


def test_a_syntax_error_is_reported_with_its_location(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.py", "def broken(:\n    pass\n", header=False)
    error = _error(path)
    assert str(error).startswith(
        f"cannot load ops: importing file {path.resolve()} raised SyntaxError:\n"
    )
    assert error.traceback is not None
    assert f'File "{path.resolve()}", line 1' in error.traceback
    assert "def broken(:" in error.traceback


def test_sys_exit_at_import_is_a_load_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "exits.py", "import sys\nsys.exit(3)\n", header=False)
    assert str(_error(path)).startswith(
        f"cannot load ops: importing file {path.resolve()} raised SystemExit:\n"
    )


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.py"
    assert str(_error(path)) == f"cannot load ops: no such file: {path}"


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    assert str(_error(tmp_path)) == f"cannot load ops: {tmp_path} is not a file"


def test_a_file_that_is_not_python(tmp_path: Path) -> None:
    path = _write(tmp_path / "ops.txt", TWO_OPS)
    assert str(_error(path)) == (
        f"cannot load ops: {path} is not a Python file (it must end in .py)"
    )


# --- how files are imported -------------------------------------------------------------


def test_a_file_can_import_its_siblings(tmp_path: Path) -> None:
    _write(
        tmp_path / "sibling_helpers_1.py",
        """
        @op
        def from_sibling():
            return 1

        def factor():
            return 7
        """,
    )
    path = _write(
        tmp_path / "ops.py",
        """
        from sibling_helpers_1 import factor, from_sibling

        @op
        def local():
            return factor()
        """,
    )
    loaded = _load_file(path)
    # Ops imported into the module are module-level ops too, in binding order.
    assert list(loaded.ops) == ["from_sibling", "local"]
    assert sys.path[0] == str(tmp_path.resolve())


def test_files_get_unique_module_names(tmp_path: Path) -> None:
    first = _write(tmp_path / "a" / "json.py", "@op\ndef one():\n    return 1\n")
    second = _write(tmp_path / "b" / "json.py", "@op\ndef two():\n    return 2\n")
    import json

    one = _load_file(first)
    two = _load_file(second)
    names = {_module_name(one), _module_name(two)}
    assert len(names) == 2
    assert all(name.startswith("_ophost_file_json_") for name in names)
    assert sys.modules["json"] is json


def test_a_relative_path_is_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "sub" / "ops.py", TWO_OPS)
    monkeypatch.chdir(tmp_path)
    loaded = load_ops(file="sub/ops.py")
    assert loaded.source == f"file {(tmp_path / 'sub' / 'ops.py').resolve()}"
    assert list(loaded.ops) == ["first", "second"]


# --- modules ----------------------------------------------------------------------------


def test_a_module_by_dotted_name_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "loader_pkg_1" / "__init__.py", "", header=False)
    _write(tmp_path / "loader_pkg_1" / "ops.py", TWO_OPS + "\nophost_resources = {'r': 1}\n")
    monkeypatch.chdir(tmp_path)
    loaded = load_ops(module="loader_pkg_1.ops")
    assert loaded.source == "module loader_pkg_1.ops"
    assert list(loaded.ops) == ["first", "second"]
    assert loaded.resources == {"r": 1}
    assert _module_name(loaded) == "loader_pkg_1.ops"


@pytest.mark.parametrize("name", ["loader_missing_1", "loader_missing_1.ops"])
def test_a_missing_module(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LoadError) as info:
        load_ops(module=name)
    assert str(info.value) == (
        f"cannot load ops: no module named {name!r} (is it installed, or is its directory "
        "the current directory or on PYTHONPATH?)"
    )


def test_a_module_whose_dependency_is_missing_reports_the_import_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "loader_mod_2.py", "import loader_not_installed_2\n", header=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LoadError) as info:
        load_ops(module="loader_mod_2")
    message = str(info.value)
    assert message.startswith(
        "cannot load ops: importing module loader_mod_2 raised ModuleNotFoundError:\n"
    )
    assert message.endswith("ModuleNotFoundError: No module named 'loader_not_installed_2'")
    assert f'File "{tmp_path / "loader_mod_2.py"}", line 1, in <module>' in message


def test_a_module_that_raises_at_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "loader_mod_3.py", "raise RuntimeError('no config')\n", header=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LoadError) as info:
        load_ops(module="loader_mod_3")
    assert info.value.traceback is not None
    assert info.value.traceback.splitlines()[-1] == "RuntimeError: no config"
    assert "<frozen importlib" not in info.value.traceback


@pytest.mark.parametrize("name", ["", "1abc", "pkg..ops", "pkg/ops"])
def test_a_bad_module_name(name: str) -> None:
    with pytest.raises(LoadError) as info:
        load_ops(module=name)
    assert str(info.value) == f"cannot load ops: {name!r} is not a dotted module name"


@pytest.mark.parametrize(
    "kwargs", [{}, {"file": "ops.py", "module": "ops"}], ids=["neither", "both"]
)
def test_exactly_one_source(kwargs: dict[str, Any]) -> None:
    with pytest.raises(LoadError) as info:
        load_ops(**kwargs)
    assert str(info.value) == (
        "give exactly one of a Python file or a module name to load ops from"
    )


def test_load_error_is_an_ophost_error() -> None:
    error = LoadError("x")
    assert isinstance(error, OpHostError)
    assert error.traceback is None
