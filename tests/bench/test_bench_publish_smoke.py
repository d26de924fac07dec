"""The publish benchmark runs end to end against real services and ends with its JSON.

Nothing here asserts on speed: the numbers depend on the machine.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "publish.py"
RATIOS = ("save_vs_naive", "rollback_vs_naive", "publish_vs_naive")


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.mark.timeout(150)
def test_quick_run_prints_a_json_summary_last(tmp_path: Path) -> None:
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

    for key in RATIOS:
        assert _positive(summary[key]), key
    for operation in ("save", "rollback", "publish"):
        for side in ("ours", "naive"):
            assert _positive(summary[f"{operation}_{side}_ms"]), (operation, side)
            assert len(summary["round_ms"][operation][side]) == summary["rounds"]
    assert summary["files"] == 45
    # The table comes before the JSON line, one row per operation.
    table = "\n".join(lines[:-1])
    assert "naive/ours" in table
    for operation in ("save", "rollback", "publish"):
        assert any(line.startswith(operation) for line in lines[:-1]), operation
    # The services' data and the saga log are removed afterwards.
    assert list(tmp_path.iterdir()) == []
