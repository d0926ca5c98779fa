"""Dagster stays optional: importing ophost (and its op loader) never imports dagster."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_importing_ophost_and_loading_ophost_ops_never_imports_dagster(tmp_path: Path) -> None:
    ops = tmp_path / "plain_ops.py"
    ops.write_text("from ophost import op\n\n@op\ndef one() -> int:\n    return 1\n")
    program = textwrap.dedent(
        f"""
        import json, sys
        import ophost
        import ophost.execution
        from ophost.execution._loader import load_ops
        loaded = load_ops(file={str(ops)!r})
        print(json.dumps({{
            "ops": list(loaded.ops),
            "dagster": sorted(m for m in sys.modules if m == "dagster" or m.startswith("dagster.")),
        }}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, check=True
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"ops": ["one"], "dagster": []}
