"""What a test does when a tool from outside Python (grpcurl, Go, Node) is missing.

A test module that uses this must carry the ``crosslang`` marker
(``pytestmark = pytest.mark.crosslang``); ``tests/unit/test_markers.py`` checks that.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing_tool(message: str) -> NoReturn:
    """Skip the test, or fail it when OPHOST_REQUIRE_TOOLS is set (``make unit``, ``make e2e``)."""
    if os.environ.get("OPHOST_REQUIRE_TOOLS"):
        pytest.fail(message)
    pytest.skip(message)
