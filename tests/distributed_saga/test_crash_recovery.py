"""A saga process killed with SIGKILL at every fault point is finished by recovery.

A child process runs a three-step ledger saga (see :mod:`distributed_saga.testing.crashing`)
on SQLite or PostgreSQL and is killed at one :class:`FaultPoint`, at one step, either while
running forward or — when a later step fails — while compensating. After its lease
expires, this process opens a fresh log object and recovers. Every outcome is checked
against the ledger's journal (effects, not calls) and the saga log's record.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from distributed_saga import (
    DistributedSaga,
    FaultPlan,
    FaultPoint,
    SagaLockedError,
    SagaRecord,
    SagaState,
    StepState,
    retry_saga,
)
from distributed_saga._records import IN_FLIGHT_STATES
from distributed_saga.log import SagaLog
from distributed_saga.testing.crashing import (
    REGISTRY,
    EffectLedger,
    FailMode,
    check_killed,
    child_command,
    close_ledgers,
    fast_compensation_retry,
    fault_reached,
    ledger_step,
    log_intent_check,
    open_log,
    planned_steps,
    run_child,
    run_killed_child,
    run_recovery,
    saga_problems,
    seed_previous_generation,
)

SAGA = "crash-saga"
LOCK = "crash-lock"
"""The lock key every child saga holds: free again only once the saga is finished."""
STEPS = 3
LAST = STEPS - 1
CHILD_LEASE = 0.3
"""Short, so the test does not wait long for expiry; nobody recovers while the child lives."""

FORWARD = (
    FaultPoint.BEFORE_INTENT,
    FaultPoint.AFTER_INTENT,
    FaultPoint.AFTER_ACTION,
    FaultPoint.AFTER_STEP,
)
BACKWARD = (FaultPoint.BEFORE_COMPENSATION, FaultPoint.AFTER_COMPENSATION)


@dataclass(frozen=True)
class Case:
    """Kill the child at ``point`` of step ``step``; step ``fail_at`` fails (or none)."""

    point: FaultPoint
    step: int | None
    fail_at: int | None
    fail_mode: FailMode = "after"
    concurrent: bool = False
    """Compensations of the concurrent kind: the engine undoes them in parallel."""

    @property
    def crash_at(self) -> str:
        return self.point.value if self.step is None else f"{self.point.value}:{self.step}"

    @property
    def reached(self) -> bool:
        """Whether the saga gets to the fault point before it finishes."""
        return fault_reached(
            self.point, self.step, steps=STEPS, fail_at=self.fail_at, fail_mode=self.fail_mode
        )

    @property
    def expected(self) -> SagaState:
        if self.reached or self.fail_at is not None:
            return SagaState.ROLLED_BACK
        return SagaState.COMMITTED

    def __str__(self) -> str:
        failure = "ok" if self.fail_at is None else f"fail{self.fail_at}{self.fail_mode}"
        return f"{self.crash_at}-{failure}{'-parallel' if self.concurrent else ''}"


def _cases() -> list[Case]:
    cases: list[Case] = []
    for point in FORWARD:
        for step in range(STEPS):
            cases.append(Case(point, step, None))
            case = Case(point, step, LAST)
            if case.reached:  # after_action/after_step of the failing step never happen
                cases.append(case)
    for point in BACKWARD:
        cases.extend(Case(point, step, LAST) for step in range(STEPS))
        # The failing step wrote nothing: compensating it must change nothing.
        cases.append(Case(point, LAST, LAST, "before"))
        # The failing step was refused (recorded rejected): it is never compensated, so
        # the point is not reached at it, only at the step before.
        cases.append(Case(point, LAST, LAST, "refused"))
        cases.append(Case(point, LAST - 1, LAST, "refused"))
        # Killed in the middle of compensations that run in parallel.
        cases.extend(Case(point, step, LAST, concurrent=True) for step in (LAST, 0))
        # No step fails, so nothing is compensated and the point is never reached.
        cases.append(Case(point, 0, None))
    cases.append(Case(FaultPoint.BEFORE_COMMIT, None, None))
    return cases


CASES = _cases()
assert {case.point for case in CASES} == set(FaultPoint)


@dataclass(frozen=True)
class Target:
    """Where the saga log lives: a URL and, for PostgreSQL, a schema."""

    url: str
    schema: str | None = None

    def open(self) -> SagaLog:
        return open_log(self.url, self.schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "sqlite":
        yield Target(f"sqlite:///{tmp_path / 'sagas.db'}")
    else:
        yield Target(
            request.getfixturevalue("postgres_url"), request.getfixturevalue("postgres_schema")
        )
    close_ledgers()


def command(
    target: Target,
    ledger: Path,
    *,
    fail_at: int | None = None,
    fail_mode: FailMode = "after",
    concurrent: bool = False,
    recover: bool = False,
) -> list[str]:
    """The child that runs the case's saga (or, with ``recover``, recovery passes)."""
    return child_command(
        target.url,
        ledger,
        schema=target.schema,
        saga_id=None if recover else SAGA,
        steps=STEPS,
        fail_at=fail_at,
        fail_mode=fail_mode,
        concurrent=concurrent,
        lease_seconds=CHILD_LEASE,
        recover=recover,
        lock_key=None if recover else LOCK,
    )


