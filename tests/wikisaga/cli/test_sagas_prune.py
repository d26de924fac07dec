"""``wikisaga sagas prune --older-than``: finished sagas go, failed ones stay unless asked,
sagas in flight never go; a bad age is a usage error that deletes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from distributed_saga import DistributedSaga, RetryPolicy, SagaState, open_saga_log
from wikisaga.cli.sagas import parse_age


def wikisaga(*args: str, log_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wikisaga", "sagas", *args, "--log-url", log_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _fail(message: str) -> None:
    raise RuntimeError(message)


def fill(log_url: str) -> None:
    """One committed, one rolled-back, one failed and one executing saga."""
    with open_saga_log(log_url) as log:
        committed = DistributedSaga(saga_id="s-committed", user_id="u", log=log)
        committed.execute_step(name="a", action=lambda: 1, rollback=lambda: None)
        committed.commit()
        rolled = DistributedSaga(saga_id="s-rolled-back", user_id="u", log=log)
        rolled.execute_step(name="a", action=lambda: 1, rollback=lambda: None)
        with pytest.raises(RuntimeError):
            rolled.execute_step(name="b", action=lambda: _fail("b"), rollback=lambda: None)
        failed = DistributedSaga(
            saga_id="s-failed", user_id="u", log=log, compensation_retry=RetryPolicy(attempts=1)
        )
        failed.execute_step(name="a", action=lambda: 1, rollback=lambda: _fail("undo"))
        with pytest.raises(RuntimeError):
            failed.execute_step(name="b", action=lambda: _fail("b"), rollback=lambda: None)
        running = DistributedSaga(saga_id="s-running", user_id="u", log=log, lease_seconds=600)
        running.execute_step(name="a", action=lambda: 1, rollback=lambda: None)
        states = {r.saga_id: r.state for r in log.list_sagas(limit=10)}
    assert states == {
        "s-committed": SagaState.COMMITTED,
        "s-rolled-back": SagaState.ROLLED_BACK,
        "s-failed": SagaState.FAILED,
        "s-running": SagaState.EXECUTING,
    }


def remaining(log_url: str) -> set[str]:
    with open_saga_log(log_url) as log:
        return {record.saga_id for record in log.list_sagas(limit=10)}


def test_prune_removes_finished_sagas_and_keeps_failed_and_running(tmp_path: Path) -> None:
    log_url = f"sqlite:///{tmp_path / 'sagas.db'}"
    fill(log_url)

    kept = wikisaga("prune", "--older-than", "1d", log_url=log_url)
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.startswith("pruned 0 saga(s)")
    assert len(remaining(log_url)) == 4

    done = wikisaga("prune", "--older-than", "0", log_url=log_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("pruned 2 saga(s)")
    assert remaining(log_url) == {"s-failed", "s-running"}

    also_failed = wikisaga("prune", "--older-than", "0s", "--include-failed", log_url=log_url)
    assert also_failed.returncode == 0, also_failed.stderr
    assert remaining(log_url) == {"s-running"}


@pytest.mark.parametrize("age", ["soon", "-1d", "nan", ""])
def test_a_bad_age_is_a_usage_error_that_deletes_nothing(tmp_path: Path, age: str) -> None:
    log_url = f"sqlite:///{tmp_path / 'sagas.db'}"
    fill(log_url)
    refused = wikisaga("prune", "--older-than", age, log_url=log_url)
    assert refused.returncode == 2
    assert "age" in refused.stderr
    assert len(remaining(log_url)) == 4


def test_ages_read_as_seconds() -> None:
    assert parse_age("90") == 90
    assert parse_age("15m") == 900
    assert parse_age("12h") == 43200
    assert parse_age("30d") == 30 * 86400
    assert parse_age("2W") == 14 * 86400
