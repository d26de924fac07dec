"""The saga log contract as tests, for every backend to pass.

Subclass :class:`SagaLogContract` in a test module (its name has no ``Test`` prefix, so it
is only collected through a subclass) and give it a ``log`` fixture that yields a fresh,
empty :class:`~distributed_saga.log.SagaLog`::

    class TestMySagaLog(SagaLogContract):
        @pytest.fixture
        def log(self, tmp_path):
            with MySagaLog(tmp_path / "sagas") as log:
                yield log

A durable log is reopened through ``open_saga_log(log.url)``; override the ``reopen_log``
fixture (a function returning a new log on the same store) when the URL is not enough,
for example because it had its password removed.

Creation order is compared across sagas created a few milliseconds apart: a backend's
clock may be that coarse (SQLite's is), and ties are broken by saga id.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from distributed_saga._errors import (
    LeaseLostError,
    SagaExistsError,
    SagaLockedError,
    SagaNotFoundError,
    SagaStateError,
)
from distributed_saga._records import SagaState, StepOutcome, StepState
from distributed_saga.compensations import Compensation
from distributed_saga.log import SagaLog, open_saga_log

__all__ = ["SagaLogContract"]

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


class SagaLogContract:
    """Tests every :class:`~distributed_saga.log.SagaLog` backend must pass."""

    @pytest.fixture
    def reopen_log(self, log: SagaLog) -> Callable[[], SagaLog]:
        """A function opening the same store as ``log`` again (durable logs only)."""
        if not log.durable:
            pytest.skip(f"{type(log).__name__} is not durable")
        return lambda: open_saga_log(log.url)

    # -- creating ---------------------------------------------------------------------

    def test_create_saga_records_pending_saga_owned_under_a_lease(self, log: SagaLog) -> None:
        log.create_saga(
            "s1", "alice", owner=OWNER, lease_seconds=LEASE, lock_key="doc", metadata={"a": 1}
        )
        created = log.get_saga("s1")
        assert created.saga_id == "s1"
        assert created.user_id == "alice"
        assert created.state is SagaState.PENDING
        assert created.lock_key == "doc"
        assert created.owner == OWNER
        assert created.lease_seconds == LEASE
        assert created.metadata == {"a": 1}
        assert created.steps == ()
        assert created.created_at is not None
        assert created.lease_expires_at == pytest.approx(created.created_at + LEASE, abs=0.5)
        assert created.updated_at == pytest.approx(created.created_at, abs=0.5)

    def test_create_saga_accepts_no_user_lock_or_metadata(self, log: SagaLog) -> None:
        log.create_saga("s1", None, owner=OWNER, lease_seconds=LEASE)
        created = log.get_saga("s1")
        assert (created.user_id, created.lock_key, dict(created.metadata)) == (None, None, {})

    def test_create_saga_with_a_taken_id_raises_exists_and_keeps_the_first(
        self, log: SagaLog
    ) -> None:
        log.create_saga("s1", "alice", owner=OWNER, lease_seconds=LEASE)
        first = log.get_saga("s1")
        with pytest.raises(SagaExistsError) as raised:
            log.create_saga("s1", "bob", owner=OTHER, lease_seconds=1.0)
        assert raised.value.saga_id == "s1"
        assert log.get_saga("s1") == first

    @pytest.mark.parametrize(
        "holder_state",
        [SagaState.PENDING, SagaState.EXECUTING, SagaState.COMPENSATING, SagaState.FAILED],
    )
    def test_unfinished_saga_holding_a_lock_key_refuses_a_new_saga(
        self, log: SagaLog, holder_state: SagaState
    ) -> None:
        drive(log, "holder", holder_state, lock_key="doc")
        with pytest.raises(SagaLockedError) as raised:
            log.create_saga("s2", None, owner=OWNER, lease_seconds=LEASE, lock_key="doc")
        assert (raised.value.lock_key, raised.value.holder_saga_id) == ("doc", "holder")
        with pytest.raises(SagaNotFoundError):
            log.get_saga("s2")

    @pytest.mark.parametrize("holder_state", [SagaState.COMMITTED, SagaState.ROLLED_BACK])
    def test_finished_saga_releases_its_lock_key(
        self, log: SagaLog, holder_state: SagaState
    ) -> None:
        drive(log, "holder", holder_state, lock_key="doc")
        log.create_saga("s2", None, owner=OWNER, lease_seconds=LEASE, lock_key="doc")
        assert log.get_saga("s2").lock_key == "doc"
        assert [s.saga_id for s in log.list_sagas(lock_key="doc")] == ["s2", "holder"]

    def test_lock_key_is_released_exactly_when_the_holder_commits(self, log: SagaLog) -> None:
        drive(log, "holder", SagaState.EXECUTING, lock_key="doc")
        with pytest.raises(SagaLockedError):
            log.create_saga("s2", None, owner=OWNER, lease_seconds=LEASE, lock_key="doc")
        log.finish_saga("holder", OWNER, SagaState.COMMITTED)
        log.create_saga("s2", None, owner=OWNER, lease_seconds=LEASE, lock_key="doc")

    def test_taken_id_is_reported_before_a_held_lock_key(self, log: SagaLog) -> None:
        log.create_saga("s1", None, owner=OWNER, lease_seconds=LEASE, lock_key="doc")
        with pytest.raises(SagaExistsError):
            log.create_saga("s1", None, owner=OWNER, lease_seconds=LEASE, lock_key="doc")

    def test_sagas_without_lock_keys_or_with_different_keys_coexist(self, log: SagaLog) -> None:
        log.create_saga("s1", None, owner=OWNER, lease_seconds=LEASE)
        log.create_saga("s2", None, owner=OWNER, lease_seconds=LEASE)
        log.create_saga("s3", None, owner=OWNER, lease_seconds=LEASE, lock_key="a")
        log.create_saga("s4", None, owner=OWNER, lease_seconds=LEASE, lock_key="b")
        assert len(log.list_sagas()) == 4

    # -- intents ----------------------------------------------------------------------

    def test_record_intent_writes_a_started_step_and_moves_the_saga_to_executing(
        self, log: SagaLog
    ) -> None:
        log.create_saga("s1", None, owner=OWNER, lease_seconds=LEASE)
        log.record_intent(
            "s1",
            OWNER,
            index=0,
            name="reserve",
            compensation=Compensation("release", {"seat": "12A"}),
            in_process_rollback=True,
            idempotency_key="s1:reserve",
        )
        saga = log.get_saga("s1")
        assert saga.state is SagaState.EXECUTING
        (step,) = saga.steps
        assert (step.saga_id, step.index, step.name) == ("s1", 0, "reserve")
        assert step.state is StepState.STARTED
        assert (step.compensation, step.compensation_args) == ("release", {"seat": "12A"})
        assert step.in_process_rollback is True
        assert step.idempotency_key == "s1:reserve"
        assert (step.attempts, step.error, step.finished_at) == (0, None, None)
        assert step.started_at is not None

    def test_record_intent_keeps_steps_in_index_order(self, log: SagaLog) -> None:
        log.create_saga("s1", None, owner=OWNER, lease_seconds=LEASE)
        for index in range(3):
            intent(log, "s1", index=index)
            log.record_step_result("s1", OWNER, index=index, state=StepState.COMPLETED, attempts=1)
        steps = log.get_saga("s1").steps
        assert [(s.index, s.name) for s in steps] == [(0, "step-0"), (1, "step-1"), (2, "step-2")]

    @pytest.mark.parametrize("index", [1, 2, -1])
    def test_record_intent_refuses_an_index_that_is_not_the_next(
        self, log: SagaLog, index: int
    ) -> None:
        log.create_saga("s1", None, owner=OWNER, lease_seconds=LEASE)
        before = log.get_saga("s1")
        with pytest.raises(SagaStateError):
            intent(log, "s1", index=index)
        assert log.get_saga("s1") == before

    def test_record_intent_refuses_to_write_the_same_step_twice(self, log: SagaLog) -> None:
        log.create_saga("s1", None, owner=OWNER, lease_seconds=LEASE)
        intent(log, "s1", index=0)
        before = log.get_saga("s1")
        with pytest.raises(SagaStateError):
            intent(log, "s1", index=0, name="again")
        assert log.get_saga("s1") == before

    def test_record_intent_refused_while_compensating(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.COMPENSATING)
        with pytest.raises(SagaStateError):
            intent(log, "s1", index=1)
        assert len(log.get_saga("s1").steps) == 1

    def test_empty_compensation_args_are_recorded_as_none(self, log: SagaLog) -> None:
        log.create_saga("s1", None, owner=OWNER, lease_seconds=LEASE)
        intent(log, "s1", index=0, compensation=Compensation("undo", {}))
        intent(log, "s1", index=1, compensation=None)
        steps = log.get_saga("s1").steps
        assert [(s.compensation, s.compensation_args) for s in steps] == [
            ("undo", None),
            (None, None),
        ]

    def test_compensation_args_are_recorded_as_they_were_when_it_was_made(
        self, log: SagaLog
    ) -> None:
        args = {"seat": "12A"}
        undo = Compensation("release", args)
        args["seat"] = "99Z"
        log.create_saga("s1", None, owner=OWNER, lease_seconds=LEASE)
        intent(log, "s1", index=0, compensation=undo)
        assert log.get_saga("s1").steps[0].compensation_args == {"seat": "12A"}

    # -- step results -----------------------------------------------------------------

    def test_record_step_result_completed_sets_attempts_and_finish_time(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.EXECUTING)
        log.record_step_result("s1", OWNER, index=0, state=StepState.COMPLETED, attempts=3)
        (step,) = log.get_saga("s1").steps
        assert (step.state, step.attempts, step.error) == (StepState.COMPLETED, 3, None)
        assert step.finished_at is not None
        assert step.started_at is not None
        assert step.finished_at >= step.started_at

    def test_record_intent_records_the_previous_steps_outcome_in_the_same_write(
        self, log: SagaLog
    ) -> None:
        drive(log, "s1", SagaState.EXECUTING)
        intent(log, "s1", index=1, completed=StepOutcome(0, StepState.COMPLETED, 2))
        first, second = log.get_saga("s1").steps
        assert (first.state, first.attempts, first.error) == (StepState.COMPLETED, 2, None)
        assert first.finished_at is not None
        assert second.state is StepState.STARTED

    def test_refused_intent_records_no_outcome_either(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.EXECUTING)
        with pytest.raises(LeaseLostError):
            intent(log, "s1", OTHER, index=1, completed=StepOutcome(0, StepState.COMPLETED, 1))
        (step,) = log.get_saga("s1").steps
        assert step.state is StepState.STARTED

    @pytest.mark.parametrize("state", [StepState.STARTED, StepState.COMPENSATED])
    def test_an_outcome_a_step_cannot_end_in_is_refused_and_writes_nothing(
        self, log: SagaLog, state: StepState
    ) -> None:
        drive(log, "s1", SagaState.EXECUTING)
        with pytest.raises(ValueError, match="completed, failed or rejected"):
            intent(log, "s1", index=1, completed=StepOutcome(0, state, 1))
        with pytest.raises(ValueError, match="completed, failed or rejected"):
            log.finish_saga("s1", OWNER, SagaState.COMMITTED, completed=StepOutcome(0, state, 1))
        saga = log.get_saga("s1")
        assert saga.state is SagaState.EXECUTING
        assert [step.state for step in saga.steps] == [StepState.STARTED]

    def test_commit_records_the_last_steps_outcome_in_the_same_write(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.EXECUTING)
        log.finish_saga(
            "s1", OWNER, SagaState.COMMITTED, completed=StepOutcome(0, StepState.COMPLETED, 1)
        )
        saga = log.get_saga("s1")
        assert saga.state is SagaState.COMMITTED
        assert saga.steps[0].state is StepState.COMPLETED

    def test_refused_commit_records_no_outcome_either(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.EXECUTING)
        with pytest.raises(LeaseLostError):
            log.finish_saga(
                "s1", OTHER, SagaState.COMMITTED, completed=StepOutcome(0, StepState.COMPLETED, 1)
            )
        saga = log.get_saga("s1")
        assert (saga.state, saga.steps[0].state) == (SagaState.EXECUTING, StepState.STARTED)

    def test_record_step_result_failed_keeps_the_error(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.EXECUTING)
        log.record_step_result(
            "s1", OWNER, index=0, state=StepState.FAILED, attempts=2, error="timeout"
        )
        (step,) = log.get_saga("s1").steps
        assert (step.state, step.attempts, step.error) == (StepState.FAILED, 2, "timeout")

    def test_record_step_result_rejected_records_a_step_with_nothing_to_undo(
        self, log: SagaLog
    ) -> None:
        drive(log, "s1", SagaState.EXECUTING)
        log.record_step_result(
            "s1", OWNER, index=0, state=StepState.REJECTED, attempts=3, error="refused"
        )
        (step,) = log.get_saga("s1").steps
        assert (step.state, step.attempts, step.error) == (StepState.REJECTED, 3, "refused")
        assert step.finished_at is not None
        assert not step.needs_compensation
        assert log.get_saga("s1").remaining_compensations == ()

    def test_record_step_result_is_accepted_while_compensating(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.COMPENSATING)
        log.record_step_result("s1", OWNER, index=0, state=StepState.COMPLETED, attempts=5)
        assert log.get_saga("s1").steps[0].attempts == 5

    @pytest.mark.parametrize(
        "state", [StepState.STARTED, StepState.COMPENSATED, StepState.COMPENSATION_FAILED]
    )
    def test_record_step_result_rejects_a_state_that_is_not_a_result(
        self, log: SagaLog, state: StepState
    ) -> None:
        drive(log, "s1", SagaState.EXECUTING)
        with pytest.raises(ValueError, match="a step's result is"):
            log.record_step_result("s1", OWNER, index=0, state=state, attempts=1)

    def test_record_step_result_for_a_step_never_started_raises_state_error(
        self, log: SagaLog
    ) -> None:
        drive(log, "s1", SagaState.EXECUTING)
        before = log.get_saga("s1")
        with pytest.raises(SagaStateError):
            log.record_step_result("s1", OWNER, index=1, state=StepState.COMPLETED, attempts=1)
        assert log.get_saga("s1") == before

    def test_record_step_result_refused_while_pending(self, log: SagaLog) -> None:
        log.create_saga("s1", None, owner=OWNER, lease_seconds=LEASE)
        with pytest.raises(SagaStateError):
            log.record_step_result("s1", OWNER, index=0, state=StepState.COMPLETED, attempts=1)

    # -- compensation -----------------------------------------------------------------

    def test_begin_compensation_records_the_failed_step_and_error(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.EXECUTING)
        log.begin_compensation("s1", OWNER, failed_at="step-0", error="boom")
        saga = log.get_saga("s1")
        assert (saga.state, saga.failed_at, saga.error) == (
            SagaState.COMPENSATING,
            "step-0",
            "boom",
        )

    def test_begin_compensation_again_with_none_keeps_the_recorded_failure(
        self, log: SagaLog
    ) -> None:
        drive(log, "s1", SagaState.EXECUTING)
        log.begin_compensation("s1", OWNER, failed_at="step-0", error="boom")
        log.begin_compensation("s1", OWNER, failed_at=None, error=None)
        saga = log.get_saga("s1")
        assert (saga.state, saga.failed_at, saga.error) == (
            SagaState.COMPENSATING,
            "step-0",
            "boom",
        )
        log.begin_compensation("s1", OWNER, failed_at=None, error="newer")
        assert (log.get_saga("s1").failed_at, log.get_saga("s1").error) == ("step-0", "newer")

    @pytest.mark.parametrize(
        "state", [SagaState.PENDING, SagaState.EXECUTING, SagaState.COMPENSATING]
    )
    def test_begin_compensation_is_allowed_from_every_in_flight_state(
        self, log: SagaLog, state: SagaState
    ) -> None:
        drive(log, "s1", state)
        log.begin_compensation("s1", OWNER, failed_at=None, error=None)
        assert log.get_saga("s1").state is SagaState.COMPENSATING

    def test_begin_compensation_retries_a_failed_saga_after_claiming_it(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.FAILED)
        log.claim_saga("s1", OTHER, LEASE, from_states={SagaState.FAILED})
        log.begin_compensation("s1", OTHER, failed_at=None, error=None)
        saga = log.get_saga("s1")
        assert (saga.state, saga.owner, saga.failed_at) == (
            SagaState.COMPENSATING,
            OTHER,
            "step-0",
        )

    def test_begin_compensation_refuses_a_committed_saga(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.COMMITTED)
        log.claim_saga("s1", OWNER, LEASE, from_states={SagaState.COMMITTED})
        with pytest.raises(SagaStateError):
            log.begin_compensation("s1", OWNER, failed_at=None, error=None)
        assert log.get_saga("s1").state is SagaState.COMMITTED

    def test_record_compensation_success_marks_the_step_compensated(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.COMPENSATING)
        log.record_compensation("s1", OWNER, index=0, succeeded=True, attempts=2)
        (step,) = log.get_saga("s1").steps
        assert step.state is StepState.COMPENSATED
        assert (step.compensation_attempts, step.compensation_error) == (2, None)
        assert step.compensated_at is not None
        assert not step.needs_compensation

    def test_record_compensation_failure_keeps_the_error_and_a_retry_clears_it(
        self, log: SagaLog
    ) -> None:
        drive(log, "s1", SagaState.COMPENSATING)
        log.record_compensation("s1", OWNER, index=0, succeeded=False, attempts=3, error="503")
        (step,) = log.get_saga("s1").steps
        assert step.state is StepState.COMPENSATION_FAILED
        assert (step.compensation_attempts, step.compensation_error) == (3, "503")
        assert step.compensated_at is None
        assert step.needs_compensation
        log.record_compensation("s1", OWNER, index=0, succeeded=True, attempts=1)
        (step,) = log.get_saga("s1").steps
        assert step.state is StepState.COMPENSATED
        assert (step.compensation_attempts, step.compensation_error) == (4, None)
        assert step.compensated_at is not None

    def test_record_compensation_refused_unless_compensating(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.EXECUTING)
        before = log.get_saga("s1")
        with pytest.raises(SagaStateError):
            log.record_compensation("s1", OWNER, index=0, succeeded=True, attempts=1)
        assert log.get_saga("s1") == before

    def test_record_compensation_for_an_unknown_step_raises_state_error(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.COMPENSATING)
        with pytest.raises(SagaStateError):
            log.record_compensation("s1", OWNER, index=7, succeeded=True, attempts=1)

    # -- finishing --------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            (SagaState.PENDING, SagaState.COMMITTED),
            (SagaState.EXECUTING, SagaState.COMMITTED),
            (SagaState.COMPENSATING, SagaState.ROLLED_BACK),
            (SagaState.COMPENSATING, SagaState.FAILED),
        ],
    )
    def test_finish_saga_ends_the_saga_and_clears_owner_and_lease(
        self, log: SagaLog, start: SagaState, end: SagaState
    ) -> None:
        drive(log, "s1", start)
        log.finish_saga("s1", OWNER, end)
        saga = log.get_saga("s1")
        assert (saga.state, saga.owner, saga.lease_expires_at) == (end, None, None)

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            (SagaState.COMPENSATING, SagaState.COMMITTED),
            (SagaState.PENDING, SagaState.ROLLED_BACK),
            (SagaState.EXECUTING, SagaState.ROLLED_BACK),
            (SagaState.EXECUTING, SagaState.FAILED),
        ],
    )
    def test_finish_saga_refuses_a_transition_the_contract_forbids(
        self, log: SagaLog, start: SagaState, end: SagaState
    ) -> None:
        drive(log, "s1", start)
        before = log.get_saga("s1")
        with pytest.raises(SagaStateError):
            log.finish_saga("s1", OWNER, end)
        assert log.get_saga("s1") == before

    @pytest.mark.parametrize(
        "state", [SagaState.PENDING, SagaState.EXECUTING, SagaState.COMPENSATING]
    )
    def test_finish_saga_rejects_a_state_that_is_not_final(
        self, log: SagaLog, state: SagaState
    ) -> None:
        drive(log, "s1", SagaState.EXECUTING)
        with pytest.raises(ValueError, match="finishes"):
            log.finish_saga("s1", OWNER, state)

    def test_finished_saga_has_no_owner_so_further_writes_are_fenced_out(
        self, log: SagaLog
    ) -> None:
        drive(log, "s1", SagaState.COMMITTED)
        with pytest.raises(LeaseLostError):
            log.begin_compensation("s1", OWNER, failed_at=None, error=None)

    # -- fencing ----------------------------------------------------------------------

    @fenced_writes
    def test_write_by_another_owner_raises_lease_lost_and_changes_nothing(
        self, log: SagaLog, start: SagaState, write: Write
    ) -> None:
        drive(log, "s1", start)
        before = log.get_saga("s1")
        with pytest.raises(LeaseLostError) as raised:
            write(log, "s1", OTHER)
        assert (raised.value.saga_id, raised.value.owner) == ("s1", OTHER)
        assert log.get_saga("s1") == before

    @fenced_writes
    def test_write_to_a_missing_saga_raises_not_found(
        self, log: SagaLog, start: SagaState, write: Write
    ) -> None:
        with pytest.raises(SagaNotFoundError) as raised:
            write(log, "nope", OWNER)
        assert raised.value.saga_id == "nope"

    @fenced_writes
    def test_write_by_the_owner_renews_the_lease_or_ends_it(
        self, log: SagaLog, start: SagaState, write: Write
    ) -> None:
        drive(log, "s1", start)
        before = log.get_saga("s1")
        time.sleep(TICK * 4)
        write(log, "s1", OWNER)
        after = log.get_saga("s1")
        assert before.updated_at is not None
        assert after.updated_at is not None
        assert after.updated_at > before.updated_at
        if after.state is SagaState.ROLLED_BACK:
            assert after.lease_expires_at is None
        else:
            assert before.lease_expires_at is not None
            assert after.lease_expires_at is not None
            assert after.lease_expires_at > before.lease_expires_at
            assert after.lease_expires_at == pytest.approx(after.updated_at + LEASE, abs=0.5)

    def test_owner_may_still_write_after_its_lease_expired_if_nobody_claimed(
        self, log: SagaLog
    ) -> None:
        drive(log, "s1", SagaState.EXECUTING, lease_seconds=SHORT_LEASE)
        time.sleep(EXPIRY)
        log.record_step_result("s1", OWNER, index=0, state=StepState.COMPLETED, attempts=1)
        saga = log.get_saga("s1")
        assert saga.lease_expires_at is not None
        assert saga.updated_at is not None
        assert saga.lease_expires_at == pytest.approx(saga.updated_at + SHORT_LEASE, abs=0.5)

    def test_owner_is_fenced_out_once_another_process_claims_its_expired_saga(
        self, log: SagaLog
    ) -> None:
        drive(log, "s1", SagaState.EXECUTING, lease_seconds=SHORT_LEASE)
        time.sleep(EXPIRY)
        assert log.claim_expired(OTHER, LEASE) == ["s1"]
        with pytest.raises(LeaseLostError):
            log.record_step_result("s1", OWNER, index=0, state=StepState.COMPLETED, attempts=1)
        log.begin_compensation("s1", OTHER, failed_at=None, error=None)
        log.record_compensation("s1", OTHER, index=0, succeeded=True, attempts=1)
        log.finish_saga("s1", OTHER, SagaState.ROLLED_BACK)
        assert log.get_saga("s1").steps[0].state is StepState.COMPENSATED

    # -- leases -----------------------------------------------------------------------

    def test_renew_leases_extends_only_listed_sagas_the_owner_holds_in_flight(
        self, log: SagaLog
    ) -> None:
        drive(log, "pending", SagaState.PENDING)
        drive(log, "executing", SagaState.EXECUTING)
        drive(log, "compensating", SagaState.COMPENSATING)
        drive(log, "committed", SagaState.COMMITTED)
        drive(log, "failed", SagaState.FAILED)
        drive(log, "others", SagaState.EXECUTING, owner=OTHER)
        drive(log, "unlisted", SagaState.EXECUTING)
        before = {s.saga_id: s for s in log.list_sagas()}
        time.sleep(TICK * 4)
        listed = ["pending", "executing", "compensating", "committed", "failed", "others", "nope"]
        assert log.renew_leases(OWNER, listed) == 3
        after = {s.saga_id: s for s in log.list_sagas()}
        for saga_id in ("pending", "executing", "compensating"):
            old, new = before[saga_id].lease_expires_at, after[saga_id].lease_expires_at
            assert old is not None
            assert new is not None
            assert new > old
        for saga_id in ("committed", "failed", "others", "unlisted"):
            assert after[saga_id] == before[saga_id]

    def test_renew_leases_of_nothing_renews_nothing(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.EXECUTING)
        assert log.renew_leases(OWNER, []) == 0

    def test_renew_leases_keeps_an_expired_saga_from_being_claimed(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.EXECUTING, lease_seconds=0.3)
        time.sleep(0.2)
        assert log.renew_leases(OWNER, ["s1"]) == 1
        time.sleep(0.2)
        assert log.claim_expired(OTHER, LEASE) == []

    # -- recovery: claim_expired ------------------------------------------------------

    def test_claim_expired_takes_only_expired_in_flight_sagas_oldest_first(
        self, log: SagaLog
    ) -> None:
        for saga_id, state in [
            ("c-compensating", SagaState.COMPENSATING),
            ("a-pending", SagaState.PENDING),
            ("b-executing", SagaState.EXECUTING),
            ("committed", SagaState.COMMITTED),
            ("rolled-back", SagaState.ROLLED_BACK),
            ("failed", SagaState.FAILED),
        ]:
            drive(log, saga_id, state, lease_seconds=SHORT_LEASE)
            time.sleep(TICK)
        drive(log, "leased", SagaState.EXECUTING, lease_seconds=LEASE)
        time.sleep(EXPIRY)
        claimed = log.claim_expired(OTHER, 60.0)
        assert claimed == ["c-compensating", "a-pending", "b-executing"]
        for saga_id in claimed:
            saga = log.get_saga(saga_id)
            assert (saga.owner, saga.lease_seconds) == (OTHER, 60.0)
            assert saga.lease_expires_at is not None
            assert saga.updated_at is not None
            assert saga.lease_expires_at == pytest.approx(saga.updated_at + 60.0, abs=0.5)
        assert log.get_saga("leased").owner == OWNER
        assert log.get_saga("failed").owner is None

    def test_claim_expired_respects_the_limit_and_takes_the_oldest(self, log: SagaLog) -> None:
        for index in range(5):
            drive(log, f"s{index}", SagaState.EXECUTING, lease_seconds=SHORT_LEASE)
            time.sleep(TICK)
        time.sleep(EXPIRY)
        assert log.claim_expired(OTHER, LEASE, limit=2) == ["s0", "s1"]
        assert log.claim_expired(OTHER, LEASE, limit=2) == ["s2", "s3"]
        assert log.claim_expired(OTHER, LEASE, limit=2) == ["s4"]
        assert log.claim_expired(OTHER, LEASE, limit=2) == []

    def test_claim_expired_returns_nothing_while_leases_are_live(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.PENDING)
        drive(log, "s2", SagaState.EXECUTING)
        drive(log, "s3", SagaState.COMPENSATING)
        assert log.claim_expired(OTHER, LEASE) == []
        assert {s.owner for s in log.list_sagas()} == {OWNER}

    def test_claimed_saga_is_not_claimed_again_while_the_new_lease_lasts(
        self, log: SagaLog
    ) -> None:
        drive(log, "s1", SagaState.EXECUTING, lease_seconds=SHORT_LEASE)
        time.sleep(EXPIRY)
        assert log.claim_expired(OTHER, LEASE) == ["s1"]
        assert log.claim_expired("owner-c", LEASE) == []
        assert log.get_saga("s1").owner == OTHER

    def test_claimed_saga_expires_again_under_the_claimants_lease(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.EXECUTING, lease_seconds=LEASE)
        log.claim_saga("s1", OWNER, SHORT_LEASE, from_states={SagaState.EXECUTING})
        time.sleep(EXPIRY)
        assert log.claim_expired(OTHER, LEASE) == ["s1"]

    def test_fenced_writes_renew_for_the_claimants_lease_seconds(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.EXECUTING, lease_seconds=SHORT_LEASE)
        time.sleep(EXPIRY)
        assert log.claim_expired(OTHER, 60.0) == ["s1"]
        log.begin_compensation("s1", OTHER, failed_at=None, error=None)
        saga = log.get_saga("s1")
        assert saga.lease_expires_at is not None
        assert saga.updated_at is not None
        assert saga.lease_expires_at == pytest.approx(saga.updated_at + 60.0, abs=0.5)

    def test_claim_expired_with_a_limit_of_zero_claims_nothing(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.EXECUTING, lease_seconds=SHORT_LEASE)
        time.sleep(EXPIRY)
        assert log.claim_expired(OTHER, LEASE, limit=0) == []

    def test_concurrent_claimants_never_receive_the_same_saga(self, log: SagaLog) -> None:
        ids = [f"s{index:02d}" for index in range(40)]
        for saga_id in ids:
            drive(log, saga_id, SagaState.EXECUTING, lease_seconds=SHORT_LEASE)
        time.sleep(EXPIRY)
        owners = [f"claimant-{n}" for n in range(4)]
        start = threading.Barrier(len(owners), timeout=30)

        def claim(owner: str) -> list[str]:
            start.wait()
            got: list[str] = []
            while batch := log.claim_expired(owner, LEASE, limit=3):
                got.extend(batch)
            return got

        with ThreadPoolExecutor(max_workers=len(owners)) as pool:
            futures = {owner: pool.submit(claim, owner) for owner in owners}
        claims = {owner: future.result() for owner, future in futures.items()}
        everything = [saga_id for got in claims.values() for saga_id in got]
        assert sorted(everything) == ids
        for owner, got in claims.items():
            assert {log.get_saga(saga_id).owner for saga_id in got} <= {owner}

    # -- claim_saga -------------------------------------------------------------------

    def test_claim_saga_takes_a_failed_saga_for_an_operators_retry(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.FAILED, lock_key="doc")
        claimed = log.claim_saga("s1", OTHER, 60.0, from_states={SagaState.FAILED})
        assert (claimed.saga_id, claimed.state, claimed.owner) == ("s1", SagaState.FAILED, OTHER)
        assert claimed.lease_seconds == 60.0
        assert claimed.lease_expires_at is not None
        assert claimed.updated_at is not None
        assert claimed.lease_expires_at == pytest.approx(claimed.updated_at + 60.0, abs=0.5)
        assert len(claimed.steps) == 1
        assert claimed == log.get_saga("s1")

    def test_claim_saga_refuses_a_state_not_asked_for(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.COMMITTED)
        before = log.get_saga("s1")
        with pytest.raises(SagaStateError):
            log.claim_saga("s1", OTHER, LEASE, from_states={SagaState.FAILED})
        with pytest.raises(SagaStateError):
            log.claim_saga("s1", OTHER, LEASE, from_states=set())
        assert log.get_saga("s1") == before

    def test_claim_saga_of_a_missing_saga_raises_not_found(self, log: SagaLog) -> None:
        with pytest.raises(SagaNotFoundError):
            log.claim_saga("nope", OTHER, LEASE, from_states={SagaState.FAILED})

    def test_claim_saga_refuses_an_in_flight_saga_another_owner_still_leases(
        self, log: SagaLog
    ) -> None:
        drive(log, "s1", SagaState.EXECUTING)
        before = log.get_saga("s1")
        with pytest.raises(SagaStateError, match="leased"):
            log.claim_saga("s1", OTHER, LEASE, from_states={SagaState.EXECUTING})
        assert log.get_saga("s1") == before

    def test_claim_saga_takes_an_in_flight_saga_once_its_lease_expired(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.EXECUTING, lease_seconds=SHORT_LEASE)
        time.sleep(EXPIRY)
        claimed = log.claim_saga("s1", OTHER, LEASE, from_states={SagaState.EXECUTING})
        assert claimed.owner == OTHER
        with pytest.raises(LeaseLostError):
            intent(log, "s1", OWNER, index=1)

    def test_claim_saga_by_the_current_owner_succeeds_while_leased(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.EXECUTING)
        claimed = log.claim_saga("s1", OWNER, 60.0, from_states={SagaState.EXECUTING})
        assert (claimed.owner, claimed.lease_seconds) == (OWNER, 60.0)

    # -- reading ----------------------------------------------------------------------

    def test_get_saga_of_a_missing_saga_raises_not_found(self, log: SagaLog) -> None:
        with pytest.raises(SagaNotFoundError) as raised:
            log.get_saga("nope")
        assert raised.value.saga_id == "nope"

    def test_list_sagas_returns_newest_first_up_to_the_limit(self, log: SagaLog) -> None:
        create_in_order(log, ["b", "c", "a", "d"])
        assert [s.saga_id for s in log.list_sagas()] == ["d", "a", "c", "b"]
        assert [s.saga_id for s in log.list_sagas(limit=2)] == ["d", "a"]
        assert log.list_sagas(limit=0) == []

    def test_list_sagas_of_an_empty_log_is_empty(self, log: SagaLog) -> None:
        assert log.list_sagas() == []

    def test_list_sagas_filters_by_state_and_lock_key(self, log: SagaLog) -> None:
        drive(log, "c", SagaState.COMMITTED, lock_key="doc")
        drive(log, "p", SagaState.PENDING, lock_key="doc")
        drive(log, "e", SagaState.EXECUTING, lock_key="other")
        drive(log, "f", SagaState.FAILED)

        def ids(**filters: Any) -> set[str]:
            return {s.saga_id for s in log.list_sagas(**filters)}

        assert ids() == {"p", "e", "c", "f"}
        assert ids(states={SagaState.PENDING, SagaState.FAILED}) == {"p", "f"}
        assert ids(lock_key="doc") == {"p", "c"}
        assert ids(states=[SagaState.COMMITTED], lock_key="doc") == {"c"}
        assert ids(states=[SagaState.EXECUTING], lock_key="doc") == set()
        assert ids(states=[]) == set()

    def test_list_sagas_includes_each_sagas_steps_in_order(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.COMPENSATING)
        log.create_saga("s2", None, owner=OWNER, lease_seconds=LEASE)
        for index in range(3):
            intent(log, "s2", index=index)
        listed = {s.saga_id: s for s in log.list_sagas()}
        assert listed["s1"] == log.get_saga("s1")
        assert [step.index for step in listed["s2"].steps] == [0, 1, 2]
        assert listed["s2"] == log.get_saga("s2")

    def test_metadata_and_compensation_args_round_trip_as_json(self, log: SagaLog) -> None:
        metadata = {
            "title": "Résumé ✓ 文档",
            "nested": {"list": [1, 2.5, None, True, "x"], "empty": {}},
            "count": 3,
        }
        args = {"path": "wiki/page.md", "lines": [1, 2], "flags": {"force": False}}
        log.create_saga("s1", None, owner=OWNER, lease_seconds=LEASE, metadata=metadata)
        intent(log, "s1", index=0, compensation=Compensation("undo", args))
        saga = log.get_saga("s1")
        assert saga.metadata == metadata
        assert saga.steps[0].compensation_args == args
        assert log.list_sagas()[0].metadata == metadata

    def test_status_summarises_a_recorded_saga(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.ROLLED_BACK)
        assert log.get_saga("s1").status() == {
            "saga_id": "s1",
            "user_id": "user",
            "state": "rolled_back",
            "total_steps": 1,
            "completed_steps": 0,
            "failed_at": "step-0",
            "error": "x",
        }

    # -- durability -------------------------------------------------------------------

    def test_records_survive_closing_and_reopening(
        self, log: SagaLog, reopen_log: Callable[[], SagaLog]
    ) -> None:
        drive(log, "done", SagaState.ROLLED_BACK, lock_key="a")
        drive(log, "running", SagaState.EXECUTING, lock_key="doc")
        log.create_saga("meta", None, owner=OWNER, lease_seconds=LEASE, metadata={"k": [1]})
        before = {s.saga_id: s for s in log.list_sagas()}
        log.close()
        with reopen_log() as reopened:
            assert {s.saga_id: s for s in reopened.list_sagas()} == before
            with pytest.raises(SagaLockedError):
                reopened.create_saga("s2", None, owner=OWNER, lease_seconds=LEASE, lock_key="doc")
            intent(reopened, "running", index=1)
            assert len(reopened.get_saga("running").steps) == 2

    def test_a_second_log_on_the_same_store_sees_every_write(
        self, log: SagaLog, reopen_log: Callable[[], SagaLog]
    ) -> None:
        with reopen_log() as second:
            drive(log, "s1", SagaState.EXECUTING, lock_key="doc")
            assert second.get_saga("s1") == log.get_saga("s1")
            with pytest.raises(SagaLockedError):
                second.create_saga("s2", None, owner=OTHER, lease_seconds=LEASE, lock_key="doc")
            with pytest.raises(LeaseLostError):
                intent(second, "s1", OTHER, index=1)
