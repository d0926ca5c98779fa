"""Token files: what they may say, how every mistake is reported, and the access they give."""

from __future__ import annotations

import hashlib
import secrets
import textwrap
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest

from ophost.server import _token_file
from ophost.server._access import UNRESTRICTED, Access
from ophost.server._status import StatusError
from ophost.server._token_file import (
    TokenFileError,
    hash_token,
    load_token_file,
    parse_token_file,
)

CI_TOKEN = secrets.token_urlsafe(24)
DASH_TOKEN = secrets.token_urlsafe(24)

EXAMPLE = f"""
# who may call
health = "authenticated"

[identities.ci]
token_hash = "{hash_token(CI_TOKEN)}"
ops = ["etl_*", "report"]
actions = ["list", "run", "read", "cancel"]
max_concurrent_executions = 4
executions_of = ["nightly"]

[identities.nightly]
token_hash = "{hash_token(DASH_TOKEN)}"
client_cert_subject = "CN=nightly,O=Example"
ops = ["*"]
actions = ["run"]

[identities."dash.board"]
client_cert_subject = "CN=dashboard,O=Example"
ops = ["*"]
actions = ["list", "read"]
executions_of = ["*"]
"""


def test_the_example_loads() -> None:
    policy = parse_token_file(EXAMPLE)
    assert policy.open_health is False
    assert [i.name for i in policy.identities] == ["ci", "nightly", "dash.board"]
    ci, nightly, dashboard = policy.identities
    assert ci.token_digest == hashlib.sha256(CI_TOKEN.encode()).digest()
    assert ci.client_cert_subject is None
    assert ci.access.max_concurrent == 4
    assert nightly.client_cert_subject == "CN=nightly,O=Example"
    assert dashboard.token_digest is None
    assert policy.needs_client_certificates


def test_health_is_open_unless_said_otherwise() -> None:
    assert parse_token_file("").open_health is True
    assert parse_token_file('health = "open"').open_health is True


def test_tokens_and_subjects_find_their_identity() -> None:
    policy = parse_token_file(EXAMPLE)
    assert policy.by_token(CI_TOKEN) is policy.identities[0]
    assert policy.by_token(DASH_TOKEN) is policy.identities[1]
    assert policy.by_token(CI_TOKEN + "x") is None
    assert policy.by_token("") is None
    # A subject alone names only the identity that needs no token.
    assert policy.by_subject("CN=dashboard,O=Example") is policy.identities[2]
    assert policy.by_subject("CN=nightly,O=Example") is None
    assert policy.by_subject("CN=dashboard") is None


