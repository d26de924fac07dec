"""A saga's first intent creates it: nothing is written before, the lock is taken with it."""

from __future__ import annotations

import time

import pytest

from distributed_saga._errors import SagaExistsError, SagaLockedError, SagaNotFoundError
from distributed_saga._records import NewSaga, SagaState, StepState
from distributed_saga.compensations import Compensation
from distributed_saga.log import SagaLog
from distributed_saga.saga import DistributedSaga
from distributed_saga.testing.contract.helpers import (
    EXPIRY,
    LEASE,
    OTHER,
    OWNER,
    SHORT_LEASE,
    drive,
    intent,
)

__all__ = ["FirstIntentContract"]

UNFINISHED = [SagaState.PENDING, SagaState.EXECUTING, SagaState.COMPENSATING, SagaState.FAILED]


def creating_intent(
    log: SagaLog,
    saga_id: str,
    owner: str = OWNER,
    *,
    lock_key: str | None = None,
    lease_seconds: float = LEASE,
    **fields: object,
) -> None:
    """Record step 0's intent, creating ``saga_id`` with it."""
    create = NewSaga("user", lease_seconds, lock_key, {"kind": "test"})
    intent(log, saga_id, owner, index=0, create=create, **fields)


class FirstIntentContract:
    """``record_intent(..., create=...)``, and the engine writing nothing before it."""

    # -- the log ----------------------------------------------------------------------

    def test_the_first_intent_creates_the_saga_executing_with_its_lock_and_step(
        self, log: SagaLog
    ) -> None:
        creating_intent(
            log,
            "s1",
            lock_key="doc",
            name="reserve",
            compensation=Compensation("release", {"seat": "12A"}),
            idempotency_key="s1:reserve",
        )
        saga = log.get_saga("s1")
        assert (saga.saga_id, saga.user_id, saga.state) == ("s1", "user", SagaState.EXECUTING)
        assert (saga.owner, saga.lock_key, dict(saga.metadata)) == (OWNER, "doc", {"kind": "test"})
        assert saga.lease_seconds == LEASE
        assert saga.created_at is not None
        assert saga.lease_expires_at == pytest.approx(saga.created_at + LEASE, abs=0.5)
        (step,) = saga.steps
        assert (step.index, step.name, step.state) == (0, "reserve", StepState.STARTED)
        assert (step.compensation, step.compensation_args) == ("release", {"seat": "12A"})
        assert step.idempotency_key == "s1:reserve"
        assert step.started_at is not None

    def test_a_saga_created_by_its_first_intent_goes_on_like_any_other(self, log: SagaLog) -> None:
        creating_intent(log, "s1", lock_key="doc")
        log.record_step_result("s1", OWNER, index=0, state=StepState.COMPLETED, attempts=1)
        intent(log, "s1", index=1)
        log.finish_saga("s1", OWNER, SagaState.COMMITTED)
        saga = log.get_saga("s1")
        assert saga.state is SagaState.COMMITTED
        assert [s.index for s in saga.steps] == [0, 1]
        creating_intent(log, "s2", lock_key="doc")  # committed, s1 released the key

    @pytest.mark.parametrize("holder_state", UNFINISHED)
    def test_the_first_intent_refuses_a_lock_key_an_unfinished_saga_holds(
        self, log: SagaLog, holder_state: SagaState
    ) -> None:
        drive(log, "holder", holder_state, lock_key="doc")
        before = log.list_sagas()
        with pytest.raises(SagaLockedError) as raised:
            creating_intent(log, "s2", lock_key="doc")
        assert (raised.value.lock_key, raised.value.holder_saga_id) == ("doc", "holder")
        with pytest.raises(SagaNotFoundError):
            log.get_saga("s2")
        assert log.list_sagas() == before

    def test_the_first_intent_holds_the_lock_against_the_next_first_intent(
        self, log: SagaLog
    ) -> None:
        creating_intent(log, "s1", lock_key="doc")
        with pytest.raises(SagaLockedError) as raised:
            creating_intent(log, "s2", OTHER, lock_key="doc")
        assert raised.value.holder_saga_id == "s1"
        with pytest.raises(SagaLockedError):
            log.create_saga("s3", None, owner=OTHER, lease_seconds=LEASE, lock_key="doc")
        assert [s.saga_id for s in log.list_sagas()] == ["s1"]

    @pytest.mark.parametrize("holder_state", [SagaState.COMMITTED, SagaState.ROLLED_BACK])
    def test_the_first_intent_takes_a_lock_key_a_finished_saga_released(
        self, log: SagaLog, holder_state: SagaState
    ) -> None:
        drive(log, "holder", holder_state, lock_key="doc")
        creating_intent(log, "s2", lock_key="doc")
        assert log.get_saga("s2").lock_key == "doc"

    def test_the_first_intent_of_a_taken_id_raises_exists_and_keeps_the_first(
        self, log: SagaLog
    ) -> None:
        creating_intent(log, "s1", lock_key="doc")
        first = log.get_saga("s1")
        # The id is checked before the lock key, which s1 itself holds.
        with pytest.raises(SagaExistsError) as raised:
            creating_intent(log, "s1", OTHER, lock_key="doc", name="again")
        assert raised.value.saga_id == "s1"
        assert log.get_saga("s1") == first

    @pytest.mark.parametrize("index", [1, 2])
    def test_only_step_zero_creates_a_saga(self, log: SagaLog, index: int) -> None:
        with pytest.raises(ValueError, match="step 0"):
            intent(log, "s1", index=index, create=NewSaga(None, LEASE))
        assert log.list_sagas() == []

    def test_a_saga_created_by_its_first_intent_is_claimed_once_its_lease_expires(
        self, log: SagaLog
    ) -> None:
        creating_intent(log, "s1", lease_seconds=SHORT_LEASE)
        assert log.claim_expired(OTHER, LEASE) == []
        time.sleep(EXPIRY)
        assert log.claim_expired(OTHER, LEASE) == ["s1"]
        assert log.get_saga("s1").owner == OTHER

    # -- the engine on this log ---------------------------------------------------------

    def test_nothing_is_written_before_the_first_intent(self, log: SagaLog) -> None:
        """Constructing a saga writes nothing, not even its lock key: a second one with the
        same id and key can be constructed too. Its first step's intent writes it."""
        saga = DistributedSaga("s1", "user", log=log, lock_key="doc", metadata={"k": 1})
        DistributedSaga("s1", "user", log=log, lock_key="doc")
        assert log.list_sagas() == []
        with pytest.raises(SagaNotFoundError):
            saga.record()
        assert saga.get_status()["state"] == "pending"
        seen: list[SagaState] = []
        saga.execute_step("a", action=lambda: seen.append(log.get_saga("s1").state))
        assert seen == [SagaState.EXECUTING]
        record = log.get_saga("s1")
        assert (record.lock_key, dict(record.metadata), len(record.steps)) == ("doc", {"k": 1}, 1)
        saga.commit()
        assert log.get_saga("s1").state is SagaState.COMMITTED

    def test_a_held_lock_key_refuses_the_first_step_before_its_action_runs(
        self, log: SagaLog
    ) -> None:
        drive(log, "holder", SagaState.EXECUTING, lock_key="doc")
        before = log.list_sagas()
        saga = DistributedSaga("s2", log=log, lock_key="doc")
        ran: list[str] = []
        with pytest.raises(SagaLockedError, match="holder"):
            saga.execute_step("a", action=lambda: ran.append("a"))
        assert ran == []
        assert saga.get_status()["state"] == "pending"
        assert log.list_sagas() == before

    def test_a_taken_id_refuses_the_first_step_before_its_action_runs(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.COMMITTED)
        before = log.get_saga("s1")
        ran: list[str] = []
        with pytest.raises(SagaExistsError):
            DistributedSaga("s1", log=log).execute_step("a", action=lambda: ran.append("a"))
        assert ran == []
        assert log.get_saga("s1") == before

    @pytest.mark.parametrize("ending", [SagaState.COMMITTED, SagaState.ROLLED_BACK])
    def test_a_saga_of_no_steps_is_written_by_its_end(
        self, log: SagaLog, ending: SagaState
    ) -> None:
        saga = DistributedSaga("s1", "user", log=log, lock_key="doc")
        if ending is SagaState.COMMITTED:
            saga.commit()
        else:
            saga.abort("nothing to do after all")
        record = log.get_saga("s1")
        assert (record.state, record.steps, record.owner) == (ending, (), None)
        creating_intent(log, "s2", lock_key="doc")  # the key was released with the end
