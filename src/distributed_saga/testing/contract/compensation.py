"""Going back and ending: compensating steps, and finishing a saga in a final state."""

from __future__ import annotations

import pytest

from distributed_saga._errors import LeaseLostError, SagaNotFoundError, SagaStateError
from distributed_saga._records import SagaState, StepState
from distributed_saga.log import SagaLog
from distributed_saga.testing.contract.helpers import LEASE, OTHER, OWNER, drive, intent

__all__ = ["CompensationContract"]


class CompensationContract:
    """``begin_compensation``, ``record_compensation`` and ``finish_saga``."""

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

    def test_begin_recovery_records_the_error_and_returns_the_saga_as_written(
        self, log: SagaLog
    ) -> None:
        drive(log, "s1", SagaState.EXECUTING)
        intent(log, "s1", OWNER, index=1)
        record = log.begin_recovery("s1", OWNER, error="crashed")
        assert (record.state, record.error, record.owner) == (
            SagaState.COMPENSATING,
            "crashed",
            OWNER,
        )
        assert [step.name for step in record.steps] == ["step-0", "step-1"]
        assert record == log.get_saga("s1")

    def test_begin_recovery_keeps_an_error_already_recorded(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.COMPENSATING)  # failed at step-0 with error "x"
        record = log.begin_recovery("s1", OWNER, error="crashed")
        assert (record.state, record.failed_at, record.error) == (
            SagaState.COMPENSATING,
            "step-0",
            "x",
        )
        assert log.get_saga("s1").error == "x"

    def test_begin_recovery_by_another_owner_raises_and_changes_nothing(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.EXECUTING)
        before = log.get_saga("s1")
        with pytest.raises(LeaseLostError):
            log.begin_recovery("s1", OTHER, error="crashed")
        assert log.get_saga("s1") == before
        with pytest.raises(SagaNotFoundError):
            log.begin_recovery("absent", OWNER, error="crashed")

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
