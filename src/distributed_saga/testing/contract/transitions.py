"""The transition table, obeyed: each fenced write starts from exactly the states it allows.

The table is :mod:`distributed_saga._transitions`. Every write is tried from every state,
on a saga the writer owns (a finished saga is claimed first, so that the refusal is about
its state and not about its owner).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from distributed_saga._errors import SagaStateError
from distributed_saga._records import SagaState, StepState
from distributed_saga._transitions import (
    BEGIN_COMPENSATION_FROM,
    FINISH_FROM,
    RECORD_COMPENSATION_FROM,
    RECORD_INTENT_FROM,
    RECORD_STEP_RESULT_FROM,
)
from distributed_saga.log import SagaLog
from distributed_saga.testing.contract.helpers import LEASE, OWNER, drive, intent

__all__ = ["TransitionContract"]

_Write = Callable[[SagaLog, str], object]


def _finish(state: SagaState) -> _Write:
    return lambda log, saga_id: log.finish_saga(saga_id, OWNER, state)


# Every fenced write: (name, the states it is allowed from, the call by OWNER).
_WRITES: list[tuple[str, frozenset[SagaState], _Write]] = [
    (
        "record_intent",
        RECORD_INTENT_FROM,
        lambda log, s: intent(log, s, OWNER, index=len(log.get_saga(s).steps)),
    ),
    (
        "record_step_result",
        RECORD_STEP_RESULT_FROM,
        lambda log, s: log.record_step_result(
            s, OWNER, index=0, state=StepState.COMPLETED, attempts=1
        ),
    ),
    (
        "begin_compensation",
        BEGIN_COMPENSATION_FROM,
        lambda log, s: log.begin_compensation(s, OWNER, failed_at=None, error=None),
    ),
    (
        "begin_recovery",
        BEGIN_COMPENSATION_FROM,
        lambda log, s: log.begin_recovery(s, OWNER, error="crashed"),
    ),
    (
        "record_compensation",
        RECORD_COMPENSATION_FROM,
        lambda log, s: log.record_compensation(s, OWNER, index=0, succeeded=True, attempts=1),
    ),
    *((f"finish_{end.value}", allowed, _finish(end)) for end, allowed in FINISH_FROM.items()),
]


class TransitionContract:
    """Each fenced write succeeds from the states the transition table allows, and from
    any other state raises :class:`SagaStateError` and changes nothing."""

    @pytest.mark.parametrize(
        ("allowed", "write"),
        [(allowed, write) for _, allowed, write in _WRITES],
        ids=[name for name, _, _ in _WRITES],
    )
    def test_write_starts_from_exactly_the_states_the_transition_table_allows(
        self, log: SagaLog, allowed: frozenset[SagaState], write: _Write
    ) -> None:
        for state in SagaState:
            saga_id = f"from-{state.value}"
            drive(log, saga_id, state)
            if log.get_saga(saga_id).owner is None:
                log.claim_saga(saga_id, OWNER, LEASE, from_states={state})
            before = log.get_saga(saga_id)
            if state in allowed:
                write(log, saga_id)
            else:
                with pytest.raises(SagaStateError):
                    write(log, saga_id)
                assert log.get_saga(saga_id) == before, state
