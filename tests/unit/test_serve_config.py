"""The options of ``ophost serve``: one table, four layers, config files and their checks.

The table (``ophost.cli._options``) gives every option a flag, an ``OPHOST_*`` variable
and a config-file key; ``ophost.cli._settings`` reads the layers (defaults < file <
environment < flags). These tests read real TOML files written to ``tmp_path``; the
processes that serve with them are in ``tests/e2e/test_serve_config.py``.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import pytest

from ophost.cli import build_parser, main
from ophost.cli._options import SERVE_OPTIONS, option_by_name
from ophost.cli._settings import (
    Layer,
    from_file,
    render_settings,
    resolve,
    serve_problems,
    worker_flags,
)
from ophost.server._logs import LOG_FORMAT_ENV, LOG_LEVEL_ENV
from ophost.server.store import DEFAULT_STORE_URL

tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11 or later")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "ophost.toml"


@pytest.fixture(autouse=True)
def _no_ophost_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``config check`` reads the environment: keep the runner's OPHOST_* out of it."""
    for option in SERVE_OPTIONS:
        monkeypatch.delenv(option.env, raising=False)


def _write(folder: Path, text: str, name: str = "ophost.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _flags(*argv: str) -> dict[str, Any]:
    """The options given on a ``serve`` command line, as the parser leaves them."""
    return vars(build_parser().parse_args(["serve", *argv]))


# -- the table -------------------------------------------------------------------------------


def test_each_option_has_its_own_flag_variable_and_key() -> None:
    for attribute in ("name", "flag", "env", "key"):
        values = [getattr(option, attribute) for option in SERVE_OPTIONS]
        assert len(values) == len(set(values)), attribute
    assert option_by_name("store").env == "OPHOST_STORE"  # as before the table
    assert option_by_name("log_format").env == LOG_FORMAT_ENV  # what worker processes read
    assert option_by_name("log_level").env == LOG_LEVEL_ENV
    assert option_by_name("max_concurrent_executions").env == "OPHOST_MAX_CONCURRENT_EXECUTIONS"
    assert option_by_name("max_retained_bytes").key == "store.max_retained_bytes"
    assert option_by_name("tls_cert").key == "tls.cert"
    assert DEFAULT_STORE_URL in (option_by_name("store").default_text or "")


def test_the_serve_parser_has_a_flag_for_each_option_and_no_other() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    serve = subparsers.choices["serve"]
    flags = {
        flag
        for action in serve._actions
        for flag in action.option_strings
        if flag.startswith("--") and not flag.startswith("--no-")
    }
    table = {option.flag for option in SERVE_OPTIONS}
    assert flags - table == {"--help", "--config", "--reuse-port"}
    assert table <= flags
    text = serve.format_help()
    for option in SERVE_OPTIONS:
        assert option.env in text
        assert option.key in text


# -- reading a config file -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("port = 70000\n", "1: port: 70000 is not a port (0 to 65535; 0 picks one)"),
        ('port = "50051"\n', '1: port: "50051" is not a port (an integer)'),
        ("port = true\n", "1: port: true is not a port (an integer)"),
        ("workers = 0\n", "1: workers: 0 is not 1 or more"),
        ("drain_grace = -1\n", "1: drain_grace: -1 is not a number of seconds (0 or more)"),
        ("drain_grace = nan\n", "1: drain_grace: nan is not a number of seconds (0 or more)"),
        ("tracing = 1\n", "1: tracing: 1 is not true or false"),
        ('\n[store]\nmax_retained_bytes = "2X"\n',
         '3: store.max_retained_bytes: "2X" is not a size (such as 500M or 2G)'),
        ("store.max_retained_bytes = 0\n",
         "1: store.max_retained_bytes: 0 is not a size of 1 byte or more"),
        ('[store]\nurl = "mysql://db"\n',
         '2: store.url: "mysql://db" is not a store URL (memory, '
          "sqlite:///path/to/file.db or postgresql://user@host/db)"),
        ('[log]\nlevel = "loud"\n',
         '2: log.level: "loud" is not a valid choice (choose from \'debug\', '
          "'info', 'warning', 'error', 'critical')"),
        ("[tls]\ncert = 5\n", "2: tls.cert: 5 is not a string (a path)"),
        ('module = "my-ops"\n',
         '1: module: "my-ops" is not a dotted module name (such as my_team.ops)'),
        ("[port]\n", "1: port: a table is not a port (an integer)"),
        ('tls = "yes"\n', '1: tls: must be a table ([tls])'),
        ('file = "a.py"\nmodule = "a"\n',
         "2: file and module: give one of them, not both"),
        # Unknown keys, with the known key they are probably meant as.
        ("prot = 1\n", "1: prot: unknown key; did you mean port?"),
        ("pool_size = 2\n", "1: pool_size: unknown key; did you mean execution.pool_size?"),
        ("timeout = 2\n", "1: timeout: unknown key; did you mean execution.timeout?"),
        ("max-retained-bytes = 2\n",
         "1: max-retained-bytes: unknown key; did you mean store.max_retained_bytes?"),
        ('[tls]\ncertificate = "c.pem"\n',
         "2: tls.certificate: unknown key; did you mean tls.cert?"),
        ("[metric]\nport = 1\n", "1: metric: unknown key; did you mean metrics?"),
        ("colour = 1\n", "1: colour: unknown key"),
    ],
)  # fmt: skip
def test_config_file_problems_name_the_file_the_line_and_the_key(
    tmp_path: Path, text: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, text)
    assert from_file(Path("ophost.toml"))[1] == [f"ophost.toml:{problem}"]


