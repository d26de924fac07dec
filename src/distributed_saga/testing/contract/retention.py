"""Retention: ``prune_batch`` deletes sagas that ended long ago, and only those."""

from __future__ import annotations

import time

import pytest

from distributed_saga._errors import SagaNotFoundError
from distributed_saga._records import IN_FLIGHT_STATES, SagaState
from distributed_saga.log import SagaLog
from distributed_saga.retention import prune_sagas
from distributed_saga.testing.contract.helpers import (
    EXPIRY,
    LEASE,
    OWNER,
    TICK,
    drive,
    intent,
)

__all__ = ["RetentionContract"]

AGE = 0.1
"""The retention period of these tests; sagas older than it wait :data:`EXPIRY`."""

KEEP_AGE = 1.0
"""The retention period of the tests that check a saga written just now is kept: long
enough that a loaded machine's pause between the write and the prune stays under it."""


def ids(log: SagaLog) -> set[str]:
    return {saga.saga_id for saga in log.list_sagas(limit=1000)}


class RetentionContract:
    """``prune_batch`` and ``prune_sagas``: finished and old, unless asked for more."""

    def test_prune_deletes_finished_sagas_older_than_the_cutoff_with_their_steps(
        self, log: SagaLog
    ) -> None:
        drive(log, "old-committed", SagaState.COMMITTED, lock_key="doc")
        drive(log, "old-rolled-back", SagaState.ROLLED_BACK)
        time.sleep(KEEP_AGE + EXPIRY)
        drive(log, "new-committed", SagaState.COMMITTED)
        assert log.prune_batch(KEEP_AGE) == 2
        assert ids(log) == {"new-committed"}
        for saga_id in ("old-committed", "old-rolled-back"):
            with pytest.raises(SagaNotFoundError):
                log.get_saga(saga_id)
        # The id is free again, and so is the lock key (a finished saga held neither).
        drive(log, "old-committed", SagaState.EXECUTING, lock_key="doc")
        assert log.get_saga("old-committed").steps[0].state.value == "started"

    def test_prune_never_touches_sagas_in_flight_or_failed_by_default(self, log: SagaLog) -> None:
        for state in (*sorted(IN_FLIGHT_STATES), SagaState.FAILED):
            drive(log, f"old-{state.value}", state)
        time.sleep(EXPIRY)
        assert log.prune_batch(AGE) == 0
        assert prune_sagas(log, AGE) == 0
        assert ids(log) == {
            "old-pending",
            "old-executing",
            "old-compensating",
            "old-failed",
        }

    def test_prune_deletes_failed_sagas_when_asked(self, log: SagaLog) -> None:
        drive(log, "old-failed", SagaState.FAILED, lock_key="doc")
        drive(log, "old-committed", SagaState.COMMITTED)
        time.sleep(EXPIRY)
        assert prune_sagas(log, AGE, states={SagaState.FAILED}) == 1
        assert ids(log) == {"old-committed"}
        drive(log, "next", SagaState.EXECUTING, lock_key="doc")  # the failed one kept it

    @pytest.mark.parametrize("state", sorted(IN_FLIGHT_STATES))
    def test_prune_refuses_a_state_in_flight_and_deletes_nothing(
        self, log: SagaLog, state: SagaState
    ) -> None:
        drive(log, "old", state)
        drive(log, "done", SagaState.COMMITTED)
        time.sleep(EXPIRY)
        with pytest.raises(ValueError, match="in flight"):
            log.prune_batch(AGE, states={state, SagaState.COMMITTED})
        with pytest.raises(ValueError, match="in flight"):
            prune_sagas(log, AGE, states={state, SagaState.COMMITTED})
        assert ids(log) == {"old", "done"}

    def test_age_is_counted_from_the_last_write_not_the_creation(self, log: SagaLog) -> None:
        """A saga that started long ago but finished just now is kept."""
        log.create_saga("slow", None, owner=OWNER, lease_seconds=LEASE)
        intent(log, "slow")
        time.sleep(KEEP_AGE + EXPIRY)
        log.finish_saga("slow", OWNER, SagaState.COMMITTED)
        assert log.prune_batch(KEEP_AGE) == 0
        assert ids(log) == {"slow"}

    def test_prune_batch_deletes_at_most_its_limit_oldest_first(self, log: SagaLog) -> None:
        for n in range(5):
            drive(log, f"s{n}", SagaState.COMMITTED)
            time.sleep(TICK)
        time.sleep(EXPIRY)
        assert log.prune_batch(AGE, limit=2) == 2
        assert ids(log) == {"s2", "s3", "s4"}
        assert log.prune_batch(AGE, limit=0) == 0
        assert log.prune_batch(AGE, limit=2) == 2
        assert log.prune_batch(AGE, limit=2) == 1
        assert log.prune_batch(AGE, limit=2) == 0
        assert ids(log) == set()

    def test_prune_sagas_goes_on_batch_after_batch_until_none_is_left(self, log: SagaLog) -> None:
        for n in range(7):
            drive(log, f"s{n}", SagaState.ROLLED_BACK if n % 2 else SagaState.COMMITTED)
        drive(log, "running", SagaState.EXECUTING)
        time.sleep(EXPIRY)
        assert prune_sagas(log, AGE, batch_size=3) == 7
        assert ids(log) == {"running"}

    def test_prune_with_nothing_to_prune_or_no_states_prunes_nothing(self, log: SagaLog) -> None:
        drive(log, "new", SagaState.COMMITTED)
        assert prune_sagas(log, 3600.0) == 0
        assert log.prune_batch(0.0, states=()) == 0
        assert ids(log) == {"new"}

    def test_prune_refuses_a_negative_age_and_an_empty_batch(self, log: SagaLog) -> None:
        drive(log, "done", SagaState.COMMITTED)
        with pytest.raises(ValueError, match="negative"):
            log.prune_batch(-1.0)
        with pytest.raises(ValueError, match="negative"):
            prune_sagas(log, -1.0)
        with pytest.raises(ValueError, match="batch_size"):
            prune_sagas(log, 0.0, batch_size=0)
        assert ids(log) == {"done"}
