"""The conformance runner's requirements and the files of its secure run."""

from __future__ import annotations

from pathlib import Path

import pytest

from ophost.server import hash_token
from ophost.server._token_file import load_token_file

# The runner needs the dev tools (PyYAML, trustme), which `make compat` does not install.
pytest.importorskip("yaml")
pytest.importorskip("trustme")

from tests.conformance import run


def test_security_cases_require_the_secure_run_and_the_others_do_not() -> None:
    cases = run.load_cases()
    secure = {case.id for case in cases if case.requires}
    assert secure == {case.id for case in cases if case.id.startswith("security/")}
    assert len(secure) >= 4
    assert all(case.requires == {run.SECURE} for case in cases if case.requires)
    # No case carries `requires` to the programs.
    assert all("requires" not in case.request for case in cases)


def test_an_unknown_requirement_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x.yaml").write_text(
        "- id: x/one\n  requires: [quantum]\n  action: list_ops\n  expect: {ops: []}\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(run, "CASES_DIR", tmp_path)
    with pytest.raises(ValueError, match="quantum"):
        run.load_cases()


def test_the_secure_runs_files_hold_the_identities_and_their_tokens() -> None:
    with run.security_files() as security:
        policy = load_token_file(security.token_file)
        text = security.token_file.read_text(encoding="utf-8")
        for name in run.IDENTITIES:
            identity = policy.by_token(security.tokens[name])
            assert identity is not None
            assert identity.name == name
            assert security.tokens[name] not in text  # only hashes
            assert hash_token(security.tokens[name]) in text
        assert policy.by_token(security.tokens["wrong"]) is None
        assert "max_concurrent_executions = 1" in text.split("[identities.capped]")[1]
        told = security.for_programs()
        assert told["token"] == security.tokens["runner"]
        assert set(told["tokens"]) == {"other", "limited", "capped", "wrong"}
        for key in ("ca", "cert", "key"):
            assert Path(told[key]).read_bytes().startswith(b"-----BEGIN ")
        folder = security.token_file.parent
    assert not folder.exists()