def test_the_environment_names_the_ops_once() -> None:
    environ = {"OPHOST_FILE": "ops.py", "OPHOST_MODULE": "ops"}
    assert resolve({}, environ, None)[1] == [
        "OPHOST_FILE and OPHOST_MODULE: give one of them, not both"
    ]


def test_a_file_that_is_not_toml_is_one_problem(tmp_path: Path) -> None:
    path = _write(tmp_path, "port = \n")
    assert from_file(path) == ({}, [f"{path}: not valid TOML: Invalid value (at line 1, column 8)"])


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'port = -1\nhots = "0.0.0.0"\n\n[store]\nlease = "long"\n[execution]\nexecutor = "rayon"\n',
    )
    problems = from_file(path)[1]
    assert [re.sub(r"^.*?:(\d+): ", r"\1 ", p).split(":")[0] for p in problems] == [
        "1 port",
        "2 hots",
        "5 store.lease",
        "7 execution.executor",
    ]


def test_a_missing_file_is_a_problem(tmp_path: Path) -> None:
    values, problems = from_file(tmp_path / "nowhere.toml")
    assert values == {}
    assert problems == [
        f"{tmp_path / 'nowhere.toml'}: cannot read the config file: No such file or directory"
    ]


def test_relative_paths_in_a_file_are_relative_to_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    path = _write(
        folder,
        'file = "ops/my_ops.py"\n'
        '[store]\nurl = "sqlite:///data/ops.db?max_bytes=1000000"\n'
        '[tls]\ncert = "certs/server.pem"\nkey = "/etc/ophost/server.key"\n'
        '[security]\ntoken_file = "../tokens.toml"\n',
    )
    values = {name: setting.value for name, setting in from_file(path)[0].items()}
    assert values == {
        "file": str(folder / "ops/my_ops.py"),
        "store": f"sqlite:///{folder}/data/ops.db?max_bytes=1000000",
        "tls_cert": folder / "certs/server.pem",
        "tls_key": Path("/etc/ophost/server.key"),
        "token_file": folder / "../tokens.toml",
    }
    for url in ("sqlite:////var/lib/ophost.db", "memory", "postgresql://u@db/ops"):
        _write(folder, f'[store]\nurl = "{url}"\n')
        assert from_file(path)[0]["store"].value == url


def test_sizes_and_seconds_read_as_the_flags_read_them(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[store]\nmax_retained_bytes = "1.5G"\nevent_retention = 30\nlease = 2.5\n'
        "[execution]\nmemory_limit = 1048576\n",
    )
    values = {name: setting.value for name, setting in from_file(path)[0].items()}
    assert values == {
        "max_retained_bytes": 3 << 29,
        "event_retention": 30.0,
        "lease": 2.5,
        "execution_memory_limit": 1 << 20,
    }
    flags = _flags(
        "-f", "x.py", "--max-retained-bytes", "1.5G", "--execution-memory-limit", "1048576"
    )
    assert (flags["max_retained_bytes"], flags["execution_memory_limit"]) == (3 << 29, 1 << 20)


# -- the layers ------------------------------------------------------------------------------


