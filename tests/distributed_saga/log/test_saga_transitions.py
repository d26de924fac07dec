"""The saga protocol's transition table, pinned: which states each fenced log write starts from.

Both backends import the table (:mod:`distributed_saga._transitions`); the contract suite
checks that each backend obeys it. These tests pin the table itself, so that widening a
transition is a deliberate change here and not a slip in one place.
"""

from __future__ import annotations

from distributed_saga._records import FINISHED_STATES, IN_FLIGHT_STATES, SagaState
from distributed_saga._transitions import (
    BEGIN_COMPENSATION_FROM,
    FINISH_FROM,
    RECORD_COMPENSATION_FROM,
    RECORD_INTENT_FROM,
    RECORD_STEP_RESULT_FROM,
)

PENDING, EXECUTING, COMPENSATING = SagaState.PENDING, SagaState.EXECUTING, SagaState.COMPENSATING
COMMITTED, ROLLED_BACK, FAILED = SagaState.COMMITTED, SagaState.ROLLED_BACK, SagaState.FAILED


def every_start() -> dict[str, frozenset[SagaState]]:
    """Each fenced write, by name, and the states the table lets it start from."""
    return {
        "record_intent": RECORD_INTENT_FROM,
        "record_step_result": RECORD_STEP_RESULT_FROM,
        "begin_compensation": BEGIN_COMPENSATION_FROM,
        "record_compensation": RECORD_COMPENSATION_FROM,
        **{f"finish_saga {state}": allowed for state, allowed in FINISH_FROM.items()},
    }


def test_each_write_starts_only_from_the_states_the_protocol_allows() -> None:
    assert every_start() == {
        "record_intent": {PENDING, EXECUTING},
        "record_step_result": {EXECUTING, COMPENSATING},
        "begin_compensation": {PENDING, EXECUTING, COMPENSATING, FAILED},
        "record_compensation": {COMPENSATING},
        "finish_saga committed": {PENDING, EXECUTING},
        "finish_saga rolled_back": {COMPENSATING},
        "finish_saga failed": {COMPENSATING},
    }


def test_a_saga_finishes_committed_rolled_back_or_failed_and_nothing_else() -> None:
    assert set(FINISH_FROM) == FINISHED_STATES | {FAILED}
    assert not set(FINISH_FROM) & IN_FLIGHT_STATES


def test_committed_only_going_forward_rolled_back_and_failed_only_after_compensating() -> None:
    assert FINISH_FROM[COMMITTED] == RECORD_INTENT_FROM
    assert COMPENSATING not in FINISH_FROM[COMMITTED]
    for end in (ROLLED_BACK, FAILED):
        assert FINISH_FROM[end] == RECORD_COMPENSATION_FROM == {COMPENSATING}


def test_no_write_starts_from_committed_or_rolled_back() -> None:
    for name, allowed in every_start().items():
        assert not allowed & FINISHED_STATES, name


def test_only_a_retry_starts_from_failed() -> None:
    assert [name for name, allowed in every_start().items() if FAILED in allowed] == [
        "begin_compensation"
    ]


def test_the_table_cannot_be_changed_at_run_time() -> None:
    for allowed in every_start().values():
        assert isinstance(allowed, frozenset)
    assert not hasattr(FINISH_FROM, "__setitem__")
