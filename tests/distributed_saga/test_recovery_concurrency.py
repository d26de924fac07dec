"""A recovery pass compensating several claimed sagas at once.

Sagas are left in flight by a simulated crash just before their commit; once their
leases have expired, one ``recover_sagas`` pass claims them all. With ``concurrency=4``
the first four compensations wait for each other at a barrier, which only four sagas
compensated at the same time can pass; every saga must still end rolled back with each
step undone exactly once, last step first, and the outcomes come in claim order.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from saga_support import Crash, crash

from distributed_saga import (
    Compensation,
    CompensationRegistry,
    DistributedSaga,
    FaultPlan,
    FaultPoint,
    SagaRecoverer,
    SagaState,
    recover_sagas,
)
from distributed_saga.log import SagaLog, open_saga_log

UNDO = "tests.recovery_concurrency.undo"
SAGAS = 8
STEPS = 2
LEASE = 0.2


class Undo:
    """A compensation that records each call and how many ran at the same time."""

    def __init__(self, meet: int) -> None:
        self.calls: list[tuple[str, int]] = []
        self.barrier = threading.Barrier(meet, timeout=10.0) if meet > 1 else None
        self._lock = threading.Lock()
        self._running = 0
        self.most_at_once = 0

    def __call__(self, args: Mapping[str, Any]) -> None:
        with self._lock:
            self._running += 1
            self.most_at_once = max(self.most_at_once, self._running)
            first = len(self.calls) < (self.barrier.parties if self.barrier else 0)
            self.calls.append((args["saga"], args["step"]))
        try:
            if first and self.barrier is not None:
                self.barrier.wait()
            time.sleep(0.01)
        finally:
            with self._lock:
                self._running -= 1


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{(tmp_path / 'sagas.db').as_posix()}"
        return
    from postgres_support import fresh_schema  # noqa: PLC0415 - only the PostgreSQL half

    with fresh_schema(request.getfixturevalue("postgres_url"), "recovery") as url:
        yield url


def leave_in_flight(log: SagaLog, registry: CompensationRegistry) -> list[str]:
    """``SAGAS`` sagas whose process "died" just before committing, leases expired."""
    ids = [f"r{i:02d}" for i in range(SAGAS)]
    for saga_id in ids:
        saga = DistributedSaga(
            saga_id,
            log=log,
            registry=registry,
            owner="dead",
            lease_seconds=LEASE,
            faults=FaultPlan(FaultPoint.BEFORE_COMMIT, None, crash),
        )
        for step in range(STEPS):
            saga.execute_step(
                f"step{step}",
                action=lambda: None,
                rollback=Compensation(UNDO, {"saga": saga_id, "step": step}),
            )
        with pytest.raises(Crash):
            saga.commit()
        saga._finalizer()  # the process is gone: nothing renews its lease
    time.sleep(3 * LEASE)
    return ids


def check_rolled_back(log: SagaLog, ids: list[str], undo: Undo) -> None:
    assert Counter(undo.calls) == Counter((s, step) for s in ids for step in range(STEPS))
    for saga_id in ids:
        steps = [call[1] for call in undo.calls if call[0] == saga_id]
        assert steps == list(reversed(range(STEPS)))
        record = log.get_saga(saga_id)
        assert record.state is SagaState.ROLLED_BACK
        assert [s.compensation_attempts for s in record.steps] == [1] * STEPS


def test_sagas_claimed_together_are_compensated_at_once_each_exactly_once(log_url: str) -> None:
    undo = Undo(meet=4)
    registry = CompensationRegistry()
    registry.register(UNDO, undo)
    with open_saga_log(log_url) as log:
        ids = leave_in_flight(log, registry)
        outcomes = recover_sagas(log, registry=registry, owner="recoverer", concurrency=4)
        assert [o.saga_id for o in outcomes] == ids
        assert {o.state for o in outcomes} == {SagaState.ROLLED_BACK}
        assert undo.most_at_once == 4
        check_rolled_back(log, ids, undo)


def test_one_at_a_time_by_default(log_url: str) -> None:
    undo = Undo(meet=1)
    registry = CompensationRegistry()
    registry.register(UNDO, undo)
    with open_saga_log(log_url) as log:
        ids = leave_in_flight(log, registry)
        outcomes = SagaRecoverer(log, registry=registry).run_once()
        assert [o.saga_id for o in outcomes] == ids
        assert undo.most_at_once == 1
        check_rolled_back(log, ids, undo)


def test_concurrency_must_be_positive(tmp_path: Path) -> None:
    with open_saga_log(f"sqlite:///{(tmp_path / 's.db').as_posix()}") as log:
        with pytest.raises(ValueError, match="at least 1"):
            recover_sagas(log, concurrency=0)
        with pytest.raises(ValueError, match="at least 1"):
            SagaRecoverer(log, concurrency=0)