def test_the_environment_overrides_the_file_and_flags_override_both(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "port = 1001\ndrain_grace = 3\n[store]\nlease = 4\nevent_retention = 5\n"
    )
    environ = {"OPHOST_PORT": "1002", "OPHOST_LEASE": "6", "OPHOST_STORE": "memory"}
    settings, problems = resolve(_flags("--port", "1003"), environ, path)
    assert problems == []
    assert settings["port"] == 1003
    assert settings.values["port"].layer is Layer.FLAG
    assert (settings["lease"], settings.origin("lease")) == (6.0, "OPHOST_LEASE")
    assert (settings["store"], settings.origin("store")) == ("memory", "OPHOST_STORE")
    assert (settings["drain_grace"], settings.origin("drain_grace")) == (3.0, f"{path}:2")
    assert (settings["event_retention"], settings.origin("event_retention")) == (5.0, f"{path}:5")
    assert (
        settings["max_concurrent_executions"],
        settings.origin("max_concurrent_executions"),
    ) == (
        64,
        "default",
    )
    # A flag given with the default value still overrides the file.
    assert resolve(_flags("--drain-grace", "10"), {}, path)[0]["drain_grace"] == 10.0


def test_the_source_of_the_ops_is_decided_by_the_highest_layer_that_names_one(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, 'file = "ops.py"\n')
    from_file_only = resolve({}, {}, path)[0]
    assert (from_file_only["file"], from_file_only["module"]) == (str(tmp_path / "ops.py"), None)
    overridden = resolve(_flags("-m", "team.ops"), {"OPHOST_FILE": "env_ops.py"}, path)[0]
    assert (overridden["file"], overridden["module"]) == (None, "team.ops")
    from_env = resolve({}, {"OPHOST_MODULE": "env.ops"}, path)[0]
    assert (from_env["file"], from_env["module"]) == (None, "env.ops")


def test_environment_values_are_checked_as_flags_are() -> None:
    environ = {
        "OPHOST_PORT": "http",
        "OPHOST_TRACING": "maybe",
        "OPHOST_WITHHOLD_ERRORS": "off",
        "OPHOST_LOG_LEVEL": "INFO",
        "OPHOST_MAX_CONCURRENT_EXECUTIONS": "",  # empty: unset
        "OPHOST_TOKEN": "a client's token, not an option of serve",
    }
    settings, problems = resolve({}, environ, None)
    assert problems == [
        "OPHOST_PORT: 'http' is not an integer",
        "OPHOST_TRACING: 'maybe' is not a yes or a no (true or false, 1 or 0, yes or no, "
        "on or off)",
    ]
    assert settings["withhold_errors"] is False
    assert settings["log_level"] == "info"
    assert settings["max_concurrent_executions"] == 64


@pytest.mark.parametrize(
    ("config", "environ", "argv", "problem"),
    [
        ("", {}, ["--tls-cert", "s.pem"], "--tls-cert and --tls-key go together"),
        ("", {}, ["--tls-client-ca", "ca.pem"],
         "--tls-client-ca needs --tls-cert and --tls-key (mTLS is TLS first)"),
        ('[tls]\nkey = "s.key"\n', {}, [], "ophost.toml:2: tls.cert and tls.key go together"),
        ('\n[tls]\nclient_ca = "ca.pem"\n', {}, [],
         "ophost.toml:3: tls.client_ca needs tls.cert and tls.key (mTLS is TLS first)"),
        ("", {"OPHOST_TLS_KEY": "s.key"}, [], "OPHOST_TLS_CERT and OPHOST_TLS_KEY go together"),
        ('[tls]\ncert = "s.pem"\n', {}, ["--tls-key", "s.key", "--tls-client-ca", "c.pem"], None),
        ("workers = 2\n", {"OPHOST_STORE": "memory"}, [],
         "ophost.toml:1: workers needs a store the processes can share (sqlite:///... or "
         "postgresql://...), not memory"),
        ("[metrics]\nport = 65535\n", {}, ["--workers", "2"],
         "ophost.toml:2: metrics.port 65535 leaves no port for worker 2 (worker i serves "
         "metrics on PORT+i-1)"),
        # A bad value is the problem; what follows from leaving it out is not another.
        ('[tls]\ncert = "s.pem"\nkey = 1\n', {}, [], None),
    ],
)  # fmt: skip
def test_options_that_do_not_work_together(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    config: str,
    environ: dict[str, str],
    argv: list[str],
    problem: str | None,
) -> None:
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path, config)
    settings, _ = resolve(_flags(*argv), environ, Path(path.name))
    assert serve_problems(settings) == ([] if problem is None else [problem])


