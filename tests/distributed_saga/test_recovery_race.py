"""Recoverer processes racing over many expired sagas recover each exactly once.

This process starts many ledger sagas and "crashes" each at a different point (a
``BaseException`` fault, so the engine stops renewing its lease and leaves it in flight).
Once every lease has expired, several recoverer processes start at the same instant on
the same saga log, each claiming a couple of sagas per pass until none is left. Every
saga must be claimed by exactly one of them, compensated by that one alone (one recorded
compensation attempt per step, the ledger's calls from one process) and its effects undone
exactly once.

Fencing is tested where it alone stands between two owners: an owner frozen mid-step wakes
while a recoverer, frozen too, is halfway through the rollback, so the state allows the
owner's next write and only the owner condition of the fenced write refuses it.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from distributed_saga import (
    FaultPlan,
    FaultPoint,
    SagaState,
    StepState,
)
from distributed_saga._records import IN_FLIGHT_STATES
from distributed_saga.log import SagaLog
from distributed_saga.testing.crashing import (
    EffectLedger,
    FailMode,
    child_command,
    close_ledgers,
    open_log,
    run_recovery,
    run_saga,
    saga_problems,
    seed_previous_generation,
    start_child,
    wait_until_stopped,
)

STEPS = 3
DOOMED_LEASE = 0.3
RECOVERER_LEASE = 30.0
"""Long: a recoverer must finish its claims without anyone else taking them over."""

# (crash point, step, failing step, how it fails): forward crashes, a crash before commit,
# and crashes halfway through a rollback (one past a rejected step), so recoverers meet
# sagas in every in-flight shape.
SHAPES: tuple[tuple[FaultPoint, int | None, int | None, FailMode], ...] = (
    (FaultPoint.AFTER_ACTION, 2, None, "after"),
    (FaultPoint.BEFORE_COMMIT, None, None, "after"),
    (FaultPoint.AFTER_INTENT, 1, None, "after"),
    (FaultPoint.AFTER_STEP, 0, None, "after"),
    (FaultPoint.BEFORE_COMPENSATION, 1, 2, "after"),
    (FaultPoint.AFTER_COMPENSATION, 2, 2, "after"),
    (FaultPoint.AFTER_COMPENSATION, 1, 2, "refused"),
)


class SimulatedCrash(BaseException):
    """The saga's process "dies" here (the engine does not catch it)."""


def crash() -> None:
    raise SimulatedCrash


@dataclass(frozen=True)
class Target:
    url: str
    schema: str | None = None

    def open(self) -> SagaLog:
        return open_log(self.url, self.schema)


@pytest.fixture
def sqlite_target(tmp_path: Path) -> Iterator[Target]:
    yield Target(f"sqlite:///{tmp_path / 'sagas.db'}")
    close_ledgers()


@pytest.fixture
def postgres_target(postgres_url: str, postgres_schema: str) -> Iterator[Target]:
    yield Target(postgres_url, postgres_schema)
    close_ledgers()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest) -> Target:
    """The SQLite file or the PostgreSQL schema, as :func:`sqlite_target` and
    :func:`postgres_target` give them."""
    fixture: Target = request.getfixturevalue(f"{request.param}_target")
    return fixture


def start_doomed_sagas(log: SagaLog, ledger: EffectLedger, count: int) -> dict[str, dict[str, str]]:
    """Start ``count`` sagas, each crashed in one of :data:`SHAPES`; return their initial
    ledger states by saga id."""
    initial: dict[str, dict[str, str]] = {}
    for n in range(count):
        point, step, fail_at, fail_mode = SHAPES[n % len(SHAPES)]
        saga_id = f"race-{n:03d}"
        initial[saga_id] = seed_previous_generation(ledger, saga_id, STEPS)
        with pytest.raises(SimulatedCrash):
            run_saga(
                log,
                ledger,
                saga_id=saga_id,
                steps=STEPS,
                fail_at=fail_at,
                fail_mode=fail_mode,
                lease_seconds=DOOMED_LEASE,
                faults=FaultPlan(point, step, crash),
                owner="doomed",
            )
    gc.collect()  # dropped sagas stop renewing their leases
    return initial


