"""Where each option of ``ophost serve`` gets its value: defaults, file, environment, flags.

Four layers, each overriding the one before: the option's default; the config file of
``--config FILE`` (TOML); the ``OPHOST_<NAME>`` environment variables; the command-line
flags. :func:`resolve` reads them and returns the :class:`Settings` (each value with
where it came from) and every problem found, so that ``ophost config check`` can list
them all at once and ``ophost serve`` can refuse to start with the same list.

A config file is checked with the parsers of the flags. A problem names the file, the
line (when it can be found), the key path (``store.max_retained_bytes``) and what is
wrong; an unknown key is a problem too, with a suggestion when a known key is close.
A relative path in a config file (the ops file, the TLS files, the token file, a
``sqlite:///`` store) is relative to the file's folder, not to the working directory.
"""

from __future__ import annotations

import difflib
import enum
import importlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ophost.cli._options import SERVE_OPTIONS, Option, render_value

__all__ = [
    "Layer",
    "Setting",
    "Settings",
    "from_environment",
    "from_file",
    "from_flags",
    "missing_files",
    "render_settings",
    "resolve",
    "serve_problems",
    "worker_flags",
]


class Layer(enum.IntEnum):
    """Where a value came from; a higher layer overrides a lower one."""

    DEFAULT = 0
    FILE = 1
    ENVIRONMENT = 2
    FLAG = 3


@dataclass(frozen=True)
class Setting:
    """One option's value, and where it came from (``where``: how that layer spells it)."""

    value: Any
    layer: Layer
    where: str


@dataclass(frozen=True)
class Settings:
    """Every option's resolved value."""

    values: Mapping[str, Setting]
    config: Path | None = None
    # Options some layer gave a bad value (left at what the layers below say).
    failed: frozenset[str] = frozenset()

    def __getitem__(self, name: str) -> Any:
        return self.values[name].value

    def spell(self, name: str, *, like: str | None = None) -> str:
        """How the layer that set ``name`` spells it: ``--tls-key``, ``OPHOST_TLS_KEY``,
        ``tls.key`` (in a file) or, for a default, as the layer of ``like`` would."""
        option = _BY_NAME[name]
        setting = self.values[name]
        layer = setting.layer
        if layer is Layer.DEFAULT and like is not None:
            layer = self.values[like].layer
        if layer is Layer.FILE:
            return option.key
        if layer is Layer.ENVIRONMENT:
            return option.env
        return option.flag

    def about(self, *names: str) -> str:
        """What a problem with ``names`` starts with: the file and line of the first of
        them a config file set (``ophost.toml:7: ``); nothing when none was."""
        for name in names:
            setting = self.values[name]
            if setting.layer is Layer.FILE:
                return f"{setting.where}: "
        return ""

    def origin(self, name: str) -> str:
        """Where ``name``'s value came from, in words."""
        setting = self.values[name]
        return "default" if setting.layer is Layer.DEFAULT else setting.where


_BY_NAME = {option.name: option for option in SERVE_OPTIONS}


# -- the layers ------------------------------------------------------------------------------


def from_flags(
    given: Mapping[str, Any], options: Sequence[Option] = SERVE_OPTIONS
) -> dict[str, Setting]:
    """The options given on the command line (``vars()`` of the parsed arguments)."""
    return {o.name: Setting(given[o.name], Layer.FLAG, o.flag) for o in options if o.name in given}


@dataclass
class _Read:
    """What one layer says: its values, its problems, the options it gave bad values."""

    values: dict[str, Setting] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)


def from_environment(
    environ: Mapping[str, str], options: Sequence[Option] = SERVE_OPTIONS
) -> tuple[dict[str, Setting], list[str]]:
    """The options set by ``OPHOST_<NAME>`` variables (an empty one counts as unset)."""
    read = _read_environment(environ, options)
    return read.values, read.problems


def _read_environment(environ: Mapping[str, str], options: Sequence[Option]) -> _Read:
    read = _Read()
    for option in options:
        text = environ.get(option.env)
        if not text:
            continue
        try:
            if option.kind.many:  # values separated by commas
                value = [option.kind.parse(item) for item in text.split(",") if item.strip()]
            else:
                value = option.kind.parse(text)
        except ValueError as exc:
            read.problems.append(f"{option.env}: {option.kind.redact(repr(text))} is {exc}")
            read.failed.add(option.name)
            continue
        read.values[option.name] = Setting(value, Layer.ENVIRONMENT, option.env)
    read.problems += _one_of_problems(read.values, options, lambda o: o.env)
    return read


def from_file(
    path: Path, options: Sequence[Option] = SERVE_OPTIONS
) -> tuple[dict[str, Setting], list[str]]:
    """The options a TOML config file sets, and its problems (unknown keys, bad values)."""
    read = _read_file(path, options)
    return read.values, read.problems


