"""The options of ``ophost serve``, in one table.

Each :class:`Option` is one setting of the server: its name, the kind of value it takes
(how text is parsed and checked, which TOML values it accepts), its default and its
help. Everything else comes from the table:

- the command-line flag: ``--`` and the name with dashes (``--max-retained-bytes``);
- the environment variable: ``OPHOST_`` and the name in capitals
  (``OPHOST_MAX_RETAINED_BYTES``);
- the key in a config file: :attr:`Option.key`, a dotted path
  (``store.max_retained_bytes`` is ``max_retained_bytes`` in the ``[store]`` table);
- the flags a ``--workers`` supervisor passes on to each of its worker processes.

A new option of ``serve`` is one more row of :data:`SERVE_OPTIONS`; the code that uses
it reads ``args.<name>`` as before. The layers and their precedence (defaults, file,
environment, flags) are in :mod:`ophost.cli._settings`.
"""

from __future__ import annotations

import argparse
import math
import re
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BOOLEAN",
    "ENV_PREFIX",
    "SERVE_OPTIONS",
    "Kind",
    "Option",
    "add_serve_flags",
    "choice",
    "option_by_name",
    "parse_port",
    "parse_positive_int",
    "parse_seconds",
    "parse_size",
    "redact_password",
    "render_value",
]

ENV_PREFIX = "OPHOST_"


# -- kinds of values -------------------------------------------------------------------------
#
# A parser takes the text of a flag or an environment variable and returns the value,
# or raises ValueError saying what is wrong with it in words that follow the value:
# "'http' is " + "not an integer".


