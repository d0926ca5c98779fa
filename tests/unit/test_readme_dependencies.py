"""The README's list of runtime dependencies is the one in ``pyproject.toml``.

The README lists the packages between two HTML comments, one package per line
(``- `name`: what it is for``); ``pyproject.toml`` lists them with their floors under
``[project].dependencies``. Names are compared after PEP 503 normalisation.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

# tomllib is in the standard library from Python 3.11 (``make compat`` runs 3.10).
tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11 or later")

ROOT = Path(__file__).resolve().parents[2]
START = "<!-- runtime dependencies: start -->"
END = "<!-- runtime dependencies: end -->"
REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
README_ITEM = re.compile(r"- `([^`]+)`")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_dependencies() -> list[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = data["project"]["dependencies"]
    assert isinstance(requirements, list)
    names = []
    for requirement in requirements:
        assert isinstance(requirement, str)
        match = REQUIREMENT_NAME.match(requirement.strip())
        assert match is not None, f"cannot read a package name from {requirement!r}"
        names.append(_normalise(match.group()))
    return names


def readme_dependencies() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count(START) == 1, f"the README needs exactly one {START!r}"
    assert text.count(END) == 1, f"the README needs exactly one {END!r}"
    block = text[text.index(START) + len(START) : text.index(END)]
    names = []
    for line in block.strip().splitlines():
        match = README_ITEM.match(line)
        assert match is not None, f"not a '- `package`: ...' line: {line!r}"
        names.append(_normalise(match.group(1)))
    return names


def test_the_readme_lists_the_runtime_dependencies_of_pyproject() -> None:
    readme = readme_dependencies()
    pyproject = pyproject_dependencies()
    assert len(readme) == len(set(readme)), "a package is listed twice in the README"
    only_in_pyproject = sorted(set(pyproject) - set(readme))
    only_in_readme = sorted(set(readme) - set(pyproject))
    assert (only_in_pyproject, only_in_readme) == ([], []), (
        "README.md and pyproject.toml list different runtime dependencies"
    )


def test_package_names_are_read_without_their_versions() -> None:
    assert "grpcio" in pyproject_dependencies()
    assert "protobuf" in readme_dependencies()