def _read_file(path: Path, options: Sequence[Option]) -> _Read:
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return _Read(problems=[f"{shown}: cannot read the config file: {_reason(exc)}"])
    toml = _toml_module()
    if toml is None:  # pragma: no cover - Python 3.10 without tomli
        return _Read(
            problems=[
                f"{shown}: reading TOML on Python 3.10 needs the tomli package (pip install "
                "tomli); or use Python 3.11 or later"
            ]
        )
    try:
        document = toml.loads(text)
    except toml.TOMLDecodeError as exc:
        return _Read(problems=[f"{shown}: not valid TOML: {exc}"])
    reader = _FileReader(shown, text, path.absolute().parent, options)
    reader.table(document, "")
    reader.read.problems += _one_of_problems(
        reader.read.values, options, lambda o: o.key, lambda o: f"{reader.where(o.key)}: "
    )
    return reader.read


def resolve(
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    config: Path | None,
    options: Sequence[Option] = SERVE_OPTIONS,
) -> tuple[Settings, list[str]]:
    """Every option's value, from the highest layer that sets it, and the problems found."""
    reads = [_read_file(config, options) if config is not None else _Read()]
    reads.append(_read_environment(environ, options))
    problems = [problem for read in reads for problem in read.problems]
    failed = frozenset(name for read in reads for name in read.failed)
    layers = [reads[0].values, reads[1].values, from_flags(flags, options)]
    values: dict[str, Setting] = {}
    for option in options:
        values[option.name] = Setting(option.default, Layer.DEFAULT, "default")
        for layer in layers:
            if option.name in layer:
                values[option.name] = layer[option.name]
    # A group such as the source (file or module) is decided by its highest layer as a
    # whole: -m on the command line replaces a file named in the config file.
    for group in {o.one_of for o in options if o.one_of is not None}:
        members = [o.name for o in options if o.one_of == group]
        top = max(values[name].layer for name in members)
        for name in members:
            if values[name].layer < top:
                values[name] = Setting(None, Layer.DEFAULT, "default")
    return Settings(values, config, failed), problems


def _one_of_problems(
    found: Mapping[str, Setting],
    options: Sequence[Option],
    spell: Callable[[Option], str],
    where: Callable[[Option], str] = lambda _option: "",
) -> list[str]:
    """A group of options set more than once in one layer (``file`` and ``module``)."""
    problems = []
    for group in dict.fromkeys(o.one_of for o in options if o.one_of is not None):
        members = [o for o in options if o.one_of == group and o.name in found]
        if len(members) > 1:
            names = " and ".join(spell(o) for o in members)
            problems.append(f"{where(members[-1])}{names}: give one of them, not both")
    return problems


# -- reading a config file -------------------------------------------------------------------


class _FileReader:
    """Walks the tables of a config file, checking each key against the options."""

    def __init__(self, shown: str, text: str, folder: Path, options: Sequence[Option]) -> None:
        self.shown = shown
        self.folder = folder
        self.read = _Read()
        self._lines = _LineFinder(text)
        self._options = {o.key: o for o in options}
        self._tables = {o.key.rpartition(".")[0] for o in options} - {""}
        # Other spellings a key might be meant as: its flag's name, its last part.
        self._aliases: dict[str, str] = {}
        for option in options:
            self._aliases.setdefault(option.name, option.key)
            self._aliases.setdefault(option.key.rpartition(".")[2], option.key)

    def where(self, key: str) -> str:
        """The file and the line of ``key`` (``ophost.toml:12``), or the file alone."""
        line = self._lines.find(key)
        return f"{self.shown}:{line}" if line else self.shown

    def at(self, key: str) -> str:
        return f"{self.where(key)}: {key}"

    def table(self, table: Mapping[str, Any], prefix: str) -> None:
        for name, value in table.items():
            key = f"{prefix}{name}"
            option = self._options.get(key)
            if option is not None:
                self.value(option, value)
            elif key in self._tables:
                if isinstance(value, dict):
                    self.table(value, f"{key}.")
                else:
                    self.read.problems.append(f"{self.at(key)}: must be a table ([{key}])")
            else:
                self.read.problems.append(f"{self.at(key)}: unknown key{self._suggest(key)}")

    def value(self, option: Option, value: object) -> None:
        try:
            parsed = option.kind.from_toml(value)
        except ValueError as exc:
            self.read.problems.append(f"{self.at(option.key)}: {exc}")
            self.read.failed.add(option.name)
            return
        if option.kind.rebase is not None:
            parsed = option.kind.rebase(parsed, self.folder)
        self.read.values[option.name] = Setting(parsed, Layer.FILE, self.where(option.key))

    def _suggest(self, key: str) -> str:
        """``; did you mean store.url?`` when a known key is close to ``key``."""
        wanted = key.replace("-", "_")
        leaf = wanted.rpartition(".")[2]
        close = difflib.get_close_matches(wanted, [*self._options, *self._tables], n=1)
        if not close and leaf in self._aliases:
            close = [self._aliases[leaf]]
        if not close:
            near = difflib.get_close_matches(leaf, list(self._aliases), n=1, cutoff=0.75)
            close = [self._aliases[name] for name in near]
        return f"; did you mean {close[0]}?" if close else ""


