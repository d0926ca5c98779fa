"""Tests and docs cite only documents that are in this repository.

A reader of a test or a doc must be able to follow every reference. So the text
under ``tests/`` and ``docs/`` may name a Markdown file only if the repository has
it, and a section sign (``§5.3``) only together with a repository document, on the
same line, that has a heading with that number (in a Markdown file, a ``§`` without
a document on its line means that file itself). Design notes that were kept outside
the repository are named explicitly below, so that they cannot come back as a
reference of another form (without the ``.md``, say).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
THIS = Path(__file__).resolve()
SCANNED = [ROOT / "tests", ROOT / "docs"]
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".txt"}
NOT_IN_REPO = {".git", ".venv", ".venv-compat", ".tools", "node_modules", "__pycache__"}

# Documents that exist only outside the repository, and phrases that pointed into them.
OUTSIDE_DOCUMENT = re.compile(
    r"dagster-ops|protocol-design|house[- ]style|worker-protocol"
    r"|\bthe brief\b|\bpolicy rows?\b|\bcontract\s*§",
    re.IGNORECASE,
)

# A Markdown file name: lower-case words (CamelCase such as ``MetadataValue.md`` is code).
MARKDOWN_NAME = re.compile(r"(?<![\w.])((?:[\w.-]+/)*(?:[a-z0-9][a-z0-9_-]*|README)\.md)\b")
SECTION = re.compile(r"§\s*(\d+(?:\.\d+)*)")
HEADING_NUMBER = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s", re.MULTILINE)


def _scanned_files() -> list[Path]:
    files = [
        path
        for folder in SCANNED
        for path in folder.rglob("*")
        if path.is_file() and path.suffix in SUFFIXES and not NOT_IN_REPO & set(path.parts)
    ]
    return sorted(p for p in files if p.resolve() != THIS)


def _repo_markdown() -> list[Path]:
    return [
        path for path in ROOT.rglob("*.md") if not NOT_IN_REPO & set(path.relative_to(ROOT).parts)
    ]


def _resolve(name: str, cited_from: Path) -> Path | None:
    """The repository document ``name`` refers to: by path, or by a unique file name."""
    for candidate in (ROOT / name, cited_from.parent / name):
        if candidate.is_file():
            return candidate
    same_name = [p for p in _repo_markdown() if p.name == Path(name).name]
    return same_name[0] if len(same_name) == 1 else None


def _section_numbers(document: Path) -> set[str]:
    return set(HEADING_NUMBER.findall(document.read_text(encoding="utf-8")))


def _where(path: Path, line_number: int) -> str:
    return f"{path.relative_to(ROOT).as_posix()}:{line_number}"


def _lines() -> list[tuple[Path, int, str]]:
    return [
        (path, number, line)
        for path in _scanned_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
    ]


def test_no_outside_document_is_named() -> None:
    found = [
        f"{_where(path, number)}: {match.group()!r}"
        for path, number, line in _lines()
        for match in OUTSIDE_DOCUMENT.finditer(line)
    ]
    assert found == [], "say the fact itself, or point at a document in the repository"


def test_every_markdown_file_named_is_in_the_repository() -> None:
    missing = [
        f"{_where(path, number)}: {name}"
        for path, number, line in _lines()
        for name in MARKDOWN_NAME.findall(line)
        if _resolve(name, path) is None
    ]
    assert missing == []


def test_every_section_sign_points_at_a_heading_of_a_repository_document() -> None:
    broken = []
    for path, number, line in _lines():
        sections = SECTION.findall(line)
        if not sections:
            continue
        names = MARKDOWN_NAME.findall(line)
        document = _resolve(names[-1], path) if names else None
        if document is None and not names and path.suffix == ".md":
            document = path
        if document is None:
            broken.append(f"{_where(path, number)}: no repository document named on the line")
            continue
        headings = _section_numbers(document)
        broken += [
            f"{_where(path, number)}: {document.name} has no section {section}"
            for section in sections
            if section not in headings
        ]
    assert broken == []


@pytest.mark.parametrize(
    ("line", "names"),
    [
        ("see docs/protocol.md §5", ["docs/protocol.md"]),
        ("(see [protocol.md](protocol.md), §10.4)", ["protocol.md", "protocol.md"]),
        ("MetadataValue.md(text) and MetadataEntry.md", []),
        ("rules of dagster-ops.md §2.4", ["dagster-ops.md"]),
    ],
)
def test_markdown_names_are_told_apart_from_code(line: str, names: list[str]) -> None:
    assert MARKDOWN_NAME.findall(line) == names


@pytest.mark.parametrize(
    "line",
    [
        "as dagster-ops.md says",
        "see the House Style",
        "the brief asks",
        "Policy row x",
        "contract §8",
    ],
)
def test_outside_documents_are_recognised(line: str) -> None:
    assert OUTSIDE_DOCUMENT.search(line) is not None


def test_the_protocol_document_has_numbered_sections() -> None:
    assert {"5", "5.3", "10.4", "13"} <= _section_numbers(ROOT / "docs" / "protocol.md")
