"""Counting: ``count_sagas`` counts by state and by expired lease, as the log sees them."""

from __future__ import annotations

import time

import pytest

from distributed_saga._records import FINISHED_STATES, IN_FLIGHT_STATES, SagaState
from distributed_saga.log import SagaLog
from distributed_saga.testing.contract.helpers import EXPIRY, SHORT_LEASE, drive

__all__ = ["CountingContract"]


class CountingContract:
    """``count_sagas``: the number ``list_sagas`` would give, without a limit."""

    def test_an_empty_log_counts_nothing(self, log: SagaLog) -> None:
        assert log.count_sagas() == 0
        assert log.count_sagas(states={SagaState.FAILED}) == 0
        assert log.count_sagas(lease_expired_for=0) == 0

    def test_counts_by_state_match_what_list_sagas_returns(self, log: SagaLog) -> None:
        every_state = sorted(SagaState)
        for n, state in enumerate(every_state):
            for copy in range(n % 3 + 1):
                drive(log, f"{state.value}-{copy}", state)
        assert log.count_sagas() == len(log.list_sagas(limit=1000))
        for state in every_state:
            assert log.count_sagas(states={state}) == len(log.list_sagas(states={state}))
        unfinished = {SagaState.FAILED, *IN_FLIGHT_STATES}
        assert log.count_sagas(states=unfinished) == len(log.list_sagas(states=unfinished))
        assert log.count_sagas(states=FINISHED_STATES) == len(
            log.list_sagas(states=FINISHED_STATES)
        )
        assert log.count_sagas(states=set()) == 0

    def test_counts_go_past_any_page_size(self, log: SagaLog) -> None:
        for n in range(120):
            drive(log, f"failed-{n:03}", SagaState.FAILED)
        assert log.count_sagas(states={SagaState.FAILED}) == 120

    def test_an_expired_lease_counts_only_sagas_in_flight_whose_owner_went_quiet(
        self, log: SagaLog
    ) -> None:
        for state in sorted(IN_FLIGHT_STATES):
            drive(log, f"quiet-{state.value}", state, lease_seconds=SHORT_LEASE)
            drive(log, f"alive-{state.value}", state)
        drive(log, "failed", SagaState.FAILED, lease_seconds=SHORT_LEASE)
        drive(log, "committed", SagaState.COMMITTED, lease_seconds=SHORT_LEASE)
        time.sleep(EXPIRY)
        assert log.count_sagas(lease_expired_for=0) == len(IN_FLIGHT_STATES)
        assert log.count_sagas(states={SagaState.EXECUTING}, lease_expired_for=0) == 1
        assert log.count_sagas(states={SagaState.FAILED}, lease_expired_for=0) == 0
        # A grace longer than the time since expiry counts none of them yet.
        assert log.count_sagas(lease_expired_for=60) == 0

    def test_the_expired_count_is_what_recovery_would_claim(self, log: SagaLog) -> None:
        drive(log, "a", SagaState.EXECUTING, lease_seconds=SHORT_LEASE)
        drive(log, "b", SagaState.COMPENSATING, lease_seconds=SHORT_LEASE)
        time.sleep(EXPIRY)
        counted = log.count_sagas(lease_expired_for=0)
        assert counted == len(log.claim_expired("recoverer", 30.0)) == 2
        # Claimed, they are leased again: nothing is expired any more.
        assert log.count_sagas(lease_expired_for=0) == 0
        assert log.count_sagas(states=IN_FLIGHT_STATES) == 2

    def test_a_negative_grace_is_refused(self, log: SagaLog) -> None:
        with pytest.raises(ValueError, match="negative"):
            log.count_sagas(lease_expired_for=-1)
