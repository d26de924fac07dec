"""Rolling back: which steps are undone, in what order, and which are not.

A step that failed may have partly happened and is undone; one proven not applied is
not; compensations registered as independent run side by side, the others last first;
a committed saga has nothing left to undo.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest
from saga_support import raises

from distributed_saga import (
    Compensation,
    CompensationRegistry,
    DistributedSaga,
    RetryPolicy,
    SagaState,
    StepState,
)
from distributed_saga.log import MemorySagaLog


def test_failed_step_is_compensated_because_it_may_have_partly_happened(
    registry: CompensationRegistry, shelf: dict[str, Any]
) -> None:
    """A step whose action wrote and then failed is undone along with the earlier steps."""
    shelf["old"] = "v1"
    saga = DistributedSaga(saga_id="s", log=MemorySagaLog(), registry=registry)
    saga.execute_step(
        name="overwrite",
        action=lambda: shelf.update(old="v2"),
        rollback=Compensation("shelf.restore", {"key": "old", "prior": "v1"}),
    )

    def write_then_fail() -> None:
        shelf["new"] = "half"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        saga.execute_step(
            name="partial",
            action=write_then_fail,
            rollback=Compensation("shelf.restore", {"key": "new", "prior": None}),
        )
    assert shelf == {"old": "v1"}
    record = saga.record()
    assert record.state is SagaState.ROLLED_BACK
    assert [s.state for s in record.steps] == [StepState.COMPENSATED, StepState.COMPENSATED]


def test_independent_compensations_run_in_parallel(registry: CompensationRegistry) -> None:
    """Consecutive compensations registered ``concurrent=True`` are undone side by side
    (a barrier that needs both at once proves it); others keep strict reverse order."""
    barrier = threading.Barrier(2, timeout=5)
    order: list[str] = []

    def meet(args: Mapping[str, Any]) -> None:
        barrier.wait()
        order.append(args["name"])

    def ordered(args: Mapping[str, Any]) -> None:
        order.append(args["name"])

    registry.register("meet", meet, concurrent=True)
    registry.register("ordered", ordered)
    saga = DistributedSaga(saga_id="s", registry=registry, compensation_retry=RetryPolicy.never())
    saga.execute_step(
        name="first", action=lambda: None, rollback=Compensation("ordered", {"name": "first"})
    )
    saga.execute_step(
        name="graph", action=lambda: None, rollback=Compensation("meet", {"name": "graph"})
    )
    saga.execute_step(
        name="files", action=lambda: None, rollback=Compensation("meet", {"name": "files"})
    )
    with pytest.raises(RuntimeError):
        saga.execute_step(name="boom", action=raises(RuntimeError("x")))
    assert saga.state is SagaState.ROLLED_BACK
    assert sorted(order[:2]) == ["files", "graph"]
    assert order[2] == "first"


def test_committed_saga_has_nothing_left_to_undo() -> None:
    """The log lists no remaining compensations for a committed saga."""
    log = MemorySagaLog()
    saga = DistributedSaga(saga_id="s", log=log)
    saga.execute_step(name="a", action=lambda: None, rollback=lambda: None)
    assert [s.name for s in log.get_saga("s").remaining_compensations] == ["a"]
    saga.commit()
    assert log.get_saga("s").remaining_compensations == ()


def test_step_proven_not_applied_is_rejected_and_not_compensated() -> None:
    """When every try failed in a way that proves no effect, the step is ``rejected`` and
    its rollback does not run; the steps before it are still undone."""
    undone: list[str] = []
    saga = DistributedSaga(saga_id="s")
    saga.execute_step(name="a", action=lambda: None, rollback=lambda: undone.append("a"))
    with pytest.raises(ConnectionRefusedError):
        saga.execute_step(
            name="b",
            action=raises(ConnectionRefusedError("refused")),
            rollback=lambda: undone.append("b"),
            idempotency_key="k",
            retry=RetryPolicy(attempts=2, base_delay=0.001),
            not_applied=lambda e: isinstance(e, ConnectionRefusedError),
        )
    assert undone == ["a"]
    step = saga.record().steps[1]
    assert step.state is StepState.REJECTED
    assert step.attempts == 2
    assert saga.state is SagaState.ROLLED_BACK


def test_step_is_compensated_unless_every_try_proves_no_effect() -> None:
    """A timeout on one try and a refusal on the next prove nothing: compensate."""
    undone: list[str] = []
    errors: list[Exception] = [TimeoutError("late"), ConnectionRefusedError("refused")]

    def flaky() -> None:
        raise errors.pop(0)

    saga = DistributedSaga(saga_id="s")
    with pytest.raises(ConnectionRefusedError):
        saga.execute_step(
            name="b",
            action=flaky,
            rollback=lambda: undone.append("b"),
            idempotency_key="k",
            retry=RetryPolicy(attempts=2, base_delay=0.001),
            not_applied=lambda e: isinstance(e, ConnectionRefusedError),
        )
    assert undone == ["b"]
    assert saga.record().steps[0].state is StepState.COMPENSATED
