"""The guide's API on the engine: results, rollback and status, its log lines, and what
the package adds to that surface (observer hooks, the exported names).

The guide's three unit tests run on its default log (in memory) and on SQLite.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from saga_support import FAST_RETRY, raises

import distributed_saga
from distributed_saga import DistributedSaga, SagaObserver, SagaState, StepState

GUIDE_STATUS_KEYS = {
    "saga_id",
    "user_id",
    "state",
    "total_steps",
    "completed_steps",
    "failed_at",
    "error",
}


def test_successful_saga_returns_results_and_commits(guide_log: Any) -> None:
    """Guide test 1: every step runs, returns its result, and the saga commits."""
    saga = DistributedSaga(saga_id="operation-123", user_id="user-456", log=guide_log)
    first = saga.execute_step(name="Save files", action=lambda: 45, rollback=lambda: None)
    second = saga.execute_step(name="Snapshot", action=lambda: "snap-1", rollback=lambda: None)
    saga.commit()
    assert (first, second) == (45, "snap-1")
    assert saga.get_status() == {
        "saga_id": "operation-123",
        "user_id": "user-456",
        "state": "committed",
        "total_steps": 2,
        "completed_steps": 2,
        "failed_at": None,
        "error": None,
    }
    assert saga.record().state is SagaState.COMMITTED


def test_step_failure_rolls_back_in_reverse_order_and_reraises(guide_log: Any) -> None:
    """Guide test 2: a failing step undoes the earlier steps, last first, then re-raises."""
    undone: list[str] = []
    saga = DistributedSaga(saga_id="wiki-proj-123", user_id="user-456", log=guide_log)
    saga.execute_step(name="one", action=lambda: 1, rollback=lambda: undone.append("one"))
    saga.execute_step(name="two", action=lambda: 2, rollback=lambda: undone.append("two"))
    boom = ConnectionError("Connection refused")

    def fail() -> None:
        raise boom

    with pytest.raises(ConnectionError) as raised:
        saga.execute_step(name="three", action=fail)
    assert raised.value is boom
    assert undone == ["two", "one"]
    status = saga.get_status()
    assert status["state"] == "rolled_back"
    assert status["failed_at"] == "three"
    assert "Connection refused" in status["error"]
    assert status["total_steps"] == 3
    assert status["completed_steps"] == 2
    record = saga.record()
    assert record.state is SagaState.ROLLED_BACK
    assert [step.state for step in record.steps] == [StepState.COMPENSATED] * 2 + [StepState.FAILED]


def test_rollback_failure_marks_saga_failed_and_attempts_every_other_rollback(
    guide_log: Any,
) -> None:
    """Guide test 3: a rollback that keeps failing leaves the saga ``failed``; the others
    still run."""
    undone: list[str] = []

    def broken_rollback() -> None:
        raise TimeoutError("delete timed out")

    saga = DistributedSaga(saga_id="s", user_id="u", compensation_retry=FAST_RETRY, log=guide_log)
    saga.execute_step(name="one", action=lambda: 1, rollback=lambda: undone.append("one"))
    saga.execute_step(name="two", action=lambda: 2, rollback=broken_rollback)
    saga.execute_step(name="three", action=lambda: 3, rollback=lambda: undone.append("three"))
    with pytest.raises(RuntimeError, match="nope"):
        saga.execute_step(name="four", action=raises(RuntimeError("nope")))
    assert undone == ["three", "one"]
    assert saga.get_status()["state"] == "failed"
    record = saga.record()
    assert [s.name for s in record.remaining_compensations] == ["two"]
    two = record.steps[1]
    assert two.state is StepState.COMPENSATION_FAILED
    assert two.compensation_attempts == 3
    assert "delete timed out" in (two.compensation_error or "")


def test_guide_log_lines_at_guide_levels(caplog: pytest.LogCaptureFixture) -> None:
    """The guide's log lines, prefixed with the saga id, at INFO / ERROR / WARNING."""
    caplog.set_level(logging.INFO, logger="distributed_saga")
    ok = DistributedSaga(saga_id="wiki-proj-123")
    ok.execute_step(name="Save 45 wiki files to filesystem", action=lambda: None)
    ok.execute_step(name="Create git snapshot of wiki files", action=lambda: None)
    ok.commit()
    bad = DistributedSaga(saga_id="wiki-proj-9")
    bad.execute_step(name="Save", action=lambda: None, rollback=lambda: None)
    with pytest.raises(ConnectionError):
        bad.execute_step(name="Snap", action=raises(ConnectionError("Connection refused")))
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines == [
        ("INFO", "[wiki-proj-123] Executing step: Save 45 wiki files to filesystem"),
        ("INFO", "[wiki-proj-123] ✓ Step completed: Save 45 wiki files to filesystem"),
        ("INFO", "[wiki-proj-123] Executing step: Create git snapshot of wiki files"),
        ("INFO", "[wiki-proj-123] ✓ Step completed: Create git snapshot of wiki files"),
        ("INFO", "[wiki-proj-123] ✓ Saga committed successfully with 2 steps"),
        ("INFO", "[wiki-proj-9] Executing step: Save"),
        ("INFO", "[wiki-proj-9] ✓ Step completed: Save"),
        ("INFO", "[wiki-proj-9] Executing step: Snap"),
        ("ERROR", "[wiki-proj-9] ✗ Step failed: Snap - Connection refused"),
        ("WARNING", "[wiki-proj-9] Rolling back 1 completed steps"),
        ("WARNING", "[wiki-proj-9] Rolling back: Save"),
        ("INFO", "[wiki-proj-9] ✓ Rollback successful: Save"),
    ]


