"""Reading descriptions out of an op function's docstring.

The op description follows Dagster's rule (first line kept verbatim, the rest
dedented and stripped). Parameter and return descriptions are read from Google
style (``Args:`` / ``Returns:``), reST (``:param x:`` / ``:returns:``) and NumPy
style (``Parameters`` / ``Returns`` underlined) sections. Anything the parser does
not understand is ignored.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field

__all__ = ["ParsedDocstring", "op_description", "parse_docstring"]


def op_description(doc: str | None) -> str | None:
    """The op description Dagster derives from a docstring."""
    if not doc:
        return None
    if doc[0].isspace():
        return textwrap.dedent(doc).strip()
    first, newline, rest = doc.partition("\n")
    if not newline:
        return first
    return first + "\n" + textwrap.dedent(rest).strip()


@dataclass
class ParsedDocstring:
    params: dict[str, str] = field(default_factory=dict)
    returns: str | None = None


_GOOGLE_SECTION = re.compile(r"^(\w[\w ]*):\s*$")
_GOOGLE_PARAM = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_REST_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")
_REST_RETURNS = re.compile(r"^:returns?\s*:\s*(.*)$")
_NUMPY_RULE = re.compile(r"^-{3,}\s*$")
_NUMPY_PARAM = re.compile(r"^(\w+)\s*(?::.*)?$")

_PARAM_SECTIONS = {"args", "arguments", "parameters", "params", "keyword args", "kwargs"}
_RETURN_SECTIONS = {"returns", "return", "yields"}


def parse_docstring(doc: str | None) -> ParsedDocstring:
    """Parameter and return descriptions, by whichever style the docstring uses."""
    parsed = ParsedDocstring()
    if not doc:
        return parsed
    lines = textwrap.dedent(_after_first_line(doc)).splitlines()
    lines = [doc.splitlines()[0].strip(), *lines]
    _parse_rest(lines, parsed)
    _parse_sections(lines, parsed)
    return parsed


def _after_first_line(doc: str) -> str:
    return doc.partition("\n")[2]


def _parse_rest(lines: list[str], parsed: ParsedDocstring) -> None:
    entries: list[tuple[str | None, list[str]]] = []
    current: list[str] | None = None
    for raw in lines:
        line = raw.strip()
        param = _REST_PARAM.match(line)
        ret = _REST_RETURNS.match(line)
        if param:
            current = [param.group(2)]
            entries.append((param.group(1), current))
        elif ret:
            current = [ret.group(1)]
            entries.append((None, current))
        elif line.startswith(":") or not line:
            current = None
        elif current is not None:
            current.append(line)
    for name, words in entries:
        text = " ".join(w for w in words if w).strip()
        if not text:
            continue
        if name is None:
            parsed.returns = text
        else:
            parsed.params[name] = text


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _parse_sections(lines: list[str], parsed: ParsedDocstring) -> None:
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        title: str | None = None
        body_start = i + 1
        google = _GOOGLE_SECTION.match(line)
        if google:
            title = google.group(1).lower()
        elif i + 1 < len(lines) and _NUMPY_RULE.match(lines[i + 1].strip()) and line:
            title = line.lower()
            body_start = i + 2
        if title in _PARAM_SECTIONS or title in _RETURN_SECTIONS:
            body, i = _section_body(lines, body_start)
            if title in _PARAM_SECTIONS:
                _read_params(body, parsed, numpy=not google)
            else:
                _read_returns(body, parsed, numpy=not google)
            continue
        i += 1


def _section_body(lines: list[str], start: int) -> tuple[list[str], int]:
    body: list[str] = []
    i = start
    base: int | None = None
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            if body:
                body.append("")
            i += 1
            continue
        indent = _indent(line)
        if base is None:
            base = indent
        elif indent < base:
            break
        if indent == base and _is_section_header(lines, i):
            break
        body.append(line[base:])
        i += 1
    return body, i


def _is_section_header(lines: list[str], i: int) -> bool:
    line = lines[i].strip()
    if _GOOGLE_SECTION.match(line) and line[:-1].lower() in _PARAM_SECTIONS | _RETURN_SECTIONS:
        return True
    return i + 1 < len(lines) and bool(_NUMPY_RULE.match(lines[i + 1].strip()))


def _read_params(body: list[str], parsed: ParsedDocstring, *, numpy: bool) -> None:
    name: str | None = None
    words: list[str] = []

    def flush() -> None:
        if name is not None:
            text = " ".join(w for w in words if w).strip()
            if text:
                parsed.params[name] = text

    for line in body:
        if not line.strip():
            continue
        if _indent(line) == 0:
            match = (_NUMPY_PARAM if numpy else _GOOGLE_PARAM).match(line.strip())
            if match:
                flush()
                name = match.group(1)
                words = [] if numpy else [match.group(2)]
                continue
        words.append(line.strip())
    flush()


def _read_returns(body: list[str], parsed: ParsedDocstring, *, numpy: bool) -> None:
    texts = [line.strip() for line in body if line.strip()]
    if numpy and texts and _indent(next(b for b in body if b.strip())) == 0:
        # NumPy: the first unindented line names the type; the description follows.
        texts = texts[1:]
    if not numpy and texts:
        first = texts[0]
        type_prefix = re.match(r"^[\w\[\], .]+:\s+(.*)$", first)
        if type_prefix:
            texts[0] = type_prefix.group(1)
    text = " ".join(texts).strip()
    if text:
        parsed.returns = text
