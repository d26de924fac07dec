"""Durability: what a durable log holds survives closing it, and is shared by every opener."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from distributed_saga._errors import LeaseLostError, SagaLockedError
from distributed_saga._records import SagaState
from distributed_saga.log import SagaLog, open_saga_log
from distributed_saga.testing.contract.helpers import LEASE, OTHER, OWNER, drive, intent

__all__ = ["DurabilityContract"]


class DurabilityContract:
    """Reopening a durable log; skipped for a log that is not durable."""

    @pytest.fixture
    def reopen_log(self, log: SagaLog) -> Callable[[], SagaLog]:
        """A function opening the same store as ``log`` again (durable logs only)."""
        if not log.durable:
            pytest.skip(f"{type(log).__name__} is not durable")
        return lambda: open_saga_log(log.url)

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
