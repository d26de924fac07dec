"""SagaLogCollector: sagas needing an operator, read from the saga log at scrape time."""

from __future__ import annotations

import time
from collections.abc import Collection
from pathlib import Path

import pytest
from observability_support import BROKEN, NOTHING, SNAPSHOT, crash_a_saga, undo_registry
from prometheus_client import CollectorRegistry

from distributed_saga import (
    Compensation,
    DistributedSaga,
    RetryPolicy,
    SagaLog,
    SagaLogUnavailable,
    SagaState,
    open_saga_log,
    recover_sagas,
)
from distributed_saga.log.memory import MemorySagaLog
from wikisaga.observability import SagaLogCollector


def _scrape(collector: SagaLogCollector) -> dict[str, float]:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(collector)
    values = {}
    for metric in registry.collect():
        for s in metric.samples:
            reason = s.labels.get("reason")
            values[f"{s.name}:{reason}" if reason else s.name] = s.value
    return values


def _leave_failed(log: SagaLog, saga_id: str) -> None:
    """A saga whose only compensation keeps failing: it ends ``failed``."""
    saga = DistributedSaga(
        saga_id,
        "user-456",
        log=log,
        registry=undo_registry(),
        compensation_retry=RetryPolicy.never(),
    )
    saga.execute_step("Save 3 wiki files to filesystem", lambda: None, Compensation(BROKEN))
    saga.abort("the git service is down")
    assert saga.state is SagaState.FAILED


def test_failed_sagas_need_intervention_and_committed_ones_do_not() -> None:
    log = MemorySagaLog()
    _leave_failed(log, "wiki-a")
    _leave_failed(log, "wiki-b")
    ok = DistributedSaga("wiki-ok", "user-456", log=log, registry=undo_registry())
    ok.execute_step(SNAPSHOT, lambda: None, Compensation(NOTHING))
    ok.commit()

    values = _scrape(SagaLogCollector(log))
    assert values["wikisaga_sagas_needing_intervention:failed"] == 2
    assert values["wikisaga_sagas_needing_intervention:lease_expired"] == 0
    assert values["wikisaga_saga_log_in_flight"] == 0
    assert values["wikisaga_saga_log_up"] == 1


def test_an_in_flight_saga_needs_intervention_only_once_its_lease_has_expired() -> None:
    """Judged by the log's clock, as recovery judges it; a grace leaves recent expiries out."""
    log = MemorySagaLog()
    log.create_saga("wiki-running", "user-456", owner="backend-1", lease_seconds=30)
    log.create_saga("wiki-quiet", "user-456", owner="backend-2", lease_seconds=0.05)
    time.sleep(0.1)

    assert _scrape(SagaLogCollector(log)) == {
        "wikisaga_sagas_needing_intervention:failed": 0,
        "wikisaga_sagas_needing_intervention:lease_expired": 1,
        "wikisaga_saga_log_in_flight": 2,
        "wikisaga_saga_log_up": 1,
    }
    forgiving = _scrape(SagaLogCollector(log, grace_seconds=60))
    assert forgiving["wikisaga_sagas_needing_intervention:lease_expired"] == 0
    with pytest.raises(ValueError, match="negative"):
        SagaLogCollector(log, grace_seconds=-1)


def test_after_a_restart_the_log_still_shows_the_crashed_saga_until_recovery_ends_it(
    tmp_path: Path,
) -> None:
    """Nothing in this process saw the saga: the count comes from the durable log."""
    log_url = f"sqlite:///{(tmp_path / 'sagas.db').as_posix()}"
    crash_a_saga(log_url)
    time.sleep(0.6)  # the crashed process's lease runs out
    with open_saga_log(log_url) as log:
        collector = SagaLogCollector(log)
        before = _scrape(collector)
        recover_sagas(log, registry=undo_registry())
        after = _scrape(collector)
    assert before["wikisaga_sagas_needing_intervention:lease_expired"] == 1
    assert before["wikisaga_saga_log_in_flight"] == 1
    assert after["wikisaga_sagas_needing_intervention:lease_expired"] == 0
    assert after["wikisaga_saga_log_in_flight"] == 0


class _UnreachableLog(MemorySagaLog):
    """A log whose database has gone away."""

    def count_sagas(
        self,
        *,
        states: Collection[SagaState] | None = None,
        lease_expired_for: float | None = None,
    ) -> int:
        raise SagaLogUnavailable("database is locked")


def test_an_unreadable_log_reports_up_zero_and_leaves_the_counts_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Zero would say "nothing needs an operator", which nobody knows."""
    assert _scrape(SagaLogCollector(_UnreachableLog())) == {"wikisaga_saga_log_up": 0}
    assert "could not read the saga log" in caplog.text


def test_registering_the_collector_does_not_read_the_log() -> None:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(SagaLogCollector(_UnreachableLog()))  # describe() only: no error


def test_counts_are_exact_however_many_sagas_the_log_keeps() -> None:
    """One count query per gauge: no page of the log stands in for all of it."""
    log = MemorySagaLog()
    for n in range(3):
        _leave_failed(log, f"wiki-{n}")
    for n in range(1005):
        log.create_saga(f"stuck-{n}", None, owner="gone", lease_seconds=0.01)
    time.sleep(0.05)
    values = _scrape(SagaLogCollector(log))
    assert values["wikisaga_sagas_needing_intervention:failed"] == 3
    assert values["wikisaga_sagas_needing_intervention:lease_expired"] == 1005
    assert values["wikisaga_saga_log_in_flight"] == 1005
