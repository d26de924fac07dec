"""The saga engine benchmark runs end to end and ends with its JSON summary.

Only our engine and SQLite's commit floor are measured, so DBOS need not be installed.
Nothing here asserts on speed: the numbers depend on the machine.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "saga_engine.py"
SYSTEMS = ("sqlite-full", "sqlite-normal", "memory", "floor")


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def test_quick_run_prints_a_json_summary_last(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--quick",
            "--systems",
            ",".join(SYSTEMS),
            "--dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.strip().splitlines()
    assert lines, completed.stderr
    summary = json.loads(lines[-1])

    assert _positive(summary["vs_floor"])
    assert summary["vs_dbos"] is None  # DBOS was not asked for
    for key in (
        "full_sagas_per_s",
        "normal_sagas_per_s",
        "memory_sagas_per_s",
        "floor_commits_per_s",
        "floor_ms_per_commit",
        "commits_per_saga",
    ):
        assert _positive(summary[key]), key
    assert set(summary["systems"]) == set(SYSTEMS)
    for name, figures in summary["systems"].items():
        assert _positive(figures["per_s"]), name
        assert len(figures["round_rates"]) == summary["rounds"] == 3
    assert summary["systems"]["sqlite-full"]["journal_mode"] == "WAL"
    assert summary["systems"]["sqlite-full"]["synchronous"] == "FULL"
    assert summary["systems"]["sqlite-normal"]["synchronous"] == "NORMAL"
    # The table comes before the JSON line.
    assert any("sagas/s" in line for line in lines[:-1])
    # Nothing is left behind in the directory the databases were put in.
    assert list(tmp_path.iterdir()) == []


def test_unknown_system_is_refused() -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--systems", "sqlite-full,nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode != 0
    assert "nope" in completed.stderr
