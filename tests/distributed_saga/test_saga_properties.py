"""Property: whatever fails and wherever the process dies, a saga ends all or nothing.

Hypothesis draws a ledger saga (1-6 steps), an action failure (none, or step ``k`` failing
before or after its effect, or refused with proof of no effect), a crash (none, or any
:class:`FaultPoint` at any step), whether compensations are the concurrent kind and, with
no failure, whether the saga is aborted instead of committed. The crash is simulated
in-process: the fault raises a ``BaseException`` the engine does not catch, the saga object
is dropped, its lease lapses, and recovery runs on the same log under another owner. The
same invariants are then checked on the memory log and on SQLite; a few examples also kill
a real child process with SIGKILL and recover in a second process.

Order is part of the property: every step's action checks, the moment it runs, that the
log already holds its intent with its compensation (the crash kit's ``log_intent_check``),
and the saga fails the property otherwise. ``event()`` labels each example (where it
crashed, how it failed) and ``target()`` steers towards examples with many checked actions
and undone effects; ``pytest --hypothesis-show-statistics`` shows what was generated.
"""

from __future__ import annotations

import gc
import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st

from distributed_saga import FaultPlan, FaultPoint, SagaState, StepState
from distributed_saga._records import IN_FLIGHT_STATES
from distributed_saga.log import MemorySagaLog, SagaLog
from distributed_saga.testing.crashing import (
    EffectLedger,
    FailMode,
    child_command,
    close_ledgers,
    fault_reached,
    open_log,
    run_child,
    run_killed_child,
    run_recovery,
    run_saga,
    saga_problems,
    seed_previous_generation,
)

SAGA = "prop-saga"
LEASE = 0.05
BACKWARD = (FaultPoint.BEFORE_COMPENSATION, FaultPoint.AFTER_COMPENSATION)


class SimulatedCrash(BaseException):
    """The process "dies" here: the engine catches only ``Exception``, so this escapes."""


def crash() -> None:
    raise SimulatedCrash


@dataclass(frozen=True)
class Scenario:
    steps: int
    fail_at: int | None
    fail_mode: FailMode
    crash_point: FaultPoint | None
    crash_step: int | None
    concurrent: bool
    abort: bool
    """With no failure, abort instead of committing."""

    @property
    def crashes(self) -> bool:
        if self.crash_point is None:
            return False
        return fault_reached(
            self.crash_point,
            self.crash_step,
            steps=self.steps,
            fail_at=self.fail_at,
            fail_mode=self.fail_mode,
            abort=self.abort,
        )

    @property
    def writes_nothing(self) -> bool:
        """Killed before the first intent, which would have created the saga in the log."""
        return (
            self.crashes and self.crash_point is FaultPoint.BEFORE_INTENT and self.crash_step == 0
        )

    @property
    def expected(self) -> SagaState:
        if self.crashes or self.fail_at is not None or self.abort:
            return SagaState.ROLLED_BACK
        return SagaState.COMMITTED

    @property
    def crash_at(self) -> str | None:
        if self.crash_point is None:
            return None
        if self.crash_step is None:
            return self.crash_point.value
        return f"{self.crash_point.value}:{self.crash_step}"


@st.composite
def scenarios(draw: st.DrawFn, max_steps: int = 6) -> Scenario:
    steps = draw(st.integers(1, max_steps))
    fail_at = draw(st.none() | st.integers(0, steps - 1))
    fail_mode: FailMode = draw(st.sampled_from(["before", "after", "refused"]))
    crash_point = draw(st.none() | st.sampled_from(list(FaultPoint)))
    crash_step = None
    if crash_point is not None and crash_point is not FaultPoint.BEFORE_COMMIT:
        crash_step = draw(st.integers(0, steps - 1))
    concurrent = draw(st.booleans())
    abort = fail_at is None and draw(st.booleans())
    return Scenario(steps, fail_at, fail_mode, crash_point, crash_step, concurrent, abort)


@contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="saga-prop-") as directory:
        try:
            yield Path(directory)
        finally:
            close_ledgers()


def label(scenario: Scenario) -> None:
    """Tell Hypothesis's statistics what kind of example ``scenario`` is."""
    if scenario.crash_point is None:
        event("crash: none")
    elif not scenario.crashes:
        event("crash: planned but never reached")
    elif scenario.writes_nothing:
        event("crash: forward, before the first intent (nothing written)")
    else:
        direction = "backward" if scenario.crash_point in BACKWARD else "forward"
        event(f"crash: {direction}, {scenario.crash_point.value}")
    if scenario.fail_at is None:
        event("ends by: abort" if scenario.abort else "ends by: commit")
    else:
        event(f"ends by: step failing {scenario.fail_mode}")
    event(f"steps: {scenario.steps}")


def aim(ledger: EffectLedger) -> None:
    """Steer Hypothesis towards examples where much happened before the end."""
    target(float(len(ledger.intent_checks(SAGA))), label="actions that checked their intent")
    target(float(sum(ledger.effects(SAGA, "undo").values())), label="effects undone")


def check_nothing_happened(log: SagaLog, ledger: EffectLedger, initial: dict[str, str]) -> None:
    """A saga that died before its first intent: the log holds nothing of it, recovery has
    nothing to do, and the ledger is as it was."""
    assert log.list_sagas() == []
    assert run_recovery(log, owner="recoverer") == []
    assert ledger.journal(SAGA) == []
    assert ledger.calls(SAGA) == []
    assert ledger.snapshot(f"{SAGA}/") == initial


