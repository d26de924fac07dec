"""Guards around a saga's steps: forward retries and timeouts, abort, a finished saga
refusing more, lock keys held until the end, and a lost lease stopping the old owner.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest
from saga_support import FAST_RETRY, raises

from distributed_saga import (
    Compensation,
    CompensationRegistry,
    DistributedSaga,
    LeaseLostError,
    RetryPolicy,
    SagaLockedError,
    SagaState,
    SagaStateError,
    StepTimeoutError,
    retry_saga,
)
from distributed_saga.log import MemorySagaLog


def test_transient_error_is_retried_when_the_step_is_idempotent() -> None:
    """A blip is retried (no rollback) when the step carries an idempotency key."""
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("blip")
        return "ok"

    saga = DistributedSaga(saga_id="s")
    result = saga.execute_step(
        name="flaky",
        action=flaky,
        idempotency_key=saga.step_key("flaky"),
        retry=RetryPolicy(attempts=3, base_delay=0.001),
    )
    saga.commit()
    assert result == "ok"
    assert len(calls) == 3
    assert saga.record().steps[0].attempts == 3


def test_permanent_error_is_not_retried() -> None:
    """An error the policy calls permanent fails the step on the first try."""
    calls: list[int] = []

    def bad() -> None:
        calls.append(1)
        raise ValueError("400 Bad Request")

    saga = DistributedSaga(saga_id="s")
    with pytest.raises(ValueError, match="400"):
        saga.execute_step(
            name="bad", action=bad, idempotency_key="k", retry=RetryPolicy(attempts=5)
        )
    assert len(calls) == 1


def test_retries_without_idempotency_key_are_refused() -> None:
    """Retrying an action that is not known to be idempotent is a programming error."""
    saga = DistributedSaga(saga_id="s")
    with pytest.raises(ValueError, match="idempotency_key"):
        saga.execute_step(name="x", action=lambda: None, retry=RetryPolicy(attempts=2))
    assert saga.get_status()["total_steps"] == 0


def test_step_timeout_fails_and_compensates_the_step() -> None:
    """An action that overruns its timeout is treated as failed and compensated."""
    undone: list[str] = []
    release = threading.Event()
    saga = DistributedSaga(saga_id="s")
    with pytest.raises(StepTimeoutError):
        saga.execute_step(
            name="slow",
            action=lambda: release.wait(5),
            rollback=lambda: undone.append("slow"),
            timeout=0.05,
        )
    release.set()
    assert undone == ["slow"]
    assert saga.get_status()["state"] == "rolled_back"


def test_abort_undoes_the_steps_so_far() -> None:
    """``abort`` gives up before commit: completed steps are undone, nothing is raised."""
    undone: list[str] = []
    saga = DistributedSaga(saga_id="s")
    saga.execute_step(name="a", action=lambda: None, rollback=lambda: undone.append("a"))
    saga.abort("planning failed: filesystem unreachable")
    assert undone == ["a"]
    status = saga.get_status()
    assert status["state"] == "rolled_back"
    assert status["error"] == "planning failed: filesystem unreachable"
    with pytest.raises(SagaStateError):
        saga.abort("again")


def test_finished_saga_refuses_more_steps_and_a_second_commit() -> None:
    """A committed saga cannot grow or be committed again."""
    saga = DistributedSaga(saga_id="s")
    saga.commit()
    with pytest.raises(SagaStateError, match="committed"):
        saga.execute_step(name="late", action=lambda: None)
    with pytest.raises(SagaStateError):
        saga.commit()


def test_lock_key_refuses_a_second_unfinished_saga_and_names_the_holder() -> None:
    """One unfinished saga per lock key; the error names the saga that holds it. The lock
    is taken by the first step's intent, so the refusal comes from the second saga's first
    step, before its action runs; that saga stays pending and may try again later."""
    log = MemorySagaLog()
    first = DistributedSaga(saga_id="gen-1", log=log, lock_key="proj-1")
    first.execute_step(name="a", action=lambda: None)
    second = DistributedSaga(saga_id="gen-2", log=log, lock_key="proj-1")
    ran: list[str] = []
    with pytest.raises(SagaLockedError, match="gen-1") as raised:
        second.execute_step(name="b", action=lambda: ran.append("b"))
    assert raised.value.holder_saga_id == "gen-1"
    assert ran == []
    assert second.get_status()["state"] == "pending"
    assert [s.saga_id for s in log.list_sagas()] == ["gen-1"]
    DistributedSaga(saga_id="other", log=log, lock_key="proj-2").commit()
    first.commit()
    second.execute_step(name="b", action=lambda: ran.append("b"))
    second.commit()
    assert ran == ["b"]
    assert log.get_saga("gen-2").state is SagaState.COMMITTED


def test_failed_saga_keeps_its_lock_until_retried(registry: CompensationRegistry) -> None:
    """A ``failed`` saga still has work left, so it holds its lock key until it is undone."""
    broken = {"on": True}

    def undo(args: Mapping[str, Any]) -> None:
        if broken["on"]:
            raise ConnectionError("service down")

    registry.register("flaky.undo", undo)
    log = MemorySagaLog()
    saga = DistributedSaga(
        saga_id="gen-1", log=log, lock_key="p", registry=registry, compensation_retry=FAST_RETRY
    )
    saga.execute_step(name="a", action=lambda: None, rollback=Compensation("flaky.undo"))
    with pytest.raises(RuntimeError):
        saga.execute_step(name="b", action=raises(RuntimeError("x")))
    assert saga.state is SagaState.FAILED
    with pytest.raises(SagaLockedError):
        DistributedSaga(saga_id="gen-2", log=log, lock_key="p").execute_step("c", lambda: None)

    broken["on"] = False
    outcome = retry_saga(log, "gen-1", registry=registry)
    assert outcome.state is SagaState.ROLLED_BACK
    assert log.get_saga("gen-1").remaining_compensations == ()
    DistributedSaga(saga_id="gen-2", log=log, lock_key="p").commit()


def test_saga_that_lost_its_lease_stops_at_its_next_write() -> None:
    """Once recovery has claimed a saga, its old owner may not write another step."""
    log = MemorySagaLog()
    saga = DistributedSaga(saga_id="s", log=log, lease_seconds=0.01)
    saga.execute_step(name="a", action=lambda: None)
    time.sleep(0.03)
    assert log.claim_expired("recoverer", 30.0) == ["s"]
    ran: list[int] = []
    with pytest.raises(LeaseLostError):
        saga.execute_step(name="b", action=lambda: ran.append(1))
    assert ran == []
