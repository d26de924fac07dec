"""SagaMetrics when a saga changes hands: refused before it starts, given up by its process
(lease lost, interrupted, dropped), taken over by recovery, retried or resolved by an
operator. Each hand-over is an observer event, so in-flight counts never leak."""

from __future__ import annotations

import gc
import time
from typing import Any

import pytest
from observability_support import BROKEN, NOTHING, SAVE, SampleReader, undo_registry
from prometheus_client import CollectorRegistry

from distributed_saga import (
    Compensation,
    CompensationRegistry,
    DistributedSaga,
    LeaseLostError,
    RetryPolicy,
    SagaLockedError,
    SagaState,
    recover_sagas,
    resolve_saga,
    retry_saga,
)
from distributed_saga.log.memory import MemorySagaLog
from wikisaga.observability import SagaMetrics


def _saga(metrics: SagaMetrics, saga_id: str, **options: Any) -> DistributedSaga:
    options.setdefault("registry", undo_registry())
    return DistributedSaga(
        saga_id,
        "user-456",
        observer=metrics,
        compensation_retry=RetryPolicy.never(),
        **options,
    )


def _reader(metrics: SagaMetrics) -> SampleReader:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(metrics)
    return lambda name, labels=None, **more: registry.get_sample_value(
        name, {**(labels or {}), **more}
    )


def test_a_saga_refused_its_lock_key_never_starts(
    saga_metrics: SagaMetrics, sample: SampleReader
) -> None:
    log = MemorySagaLog()
    holder = _saga(saga_metrics, "wiki-1", log=log, lock_key="project-a")
    holder.execute_step("Save 3 wiki files to filesystem", lambda: None)
    refused = _saga(saga_metrics, "wiki-2", log=log, lock_key="project-a")
    with pytest.raises(SagaLockedError):
        refused.execute_step("Save 3 wiki files to filesystem", lambda: None)
    assert sample("wikisaga_sagas_started_total") == 1
    assert sample("wikisaga_sagas_in_flight") == 1
    holder.commit()
    assert sample("wikisaga_sagas_in_flight") == 0


def test_a_saga_whose_lease_was_lost_to_recovery_is_abandoned_here_and_claimed_there(
    saga_metrics: SagaMetrics, sample: SampleReader
) -> None:
    log = MemorySagaLog()  # not durable: nothing renews the lease
    saga = _saga(saga_metrics, "wiki-slow", log=log, lease_seconds=0.05)
    saga.execute_step(SAVE, lambda: None, Compensation(NOTHING))
    time.sleep(0.1)
    recoverer = SagaMetrics()
    outcomes = recover_sagas(log, registry=undo_registry(), observer=recoverer)
    assert [o.state for o in outcomes] == [SagaState.ROLLED_BACK]

    with pytest.raises(LeaseLostError):
        saga.execute_step("Create git snapshot of wiki files", lambda: None)
    assert sample("wikisaga_sagas_abandoned_total", reason="lease_lost") == 1
    assert sample("wikisaga_sagas_in_flight") == 0
    assert sample("wikisaga_sagas_finished_total", outcome="rolled_back") == 0
    there = _reader(recoverer)
    assert there("wikisaga_sagas_claimed_total", reason="recovery") == 1
    assert there("wikisaga_sagas_finished_total", outcome="rolled_back") == 1


def test_an_interrupted_saga_is_abandoned_to_recovery(
    saga_metrics: SagaMetrics, sample: SampleReader
) -> None:
    saga = _saga(saga_metrics, "wiki-interrupted")
    saga.execute_step(SAVE, lambda: None, Compensation(NOTHING))

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        saga.execute_step("Create git snapshot of wiki files", interrupted)
    assert sample("wikisaga_sagas_abandoned_total", reason="interrupted") == 1
    assert sample("wikisaga_sagas_in_flight") == 0


def test_a_saga_dropped_unfinished_is_abandoned(
    saga_metrics: SagaMetrics, sample: SampleReader
) -> None:
    saga = _saga(saga_metrics, "wiki-dropped")
    saga.execute_step(SAVE, lambda: None, Compensation(NOTHING))
    assert sample("wikisaga_sagas_in_flight") == 1
    del saga
    gc.collect()
    assert sample("wikisaga_sagas_abandoned_total", reason="dropped") == 1
    assert sample("wikisaga_sagas_in_flight") == 0


def test_a_finished_saga_is_never_abandoned(
    saga_metrics: SagaMetrics, sample: SampleReader
) -> None:
    saga = _saga(saga_metrics, "wiki-done")
    saga.execute_step(SAVE, lambda: None, Compensation(NOTHING))
    saga.commit()
    del saga
    gc.collect()
    for reason in ("lease_lost", "interrupted", "dropped"):
        assert sample("wikisaga_sagas_abandoned_total", reason=reason) == 0


def _leave_failed(log: MemorySagaLog, metrics: SagaMetrics, saga_id: str) -> None:
    saga = _saga(metrics, saga_id, log=log)
    saga.execute_step(SAVE, lambda: None, Compensation(BROKEN))
    saga.abort("the git service is down")
    assert saga.state is SagaState.FAILED


def test_an_operators_retry_is_a_claim_and_a_second_finish(
    saga_metrics: SagaMetrics, sample: SampleReader
) -> None:
    log = MemorySagaLog()
    _leave_failed(log, saga_metrics, "wiki-failed")
    fixed = CompensationRegistry()
    fixed.register(BROKEN, lambda args: None)  # the service takes the undo now
    outcome = retry_saga(log, "wiki-failed", registry=fixed, observer=saga_metrics)
    assert outcome.state is SagaState.ROLLED_BACK
    assert sample("wikisaga_sagas_claimed_total", reason="retry") == 1
    assert sample("wikisaga_sagas_finished_total", outcome="failed") == 1
    assert sample("wikisaga_sagas_finished_total", outcome="rolled_back") == 1


def test_an_operators_resolve_is_a_claim_and_a_rollback(
    saga_metrics: SagaMetrics, sample: SampleReader
) -> None:
    log = MemorySagaLog()
    _leave_failed(log, saga_metrics, "wiki-failed")
    resolve_saga(log, "wiki-failed", note="deleted the files by hand (ops)", observer=saga_metrics)
    assert sample("wikisaga_sagas_claimed_total", reason="resolve") == 1
    assert sample("wikisaga_sagas_finished_total", outcome="rolled_back") == 1
    assert sample("wikisaga_wiki_generation_rollbacks_total") == 1
