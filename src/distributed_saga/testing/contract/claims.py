"""Taking sagas over: recovery's ``claim_expired`` and an operator's ``claim_saga``."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from distributed_saga._errors import LeaseLostError, SagaNotFoundError, SagaStateError
from distributed_saga._records import SagaState
from distributed_saga.log import SagaLog
from distributed_saga.testing.contract.helpers import (
    EXPIRY,
    LEASE,
    OTHER,
    OWNER,
    SHORT_LEASE,
    TICK,
    drive,
    intent,
)

__all__ = ["ClaimContract"]


class ClaimContract:
    """Claims take only what has expired (or what is asked for), never one saga twice."""

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
