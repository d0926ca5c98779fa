"""``ophost config check FILE``: check a config file of ``ophost serve --config``.

It reads the file as ``serve`` would, with the ``OPHOST_*`` environment variables
applied over it, and either prints every option as ``serve`` would use it (a TOML
document: each value and where it came from) and exits 0, or prints every problem,
one a line, and exits 1: unknown keys (with a suggestion when a known key is close),
values of the wrong type or out of range, options that do not work together, files
named that do not exist. The format is in docs/serving.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ophost.cli._settings import missing_files, render_settings, resolve, serve_problems

__all__ = ["add_config_commands"]

EXIT_PROBLEMS = 1


def add_config_commands(subparsers: Any) -> None:
    """Register ``config check`` on the ``ophost`` argument parser."""
    config = subparsers.add_parser(
        "config",
        help="check a config file of ophost serve --config",
        description="Work with the TOML config files of `ophost serve --config FILE` "
        "(docs/serving.md).",
    )
    commands = config.add_subparsers(title="commands", metavar="COMMAND", required=True)
    check = commands.add_parser(
        "check",
        help="check a config file and print the options serve would use",
        description="Check a config file as `ophost serve --config FILE` reads it, with the "
        "OPHOST_* environment variables over it. Without problems, print every option as "
        "serve would use it, with where its value came from, and exit 0; else print every "
        "problem (the file, the line and the key path, and what is wrong) and exit 1.",
    )
    check.add_argument("file", type=Path, metavar="FILE", help="the TOML config file")
    check.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    path: Path = args.file
    settings, problems = resolve({}, os.environ, path)
    problems += serve_problems(settings) + missing_files(settings)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        count = len(problems)
        print(
            f"ophost config check: {count} problem{'' if count == 1 else 's'} in {path}",
            file=sys.stderr,
            flush=True,
        )
        return EXIT_PROBLEMS
    print(f"# {path}: no problems. `ophost serve --config {path}` uses these options")
    print("# (each with where its value came from; flags given to serve override them):")
    print()
    print(render_settings(settings), flush=True)
    return 0