def _integer(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError("not an integer") from None


def parse_port(text: str) -> int:
    value = _integer(text)
    if not 0 <= value <= 65535:
        raise ValueError("not a port (0 to 65535; 0 picks one)")
    return value


def parse_positive_int(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise ValueError("not 1 or more")
    return value


def parse_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError("not a number of seconds (0 or more)")
    return value


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    cleaned = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = cleaned[-1:] if cleaned[-1:] in _UNITS else ""
    try:
        number = float(cleaned[: len(cleaned) - len(unit)])
    except ValueError:
        raise ValueError("not a size (such as 500M or 2G)") from None
    if not math.isfinite(number) or int(number * _UNITS[unit]) < 1:
        raise ValueError("not a size of 1 byte or more")
    return int(number * _UNITS[unit])


def _text(text: str) -> str:
    if not text.strip():
        raise ValueError("empty")
    return text


_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _module(text: str) -> str:
    if not _MODULE.match(text):
        raise ValueError("not a dotted module name (such as my_team.ops)")
    return text


def _path(text: str) -> Path:
    return Path(_text(text))


_STORE_SCHEMES = ("sqlite", "postgresql", "postgres")


def _store_url(text: str) -> str:
    if text == "memory":
        return text
    parsed = urllib.parse.urlsplit(text)
    if parsed.scheme not in _STORE_SCHEMES:
        raise ValueError(
            "not a store URL (memory, sqlite:///path/to/file.db or postgresql://user@host/db)"
        )
    if parsed.scheme == "sqlite" and (parsed.netloc or parsed.path in ("", "/")):
        raise ValueError(
            "not a SQLite store URL: give the file, as sqlite:///relative/path.db "
            "or sqlite:////absolute/path.db"
        )
    return text


_PASSWORD = re.compile(r"(://[^:/@]*):[^@/]*@")


def redact_password(text: str) -> str:
    """A URL without its password: ``postgresql://ops:***@db/ops``."""
    return _PASSWORD.sub(r"\1:***@", text)


def _origin(text: str) -> str:
    """A web origin (``https://console.example.com``, ``http://localhost:5173``) or ``*``."""
    text = text.strip()
    if text == "*":
        return text
    parsed = urllib.parse.urlsplit(text)
    if (
        parsed.scheme not in ("http", "https")
        or not parsed.hostname
        or parsed.path not in ("", "/")
        or parsed.query
        or parsed.fragment
        or parsed.username is not None
    ):
        raise ValueError(
            "not an origin (a scheme, a host and maybe a port, such as "
            "https://console.example.com or http://localhost:5173; or *)"
        )
    return text.rstrip("/")


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("not a yes or a no (true or false, 1 or 0, yes or no, on or off)")


@dataclass(frozen=True)
class Kind:
    """A kind of value: how its text is parsed, which TOML values it takes, how it is shown.

    ``parse`` reads the text of a flag or an environment variable. A value from a
    config file must be one of the ``toml`` types (``what`` names them in an error),
    and is then checked by ``parse`` too, so a file takes what a flag takes.
    ``rebase`` makes a relative path in a value absolute, against a config file's
    folder. ``show`` turns a value back into the text of a flag.
    """

    what: str
    parse: Callable[[str], Any]
    toml: tuple[type, ...]
    rebase: Callable[[Any, Path], Any] | None = None
    show: Callable[[Any], str] = str
    choices: tuple[str, ...] = ()
    # What may be printed of a value: a store URL's password is not.
    redact: Callable[[str], str] = lambda text: text
    # A list of values: a TOML array, a flag given once per value, an environment
    # variable with the values separated by commas.
    many: bool = False

    def from_toml(self, value: object) -> Any:
        """The value a config file gives, checked; raises ValueError saying what is wrong."""
        if self.many:
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(item, str) for item in items):
                raise ValueError(f"{_toml_text(value)} is not {self.what}")
            try:
                return [self.parse(str(item)) for item in items]
            except ValueError as exc:
                raise ValueError(f"{_toml_text(value)} holds a value that is {exc}") from None
        if isinstance(value, bool) != (bool in self.toml) or not isinstance(value, self.toml):
            raise ValueError(f"{self.redact(_toml_text(value))} is not {self.what}")
        if isinstance(value, bool):
            return value
        try:
            return self.parse(str(value))
        except ValueError as exc:
            raise ValueError(f"{self.redact(_toml_text(value))} is {exc}") from None


def _rebase_path(value: Path, folder: Path) -> Path:
    return value if value.is_absolute() else folder / value


def _rebase_file(value: str, folder: Path) -> str:
    return str(_rebase_path(Path(value), folder))


def _rebase_store(value: str, folder: Path) -> str:
    """A ``sqlite:`` URL of a relative file, made absolute against ``folder``."""
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme != "sqlite" or parsed.path.startswith("//"):
        return value
    path = folder / urllib.parse.unquote(parsed.path[1:])
    query = f"?{parsed.query}" if parsed.query else ""
    return f"sqlite:///{urllib.parse.quote(str(path))}{query}"


def _show_seconds(value: float) -> str:
    return f"{value:g}" if float(f"{value:g}") == value else repr(value)


def choice(*names: str) -> Kind:
    """One of ``names`` (given in any case)."""

    def parse(text: str) -> str:
        lowered = text.strip().lower()
        if lowered not in names:
            listed = ", ".join(repr(n) for n in names)
            raise ValueError(f"not a valid choice (choose from {listed})")
        return lowered

    return Kind(f"one of {', '.join(names)}", parse, (str,), choices=names)


INTEGER_PORT = Kind("a port (an integer)", parse_port, (int,))
POSITIVE_INT = Kind("an integer", parse_positive_int, (int,))
SECONDS = Kind("a number of seconds", parse_seconds, (int, float), show=_show_seconds)
SIZE = Kind('a size (a number of bytes, or a string such as "500M")', parse_size, (int, str))
TEXT = Kind("a string", _text, (str,))
MODULE = Kind("a string (a dotted module name)", _module, (str,))
OPS_FILE = Kind("a string (a path)", _text, (str,), rebase=_rebase_file)
PATH = Kind("a string (a path)", _path, (str,), rebase=_rebase_path)
STORE_URL = Kind(
    "a string (a store URL)", _store_url, (str,), rebase=_rebase_store, redact=redact_password
)
BOOLEAN = Kind("true or false", _boolean, (bool,), show=lambda v: "true" if v else "false")
ORIGINS = Kind("a string or an array of strings (web origins)", _origin, (str, list), many=True)


# -- the options -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One setting of ``ophost serve``; see the module's docstring for what derives from it.

    ``key`` is its dotted path in a config file. ``default_text`` says what happens
    without it when that is not just ``default``. ``one_of`` names a group of options
    of which one at most may be set in one layer (the source of the ops: ``file`` or
    ``module``); the highest layer that sets any of them decides for the whole group.
    """

    name: str
    key: str
    kind: Kind
    help: str
    default: Any = None
    default_text: str | None = None
    metavar: str | None = None
    short: str | None = None
    group: str | None = None
    one_of: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    def flag_args(self, value: Any) -> list[str]:
        """The command-line arguments that set this option to ``value``."""
        if self.kind is BOOLEAN:
            return [self.flag if value else "--no-" + self.flag[2:]]
        if self.kind.many:
            return [arg for item in value for arg in (self.flag, self.kind.show(item))]
        return [self.flag, self.kind.show(value)]

    def describe_default(self) -> str:
        """What the option is without a value from any layer, in words."""
        if self.default_text is not None:
            return self.default_text
        return self.kind.show(self.default)


_SECURITY = "security (docs/security.md)"
_OBSERVABILITY = "observability"
_HTTP = "the browser door (docs/http.md)"

SERVE_OPTIONS: tuple[Option, ...] = (
    # Where the ops come from: -f or -m (or file or module in a config file).
    Option("file", "file", OPS_FILE, "a Python file defining ops", metavar="PATH",
           short="-f", one_of="source", default_text="none"),
    Option("module", "module", MODULE, "a dotted module name", metavar="MODULE",
           short="-m", one_of="source", default_text="none"),
    Option("host", "host", TEXT, "address to bind", default="127.0.0.1"),
    Option("port", "port", INTEGER_PORT, "port to bind; 0 picks a free one", default=50051),
    Option("max_concurrent_executions", "max_concurrent_executions", POSITIVE_INT,
           "executions running at once; more are refused", default=64, metavar="N"),
    Option("drain_grace", "drain_grace", SECONDS,
           "on SIGTERM/SIGINT, how long running executions may finish", default=10.0,
           metavar="SECONDS"),
    Option("workers", "workers", POSITIVE_INT,
           "server processes sharing the port and the store; needs a sqlite or "
           "postgresql store", default=1, metavar="N"),
    # Where executions are kept.
    Option("store", "store.url", STORE_URL,
           "where executions are kept: sqlite:///path/file.db, postgresql://user@host/db "
           "or memory", metavar="URL",
           default_text="sqlite:///.ophost/ophost.db in the working directory"),
    Option("event_retention", "store.event_retention", SECONDS,
           "how long a finished execution's events are kept", default=600.0,
           metavar="SECONDS"),
    Option("max_retained_executions", "store.max_retained_executions", POSITIVE_INT,
           "finished executions kept at most; the oldest go first", default=1000,
           metavar="N"),
    Option("max_retained_bytes", "store.max_retained_bytes", SIZE,
           "finished executions' events kept at most, in bytes (K, M, G suffixes); the "
           "oldest go first", metavar="SIZE", default_text="no limit"),
    Option("lease", "store.lease", SECONDS,
           "how long a host process that stopped answering keeps its running executions "
           "before another process sharing the store takes them over", default=10.0,
           metavar="SECONDS"),
    # What one request may upload.
    Option("max_upload_bytes", "limits.max_upload_bytes", SIZE,
           "the most bytes of chunked inputs and config one Execute stream may upload; more "
           "is refused with RESOURCE_EXHAUSTED", metavar="SIZE", default_text="256M"),
    Option("max_upload_buffer_bytes", "limits.max_upload_buffer_bytes", SIZE,
           "the most bytes of incomplete uploads the server buffers at once, over all "
           "streams; a chunk past it is refused with RESOURCE_EXHAUSTED and a retry delay",
           metavar="SIZE", default_text="1G"),
    # Where op bodies run.
    Option("executor", "execution.executor", choice("process", "thread", "ray"),
           "where op bodies run: a pool of worker processes, isolated from the host and "
           "each other; the host's own threads; or Ray tasks (needs ophost[ray]); an op's "
           "ophost/executor tag overrides it",
           default="process"),
    Option("ray_address", "execution.ray_address", TEXT,
           "the Ray cluster of the ray executor: auto (the cluster this machine is part of), "
           "ray://HOST:PORT (a Ray Client server, such as a KubeRay head service) or a GCS "
           "address HOST:PORT", metavar="ADDRESS",
           default_text="start a Ray for this host alone, on loopback"),
    Option("pool_size", "execution.pool_size", POSITIVE_INT,
           "worker processes of the process executor, each running one execution at a time",
           metavar="N", default_text="the number of cores"),
    Option("execution_timeout", "execution.timeout", SECONDS,
           "wall-clock limit of each attempt in a worker process; an op's ophost/timeout "
           "tag overrides it", metavar="SECONDS", default_text="none"),
    Option("execution_memory_limit", "execution.memory_limit", SIZE,
           "memory an attempt may add to its worker process (K, M, G suffixes); beyond it "
           "the attempt fails with MEMORY_LIMIT", metavar="SIZE", default_text="none"),
    # Security.
    Option("tls_cert", "tls.cert", PATH,
           "serve TLS with this PEM certificate chain (needs --tls-key)", metavar="FILE",
           group=_SECURITY, default_text="plaintext"),
    Option("tls_key", "tls.key", PATH, "the PEM private key of --tls-cert", metavar="FILE",
           group=_SECURITY, default_text="none"),
    Option("tls_client_ca", "tls.client_ca", PATH,
           "require client certificates that chain to these PEM CA certificates (mTLS)",
           metavar="FILE", group=_SECURITY, default_text="none"),
    Option("token_file", "security.token_file", PATH,
           "authenticate callers as the identities of this TOML file (or .yaml), each with "
           "its ops and actions", metavar="FILE", group=_SECURITY,
           default_text="none: every caller may do everything"),
    Option("reload_interval", "security.reload_interval", SECONDS,
           "how often the TLS files and the token file are checked for changes, which "
           "reloads them (0: only on SIGHUP)", default=1.0, metavar="SECONDS",
           group=_SECURITY),
    Option("withhold_errors", "security.withhold_errors", BOOLEAN,
           "keep op error messages and stacks from clients, who get the error's type and an "
           "error id (the full error is logged with it)", group=_SECURITY,
           default_text="withheld unless the host is a loopback address"),
    # The browser door.
    Option("http_port", "http.port", INTEGER_PORT,
           "also serve the service over Connect and gRPC-Web, and the web console, on "
           "http(s)://HOST:PORT/ (0 picks a port; the same TLS and token file; --workers "
           "processes share it like the gRPC port); needs ophost[http]",
           metavar="PORT", group=_HTTP, default_text="off"),
    Option("http_cors_origin", "http.cors_origins", ORIGINS,
           "let pages from this origin call the browser door (CORS); repeat it for more "
           "origins; * allows any", metavar="ORIGIN", group=_HTTP,
           default_text="none: CORS off"),
    # Observability.
    Option("metrics_port", "metrics.port", INTEGER_PORT,
           "serve Prometheus metrics at http://HOST:PORT/metrics (0 picks a port); with "
           "--workers N, worker i serves on PORT+i-1; needs ophost[metrics]",
           metavar="PORT", group=_OBSERVABILITY, default_text="off"),
    Option("metrics_host", "metrics.host", TEXT, "address the metrics endpoint binds",
           metavar="HOST", group=_OBSERVABILITY, default_text="the host option"),
    Option("tracing", "tracing", BOOLEAN,
           "make OpenTelemetry spans for calls, executions and attempts, exported as the "
           "OTEL_* environment variables say (OTEL_TRACES_EXPORTER: otlp, console, none); "
           "needs ophost[tracing], and ophost[otlp] for OTLP", default=False,
           group=_OBSERVABILITY, default_text="off"),
    Option("log_format", "log.format", choice("text", "json"),
           "log lines on stderr as text or as one JSON object each", default="text",
           group=_OBSERVABILITY),
    Option("log_level", "log.level", choice("debug", "info", "warning", "error", "critical"),
           "the least severe log lines written; info adds a line per execution and the ops' "
           "context.log messages at info", default="warning", group=_OBSERVABILITY),
)  # fmt: skip


def option_by_name(name: str) -> Option:
    for option in SERVE_OPTIONS:
        if option.name == name:
            return option
    raise KeyError(name)


def render_value(option: Option, value: Any) -> str:
    """``value`` as a TOML value (what a config file would say)."""
    if value is None:
        return "none"
    if option.kind is BOOLEAN:
        return "true" if value else "false"
    if option.kind.many:
        return "[" + ", ".join(_toml_string(str(item)) for item in value) + "]"
    if isinstance(value, int | float):
        return option.kind.show(value)
    return _toml_string(str(value))


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped)
    return f'"{escaped}"'


def _toml_text(value: object) -> str:
    """A value read from TOML, as it would be written there (for error messages)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


# -- the flags -------------------------------------------------------------------------------


def _argparse_type(option: Option) -> Callable[[str], Any]:
    parse = option.kind.parse

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{option.kind.redact(repr(text))} is {exc}") from None

    return convert


def add_serve_flags(
    parser: argparse.ArgumentParser, options: Sequence[Option] = SERVE_OPTIONS
) -> None:
    """Add a flag for each option; a flag not given leaves its name out of the namespace.

    So the settings layers can tell a flag given with the default value from one not
    given at all (see :func:`ophost.cli._settings.from_flags`).
    """
    groups: dict[str | None, Any] = {None: parser}
    exclusive: dict[str, Any] = {}
    for option in options:
        if option.group not in groups:
            groups[option.group] = parser.add_argument_group(option.group)
        target = groups[option.group]
        if option.one_of is not None:
            if option.one_of not in exclusive:
                exclusive[option.one_of] = target.add_mutually_exclusive_group()
            target = exclusive[option.one_of]
        names = [option.short, option.flag] if option.short else [option.flag]
        helptext = (
            f"{option.help} (default: {option.describe_default()}; environment: "
            f"{option.env}; config file: {option.key})"
        ).replace("%", "%%")
        if option.kind is BOOLEAN:
            target.add_argument(
                *names,
                dest=option.name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=helptext,
            )
            continue
        if option.kind.choices:
            # argparse checks the choice itself, and its message says which are allowed.
            target.add_argument(
                *names,
                dest=option.name,
                type=str.lower,
                choices=option.kind.choices,
                default=argparse.SUPPRESS,
                help=helptext,
            )
            continue
        target.add_argument(
            *names,
            dest=option.name,
            type=_argparse_type(option),
            action="append" if option.kind.many else "store",
            default=argparse.SUPPRESS,
            metavar=option.metavar or option.name.upper(),
            help=helptext,
        )
