"""What a test does when a tool from outside Python (grpcurl, Go, Node) is missing."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing_tool(message: str) -> NoReturn:
    """Skip the test, or fail it when OPHOST_REQUIRE_TOOLS is set (as ``make test`` does)."""
    if os.environ.get("OPHOST_REQUIRE_TOOLS"):
        pytest.fail(message)
    pytest.skip(message)