def wait_for_expiry(record: SagaRecord) -> None:
    """Sleep until ``record``'s lease has expired (by the log's clock, this machine's)."""
    assert record.lease_expires_at is not None
    time.sleep(max(0.0, record.lease_expires_at - time.time() + 0.05))


def recover(log: SagaLog) -> list[str]:
    outcomes = run_recovery(log, owner="test-recoverer", lease_seconds=30.0)
    return [outcome.saga_id for outcome in outcomes]


@dataclass(frozen=True)
class KilledRun:
    """One case's child run: where its log and ledger are, and how the child ended."""

    target: Target
    ledger: Path
    initial: dict[str, str]
    done: subprocess.CompletedProcess[str]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def killed_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, KilledRun]]:
    """Every case of :data:`CASES` run (and killed) at once, each on its own saga log
    (file or schema) and ledger, so the tests only wait for one round of processes."""
    base = tmp_path_factory.mktemp(f"killed-{request.param}")
    postgres_url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    targets: dict[str, Target] = {}
    for n, case in enumerate(CASES):
        if postgres_url is None:
            targets[str(case)] = Target(f"sqlite:///{base / f'sagas-{n}.db'}")
        else:
            targets[str(case)] = Target(postgres_url, f"test_{uuid.uuid4().hex[:16]}")
    initial: dict[str, dict[str, str]] = {}
    for n, case in enumerate(CASES):
        with EffectLedger(base / f"ledger-{n}.db") as ledger:
            initial[str(case)] = seed_previous_generation(ledger, SAGA, STEPS)

    def run(n: int, case: Case) -> KilledRun:
        ledger = base / f"ledger-{n}.db"
        done = run_child(
            command(
                targets[str(case)],
                ledger,
                fail_at=case.fail_at,
                fail_mode=case.fail_mode,
                concurrent=case.concurrent,
            ),
            crash_at=case.crash_at,
        )
        return KilledRun(targets[str(case)], ledger, initial[str(case)], done)

    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            runs = list(pool.map(run, range(len(CASES)), CASES))
        yield {str(case): run for case, run in zip(CASES, runs, strict=True)}
    finally:
        close_ledgers()
        if postgres_url is not None:
            drop_schemas(postgres_url, [t.schema for t in targets.values() if t.schema])


def drop_schemas(postgres_url: str, schemas: list[str]) -> None:
    import psycopg  # noqa: PLC0415 - only PostgreSQL runs need the driver

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.parametrize("case", CASES, ids=str)
def test_killed_saga_is_recovered_to_all_or_nothing(
    killed_runs: dict[str, KilledRun], case: Case
) -> None:
    """Killed at ``case`` (or finishing if the point is never reached), the saga ends
    committed with every effect or rolled back to the ledger's initial state, each effect
    undone exactly once, nothing in flight, and the point-specific log state is right."""
    run = killed_runs[str(case)]
    with EffectLedger(run.ledger) as ledger, run.target.open() as log:
        if case.point is FaultPoint.BEFORE_INTENT and case.step == 0:
            # Killed before its first intent, the saga wrote nothing: nothing to recover,
            # nothing happened, and its lock key was never taken.
            check_killed(run.done, crash_at=case.crash_at)
            assert log.list_sagas() == []
            assert recover(log) == []
            assert ledger.journal(SAGA) == []
            assert ledger.calls(SAGA) == []
            assert ledger.snapshot(f"{SAGA}/") == run.initial
            assert_lock_free(log)
            return
        at_crash = log.get_saga(SAGA)
        if case.reached:
            check_killed(run.done, crash_at=case.crash_at)
            assert at_crash.state in IN_FLIGHT_STATES
            wait_for_expiry(at_crash)
        else:
            assert run.done.returncode == 0, run.done.stderr
            assert json.loads(run.done.stdout)["state"] == case.expected.value
        assert recover(log) == ([SAGA] if case.reached else [])
        assert log.list_sagas(states=IN_FLIGHT_STATES) == []
        record = log.get_saga(SAGA)
        assert record.state is case.expected
        assert saga_problems(record, ledger, steps=STEPS, initial=run.initial) == []
        if case.reached:
            check_point_specifics(case, at_crash, record, ledger)
        if case.fail_mode == "refused":
            # Rejected, so never compensated: no call at all, by the child or recovery.
            assert record.steps[LAST].state is StepState.REJECTED
            assert LAST not in [step for _, step, _ in ledger.calls(SAGA)]
        assert_lock_free(log)


