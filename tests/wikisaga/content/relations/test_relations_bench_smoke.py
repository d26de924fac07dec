"""The relation benchmark runs end to end and ends with its JSON summary; it asserts the
figures are fractions, not what they are (that is the benchmark's report)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[4] / "bench" / "relations.py"


def test_quick_run_prints_precision_and_recall_last(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("precision", "recall", "tune_precision", "tune_recall", "strict_precision"):
        assert 0.0 <= summary[key] <= 1.0
    assert summary["labelled"] > 0
    assert summary["sentences"] > 0
    assert "heldout (" in done.stdout
    assert "tune (" in done.stdout
