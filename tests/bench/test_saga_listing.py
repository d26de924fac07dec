"""The listing benchmark fills a log, runs every operation and ends with its JSON summary.

It runs ``--quick`` with a few thousand sagas instead of 100,000: on SQLite in a temporary
directory, and on the test server's PostgreSQL (``WIKISAGA_TEST_POSTGRES_URL``) in a
schema or database of its own that it drops. Nothing here asserts on speed; what it does
check is that every operation returned what the log holds (the benchmark stops otherwise)
and that the plans read the log's indexes, not whole tables.
"""

from __future__ import annotations

import importlib
import json
import math
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from distributed_saga.log.sqlite import SQLiteSagaLog

BENCH = Path(__file__).resolve().parents[2] / "bench" / "saga_listing.py"
SAGAS = 3000
OPERATIONS = (
    "list_first_page",
    "deep_page",
    "failed_page",
    "rolled_back_page",
    "project_page",
    "project_deep_page",
    "user_page",
    "user_deep_page",
    "rare_user_page",
    "rare_user_scan",
    "get_saga",
    "count_failed",
    "count_expired",
    "count_all",
    "prune_batch",
)


def _run(tmp_path: Path, *options: str) -> dict[str, Any]:
    completed = subprocess.run(
        [
            *(sys.executable, str(BENCH), "--quick", "--sagas", str(SAGAS)),
            *("--dir", str(tmp_path), *options),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    lines = completed.stdout.strip().splitlines()
    assert any(line.startswith("operation") for line in lines[:-1])  # the table comes first
    summary: dict[str, Any] = json.loads(lines[-1])
    assert summary["benchmark"] == "saga_listing"
    assert summary["sagas"] == SAGAS
    assert list(tmp_path.iterdir()) == []  # its files are removed
    return summary


def _check_system(summary: dict[str, Any], name: str) -> dict[str, Any]:
    for operation in OPERATIONS:
        value = summary[f"{name}_{operation}_ms"]
        assert isinstance(value, float), operation
        assert math.isfinite(value), operation
        assert value > 0, operation
    assert summary[f"{name}_fill_seconds"] > 0
    operations: dict[str, Any] = summary["systems"][name]["operations"]
    assert all(operations[op]["plan"] for op in OPERATIONS)
    # Keyset pages read the sagas in index order, however deep.
    assert not operations["deep_page"]["sorts"]
    return operations


@pytest.mark.timeout(300)
def test_sqlite_quick_run_times_every_operation_on_indexes(tmp_path: Path) -> None:
    summary = _run(tmp_path, "--systems", "sqlite")
    operations = _check_system(summary, "sqlite")
    # SQLite plans by its indexes whatever the table's size (the log runs no ANALYZE).
    assert summary["sqlite_plans_use_indexes"] is True, {
        op: result["plan"] for op, result in operations.items() if not result["uses_index"]
    }
    # A user's pages are ranges of the index of each user's sagas, read in its order.
    assert summary["sqlite_user_pages_use_user_index"] is True, {
        op: operations[op]["plan"] for op in ("user_page", "user_deep_page", "rare_user_page")
    }
    assert not operations["user_deep_page"]["sorts"]
    assert summary["sqlite_rare_user_scan_vs_page"] > 0
    assert "pg_list_first_page_ms" not in summary


@pytest.mark.postgres
@pytest.mark.timeout(300)
def test_postgres_quick_run_times_every_operation(postgres_url: str, tmp_path: Path) -> None:
    summary = _run(tmp_path, "--systems", "pg", "--url", postgres_url)
    operations = _check_system(summary, "pg")
    # A few thousand rows PostgreSQL rightly reads whole; the index check is for a log of
    # 100,000 sagas and more (the benchmark's own runs). One saga is read by its key.
    assert "saga_pkey" in " ".join(operations["get_saga"]["plan"])


@pytest.mark.parametrize(
    ("options", "message"),
    [(["--systems", "nope"], "nope"), (["--sagas", "10"], "at least")],
)
def test_bad_options_are_refused(options: list[str], message: str) -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH), *options],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert message in completed.stderr


# -- prune_batch's check, while sagas come of age -----------------------------------------


@pytest.fixture
def listing(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The benchmark as a module, its sibling modules importable as when it runs."""
    monkeypatch.syspath_prepend(str(BENCH.parent))
    yield importlib.import_module("saga_listing")
    for name in {path.stem for path in BENCH.parent.glob("*.py")}:
        sys.modules.pop(name, None)


class _Ageing:
    """A log through which, after each ``prune_batch``, one more saga is just past the age.

    That is what time does to the benchmark's sagas (one is created every SPAN / count
    seconds); here it happens at once, not by chance. ``prunes`` is False for a log whose
    ``prune_batch`` deletes nothing at all.
    """

    def __init__(self, log: SQLiteSagaLog, path: Path, age: float, *, prunes: bool) -> None:
        self.log, self.path, self.age, self.prunes = log, path, age, prunes
        self.aged = 0
        self.batches: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.log, name)

    def prune_batch(self, older_than_seconds: float, *, limit: int = 500) -> int:
        pruned = self.log.prune_batch(older_than_seconds, limit=limit) if self.prunes else 0
        self.aged += 1
        updated = time.time() - self.age - 1.0
        with sqlite3.connect(self.path) as conn:
            conn.execute(
                "INSERT INTO saga (saga_id, user_id, state, lease_seconds, created_at, updated_at,"
                " metadata) VALUES (?, 'user-0', 'committed', 30.0, ?, ?, '{}')",
                (f"aged-{self.aged}", updated - 2.5, updated),
            )
        conn.close()
        self.batches.append(pruned)
        return pruned


@contextmanager
def _ageing_log(
    listing: ModuleType, tmp_path: Path, *, prunes: bool
) -> Iterator[tuple[_Ageing, Callable[..., Any]]]:
    """A log of 2,000 sagas that ages one saga at each batch, and the prune operation."""
    path = tmp_path / "sagas.db"
    SQLiteSagaLog(path).close()
    listing.fill_sqlite(path, 2000, 1)
    log = _Ageing(SQLiteSagaLog(path), path, listing.PRUNE_AGE, prunes=prunes)
    try:
        yield log, listing.operations(2000, 1, 1)["prune_batch"]
    finally:
        log.log.close()


def test_prune_batch_check_allows_a_saga_that_came_of_age_during_the_run(
    listing: ModuleType, tmp_path: Path
) -> None:
    with _ageing_log(listing, tmp_path, prunes=True) as (log, prune):
        # 2,020 sagas over 120 days: the first 1,515 are older than 30 days, and all but two
        # of those (i = 7, 1007) finished. Each batch also takes the saga aged before it.
        at: dict[str, Any] = {}
        for _ in range(4):
            prune(log, at)
            assert at["timed"] > 0
        # The last batch is short, and one more saga came of age after it.
        assert log.batches == [500, 500, 500, 1513 + 3 - 1500]
        assert log.log.count_sagas() == 2000 + listing.IN_FLIGHT + 4 - 1516


def test_prune_batch_check_refuses_a_short_batch_that_left_old_sagas(
    listing: ModuleType, tmp_path: Path
) -> None:
    with (
        _ageing_log(listing, tmp_path, prunes=False) as (log, prune),
        pytest.raises(listing.CheckFailed, match="deleted 0 and left old sagas"),
    ):
        prune(log, {})
