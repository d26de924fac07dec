"""What the contract's tests share: owners, lease lengths, and sagas driven to a state."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from distributed_saga._records import SagaState, StepState
from distributed_saga.compensations import Compensation
from distributed_saga.log import SagaLog

__all__ = [
    "EXPIRY",
    "FENCED_WRITES",
    "LEASE",
    "OTHER",
    "OWNER",
    "SHORT_LEASE",
    "TICK",
    "Write",
    "create_in_order",
    "drive",
    "fenced_writes",
    "intent",
]

OWNER = "owner-a"
OTHER = "owner-b"
LEASE = 30.0
SHORT_LEASE = 0.05
"""A lease that expires during the test; tests sleep :data:`EXPIRY` to outlive it."""
EXPIRY = 0.15
TICK = 0.005
"""A pause longer than the coarsest backend clock's resolution (SQLite's millisecond)."""

Write = Callable[[SagaLog, str, str], object]


def intent(log: SagaLog, saga_id: str, owner: str = OWNER, index: int = 0, **fields: Any) -> None:
    """Record the intent of step ``index`` with plain defaults."""
    values: dict[str, Any] = {
        "name": f"step-{index}",
        "compensation": Compensation("undo", {"index": index}),
        "in_process_rollback": False,
        "idempotency_key": None,
    }
    values.update(fields)
    log.record_intent(saga_id, owner, index=index, **values)


def drive(
    log: SagaLog,
    saga_id: str,
    state: SagaState,
    *,
    owner: str = OWNER,
    lock_key: str | None = None,
    lease_seconds: float = LEASE,
) -> None:
    """Create ``saga_id`` and move it to ``state`` the way the engine would."""
    log.create_saga(saga_id, "user", owner=owner, lease_seconds=lease_seconds, lock_key=lock_key)
    if state is SagaState.PENDING:
        return
    intent(log, saga_id, owner)
    if state is SagaState.EXECUTING:
        return
    if state is SagaState.COMMITTED:
        log.record_step_result(saga_id, owner, index=0, state=StepState.COMPLETED, attempts=1)
        log.finish_saga(saga_id, owner, SagaState.COMMITTED)
        return
    log.record_step_result(saga_id, owner, index=0, state=StepState.FAILED, attempts=1, error="x")
    log.begin_compensation(saga_id, owner, failed_at="step-0", error="x")
    if state is SagaState.COMPENSATING:
        return
    log.record_compensation(
        saga_id, owner, index=0, succeeded=state is SagaState.ROLLED_BACK, attempts=1, error="y"
    )
    log.finish_saga(saga_id, owner, state)


def create_in_order(log: SagaLog, saga_ids: list[str]) -> None:
    """Create sagas one clock tick apart, so their creation order is observable."""
    for saga_id in saga_ids:
        log.create_saga(saga_id, None, owner=OWNER, lease_seconds=LEASE)
        time.sleep(TICK)


# Every fenced write: (name, a state it is allowed from, the call).
FENCED_WRITES: list[tuple[str, SagaState, Write]] = [
    ("record_intent", SagaState.EXECUTING, lambda log, s, o: intent(log, s, o, index=1)),
    (
        "record_step_result",
        SagaState.EXECUTING,
        lambda log, s, o: log.record_step_result(
            s, o, index=0, state=StepState.COMPLETED, attempts=2
        ),
    ),
    (
        "begin_compensation",
        SagaState.EXECUTING,
        lambda log, s, o: log.begin_compensation(s, o, failed_at="a", error="b"),
    ),
    (
        "record_compensation",
        SagaState.COMPENSATING,
        lambda log, s, o: log.record_compensation(s, o, index=0, succeeded=True, attempts=1),
    ),
    (
        "finish_saga",
        SagaState.COMPENSATING,
        lambda log, s, o: log.finish_saga(s, o, SagaState.ROLLED_BACK),
    ),
]
fenced_writes = pytest.mark.parametrize(
    ("start", "write"),
    [(start, write) for _, start, write in FENCED_WRITES],
    ids=[name for name, _, _ in FENCED_WRITES],
)