def assert_lock_free(log: SagaLog) -> None:
    """A new saga can take the lock key: the crashed one no longer holds it."""
    DistributedSaga("after-crash", log=log, lock_key=LOCK, registry=REGISTRY).commit()


def check_point_specifics(
    case: Case, at_crash: SagaRecord, record: SagaRecord, ledger: EffectLedger
) -> None:
    """What the log held at the kill, and what recovery did with it, for ``case.point``."""
    applied = ledger.effects(SAGA, "apply")
    undone = ledger.effects(SAGA, "undo")
    calls = [step for _, step, _ in ledger.calls(SAGA)]
    if case.point is FaultPoint.BEFORE_INTENT:
        assert case.step is not None
        # The step never started: it is not in the log and nothing of it happened or was undone.
        assert len(at_crash.steps) == case.step
        assert len(record.steps) == case.step
        assert applied[case.step] == undone[case.step] == 0
        assert case.step not in calls
        previous = planned_steps(SAGA, STEPS)[case.step].previous
        assert ledger.get(planned_steps(SAGA, STEPS)[case.step].key) == previous
    elif case.point is FaultPoint.AFTER_INTENT:
        assert case.step is not None
        # Intent logged, action never ran: compensated as a no-op, the previous value kept.
        assert at_crash.steps[case.step].state is StepState.STARTED
        assert applied[case.step] == undone[case.step] == 0
        assert record.steps[case.step].state is StepState.COMPENSATED
    elif case.point is FaultPoint.AFTER_ACTION:
        assert case.step is not None
        # The effect happened but the log still says started: recovery undoes it once.
        assert at_crash.steps[case.step].state is StepState.STARTED
        assert applied[case.step] == undone[case.step] == 1
    elif case.point is FaultPoint.AFTER_STEP:
        assert case.step is not None
        # The step returned; its outcome rides on the next write, so the log still says
        # started (the step before it is completed: its outcome came with this intent).
        assert at_crash.steps[case.step].state is StepState.STARTED
        assert all(s.state is StepState.COMPLETED for s in at_crash.steps[: case.step])
        assert applied[case.step] == undone[case.step] == 1
    elif case.point is FaultPoint.BEFORE_COMMIT:
        assert at_crash.state is SagaState.EXECUTING
        # The last outcome would have been written with the commit.
        assert [s.state for s in at_crash.steps] == [StepState.COMPLETED] * (STEPS - 1) + [
            StepState.STARTED
        ]
        assert dict(undone) == dict.fromkeys(range(STEPS), 1)
    else:
        assert case.step is not None
        assert at_crash.state is SagaState.COMPENSATING
        assert at_crash.steps[case.step].state is not StepState.COMPENSATED
        assert undone[case.step] == applied[case.step]
        # after_compensation: the compensation ran in the child and again in recovery,
        # which found nothing left to undo — two calls, one effect at most.
        ran_twice = case.point is FaultPoint.AFTER_COMPENSATION
        assert calls.count(case.step) == (2 if ran_twice else 1)
    assert all(step.state in (StepState.COMPENSATED, StepState.REJECTED) for step in record.steps)