def check_in_process(log: SagaLog, ledger: EffectLedger, scenario: Scenario) -> None:
    """Run ``scenario`` in this process, "crash", recover under another owner, check."""
    label(scenario)
    initial = seed_previous_generation(ledger, SAGA, scenario.steps)
    faults = FaultPlan()
    if scenario.crash_point is not None:
        faults = FaultPlan(scenario.crash_point, scenario.crash_step, crash)
    crashed = False
    try:
        state = run_saga(
            log,
            ledger,
            saga_id=SAGA,
            steps=scenario.steps,
            fail_at=scenario.fail_at,
            fail_mode=scenario.fail_mode,
            lease_seconds=LEASE,
            faults=faults,
            owner="runner",
            concurrent=scenario.concurrent,
            abort=scenario.abort,
        )
    except SimulatedCrash:
        crashed = True
    else:
        assert state is scenario.expected
    assert crashed == scenario.crashes
    gc.collect()  # the dropped saga stops renewing its lease (its finalizer runs)
    if scenario.writes_nothing:
        check_nothing_happened(log, ledger, initial)
        return

    at_crash = log.get_saga(SAGA)
    if crashed:
        assert at_crash.state in IN_FLIGHT_STATES
        assert at_crash.lease_expires_at is not None
        time.sleep(max(0.0, at_crash.lease_expires_at - time.time() + 0.02))
    # The failure was written to the log unless the crash came first (going forward).
    failure_recorded = not crashed or scenario.crash_point in BACKWARD
    outcomes = run_recovery(log, owner="recoverer")
    assert [o.saga_id for o in outcomes] == ([SAGA] if crashed else [])
    assert log.list_sagas(states=IN_FLIGHT_STATES) == []
    record = log.get_saga(SAGA)
    assert record.state is scenario.expected
    assert saga_problems(record, ledger, steps=scenario.steps, initial=initial) == []
    aim(ledger)
    if crashed and scenario.crash_point is FaultPoint.BEFORE_INTENT:
        assert len(record.steps) == scenario.crash_step
    if scenario.fail_at is not None and scenario.fail_mode in ("before", "refused"):
        # The failing step wrote nothing, so its compensation must change nothing.
        assert ledger.effects(SAGA, "apply")[scenario.fail_at] == 0
        assert ledger.effects(SAGA, "undo")[scenario.fail_at] == 0
    if scenario.fail_at is not None and scenario.fail_mode == "refused" and failure_recorded:
        # Refused is proof of no effect: recorded rejected and never compensated.
        assert record.steps[scenario.fail_at].state is StepState.REJECTED
        assert scenario.fail_at not in [step for _, step, _ in ledger.calls(SAGA)]
    if record.state is SagaState.ROLLED_BACK:
        assert all(
            step.state in (StepState.COMPENSATED, StepState.REJECTED) for step in record.steps
        )


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_memory_log_saga_is_all_or_nothing_after_any_failure_and_crash(
    scenario: Scenario,
) -> None:
    """On the memory log: committed with every effect, or rolled back to the initial ledger
    with each effect undone exactly once, for every failure, crash point and step count."""
    with scratch() as directory, EffectLedger(directory / "ledger.db") as ledger:
        check_in_process(MemorySagaLog(), ledger, scenario)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_sqlite_log_saga_is_all_or_nothing_after_any_failure_and_crash(
    scenario: Scenario,
) -> None:
    """The same property on a SQLite saga log (durable, with a lease-renewing thread)."""
    with scratch() as directory, EffectLedger(directory / "ledger.db") as ledger:
        log = open_log(f"sqlite:///{directory / 'sagas.db'}?synchronous=NORMAL")
        try:
            check_in_process(log, ledger, scenario)
        finally:
            log.close()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(max_steps=4).filter(lambda s: s.crashes))
def test_sigkilled_child_saga_is_recovered_by_another_process(scenario: Scenario) -> None:
    """A real child killed with SIGKILL at the drawn point; a second process recovers it
    after the lease expires; the invariants hold on the SQLite log and the ledger."""
    with scratch() as directory, EffectLedger(directory / "ledger.db") as ledger:
        label(scenario)
        url = f"sqlite:///{directory / 'sagas.db'}"
        initial = seed_previous_generation(ledger, SAGA, scenario.steps)
        assert scenario.crash_at is not None
        run_killed_child(
            child_command(
                url,
                ledger.path,
                saga_id=SAGA,
                fail_at=scenario.fail_at,
                fail_mode=scenario.fail_mode,
                concurrent=scenario.concurrent,
                abort=scenario.abort,
                steps=scenario.steps,
                lease_seconds=0.3,
            ),
            crash_at=scenario.crash_at,
        )
        if scenario.writes_nothing:
            with open_log(url) as log:
                check_nothing_happened(log, ledger, initial)
            return
        with open_log(url) as log:
            at_crash = log.get_saga(SAGA)
        assert at_crash.state in IN_FLIGHT_STATES
        assert at_crash.lease_expires_at is not None
        time.sleep(max(0.0, at_crash.lease_expires_at - time.time() + 0.05))
        recoverer = run_child(child_command(url, ledger.path, recover=True, lease_seconds=0.3))
        assert recoverer.returncode == 0, recoverer.stderr
        report = json.loads(recoverer.stdout)
        assert [r["saga_id"] for r in report["recovered"]] == [SAGA]
        with open_log(url) as log:
            assert log.list_sagas(states=IN_FLIGHT_STATES) == []
            record = log.get_saga(SAGA)
        assert record.state is SagaState.ROLLED_BACK
        assert saga_problems(record, ledger, steps=scenario.steps, initial=initial) == []
