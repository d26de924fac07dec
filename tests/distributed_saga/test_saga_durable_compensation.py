"""Durable compensations: planned in the log before the action runs, with the arguments
recorded then, and run by whoever finishes the saga — this process, recovery after a
crash, or an operator by hand.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from saga_support import FAST_RETRY, Crash, crash, raises

from distributed_saga import (
    Compensation,
    CompensationRegistry,
    DistributedSaga,
    FaultPlan,
    FaultPoint,
    SagaState,
    SagaStateError,
    StepState,
    UnknownCompensationError,
    recover_sagas,
    resolve_saga,
)
from distributed_saga.log import MemorySagaLog


def test_intent_and_compensation_are_logged_before_the_action_runs(
    registry: CompensationRegistry, shelf: dict[str, Any]
) -> None:
    """When the action runs, the log already holds the step and how to undo it."""
    log = MemorySagaLog()
    seen: list[Any] = []

    def action() -> None:
        step = log.get_saga("s").steps[0]
        seen.append((step.state, step.compensation, dict(step.compensation_args or {})))
        shelf["page"] = "new"

    saga = DistributedSaga(saga_id="s", log=log, registry=registry)
    saga.execute_step(
        name="write",
        action=action,
        rollback=Compensation("shelf.restore", {"key": "page", "prior": None}),
    )
    assert seen == [(StepState.STARTED, "shelf.restore", {"key": "page", "prior": None})]
    # The outcome rides on the next write (here the commit), not a commit of its own.
    assert log.get_saga("s").steps[0].state is StepState.STARTED
    saga.commit()
    assert log.get_saga("s").steps[0].state is StepState.COMPLETED


def test_unknown_compensation_is_refused_before_anything_is_written(
    registry: CompensationRegistry,
) -> None:
    """A compensation name nobody registered fails the call, and nothing is recorded: not
    the step, nor the saga its intent would have created."""
    log = MemorySagaLog()
    saga = DistributedSaga(saga_id="s", log=log, registry=registry)
    ran: list[int] = []
    with pytest.raises(UnknownCompensationError, match=r"nobody\.knows"):
        saga.execute_step(
            name="x", action=lambda: ran.append(1), rollback=Compensation("nobody.knows")
        )
    assert ran == []
    assert log.list_sagas() == []


def test_rollback_uses_the_arguments_recorded_when_the_compensation_was_made(
    registry: CompensationRegistry, shelf: dict[str, Any], guide_log: Any
) -> None:
    """Changing the dict after making the Compensation changes neither the log nor the undo;
    in-process and after recovery, the compensation gets the JSON the log holds."""
    args: dict[str, Any] = {"key": "k", "prior": ("v", 1)}
    undo = Compensation("shelf.restore", args)
    args["prior"] = "changed later"
    shelf["k"] = "v0"
    saga = DistributedSaga(saga_id="s", log=guide_log, registry=registry)
    saga.execute_step(name="write", action=lambda: shelf.update(k="v1"), rollback=undo)
    with pytest.raises(OSError, match="boom"):
        saga.execute_step(name="fail", action=raises(OSError("boom")))
    assert shelf == {"k": ["v", 1]}  # a tuple comes back from JSON as a list
    assert saga.record().steps[0].compensation_args == {"key": "k", "prior": ["v", 1]}


def test_compensation_args_must_be_json() -> None:
    """Durable compensation arguments that JSON cannot hold are refused up front."""
    with pytest.raises(ValueError, match="JSON"):
        Compensation("x", {"when": object()})


def test_recovery_compensates_a_saga_whose_process_died(
    registry: CompensationRegistry, shelf: dict[str, Any]
) -> None:
    """A saga cut off mid-way is found once its lease expires and undone, last first."""
    shelf["page"] = "old"
    log = MemorySagaLog()
    saga = DistributedSaga(
        saga_id="s",
        log=log,
        registry=registry,
        lease_seconds=0.01,
        faults=FaultPlan(FaultPoint.AFTER_ACTION, step=1, action=crash),
    )
    saga.execute_step(
        name="page",
        action=lambda: shelf.update(page="new"),
        rollback=Compensation("shelf.restore", {"key": "page", "prior": "old"}),
    )
    with pytest.raises(Crash):
        saga.execute_step(
            name="index",
            action=lambda: shelf.update(index="new"),
            rollback=Compensation("shelf.restore", {"key": "index", "prior": None}),
        )
    del saga
    time.sleep(0.03)
    outcomes = recover_sagas(log, registry=registry, owner="recoverer")
    assert [(o.saga_id, o.state, o.undone) for o in outcomes] == [("s", SagaState.ROLLED_BACK, 2)]
    assert shelf == {"page": "old"}
    assert recover_sagas(log, registry=registry, owner="recoverer") == []


def test_recovery_cannot_run_a_lambda_rollback_and_says_so() -> None:
    """A callable rollback dies with its process: recovery marks the saga ``failed``."""
    log = MemorySagaLog()
    saga = DistributedSaga(
        saga_id="s",
        log=log,
        lease_seconds=0.01,
        faults=FaultPlan(FaultPoint.AFTER_STEP, step=0, action=crash),
    )
    with pytest.raises(Crash):
        saga.execute_step(name="a", action=lambda: None, rollback=lambda: None)
    del saga
    time.sleep(0.03)
    [outcome] = recover_sagas(log, owner="recoverer", compensation_retry=FAST_RETRY)
    assert outcome.state is SagaState.FAILED
    step = log.get_saga("s").steps[0]
    assert step.state is StepState.COMPENSATION_FAILED
    assert "callable" in (step.compensation_error or "")
    assert step.compensation_attempts == 1


def test_recovery_leaves_committed_and_live_sagas_alone(registry: CompensationRegistry) -> None:
    """Only sagas whose lease expired are claimed; committed ones never are."""
    log = MemorySagaLog()
    done = DistributedSaga(saga_id="done", log=log, lease_seconds=0.01)
    done.commit()
    live = DistributedSaga(saga_id="live", log=log, lease_seconds=30)
    live.execute_step(name="a", action=lambda: None)
    time.sleep(0.03)
    assert recover_sagas(log, registry=registry, owner="recoverer") == []
    live.commit()


def test_operator_can_resolve_a_failed_saga_by_hand() -> None:
    """``resolve_saga`` records a hand-made undo, ends the saga and frees its lock."""
    log = MemorySagaLog()
    saga = DistributedSaga(
        saga_id="s",
        log=log,
        lock_key="p",
        lease_seconds=0.01,
        faults=FaultPlan(FaultPoint.AFTER_STEP, step=0, action=crash),
    )
    with pytest.raises(Crash):
        saga.execute_step(name="a", action=lambda: None, rollback=lambda: None)
    del saga
    time.sleep(0.03)
    recover_sagas(log, owner="recoverer", compensation_retry=FAST_RETRY)
    with pytest.raises(ValueError, match="note"):
        resolve_saga(log, "s", note=" ")
    outcome = resolve_saga(log, "s", note="deleted the files by hand")
    assert outcome.state is SagaState.ROLLED_BACK
    assert log.get_saga("s").state is SagaState.ROLLED_BACK
    DistributedSaga(saga_id="next", log=log, lock_key="p").commit()
    with pytest.raises(SagaStateError):
        resolve_saga(log, "s", note="again")