def test_workers_get_every_option_set_as_a_flag(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'file = "ops.py"\nworkers = 2\n[store]\nlease = 3\n[execution]\nexecutor = "thread"\n'
        "[security]\nwithhold_errors = false\n",
    )
    settings, _ = resolve(_flags("--log-format", "json"), {"OPHOST_DRAIN_GRACE": "2.5"}, path)
    flags = worker_flags(settings)
    assert flags[:2] == ["--file", str(tmp_path / "ops.py")]
    pairs = dict(zip(flags[::2], flags[1::2], strict=False))
    assert pairs["--lease"] == "3"
    assert pairs["--drain-grace"] == "2.5"
    assert pairs["--executor"] == "thread"
    assert pairs["--log-format"] == "json"
    assert "--no-withhold-errors" in flags
    assert "--no-tracing" in flags
    for per_worker in ("--workers", "--port", "--store", "--metrics-port", "--pool-size"):
        assert per_worker not in flags
    # Read back as flags, they give the same settings with no file and no environment.
    again, problems = resolve(_flags(*flags), {}, None)
    assert problems == []
    skipped = {"workers", "port", "store", "metrics_port"}
    assert {n: s.value for n, s in again.values.items() if n not in skipped} == {
        n: s.value for n, s in settings.values.items() if n not in skipped
    }


# -- ophost config check ---------------------------------------------------------------------


def test_the_example_config_file_checks_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert f'file = "{ROOT / "examples" / "ops.py"}"' in out
    assert f'url = "sqlite:///{ROOT / "examples" / ".ophost" / "ophost.db"}"' in out
    assert re.search(r'^executor = "process" +# .*ophost\.toml:\d+$', out, re.MULTILINE)
    assert "# pool_size: not set (the number of cores)" in out


def test_each_commented_out_setting_of_the_example_is_valid() -> None:
    """The example shows optional settings as comments: each must be right when uncommented."""
    table = ""
    checked = []
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        header = re.match(r"^\[(\w+)\]", line)
        if header is not None:
            table = header.group(1)
        setting = re.match(r"^# (\w+) = (.+?)(?:\s+#.*)?$", line)
        if setting is None:
            continue
        key = f"{table}.{setting.group(1)}" if table else setting.group(1)
        [option] = [o for o in SERVE_OPTIONS if o.key == key]
        value = tomllib.loads(f"v = {setting.group(2)}")["v"]
        option.kind.from_toml(value)
        checked.append(key)
    assert len(checked) >= 10, checked
    # And every option appears in the example, set or as a comment.
    text = EXAMPLE.read_text(encoding="utf-8")
    for option in SERVE_OPTIONS:
        leaf = option.key.rpartition(".")[2]
        assert re.search(rf"^(# )?{leaf} = ", text, re.MULTILINE), option.key