@pytest.mark.parametrize("point", BACKWARD)
@pytest.mark.parametrize("at_step", [LAST, 0])
def test_recoverer_killed_while_compensating_is_finished_by_the_next_one(
    target: Target, tmp_path: Path, point: FaultPoint, at_step: int
) -> None:
    """A saga killed before commit, then a recoverer killed at ``point`` of step
    ``at_step``: a second recovery after the recoverer's lease expires finishes the
    rollback, each effect undone exactly once."""
    ledger_path = tmp_path / "ledger.db"
    with EffectLedger(ledger_path) as ledger:
        initial = seed_previous_generation(ledger, SAGA, STEPS)
        run_killed_child(command(target, ledger_path), crash_at=FaultPoint.BEFORE_COMMIT.value)
        with target.open() as log:
            wait_for_expiry(log.get_saga(SAGA))
        # The recoverer child claims with CHILD_LEASE too, so its claim expires quickly.
        run_killed_child(command(target, ledger_path, recover=True), crash_at=f"{point}:{at_step}")
        with target.open() as log:
            at_crash = log.get_saga(SAGA)
            assert at_crash.state is SagaState.COMPENSATING
            wait_for_expiry(at_crash)
            assert recover(log) == [SAGA]
            record = log.get_saga(SAGA)
            assert record.state is SagaState.ROLLED_BACK
            assert saga_problems(record, ledger, steps=STEPS, initial=initial) == []
            assert_lock_free(log)
            assert dict(ledger.effects(SAGA, "undo")) == dict.fromkeys(range(STEPS), 1)


@pytest.mark.parametrize("crash_at", [None, f"{FaultPoint.BEFORE_COMPENSATION}:1"])
def test_failed_saga_is_rolled_back_by_retry_once_its_compensation_works(
    target: Target, tmp_path: Path, crash_at: str | None
) -> None:
    """Step 1's compensation is broken, so the rollback (in the child, or by recovery
    after a kill) ends ``failed`` with step 1 still published; once the fault is gone,
    ``retry_saga`` undoes it and the saga is ``rolled_back`` with the initial ledger."""
    ledger_path = tmp_path / "ledger.db"
    with EffectLedger(ledger_path) as ledger:
        initial = seed_previous_generation(ledger, SAGA, STEPS)
        ledger.break_step(SAGA, 1)
        done = run_child(command(target, ledger_path, fail_at=LAST), crash_at=crash_at)
        with target.open() as log:
            if crash_at is None:
                assert done.returncode == 0, done.stderr
                assert json.loads(done.stdout)["state"] == "failed"
            else:
                check_killed(done, crash_at=crash_at)
                wait_for_expiry(log.get_saga(SAGA))
                outcomes = run_recovery(log, owner="test-recoverer")
                assert [(o.saga_id, o.state, o.remaining) for o in outcomes] == [
                    (SAGA, SagaState.FAILED, 1)
                ]
            failed = log.get_saga(SAGA)
            assert failed.state is SagaState.FAILED
            assert [s.state for s in failed.steps] == [
                StepState.COMPENSATED,
                StepState.COMPENSATION_FAILED,
                StepState.COMPENSATED,
            ]
            assert failed.steps[1].compensation_error is not None
            step1 = planned_steps(SAGA, STEPS)[1]
            assert ledger.get(step1.key) == step1.value  # still published, still to undo
            assert (
                saga_problems(
                    failed, ledger, steps=STEPS, initial=initial, allow=[SagaState.FAILED]
                )
                == []
            )
            assert recover(log) == []  # failed is an operator's business, not recovery's
            # It keeps its lock key until then: another saga's first step is refused.
            blocked = DistributedSaga("blocked", log=log, lock_key=LOCK, registry=REGISTRY)
            with pytest.raises(SagaLockedError):
                blocked.execute_step("never", action=lambda: pytest.fail("the action ran"))

            ledger.repair(SAGA)
            outcome = retry_saga(
                log,
                SAGA,
                registry=REGISTRY,
                owner="operator",
                compensation_retry=fast_compensation_retry(),
            )
            assert (outcome.state, outcome.undone, outcome.remaining) == (
                SagaState.ROLLED_BACK,
                1,
                0,
            )
            record = log.get_saga(SAGA)
            assert record.state is SagaState.ROLLED_BACK
            assert saga_problems(record, ledger, steps=STEPS, initial=initial) == []
            assert_lock_free(log)