def test_status_has_exactly_the_guide_keys_in_every_state() -> None:
    """``get_status()`` keeps the guide's keys whatever the state."""
    saga = DistributedSaga(saga_id="s")
    assert set(saga.get_status()) == GUIDE_STATUS_KEYS
    assert saga.get_status()["state"] == "pending"
    saga.execute_step(name="a", action=lambda: None)
    assert saga.get_status()["state"] == "executing"
    saga.commit()
    assert set(saga.get_status()) == GUIDE_STATUS_KEYS


def test_observer_hears_steps_rollbacks_and_outcomes() -> None:
    """Metrics hooks are told about every step, compensation and final state."""
    events: list[tuple[str, ...]] = []

    class Recorder(SagaObserver):
        def saga_started(self, saga_id: str) -> None:
            events.append(("started", saga_id))

        def step_finished(self, saga_id: str, name: str, seconds: float, error: str | None) -> None:
            events.append(("step", name, "ok" if error is None else "error"))

        def compensation_finished(
            self, saga_id: str, name: str, seconds: float, error: str | None
        ) -> None:
            events.append(("undo", name))

        def rollback_finished(self, saga_id: str, seconds: float, state: SagaState) -> None:
            events.append(("rollback", state.value))

        def saga_finished(self, saga_id: str, state: SagaState) -> None:
            events.append(("finished", state.value))

    saga = DistributedSaga(saga_id="s", observer=Recorder())
    saga.execute_step(name="a", action=lambda: None, rollback=lambda: None)
    with pytest.raises(KeyError):
        saga.execute_step(name="b", action=raises(KeyError("k")))
    assert events == [
        ("started", "s"),
        ("step", "a", "ok"),
        ("step", "b", "error"),
        ("undo", "a"),
        ("rollback", "rolled_back"),
        ("finished", "rolled_back"),
    ]


def test_public_names_are_all_exported() -> None:
    """Everything ``distributed_saga`` exports is listed in ``__all__`` and importable."""
    public = {
        name
        for name, value in vars(distributed_saga).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("distributed_saga")
    }
    assert public <= set(distributed_saga.__all__)
    for name in distributed_saga.__all__:
        assert getattr(distributed_saga, name) is not None
