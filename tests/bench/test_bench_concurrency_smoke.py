"""The concurrency benchmark runs end to end and ends with its JSON summary.

SQLite alone needs nothing; the PostgreSQL systems run on the test server
(``WIKISAGA_TEST_POSTGRES_URL``). Nothing here asserts on speed: the numbers depend on the
machine.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "concurrency.py"
SQLITE = ("sqlite-t1", "sqlite-t4", "sqlite-p4")
POSTGRES = ("pg-t1", "pg-t4", "pg-t16", "pg-p4")


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def _run(tmp_path: Path, systems: tuple[str, ...], *extra: str) -> dict[str, Any]:
    completed = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--quick",
            "--systems",
            ",".join(systems),
            "--dir",
            str(tmp_path),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    lines = completed.stdout.strip().splitlines()
    assert lines, completed.stderr[-4000:]
    assert any("sagas/s" in line for line in lines[:-1])  # the table comes first
    summary: dict[str, Any] = json.loads(lines[-1])
    assert set(summary["sagas_per_s"]) == set(systems)
    for name in systems:
        figures = summary["systems"][name]
        assert _positive(figures["per_s"]), name
        assert len(figures["round_rates"]) == summary["rounds"] == 2
        assert _positive(summary[f"{name.replace('-', '_')}_sagas_per_s"]), name
    # The SQLite files (and any throwaway cluster) are removed afterwards.
    assert list(tmp_path.iterdir()) == []
    return summary


@pytest.mark.timeout(180)
def test_sqlite_quick_run_prints_a_json_summary_last(tmp_path: Path) -> None:
    summary = _run(tmp_path, SQLITE)
    assert _positive(summary["sqlite_4_vs_1"])
    assert _positive(summary["sqlite_p4_vs_1"])
    assert summary["pg_16_vs_1"] is None  # PostgreSQL was not asked for
    assert summary["server"] is None
    # Threads sharing one log report how long they waited for it.
    assert summary["systems"]["sqlite-t4"]["waiting_for_log"] is not None
    # And the machine's thread wake-up, which bounds how fast threads can take turns.
    assert _positive(summary["thread_wakeup_us"])


@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_postgres_quick_run_prints_pg_16_vs_1(postgres_url: str, tmp_path: Path) -> None:
    summary = _run(tmp_path, POSTGRES, "--url", postgres_url)
    assert _positive(summary["pg_16_vs_1"])
    assert _positive(summary["pg_16_vs_1_paired"])
    assert summary["server"]["synchronous_commit"] == "on"
    assert summary["systems"]["pg-t16"]["backends"]  # what the backends were doing


def test_unknown_system_is_refused() -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--systems", "sqlite-t1,nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode != 0
    assert "nope" in completed.stderr