def interrupt() -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize("ending", ["commit", "abort"])
def test_saga_interrupted_while_ending_stops_renewing_its_lease(
    target: Target, tmp_path: Path, ending: str
) -> None:
    """A saga interrupted (KeyboardInterrupt) inside ``commit()`` or ``abort()`` must stop
    renewing its lease, as one interrupted inside ``execute_step`` does, even while the
    caller still holds the object: otherwise recovery can never claim it and it stays in
    flight (holding its lock key) for as long as the process lives."""
    point = FaultPoint.BEFORE_COMMIT if ending == "commit" else FaultPoint.BEFORE_COMPENSATION
    with EffectLedger(tmp_path / "ledger.db") as ledger, target.open() as log:
        initial = seed_previous_generation(ledger, SAGA, 2)
        saga = DistributedSaga(
            SAGA,
            log=log,
            registry=REGISTRY,
            lease_seconds=0.3,
            owner="runner",
            faults=FaultPlan(point, None, interrupt),
            compensation_retry=fast_compensation_retry(),
        )
        check_intent = log_intent_check(log, SAGA, "runner")
        for step in planned_steps(SAGA, 2):
            saga.execute_step(
                step.name, *ledger_step(ledger, SAGA, step, check_intent=check_intent)
            )
        end = saga.commit if ending == "commit" else partial(saga.abort, "the caller gave up")
        with pytest.raises(KeyboardInterrupt):
            end()
        try:
            # An outer handler caught the interrupt; the process lives on, holding `saga`.
            assert saga.state in IN_FLIGHT_STATES
            time.sleep(1.0)  # three leases
            with target.open() as other:
                assert recover(other) == [SAGA]
                record = other.get_saga(SAGA)
            assert record.state is SagaState.ROLLED_BACK
            assert saga_problems(record, ledger, steps=2, initial=initial) == []
        finally:
            # What dropping the object does: stop renewing, so nothing renews after the test.
            saga._finalizer()


# -- many sagas on one log, killed while their writes are batched -------------------------

THREADS = 8
THREADED = "threaded"
"""The prefix of the sagas one child runs at once: ``threaded-0`` ... ``threaded-7``."""


def threaded_ids() -> list[str]:
    return [f"{THREADED}-{k}" for k in range(THREADS)]


def threaded_child(tmp_path: Path) -> tuple[str, Path, dict[str, dict[str, str]]]:
    """A SQLite log and a ledger seeded for every saga of a threaded child: the log's URL,
    the ledger's path, and each saga's initial keys."""
    ledger = tmp_path / "ledger.db"
    with EffectLedger(ledger) as seeded:
        initial = {s: seed_previous_generation(seeded, s, STEPS) for s in threaded_ids()}
    return f"sqlite:///{tmp_path / 'sagas.db'}", ledger, initial


def test_sagas_run_at_once_on_one_sqlite_log_share_commits(tmp_path: Path) -> None:
    """The threaded child's sagas do write in shared batches: fewer commits than writes."""
    url, ledger, _ = threaded_child(tmp_path)
    done = run_child(
        child_command(
            url, ledger, saga_id=THREADED, steps=STEPS, lease_seconds=CHILD_LEASE, threads=THREADS
        )
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["states"] == dict.fromkeys(threaded_ids(), "committed")
    assert report["batches"] < report["writes"]
    close_ledgers()


@pytest.mark.parametrize(
    "crash_at",
    ["after_intent:1", "after_action:2", "after_step:0", "before_commit"],
)
def test_sagas_killed_while_their_writes_are_batched_are_each_all_or_nothing(
    tmp_path: Path, crash_at: str
) -> None:
    """Eight sagas write through one SQLite log's group commit when the first to reach
    ``crash_at`` kills the process: whatever of the others was queued, in a batch or
    committed, recovery leaves every saga committed with every effect or rolled back to
    its initial keys, each effect undone exactly once, none without its intent logged."""
    url, ledger_path, initial = threaded_child(tmp_path)
    run_killed_child(
        child_command(
            url,
            ledger_path,
            saga_id=THREADED,
            steps=STEPS,
            lease_seconds=CHILD_LEASE,
            threads=THREADS,
        ),
        crash_at=crash_at,
    )
    with EffectLedger(ledger_path) as ledger, open_log(url) as log:
        logged = {record.saga_id: record for record in log.list_sagas()}
        in_flight = [r for r in logged.values() if r.state in IN_FLIGHT_STATES]
        assert in_flight, "the kill left no saga in flight"
        for record in in_flight:
            wait_for_expiry(record)
        assert sorted(recover(log)) == sorted(r.saga_id for r in in_flight)
        assert log.list_sagas(states=IN_FLIGHT_STATES) == []
        for saga_id in threaded_ids():
            if saga_id not in logged:
                # Killed before its first intent was committed: nothing of it happened.
                assert ledger.journal(saga_id) == []
                assert ledger.snapshot(f"{saga_id}/") == initial[saga_id]
                continue
            record = log.get_saga(saga_id)
            assert saga_problems(record, ledger, steps=STEPS, initial=initial[saga_id]) == []
    close_ledgers()
