"""How ``ophost describe`` writes an op's config schema (maps, arrays, optional values)."""

from __future__ import annotations

from ophost.cli._client_commands import _config_lines
from ophost.definitions._config import Array, Field, Noneable


def test_a_map_field_shows_its_key_and_value_types() -> None:
    schema = Field(
        {
            "weights": Field({str: int}, default_value={"a": 1}),
            "limits": Field(Noneable({str: Array(float)}), is_required=False),
            "n": Field(int),
        }
    )
    assert _config_lines(schema, name=None, indent=0) == [
        "shape  (required)",
        '  weights: {string: int}  (default {"a": 1})',
        "  limits: {string: [float]}?  (optional)",
        "  n: int  (required)",
    ]
