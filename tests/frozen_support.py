"""A process frozen inside a database transaction, for the tests of what a store does when
another process holding its rows stops (SIGSTOP) before its COMMIT.

The child is ``python -c <script> <args>`` with ``src/`` on its path. The script opens its
store, starts a transaction that takes a row lock, prints ``frozen <server session pid>``
and stops itself; :func:`start_frozen_child` returns once the child is stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

__all__ = ["in_thread", "resume", "start_frozen_child"]

SRC = Path(__file__).resolve().parents[1] / "src"


def start_frozen_child(script: str, *args: str) -> tuple[subprocess.Popen[str], int]:
    """Run ``script`` with ``args`` until it has frozen itself in its transaction; the
    child, and the process id of its server session."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if line.split()[:1] != ["frozen"]:
        child.kill()
        _, err = child.communicate(timeout=30)
        pytest.fail(f"the child did not reach its transaction: {line!r}\n{err}")
    deadline = time.monotonic() + 10
    while _state(child.pid) != "T":
        if time.monotonic() > deadline:
            child.kill()
            child.communicate(timeout=30)
            pytest.fail("the child did not stop")
        time.sleep(0.01)
    return child, int(line.split()[1])


def _state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0]


def resume(child: subprocess.Popen[str]) -> tuple[str, str]:
    """Wake the child and wait for it (killed if it does not end); its output."""
    child.send_signal(signal.SIGCONT)  # a no-op once the child is reaped
    try:
        return child.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        child.kill()
        return child.communicate(timeout=30)


def in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """``call()`` in a daemon thread (a hung one cannot hang the test run); its box gets
    ``value`` or ``error``."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box
