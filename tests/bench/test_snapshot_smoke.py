"""The snapshot benchmark runs end to end against real services and git, and ends with
its JSON line. Nothing here asserts on speed: the numbers depend on the machine."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "snapshot.py"


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.mark.timeout(150)
def test_quick_run_prints_a_table_and_a_json_summary_last(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    lines = completed.stdout.strip().splitlines()
    assert lines, completed.stderr[-4000:]
    summary = json.loads(lines[-1])

    assert summary["benchmark"] == "snapshot"
    assert summary["files"] == 45
    for key in ("snapshot_vs_fast_import", "first_snapshot_vs_fast_import"):
        assert _positive(summary[key]), key
        assert _positive(summary[f"{key}_paired"]), key
    for case in ("first", "next"):
        for side in ("service", "fast_import"):
            assert _positive(summary[f"{case}_{side}_ms"]), (case, side)
        for side in ("service", "fast-import"):
            assert len(summary["round_ms"][case][side]) == summary["rounds"]
    table = "\n".join(lines[:-1])
    assert "service/floor" in table
    for case in ("first", "next"):
        assert any(line.startswith(case) for line in lines[:-1]), case
    # The services' data and the floor's repositories are removed afterwards.
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timeout(150)
def test_profile_counts_the_git_commands_of_a_snapshot(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--profile", "--rounds", "2", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    out = completed.stdout
    # No git command and no owner lookup, whatever the number of files: the refs are
    # read and changed in process, and the export checks the owner.
    assert out.count("git commands per snapshot: 0") == 2
    assert "ref transaction (in process)" in out
    assert "export (GET /export/{id})" in out
    assert "owner lookup" not in out
