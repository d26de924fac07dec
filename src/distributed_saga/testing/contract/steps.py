"""Going forward: a step's intent before its action, then its result."""

from __future__ import annotations

import pytest

from distributed_saga._errors import LeaseLostError, SagaStateError
from distributed_saga._records import SagaState, StepOutcome, StepState
from distributed_saga.compensations import Compensation
from distributed_saga.log import SagaLog
from distributed_saga.testing.contract.helpers import LEASE, OTHER, OWNER, drive, intent

__all__ = ["StepContract"]


class StepContract:
    """``record_intent`` and ``record_step_result``, and outcomes that ride on the next write."""

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
