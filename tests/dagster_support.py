"""The dagster extra in tests: required in CI, skipped (saying why) only in a local run.

``make unit``, ``make e2e`` and CI set ``OPHOST_REQUIRE_TOOLS``; there a missing
``dagster`` fails the test instead of skipping it.
"""

from __future__ import annotations

import importlib.util
import os

import pytest


def require_dagster() -> None:
    """Skip the calling test module when dagster is not installed (fail under CI)."""
    if importlib.util.find_spec("dagster") is not None:
        return
    message = "dagster is not installed (the dagster extra: pip install ophost[dagster])"
    if os.environ.get("OPHOST_REQUIRE_TOOLS"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)
