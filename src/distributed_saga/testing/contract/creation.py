"""Creating a saga: the record it starts as, taken ids, and lock keys held until the end."""

from __future__ import annotations

import pytest

from distributed_saga._errors import SagaExistsError, SagaLockedError, SagaNotFoundError
from distributed_saga._records import SagaState
from distributed_saga.log import SagaLog
from distributed_saga.testing.contract.helpers import LEASE, OTHER, OWNER, drive

__all__ = ["CreationContract"]


class CreationContract:
    """``create_saga``: a pending saga under a lease; one id, one unfinished holder per lock key."""

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
