"""The recovery benchmark kills its starters, recovers, checks, and ends with its JSON.

A quick run recovers 40 sagas per log; the benchmark itself fails unless every saga was
rolled back by one recoverer and every compensation ran once, so a zero exit is that
check passing. SQLite needs nothing; PostgreSQL runs on the test server
(``WIKISAGA_TEST_POSTGRES_URL``). Nothing here asserts on speed.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "recovery.py"


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def _run(tmp_path: Path, *extra: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--dir", str(tmp_path), *extra],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    lines = completed.stdout.strip().splitlines()
    assert lines, completed.stderr[-4000:]
    assert any("recovery s" in line for line in lines[:-1])  # the table comes first
    summary: dict[str, Any] = json.loads(lines[-1])
    assert summary["checked"] is True
    assert summary["sagas"] == 40
    # The logs, ledgers and children's output are removed afterwards.
    assert list(tmp_path.iterdir()) == []
    return summary


def _check_system(summary: dict[str, Any], name: str) -> None:
    assert _positive(summary[f"{name}_recovery_seconds"])
    assert _positive(summary[f"{name}_recovery_seconds_1000"])
    (played,) = summary[f"{name}_rounds"]
    assert sum(r["sagas"] for r in played["per_recoverer"]) == 40
    assert len(played["per_recoverer"]) == summary["recoverers"] == 2


@pytest.mark.timeout(180)
def test_sqlite_quick_run_recovers_every_killed_saga(tmp_path: Path) -> None:
    summary = _run(tmp_path, "--systems", "sqlite")
    _check_system(summary, "sqlite")
    assert "pg_recovery_seconds_1000" not in summary


@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_postgres_quick_run_recovers_every_killed_saga(postgres_url: str, tmp_path: Path) -> None:
    summary = _run(tmp_path, "--systems", "pg", "--url", postgres_url)
    _check_system(summary, "pg")
    assert summary["server"]["synchronous_commit"] == "on"


def test_unknown_system_is_refused() -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--systems", "sqlite,nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode != 0
    assert "nope" in completed.stderr
