"""The demo a new user runs first must work end to end, in a fresh data directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_crashes_recovers_and_publishes(tmp_path: Path) -> None:
    """The child is SIGKILLed mid-saga, recovery restores the old wiki, the rerun commits."""
    env = {"WIKISAGA_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "wikisaga", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "killed by signal 9" in out
    assert "first generation intact, byte for byte: yes" in out
    assert "Rolling back: Write guide.md" in out
    assert out.rstrip().endswith("demo succeeded")
    wiki = tmp_path / "data" / "demo" / "wiki"
    assert sorted(p.name for p in wiki.iterdir()) == ["faq.md", "guide.md", "intro.md"]
