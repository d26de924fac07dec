"""The crash kit proves a planned crash happened, and fails loudly when it did not.

A crash point that never fires lets the child roll back in-process, and the log can end as
recovery would have left it; a crash test must not pass on that. These tests run children
whose crash point is never reached and check that the kit says so, with what they printed.

Likewise its order check: a step's action that runs before the log holds its intent must
be reported, though the intent is in the log by the time the saga is over.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from distributed_saga import FaultPoint, SagaState, StepState, open_saga_log
from distributed_saga.log import SagaLog
from distributed_saga.testing.crashing import (
    CrashNotReachedError,
    EffectLedger,
    check_killed,
    child_command,
    close_ledgers,
    ledger_step,
    log_intent_check,
    planned_steps,
    run_killed_child,
    saga_problems,
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


# -- the order check ---------------------------------------------------------------------


@pytest.fixture
def saga_log(tmp_path: Path) -> Iterator[SagaLog]:
    with open_saga_log(f"sqlite:///{tmp_path / 'order.db'}") as log:
        yield log


def test_an_action_that_runs_before_its_intent_is_logged_is_reported(
    tmp_path: Path, saga_log: SagaLog
) -> None:
    """The action runs first, the intent is written after it: at the end the log holds the
    intent and the effect, as it would in the right order, yet the problem is reported."""
    with EffectLedger(tmp_path / "order-ledger.db") as ledger:
        initial = seed_previous_generation(ledger, SAGA, 1)
        (step,) = planned_steps(SAGA, 1)
        check = log_intent_check(saga_log, SAGA, "runner")
        action, rollback = ledger_step(ledger, SAGA, step, check_intent=check)
        action()
        saga_log.create_saga(SAGA, None, owner="runner", lease_seconds=30.0)
        saga_log.record_intent(
            SAGA,
            "runner",
            index=0,
            name=step.name,
            compensation=rollback,
            in_process_rollback=False,
            idempotency_key=None,
        )
        record = saga_log.get_saga(SAGA)
        problems = saga_problems(
            record, ledger, steps=1, initial=initial, allow=(SagaState.EXECUTING,)
        )
    assert problems == [
        "step 0's action ran before the log held its intent: the log holds no such saga yet"
    ]


def test_an_action_whose_step_the_log_already_shows_finished_is_reported(
    tmp_path: Path, saga_log: SagaLog
) -> None:
    """While the runner still owns the saga, a step's action must find the step started,
    not completed: its outcome is written after it ran."""
    with EffectLedger(tmp_path / "order-ledger.db") as ledger:
        (step,) = planned_steps(SAGA, 1)
        check = log_intent_check(saga_log, SAGA, "runner")
        action, rollback = ledger_step(ledger, SAGA, step, check_intent=check)
        saga_log.create_saga(SAGA, None, owner="runner", lease_seconds=30.0)
        saga_log.record_intent(
            SAGA,
            "runner",
            index=0,
            name=step.name,
            compensation=rollback,
            in_process_rollback=False,
            idempotency_key=None,
        )
        saga_log.record_step_result(SAGA, "runner", index=0, state=StepState.COMPLETED, attempts=1)
        action()
        assert ledger.intent_checks(SAGA) == [(0, "the log holds the step completed, not started")]


def test_an_effect_whose_action_never_checked_the_log_is_reported(
    tmp_path: Path, saga_log: SagaLog
) -> None:
    """An effect written without the check (here, straight to the ledger) cannot pass for
    one whose intent was seen first."""
    with EffectLedger(tmp_path / "order-ledger.db") as ledger:
        (step,) = planned_steps(SAGA, 1)
        saga_log.create_saga(SAGA, None, owner="runner", lease_seconds=30.0)
        saga_log.record_intent(
            SAGA,
            "runner",
            index=0,
            name=step.name,
            compensation=None,
            in_process_rollback=False,
            idempotency_key=None,
        )
        ledger.apply(SAGA, 0, step.key, step.value)
        problems = saga_problems(
            saga_log.get_saga(SAGA), ledger, steps=1, initial={}, allow=(SagaState.EXECUTING,)
        )
    assert problems == ["step 0 had an effect, but its action never checked the log for its intent"]
