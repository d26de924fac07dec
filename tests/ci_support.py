"""What a test does when something it needs is not here: skip, but fail under CI.

``scripts/test`` provisions every server and tool the tests need (PostgreSQL, Neo4j,
Chroma, Chromium, promtool, strace), so under CI (``CI`` set) a missing one is a broken
set-up, not a reason to skip: the tests that need it must not quietly not run.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(message: str, tests: str, *, hint: str = "") -> NoReturn:
    """Skip for want of what ``message`` says (with ``hint`` on how to get it); under CI,
    fail instead, saying that ``tests`` must not be skipped there."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} ({tests} must not be skipped in CI)")
    pytest.skip(f"{message}{hint}")
