"""The web console's built files ship inside the package and refer to nothing outside it.

The browser tests (tests/e2e/test_console.py) check what a real browser loads; this
checks the files themselves, without a browser: that the package holds the console
(so an installed ophost can serve it), that the page names only its own two files,
and that neither the page nor the styles reach for anything on another host.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import ophost

STATIC = Path(ophost.__file__).resolve().parent / "console" / "static"


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.found.append((tag, name, value))


def test_the_package_holds_the_built_console() -> None:
    assert sorted(p.name for p in STATIC.iterdir()) == ["console.css", "console.js", "index.html"]


def test_the_page_loads_only_its_own_script_and_styles() -> None:
    parser = _References()
    parser.feed((STATIC / "index.html").read_text(encoding="utf-8"))
    assert sorted(parser.found) == [
        ("a", "href", "#/executions"),
        ("a", "href", "#/ops"),
        ("a", "href", "#/ops"),
        ("a", "href", "#/plots"),
        ("a", "href", "#main"),
        ("link", "href", "console.css"),
        ("link", "href", "data:,"),
        ("script", "src", "console.js"),
    ]


def test_the_page_forbids_loading_from_other_hosts() -> None:
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert policy is not None
    directives = dict(d.strip().split(" ", 1) for d in policy.group(1).split(";") if d.strip())
    assert directives["default-src"] == "'none'"
    for directive in ("script-src", "style-src", "connect-src"):
        assert directives[directive] == "'self'", directive


def test_the_styles_import_nothing() -> None:
    css = (STATIC / "console.css").read_text(encoding="utf-8")
    assert "@import" not in css
    assert "url(" not in css
