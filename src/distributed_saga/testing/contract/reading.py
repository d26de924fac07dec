"""Reading the log: one saga, lists filtered and ordered, values as they were written."""

from __future__ import annotations

from typing import Any

import pytest

from distributed_saga._errors import SagaNotFoundError
from distributed_saga._records import SagaState
from distributed_saga.compensations import Compensation
from distributed_saga.log import SagaLog
from distributed_saga.testing.contract.helpers import (
    LEASE,
    OWNER,
    create_in_order,
    drive,
    intent,
)

__all__ = ["ReadingContract"]


class ReadingContract:
    """``get_saga``, ``list_sagas`` and ``SagaRecord.status``."""

    def test_get_saga_of_a_missing_saga_raises_not_found(self, log: SagaLog) -> None:
        with pytest.raises(SagaNotFoundError) as raised:
            log.get_saga("nope")
        assert raised.value.saga_id == "nope"

    def test_list_sagas_returns_newest_first_up_to_the_limit(self, log: SagaLog) -> None:
        create_in_order(log, ["b", "c", "a", "d"])
        assert [s.saga_id for s in log.list_sagas()] == ["d", "a", "c", "b"]
        assert [s.saga_id for s in log.list_sagas(limit=2)] == ["d", "a"]
        assert log.list_sagas(limit=0) == []

    def test_list_sagas_of_an_empty_log_is_empty(self, log: SagaLog) -> None:
        assert log.list_sagas() == []

    def test_list_sagas_filters_by_state_and_lock_key(self, log: SagaLog) -> None:
        drive(log, "c", SagaState.COMMITTED, lock_key="doc")
        drive(log, "p", SagaState.PENDING, lock_key="doc")
        drive(log, "e", SagaState.EXECUTING, lock_key="other")
        drive(log, "f", SagaState.FAILED)

        def ids(**filters: Any) -> set[str]:
            return {s.saga_id for s in log.list_sagas(**filters)}

        assert ids() == {"p", "e", "c", "f"}
        assert ids(states={SagaState.PENDING, SagaState.FAILED}) == {"p", "f"}
        assert ids(lock_key="doc") == {"p", "c"}
        assert ids(states=[SagaState.COMMITTED], lock_key="doc") == {"c"}
        assert ids(states=[SagaState.EXECUTING], lock_key="doc") == set()
        assert ids(states=[]) == set()

    def test_list_sagas_includes_each_sagas_steps_in_order(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.COMPENSATING)
        log.create_saga("s2", None, owner=OWNER, lease_seconds=LEASE)
        for index in range(3):
            intent(log, "s2", index=index)
        listed = {s.saga_id: s for s in log.list_sagas()}
        assert listed["s1"] == log.get_saga("s1")
        assert [step.index for step in listed["s2"].steps] == [0, 1, 2]
        assert listed["s2"] == log.get_saga("s2")

    def test_metadata_and_compensation_args_round_trip_as_json(self, log: SagaLog) -> None:
        metadata = {
            "title": "Résumé ✓ 文档",
            "nested": {"list": [1, 2.5, None, True, "x"], "empty": {}},
            "count": 3,
        }
        args = {"path": "wiki/page.md", "lines": [1, 2], "flags": {"force": False}}
        log.create_saga("s1", None, owner=OWNER, lease_seconds=LEASE, metadata=metadata)
        intent(log, "s1", index=0, compensation=Compensation("undo", args))
        saga = log.get_saga("s1")
        assert saga.metadata == metadata
        assert saga.steps[0].compensation_args == args
        assert log.list_sagas()[0].metadata == metadata

    def test_status_summarises_a_recorded_saga(self, log: SagaLog) -> None:
        drive(log, "s1", SagaState.ROLLED_BACK)
        assert log.get_saga("s1").status() == {
            "saga_id": "s1",
            "user_id": "user",
            "state": "rolled_back",
            "total_steps": 1,
            "completed_steps": 0,
            "failed_at": "step-0",
            "error": "x",
        }
