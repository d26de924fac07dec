"""Constants and helpers of the observability tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

from distributed_saga import CompensationRegistry
from distributed_saga.faults import CRASH_AT_ENV

SAVE = "Save N wiki files to filesystem"
SNAPSHOT = "Create git snapshot of wiki files"
NOTHING = "tests.observability.nothing_to_undo"
BROKEN = "tests.observability.broken_undo"

PromtoolRun = Callable[..., subprocess.CompletedProcess[str]]
"""``promtool(*args, stdin=..., cwd=...)``: one run of promtool (the ``promtool`` fixture)."""

SampleReader = Callable[..., float | None]
"""``sample(name, **labels)``: one series' value, or ``None`` when it does not exist."""


def undo_registry() -> CompensationRegistry:
    """Compensations that do nothing, or always fail."""
    registry = CompensationRegistry()
    registry.register(NOTHING, lambda args: None)

    def broken(args: Any) -> None:
        raise RuntimeError("the service refused the undo")

    registry.register(BROKEN, broken)
    return registry


_CRASHING_CHILD = textwrap.dedent(
    f"""
    import sys
    from distributed_saga import Compensation, CompensationRegistry, DistributedSaga, open_saga_log
    registry = CompensationRegistry()
    registry.register({NOTHING!r}, lambda args: None)
    saga = DistributedSaga(
        "wiki-crashed", "user-456", log=open_saga_log(sys.argv[1]), registry=registry,
        lease_seconds=0.5,
    )
    saga.execute_step("Save 12 wiki files to filesystem", lambda: None, Compensation({NOTHING!r}))
    print("not killed")
    """
)


def crash_a_saga(log_url: str) -> None:
    """Run a saga in a child process that is SIGKILLed right after its first step."""
    done = subprocess.run(
        [sys.executable, "-c", _CRASHING_CHILD, log_url],
        env={**os.environ, CRASH_AT_ENV: "after_step:0"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -9, done.stdout + done.stderr
