"""The page generation benchmark runs end to end and ends with its JSON line.

Nothing here asserts on speed: the numbers depend on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[4] / "bench" / "generate_pages.py"


@pytest.mark.timeout(150)
def test_quick_run_prints_a_json_summary_last() -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--documents", "40"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    assert summary["benchmark"] == "generate_pages"
    assert summary["documents"] == 40
    assert summary["seconds_40_docs"] > 0
    assert summary["incremental_ratio"] > 0
    assert summary["pages"] > 40
    assert summary["relations"] > 0
    assert summary["peak_mb"] > 0