def race(target: Target, ledger: Path, recoverers: int) -> list[dict[str, Any]]:
    """Start ``recoverers`` recoverer processes together; return their JSON reports."""
    barrier = ledger.parent / "barrier"
    barrier.mkdir()
    procs = [
        start_child(
            child_command(
                target.url,
                ledger,
                schema=target.schema,
                recover=True,
                limit=2,
                lease_seconds=RECOVERER_LEASE,
                barrier=(barrier, recoverers),
            )
        )
        for _ in range(recoverers)
    ]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
        reports.append(json.loads(out))
    return reports


def check_race(target: Target, tmp_path: Path, *, sagas: int, recoverers: int) -> None:
    ledger_path = tmp_path / "ledger.db"
    with EffectLedger(ledger_path) as ledger, target.open() as log:
        initial = start_doomed_sagas(log, ledger, sagas)
        in_flight = log.list_sagas(states=IN_FLIGHT_STATES, limit=sagas + 1)
        assert sorted(r.saga_id for r in in_flight) == sorted(initial)
        latest = max(r.lease_expires_at or 0.0 for r in in_flight)
        time.sleep(max(0.0, latest - time.time() + 0.05))

        reports = race(target, ledger_path, recoverers)

        claimed_by: dict[str, int] = {}
        claims: Counter[str] = Counter()
        for report in reports:
            for outcome in report["recovered"]:
                claims[outcome["saga_id"]] += 1
                claimed_by[outcome["saga_id"]] = report["pid"]
                assert outcome["state"] == SagaState.ROLLED_BACK.value
        # Every expired saga claimed, and none twice.
        assert claims == Counter(dict.fromkeys(initial, 1))
        # They really raced: more than one recoverer got work.
        assert len(set(claimed_by.values())) > 1, reports

        assert log.list_sagas(states=IN_FLIGHT_STATES) == []
        doomed_pid = os.getpid()
        for saga_id, before in initial.items():
            record = log.get_saga(saga_id)
            assert saga_problems(record, ledger, steps=STEPS, initial=before) == [], saga_id
            # One recorded compensation attempt per step (none for a rejected one):
            # compensated once, by one owner.
            attempts = [s.compensation_attempts for s in record.steps]
            expected = [0 if s.state is StepState.REJECTED else 1 for s in record.steps]
            assert attempts == expected, (saga_id, attempts)
            assert all(s.state in (StepState.COMPENSATED, StepState.REJECTED) for s in record.steps)
            # The ledger's calls come from the doomed process (before it "died") and from
            # the one recoverer that claimed the saga, never from another.
            callers = {pid for _, _, pid in ledger.calls(saga_id)} - {doomed_pid}
            assert callers == {claimed_by[saga_id]}, (saga_id, callers)


def test_sqlite_recoverer_processes_recover_each_expired_saga_exactly_once(
    sqlite_target: Target, tmp_path: Path
) -> None:
    """Two recoverer processes on one SQLite file over 28 expired sagas: each saga claimed
    by one, compensated once per step by that one, every effect undone exactly once."""
    check_race(sqlite_target, tmp_path, sagas=28, recoverers=2)


@pytest.mark.postgres
def test_postgres_recoverer_processes_recover_each_expired_saga_exactly_once(
    postgres_target: Target, tmp_path: Path
) -> None:
    """Three recoverer processes on one PostgreSQL schema over 42 expired sagas: each saga
    claimed by one, compensated once per step by that one, every effect undone once."""
    check_race(postgres_target, tmp_path, sagas=42, recoverers=3)


@pytest.mark.parametrize("late", ["returns", "fails-after-writing"])
def test_owner_frozen_mid_step_has_its_late_effect_undone(
    sqlite_target: Target, tmp_path: Path, late: str
) -> None:
    """The owner process is frozen (SIGSTOP) between step 1's intent and action; its
    lease lapses, and recovery claims the saga and rolls it back before the action has
    written. Woken up (SIGCONT), the owner's action still writes (and returns, or fails
    after writing) and the owner learns it lost the saga. The log says ``rolled_back``,
    so that late effect must be undone too: the ledger must end exactly as it began."""
    steps = 2
    with EffectLedger(tmp_path / "ledger.db") as ledger, sqlite_target.open() as log:
        initial = seed_previous_generation(ledger, "slow", steps)
        owner = start_child(
            child_command(
                sqlite_target.url,
                tmp_path / "ledger.db",
                saga_id="slow",
                steps=steps,
                fail_at=1 if late == "fails-after-writing" else None,
                lease_seconds=0.5,
            ),
            crash_at="after_intent:1:stop",
        )
        # Outside the try: a child that ended instead of stopping has nothing to resume.
        wait_until_stopped(owner, crash_at="after_intent:1:stop")
        try:
            record = log.get_saga("slow")
            assert record.lease_expires_at is not None
            time.sleep(max(0.0, record.lease_expires_at - time.time() + 0.05))
            outcomes = run_recovery(log, owner="recoverer")
            assert [(o.saga_id, o.state) for o in outcomes] == [("slow", SagaState.ROLLED_BACK)]
        finally:
            os.kill(owner.pid, signal.SIGCONT)
            _, err = owner.communicate(timeout=60)
        assert owner.returncode != 0
        assert "LeaseLostError" in err
        assert ledger.effects("slow", "apply")[1] == 1  # the late write did happen
        record = log.get_saga("slow")
        assert record.state is SagaState.ROLLED_BACK
        assert saga_problems(record, ledger, steps=steps, initial=initial) == []


