"""The config codec is fully typed: mypy strict checks it without any ignore comments."""

from __future__ import annotations

from pathlib import Path

CONFIG_CODEC = Path(__file__).resolve().parents[2] / "server" / "ophost" / "codec" / "config.py"


def test_the_config_codec_has_no_type_ignore_comments() -> None:
    lines = CONFIG_CODEC.read_text(encoding="utf-8").splitlines()
    ignored = [n for n, line in enumerate(lines, 1) if "type: ignore" in line]
    assert ignored == [], f"config.py lines with a type: ignore comment: {ignored}"
