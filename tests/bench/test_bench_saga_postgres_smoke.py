"""The PostgreSQL saga benchmark runs end to end and ends with its JSON summary.

It runs on the test server (``WIKISAGA_TEST_POSTGRES_URL``), in schemas or databases of its
own that it drops afterwards. DBOS is measured only when it is installed. Nothing here
asserts on speed: the numbers depend on the machine.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "saga_postgres.py"
HAS_DBOS = importlib.util.find_spec("dbos") is not None

pytestmark = pytest.mark.postgres


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def _leftovers(url: str) -> list[str]:
    import psycopg  # noqa: PLC0415 - only PostgreSQL tests need the driver

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\\_%'"
            " UNION ALL SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%'"
        ).fetchall()
    return sorted(row[0] for row in rows)


@pytest.mark.timeout(150)
def test_quick_run_prints_a_json_summary_last(postgres_url: str, tmp_path: Path) -> None:
    before = _leftovers(postgres_url)
    systems = "pg,dbos,floor" if HAS_DBOS else "pg,floor"
    completed = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--quick",
            "--url",
            postgres_url,
            "--systems",
            systems,
            "--dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    lines = completed.stdout.strip().splitlines()
    assert lines, completed.stderr[-4000:]
    summary = json.loads(lines[-1])

    assert _positive(summary["vs_floor_pg"])
    for key in ("pg_sagas_per_s", "floor_commits_per_s", "floor_ms_per_commit", "commits_per_saga"):
        assert _positive(summary[key]), key
    if HAS_DBOS:
        assert _positive(summary["vs_dbos_pg"])
        assert _positive(summary["dbos_commits_per_workflow"])
    else:
        assert summary["vs_dbos_pg"] is None
    assert set(summary["systems"]) == set(systems.split(","))
    for name, figures in summary["systems"].items():
        assert _positive(figures["per_s"]), name
        assert len(figures["round_rates"]) == summary["rounds"] == 3
        assert figures["synchronous_commit"] == "on", name
    assert summary["server"]["throwaway_cluster"] is False
    assert any("sagas/s" in line for line in lines[:-1])
    # What the run made on the server is gone.
    assert _leftovers(postgres_url) == before


def test_unknown_system_is_refused() -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--systems", "pg,nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode != 0
    assert "nope" in completed.stderr
