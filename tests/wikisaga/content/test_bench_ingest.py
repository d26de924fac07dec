"""The ingest benchmark runs end to end and ends with its JSON line (no speed asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "ingest.py"


def test_quick_run_prints_its_table_and_a_json_summary_last(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-W", "error", str(BENCH), "--quick", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["documents"] == 100
    for key in ("parse", "ingest", "reingest", "read"):
        assert summary[f"{key}_docs_per_s"] > 0
        assert any(line.startswith(key) for line in lines[:-1])
    assert summary["chunks"] >= 100
    assert list(tmp_path.iterdir()) == []
