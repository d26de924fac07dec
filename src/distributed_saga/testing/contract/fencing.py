"""Fencing and leases: only the owner writes, every write renews its lease."""

from __future__ import annotations

import time

import pytest

from distributed_saga._errors import LeaseLostError, SagaNotFoundError
from distributed_saga._records import SagaState, StepState
from distributed_saga.log import SagaLog
from distributed_saga.testing.contract.helpers import (
    EXPIRY,
    LEASE,
    OTHER,
    OWNER,
    SHORT_LEASE,
    TICK,
    Write,
    drive,
    fenced_writes,
)

__all__ = ["FencingContract"]


class FencingContract:
    """Fenced writes refuse anyone but the owner and renew its lease; ``renew_leases``."""

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
        # Each sleep outlives half the lease, so the saga would have expired without the
        # renewal, and leaves the other half as room for a loaded machine's pauses. A round
        # in which the machine paused for longer than that (the claim came a whole lease
        # after the renewal, when taking the saga is right) proves nothing, and is played
        # again on a saga of its own; three such rounds in a row fail the test.
        for attempt in range(3):
            saga_id = f"s{attempt}"
            drive(log, saga_id, SagaState.EXECUTING, lease_seconds=1.0)
            time.sleep(0.6)
            renewing = time.monotonic()
            assert log.renew_leases(OWNER, [saga_id]) == 1
            time.sleep(0.6)
            claimed = log.claim_expired(OTHER, LEASE)
            if time.monotonic() - renewing < 1.0:
                assert saga_id not in claimed
                return
        pytest.fail("the machine paused for a whole lease in each of three rounds")