def test_config_check_lists_every_problem_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(
        tmp_path,
        'file = "missing_ops.py"\nport = 99999\n[tls]\ncert = "server.pem"\n'
        "[store]\nmax_retained_byte = 10\n",
    )
    monkeypatch.setenv("OPHOST_WORKERS", "none")
    assert main(["config", "check", "ophost.toml"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "ophost.toml:2: port: 99999 is not a port (0 to 65535; 0 picks one)",
        "ophost.toml:6: store.max_retained_byte: unknown key; did you mean "
        "store.max_retained_bytes?",
        "OPHOST_WORKERS: 'none' is not an integer",
        "ophost.toml:4: tls.cert and tls.key go together",
        f"ophost.toml:1: file: {tmp_path / 'missing_ops.py'} does not exist",
        f"ophost.toml:4: tls.cert: {tmp_path / 'server.pem'} does not exist",
        "ophost config check: 6 problems in ophost.toml",
    ]


def test_config_check_prints_a_config_file_that_gives_the_same_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ops.py").write_text("", encoding="utf-8")
    path = _write(
        tmp_path,
        'file = "ops.py"\nport = 0\n[store]\nmax_retained_bytes = "10M"\nlease = 0.25\n'
        '[log]\nformat = "json"\n',
    )
    monkeypatch.setenv("OPHOST_STORE", "postgresql://ops:s3cret@db/ops")
    monkeypatch.setenv("OPHOST_TRACING", "yes")
    assert main(["config", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out
    assert re.search(r'^url = "postgresql://ops:\*\*\*@db/ops" +# OPHOST_STORE$', out, re.MULTILINE)
    assert re.search(r"^tracing = true +# OPHOST_TRACING$", out, re.MULTILINE)
    monkeypatch.delenv("OPHOST_STORE")
    monkeypatch.delenv("OPHOST_TRACING")
    printed = _write(tmp_path, out.replace(":***@", ":s3cret@"), "printed.toml")
    original = resolve(
        {}, {"OPHOST_STORE": "postgresql://ops:s3cret@db/ops", "OPHOST_TRACING": "1"}, path
    )
    copy = resolve({}, {}, printed)
    assert copy[1] == []
    assert {n: s.value for n, s in copy[0].values.items()} == {
        n: s.value for n, s in original[0].values.items()
    }
    # Nothing is left to the defaults: the copy sets every option that has a value.
    assert "# default" not in render_settings(copy[0])


def test_the_serving_docs_list_every_option_with_its_key(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "serving.md").read_text(encoding="utf-8")
    rows = [
        line.replace("\\|", "/").split("|") for line in text.splitlines() if line.startswith("| `-")
    ]
    for option in SERVE_OPTIONS:
        [row] = [r for r in rows if f"`{option.flag}" in r[1]]
        assert f"`{option.key}`" in row[2], option.name
    # The config file shown in the docs is one that serve accepts.
    [example] = re.findall(r"```toml\n(.*?)```", text, re.DOTALL)
    assert from_file(_write(tmp_path, example))[1] == []


def test_a_store_urls_password_is_never_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, '[store]\nurl = "mysql://ops:hunter2@db/ops"\n')
    _, problems = resolve({}, {"OPHOST_STORE": "pg://ops:hunter2@db/ops"}, path)
    assert problems == [
        f'{path}:2: store.url: "mysql://ops:***@db/ops" is not a store URL (memory, '
        "sqlite:///path/to/file.db or postgresql://user@host/db)",
        "OPHOST_STORE: 'pg://ops:***@db/ops' is not a store URL (memory, "
        "sqlite:///path/to/file.db or postgresql://user@host/db)",
    ]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--store", "pg://ops:hunter2@db/ops"])
    assert "hunter2" not in capsys.readouterr().err


# -- the browser door's CORS origins: a list option ---------------------------------------------


def test_cors_origins_come_as_repeated_flags_an_array_or_commas(tmp_path: Path) -> None:
    flags = _flags("--http-cors-origin", "https://a.example", "--http-cors-origin", "*")
    assert flags["http_cors_origin"] == ["https://a.example", "*"]
    path = _write(tmp_path, '[http]\nport = 0\ncors_origins = ["http://localhost:5173/"]\n')
    values = {name: setting.value for name, setting in from_file(path)[0].items()}
    assert values == {"http_port": 0, "http_cors_origin": ["http://localhost:5173"]}
    single = _write(tmp_path, '[http]\ncors_origins = "https://b.example"\n', "single.toml")
    assert from_file(single)[0]["http_cors_origin"].value == ["https://b.example"]
    environ = {"OPHOST_HTTP_CORS_ORIGIN": "https://a.example, https://b.example:8443"}
    settings, problems = resolve({}, environ, None)
    assert problems == []
    assert settings["http_cors_origin"] == ["https://a.example", "https://b.example:8443"]
    # Workers get each origin as a flag of its own; the door's port is the supervisor's.
    settings, _ = resolve(
        _flags("-f", "x.py", "--http-port", "8080", *flags_of(settings)), {}, None
    )
    passed = worker_flags(settings)
    assert passed.count("--http-cors-origin") == 2
    assert "--http-port" not in passed


def flags_of(settings: Any) -> list[str]:
    return [
        arg for origin in settings["http_cors_origin"] for arg in ("--http-cors-origin", origin)
    ]


@pytest.mark.parametrize(
    "origin", ["example.com", "ftp://example.com", "https://example.com/console", "https://"]
)
def test_an_origin_that_is_not_one_is_refused_with_what_it_should_be(
    origin: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        _flags("--http-cors-origin", origin)
    assert "not an origin" in capsys.readouterr().err
    path = _write(tmp_path, f'[http]\ncors_origins = ["{origin}"]\n')
    [problem] = from_file(path)[1]
    assert "http.cors_origins" in problem
    assert "not an origin" in problem