def test_owner_woken_during_a_recoverers_rollback_is_fenced_out(
    target: Target, tmp_path: Path
) -> None:
    """Two real processes own the saga in turn. The owner is frozen (SIGSTOP) between step
    1's intent and its action; its lease lapses; a recoverer process claims the saga,
    compensates step 1 (nothing to undo yet) and is frozen before step 0. The owner wakes
    (SIGCONT): its action writes, then fails, and its write of that failure, allowed from
    ``compensating``, must be refused because the saga is no longer its own (fencing). It
    then undoes only its own late effect and stops, leaving the saga to the recoverer,
    which, woken in turn, finishes the rollback it owns: the log and the ledger end as
    before the saga, with the owner's effect undone and no step rolled back by the owner."""
    steps = 2
    ledger_path = tmp_path / "ledger.db"
    with EffectLedger(ledger_path) as ledger, target.open() as log:
        initial = seed_previous_generation(ledger, "fenced", steps)
        owner_at, recoverer_at = "after_intent:1:stop", "before_compensation:0:stop"
        owner = start_child(
            child_command(
                target.url,
                ledger_path,
                schema=target.schema,
                saga_id="fenced",
                steps=steps,
                fail_at=1,
                fail_mode="after",
                lease_seconds=0.5,
            ),
            crash_at=owner_at,
        )
        wait_until_stopped(owner, crash_at=owner_at)
        recoverer = None
        try:
            record = log.get_saga("fenced")
            assert record.lease_expires_at is not None
            time.sleep(max(0.0, record.lease_expires_at - time.time() + 0.05))
            recoverer = start_child(
                child_command(
                    target.url,
                    ledger_path,
                    schema=target.schema,
                    recover=True,
                    lease_seconds=RECOVERER_LEASE,
                ),
                crash_at=recoverer_at,
            )
            wait_until_stopped(recoverer, crash_at=recoverer_at)
            halfway = log.get_saga("fenced")
            assert halfway.state is SagaState.COMPENSATING
            assert halfway.owner is not None
            assert halfway.owner.split(":")[1] == str(recoverer.pid)
            assert [s.state for s in halfway.steps] == [StepState.COMPLETED, StepState.COMPENSATED]
            os.kill(owner.pid, signal.SIGCONT)
            _, owner_err = owner.communicate(timeout=60)
        finally:
            if owner.returncode is None:
                os.kill(owner.pid, signal.SIGCONT)
                owner.communicate(timeout=60)
            if recoverer is not None:
                os.kill(recoverer.pid, signal.SIGCONT)
                recoverer_out, recoverer_err = recoverer.communicate(timeout=60)
        # The owner's write was refused: it lost the saga, and said so.
        assert owner.returncode != 0
        assert "LeaseLostError" in owner_err
        # Its late effect happened, and it undid that step alone, never the saga it lost.
        assert ledger.effects("fenced", "apply") == Counter({0: 1, 1: 1})
        owner_calls = [step for _, step, pid in ledger.calls("fenced") if pid == owner.pid]
        assert owner_calls == [1]
        # The recoverer still owned the saga, and finished its rollback.
        assert recoverer.returncode == 0, recoverer_err
        report = json.loads(recoverer_out)
        assert [(r["saga_id"], r["state"]) for r in report["recovered"]] == [
            ("fenced", SagaState.ROLLED_BACK.value)
        ]
        record = log.get_saga("fenced")
        assert record.state is SagaState.ROLLED_BACK
        assert [s.compensation_attempts for s in record.steps] == [1, 1]
        assert saga_problems(record, ledger, steps=steps, initial=initial) == []
