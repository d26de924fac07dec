"""The generation benchmark runs end to end through a real backend and ends with its JSON.

Nothing here asserts on speed: the numbers depend on the machine.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "generate.py"
STAGES = (
    "fetch_documents",
    "generate_pages",
    "extract_relations",
    "stage_graph",
    "save_files",
    "create_snapshot",
    "make_graph_current",
    "commit",
)


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.mark.timeout(240)
def test_quick_run_prints_stages_and_the_saga_share_then_a_json_summary_last(
    tmp_path: Path,
) -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=220,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    lines = completed.stdout.strip().splitlines()
    assert lines, completed.stderr[-4000:]
    summary = json.loads(lines[-1])

    assert summary["benchmark"] == "generate"
    assert summary["documents"] == 100
    total = summary["seconds_100_docs"]
    assert _positive(total)
    assert 0 < summary["saga_share"] < 1
    assert _positive(summary["ingest_seconds"])
    # Every stage was recorded by the job; the saga's steps add up to its share.
    stages = summary["stage_seconds"]
    assert set(stages) == set(STAGES)
    assert all(_positive(stages[stage]) for stage in ("fetch_documents", "generate_pages"))
    saga = sum(stages[stage] for stage in STAGES[3:])
    assert summary["saga_share"] == pytest.approx(saga / total, abs=0.002)
    assert sum(stages.values()) <= total
    # Both corpora were ingested and published: the synthetic one with relations.
    assert summary["pages"] > 0
    assert summary["relations"] > 0
    assert summary["sample"]["documents"] > 0
    assert _positive(summary["sample"]["seconds"])
    # The table comes before the JSON line, one row per stage.
    table = lines[:-1]
    for stage in STAGES:
        assert any(stage in line for line in table), stage
    assert any(line.startswith("saga share") for line in table)
    # The services' data and logs are removed afterwards.
    assert list(tmp_path.iterdir()) == []