def test_every_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []

    def compare(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(_token_file, "hmac", SimpleNamespace(compare_digest=compare))
    policy = parse_token_file(EXAMPLE)
    assert policy.by_token(CI_TOKEN) is policy.identities[0]
    # Both identities with a token were compared, though the first matched.
    assert len(compared) == 2
    assert all(b == hashlib.sha256(CI_TOKEN.encode()).digest() for _, b in compared)


def test_hash_token_is_sha256_hex() -> None:
    assert hash_token("abc") == (
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 1\n", "tokens.toml:1: unknown setting 'colour'"),
        ('\n\nhealth = "closed"\n', 'tokens.toml:3: health must be "open" or "authenticated"'),
        ("identities = 3\n", "tokens.toml:1: identities must be a table"),
        (
            '[identities.ci]\nops = ["*"]\nactions = ["run"]\n',
            "tokens.toml:1: identity 'ci' has no way to authenticate",
        ),
        (
            '[identities.ci]\ntoken = "s3cret-value"\n',
            "tokens.toml:2: identity 'ci': tokens are not written in the token file",
        ),
        (
            '[identities.ci]\ntoken_hash = "abc"\nops = ["*"]\nactions = ["run"]\n',
            "tokens.toml:2: identity 'ci': token_hash must be \"sha256:\" followed by 64 hex",
        ),
        (
            '[identities.ci]\ntoken_hash = "sha256:xyz"\nops = ["*"]\nactions = ["run"]\n',
            "tokens.toml:2: identity 'ci': token_hash must be",
        ),
        (
            f'[identities.ci]\ntoken_hash = "{hash_token("t")}"\nactions = ["run"]\n',
            "tokens.toml:1: identity 'ci': ops is missing",
        ),
        (
            f'[identities.ci]\ntoken_hash = "{hash_token("t")}"\nops = "*"\nactions = ["run"]\n',
            "tokens.toml:3: identity 'ci': ops must be a list of strings",
        ),
        (
            f'[identities.ci]\ntoken_hash = "{hash_token("t")}"\nops = ["etl.*"]\n'
            'actions = ["run"]\n',
            "tokens.toml:3: identity 'ci': ops has 'etl.*', which can match no op name",
        ),
        (
            f'[identities.ci]\ntoken_hash = "{hash_token("t")}"\nops = ["*"]\n'
            'actions = ["run", "write"]\n',
            "tokens.toml:4: identity 'ci': actions has 'write'; the actions are list, run",
        ),
        (
            f'[identities.ci]\ntoken_hash = "{hash_token("t")}"\nops = ["*"]\n'
            'actions = ["run"]\nexecutions_of = ["bob"]\n',
            "tokens.toml:5: identity 'ci': executions_of names 'bob', which is not an identity",
        ),
        (
            f'[identities.ci]\ntoken_hash = "{hash_token("t")}"\nops = ["*"]\n'
            'actions = ["run"]\nmax_concurrent_executions = 0\n',
            "tokens.toml:5: identity 'ci': max_concurrent_executions must be a whole number",
        ),
        (
            f'[identities.ci]\ntoken_hash = "{hash_token("t")}"\nops = ["*"]\n'
            'actions = ["run"]\ncolour = "red"\n',
            "tokens.toml:5: identity 'ci': unknown setting 'colour'",
        ),
        (
            f'[identities.a]\ntoken_hash = "{hash_token("t")}"\nops = ["*"]\nactions = []\n'
            f'[identities.b]\ntoken_hash = "{hash_token("t")}"\nops = ["*"]\nactions = []\n',
            "tokens.toml:6: identities 'a' and 'b' have the same token_hash",
        ),
        (
            '[identities.a]\nclient_cert_subject = "CN=x"\nops = ["*"]\nactions = []\n'
            '[identities.b]\nclient_cert_subject = "CN=x"\nops = ["*"]\nactions = []\n',
            "identities 'a' and 'b' authenticate by the same client_cert_subject alone",
        ),
        (
            '[identities."two words"]\nclient_cert_subject = "CN=x"\n',
            "tokens.toml: identity 'two words': a name is 1 to 128 letters",
        ),
        ("[identities.ci\n", "tokens.toml: not valid TOML"),
    ],
)
def test_mistakes_are_named_with_their_line(text: str, message: str) -> None:
    with pytest.raises(TokenFileError) as raised:
        parse_token_file(text, source="tokens.toml")
    assert message in str(raised.value)
    assert "s3cret-value" not in str(raised.value)
    assert hash_token("t") not in str(raised.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "tokens.toml"
    with pytest.raises(TokenFileError, match=f"cannot read the token file {missing}"):
        load_token_file(missing)


def test_yaml_token_files(tmp_path: Path) -> None:
    # PyYAML is optional (a dev dependency); the lowest-versions run (make compat) lacks it.
    pytest.importorskip("yaml", reason="YAML token files need PyYAML, not installed here")
    path = tmp_path / "tokens.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            health: authenticated
            identities:
              ci:
                token_hash: "{hash_token(CI_TOKEN)}"
                ops: ["add"]
                actions: [list, run]
            """
        ),
        encoding="utf-8",
    )
    policy = load_token_file(path)
    assert policy.open_health is False
    assert policy.by_token(CI_TOKEN) is policy.identities[0]
    path.write_text("identities:\n  ci:\n    ops: [add]\n", encoding="utf-8")
    with pytest.raises(TokenFileError, match="identity 'ci' has no way to authenticate"):
        load_token_file(path)
    path.write_text("identities: [\n", encoding="utf-8")
    with pytest.raises(TokenFileError, match="not valid YAML"):
        load_token_file(path)


# -- Access -------------------------------------------------------------------------------


def refused(call: object) -> StatusError:
    assert callable(call)
    with pytest.raises(StatusError) as raised:
        call()
    assert raised.value.code is grpc.StatusCode.PERMISSION_DENIED
    return raised.value


def test_access_checks_actions_ops_and_owners() -> None:
    access = Access("ci", actions=["run", "read"], ops=["etl_*", "report"], executions_of=["bob"])
    assert access.allows("run")
    assert not access.allows("cancel")
    assert access.visible_ops(["etl_load", "report", "payroll", "etl"]) == ["etl_load", "report"]
    assert not access.sees_op("ETL_load")  # case-sensitive
    access.check_op("run", "etl_x")
    denied = refused(lambda: access.check_op("run", "payroll"))
    assert denied.metadata == {"identity": "ci", "action": "run", "op": "payroll"}
    denied = refused(lambda: access.check("cancel", "/ophost.v1.OpHostService/CancelExecution"))
    assert denied.metadata == {"identity": "ci", "action": "cancel"}
    assert "CancelExecution" in denied.message
    assert access.sees_execution("ci", "report")
    assert access.sees_execution("bob", "report")
    assert not access.sees_execution("alice", "report")
    assert not access.sees_execution("bob", "payroll")
    denied = refused(lambda: access.check_execution("read", "e1", "alice", "report"))
    assert denied.metadata == {"identity": "ci", "action": "read", "execution_id": "e1"}
    principals, ops = access.listing_scope(["payroll", "etl_load", "report"])
    assert principals == frozenset({"ci", "bob"})
    assert ops == frozenset({"etl_load", "report"})


def test_wildcards_mean_no_limit() -> None:
    policy = parse_token_file(EXAMPLE)
    dashboard = policy.identities[2].access
    assert dashboard.listing_scope(["a", "b"]) == (None, None)
    assert dashboard.sees_execution("anyone", "anything")
    assert UNRESTRICTED.unrestricted
    assert not dashboard.unrestricted
    assert UNRESTRICTED.listing_scope(["a"]) == (None, None)


# -- ophost token ---------------------------------------------------------------------------


def test_token_new_prints_a_token_and_an_entry_that_loads(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ophost.cli import main

    assert main(["token", "new", "--name", "ci"]) == 0
    printed = capsys.readouterr().out
    token = next(
        line.removeprefix("OPHOST_TOKEN=")
        for line in printed.splitlines()
        if line.startswith("OPHOST_TOKEN=")
    )
    assert len(token) >= 40
    entry = printed[printed.index("[identities.ci]") :]
    policy = parse_token_file(entry)
    assert policy.by_token(token) is policy.identities[0]
    assert main(["token", "new"]) == 0
    assert token not in capsys.readouterr().out  # a new one each time


def test_token_new_never_prints_a_token_that_reads_as_an_option(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ophost.cli import main

    drawn = iter(["-starts-with-a-dash" + "x" * 30, "_second" + "y" * 40])
    monkeypatch.setattr("secrets.token_urlsafe", lambda size: next(drawn))
    assert main(["token", "new"]) == 0
    assert "OPHOST_TOKEN=_second" + "y" * 40 in capsys.readouterr().out


def test_token_hash_reads_standard_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from ophost.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("abc\n"))
    assert main(["token", "hash"]) == 0
    assert capsys.readouterr().out.strip() == hash_token("abc")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["token", "hash"]) == 2