class _LineFinder:
    """Finds the line of a key (``store.url``) in a TOML file's text, where it can."""

    _HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines()

    def find(self, key: str) -> int | None:
        table = ""
        for number, line in enumerate(self._lines, start=1):
            header = self._HEADER.match(line)
            if header is not None:
                table = re.sub(r"[\s\"']", "", header.group(1))
                if table == key:
                    return number
                continue
            assigned = re.match(r"^\s*([A-Za-z0-9_.\-\"' ]+?)\s*=", line)
            if assigned is None:
                continue
            name = re.sub(r"[\s\"']", "", assigned.group(1))
            full = f"{table}.{name}" if table else name
            if full == key or full.startswith(f"{key}."):
                return number
        return None


def _toml_module() -> Any:
    # tomllib is in the standard library from Python 3.11; on 3.10 the same parser is
    # the tomli package, used when it is installed.
    for name in ("tomllib", "tomli"):
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    return None  # pragma: no cover - Python 3.10 without tomli


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


# -- what the options must say together ------------------------------------------------------


def serve_problems(settings: Settings) -> list[str]:
    """What the options say that cannot work together (for ``serve`` and ``config check``).

    A check that involves an option given a bad value is left out: the bad value is
    the problem to report, not what follows from leaving it out.
    """
    problems: list[str] = []

    def sound(*names: str) -> bool:
        return not settings.failed.intersection(names)

    cert, key, client_ca = settings["tls_cert"], settings["tls_key"], settings["tls_client_ca"]
    if not sound("tls_cert", "tls_key", "tls_client_ca"):
        pass
    elif cert is None and key is None:
        if client_ca is not None:
            problems.append(
                f"{settings.about('tls_client_ca')}{settings.spell('tls_client_ca')} needs "
                f"{settings.spell('tls_cert', like='tls_client_ca')} and "
                f"{settings.spell('tls_key', like='tls_client_ca')} (mTLS is TLS first)"
            )
    elif cert is None or key is None:
        given = "tls_cert" if cert is not None else "tls_key"
        problems.append(
            f"{settings.about(given)}{settings.spell('tls_cert', like=given)} and "
            f"{settings.spell('tls_key', like=given)} go together"
        )
    workers = settings["workers"]
    if workers > 1 and settings["store"] == "memory" and sound("workers", "store"):
        problems.append(
            f"{settings.about('workers', 'store')}{settings.spell('workers')} needs a store "
            "the processes can share "
            f"(sqlite:///... or postgresql://...), not memory"
        )
    metrics_port = settings["metrics_port"]
    if (
        workers > 1
        and metrics_port
        and metrics_port + workers - 1 > 65535
        and sound("workers", "metrics_port")
    ):
        problems.append(
            f"{settings.about('metrics_port', 'workers')}{settings.spell('metrics_port')} "
            f"{metrics_port} leaves no port for worker "
            f"{workers} (worker i serves metrics on PORT+i-1)"
        )
    return problems


def missing_files(settings: Settings, options: Iterable[Option] = SERVE_OPTIONS) -> list[str]:
    """The files the options name that do not exist (``config check`` looks; ``serve``
    finds out when it opens them, and says so)."""
    problems = []
    for option in options:
        if option.kind.rebase is None or option.name == "store":
            continue
        value = settings[option.name]
        if value is not None and not Path(value).exists():
            problems.append(
                f"{settings.about(option.name)}{settings.spell(option.name)}: {value} does "
                "not exist"
            )
    return problems


def render_settings(settings: Settings, options: Sequence[Option] = SERVE_OPTIONS) -> str:
    """The settings as a TOML config file, each value followed by where it came from."""
    tables: dict[str, list[tuple[str, str, str]]] = {}
    for option in options:
        table, _, name = option.key.rpartition(".")
        value = settings[option.name]
        if value is None:
            line = f"# {name}: not set ({option.describe_default()})"
            origin = ""
        else:
            shown = option.kind.redact(value) if isinstance(value, str) else value
            line = f"{name} = {render_value(option, shown)}"
            origin = settings.origin(option.name)
        tables.setdefault(table, []).append((line, origin, option.name))
    width = max(
        len(line) for rows in tables.values() for line, _, _ in rows if not line.startswith("#")
    )
    out: list[str] = []
    for table, rows in tables.items():
        if table:
            out += ["", f"[{table}]"]
        for line, origin, _ in rows:
            out.append(f"{line:<{width}}  # {origin}" if origin else line)
    return "\n".join(out).lstrip("\n")


# Options a --workers supervisor sets for each worker itself.
_PER_WORKER = frozenset({"workers", "port", "store", "metrics_port", "http_port"})


def worker_flags(settings: Settings, options: Sequence[Option] = SERVE_OPTIONS) -> list[str]:
    """Every option set (to anything but nothing) as flags, for a worker process of
    ``--workers`` (less the options the supervisor sets per worker: see ``_workers``)."""
    flags: list[str] = []
    for option in options:
        value = settings[option.name]
        if value is not None and option.name not in _PER_WORKER:
            flags += option.flag_args(value)
    return flags
