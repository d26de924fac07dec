"""The crash kit proves a planned crash happened, and fails loudly when it did not.

A crash point that never fires lets the child roll back in-process, and the log can end as
recovery would have left it; a crash test must not pass on that. These tests run children
whose crash point is never reached and check that the kit says so, with what they printed.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from distributed_saga import FaultPoint
from distributed_saga.testing.crashing import (
    CrashNotReachedError,
    EffectLedger,
    check_killed,
    child_command,
    close_ledgers,
    run_killed_child,
    seed_previous_generation,
    start_child,
    wait_until_stopped,
)

SAGA = "kit-saga"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "ledger.db"
    with EffectLedger(path) as opened:
        seed_previous_generation(opened, SAGA, 2)
    yield path
    close_ledgers()


def saga_command(tmp_path: Path, ledger: Path, *, fail_at: int | None = None) -> list[str]:
    return child_command(
        f"sqlite:///{tmp_path / 'sagas.db'}", ledger, saga_id=SAGA, steps=2, fail_at=fail_at
    )


def test_a_child_killed_at_its_crash_point_passes(tmp_path: Path, ledger: Path) -> None:
    done = run_killed_child(saga_command(tmp_path, ledger), crash_at="after_action:1")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout == ""


def test_a_crash_point_never_reached_fails_with_how_the_child_ended(
    tmp_path: Path, ledger: Path
) -> None:
    """Step 0 fails, so the saga rolls back in-process and never meets before_commit."""
    crash_at = FaultPoint.BEFORE_COMMIT.value
    with pytest.raises(CrashNotReachedError) as raised:
        run_killed_child(saga_command(tmp_path, ledger, fail_at=0), crash_at=crash_at)
    message = str(raised.value)
    assert f"killed (SIGKILL) at {crash_at}, but it exited with status 0" in message
    assert '"state": "rolled_back"' in message  # its report, from its stdout


@pytest.mark.parametrize("crash_at", ["", "after_action:1:stop"])
def test_a_crash_at_that_plans_no_kill_is_refused_before_anything_runs(
    tmp_path: Path, ledger: Path, crash_at: str
) -> None:
    with pytest.raises(ValueError, match="plans no SIGKILL"):
        run_killed_child(saga_command(tmp_path, ledger), crash_at=crash_at)
    assert not (tmp_path / "sagas.db").exists()


def test_a_child_killed_only_after_printing_its_report_is_not_a_planned_crash() -> None:
    done = subprocess.CompletedProcess(["child"], -signal.SIGKILL, stdout='{"state": "x"}\n')
    with pytest.raises(CrashNotReachedError, match="printed its report before it was killed"):
        check_killed(done)


def test_the_failure_shows_the_tail_of_the_childs_stderr() -> None:
    stderr = "".join(f"line {n}\n" for n in range(30))
    done = subprocess.CompletedProcess(["child"], 1, stdout="", stderr=stderr)
    with pytest.raises(CrashNotReachedError) as raised:
        check_killed(done, crash_at="after_intent:0")
    message = str(raised.value)
    assert "at after_intent:0, but it exited with status 1" in message
    assert "line 29" in message
    assert "line 10\n" in message
    assert "line 9\n" not in message


def test_a_child_that_ends_instead_of_stopping_fails_with_its_stderr(
    tmp_path: Path, ledger: Path
) -> None:
    """The child is told to stop at a step it never reaches (it has two), so it ends."""
    child = start_child(saga_command(tmp_path, ledger), crash_at="after_intent:7:stop")
    with pytest.raises(CrashNotReachedError, match="to be stopped") as raised:
        wait_until_stopped(child, crash_at="after_intent:7:stop")
    assert "exited with status 0" in str(raised.value)
    assert child.returncode == 0
