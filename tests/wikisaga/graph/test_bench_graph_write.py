"""The graph write benchmark runs end to end on the session's Neo4j and ends with its JSON
summary. Nothing here asserts on speed: the numbers depend on the machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "graph_write.py"


@pytest.mark.timeout(600)
def test_a_small_run_prints_a_table_and_a_json_summary_last(neo4j_url: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--quick",
            "--entities=50",
            "--relations=200",
            "--single-sample=20",
            f"--dir={tmp_path}",
        ],
        env={**os.environ, "WIKISAGA_NEO4J_URI": neo4j_url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["benchmark"] == "graph_write"
    assert (summary["entities"], summary["relations"], summary["single_sample"]) == (50, 200, 20)
    assert summary["batched_vs_single"] > 0
    assert summary["neo4j_relations_per_s"] > 0
    assert any(line.startswith("neo4j-batched") for line in lines)
    assert list(tmp_path.iterdir()) == []  # its working directory was removed
