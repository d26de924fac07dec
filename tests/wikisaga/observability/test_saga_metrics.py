"""SagaMetrics: what the engine's observer hooks record, in this process and in the one
that recovers a crashed saga."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from observability_support import (
    BROKEN,
    NOTHING,
    SAVE,
    SNAPSHOT,
    SampleReader,
    crash_a_saga,
    undo_registry,
)
from prometheus_client import CollectorRegistry

from distributed_saga import (
    Compensation,
    DistributedSaga,
    RetryPolicy,
    SagaState,
    open_saga_log,
    recover_sagas,
)
from wikisaga.observability import OTHER_LABEL, SagaMetrics, step_label


def _saga(metrics: SagaMetrics, saga_id: str, **options: Any) -> DistributedSaga:
    return DistributedSaga(
        saga_id,
        "user-456",
        observer=metrics,
        registry=undo_registry(),
        compensation_retry=RetryPolicy.never(),
        **options,
    )


def _fail() -> None:
    raise ConnectionError("Connection refused")


def test_a_committed_saga_counts_as_started_finished_and_a_guide_success(
    saga_metrics: SagaMetrics, sample: SampleReader
) -> None:
    saga = _saga(saga_metrics, "wiki-ok")
    saga.execute_step("Save 45 wiki files to filesystem", lambda: None, Compensation(NOTHING))
    saga.execute_step(SNAPSHOT, lambda: None, Compensation(NOTHING))
    saga.commit()

    assert sample("wikisaga_sagas_started_total") == 1
    assert sample("wikisaga_sagas_finished_total", outcome="committed") == 1
    assert sample("wikisaga_sagas_finished_total", outcome="rolled_back") == 0
    assert sample("wikisaga_wiki_generation_successes_total") == 1
    assert sample("wikisaga_wiki_generation_rollbacks_total") == 0
    assert sample("wikisaga_wiki_generation_failures_total") == 0
    assert sample("wikisaga_sagas_in_flight") == 0
    assert sample("wikisaga_saga_step_duration_seconds_count", step=SAVE, outcome="completed") == 1
    assert sample("wikisaga_saga_rollback_duration_seconds_count", outcome="rolled_back") == 0


def test_a_saga_is_in_flight_while_its_steps_run(
    saga_metrics: SagaMetrics, sample: SampleReader
) -> None:
    seen: list[float | None] = []
    saga = _saga(saga_metrics, "wiki-busy")
    saga.execute_step(SNAPSHOT, lambda: seen.append(sample("wikisaga_sagas_in_flight")))
    saga.commit()
    assert seen == [1]
    assert sample("wikisaga_sagas_in_flight") == 0


def test_a_rolled_back_saga_times_its_rollback_and_each_compensation(
    saga_metrics: SagaMetrics, sample: SampleReader
) -> None:
    saga = _saga(saga_metrics, "wiki-rollback")
    saga.execute_step("Save 3 wiki files to filesystem", lambda: None, Compensation(NOTHING))
    with pytest.raises(ConnectionError):
        saga.execute_step(SNAPSHOT, _fail, Compensation(NOTHING))

    assert sample("wikisaga_sagas_finished_total", outcome="rolled_back") == 1
    assert sample("wikisaga_wiki_generation_rollbacks_total") == 1
    assert sample("wikisaga_saga_step_duration_seconds_count", step=SNAPSHOT, outcome="failed") == 1
    for step in (SAVE, SNAPSHOT):
        assert (
            sample(
                "wikisaga_saga_compensation_duration_seconds_count",
                step=step,
                outcome="compensated",
            )
            == 1
        )
    assert sample("wikisaga_saga_rollback_duration_seconds_count", outcome="rolled_back") == 1
    assert sample("wikisaga_saga_compensation_failures_total", step=SAVE) is None
    assert sample("wikisaga_sagas_in_flight") == 0


def test_a_compensation_that_runs_out_of_retries_is_a_failure_and_a_failed_saga(
    saga_metrics: SagaMetrics, sample: SampleReader
) -> None:
    saga = _saga(saga_metrics, "wiki-stuck")
    saga.execute_step("Save 3 wiki files to filesystem", lambda: None, Compensation(BROKEN))
    with pytest.raises(ConnectionError):
        saga.execute_step(SNAPSHOT, _fail, Compensation(NOTHING))

    assert saga.state is SagaState.FAILED
    assert sample("wikisaga_saga_compensation_failures_total", step=SAVE) == 1
    assert (
        sample("wikisaga_saga_compensation_duration_seconds_count", step=SAVE, outcome="failed")
        == 1
    )
    assert sample("wikisaga_sagas_finished_total", outcome="failed") == 1
    assert sample("wikisaga_wiki_generation_failures_total") == 1
    assert sample("wikisaga_saga_rollback_duration_seconds_count", outcome="failed") == 1
    assert sample("wikisaga_sagas_in_flight") == 0


def test_a_saga_recovered_from_a_crashed_process_is_counted_by_the_recovering_one(
    tmp_path: Path, saga_metrics: SagaMetrics, sample: SampleReader
) -> None:
    """Recovery tells the observer how the saga ended; this process never saw it start,
    so it counts a finish and a rollback but nothing in flight."""
    log_url = f"sqlite:///{(tmp_path / 'sagas.db').as_posix()}"
    crash_a_saga(log_url)
    time.sleep(0.6)  # the child's lease runs out

    with open_saga_log(log_url) as log:
        outcomes = recover_sagas(log, registry=undo_registry(), observer=saga_metrics)
    assert [o.state for o in outcomes] == [SagaState.ROLLED_BACK]

    assert sample("wikisaga_sagas_started_total") == 0
    assert sample("wikisaga_sagas_finished_total", outcome="rolled_back") == 1
    assert sample("wikisaga_wiki_generation_rollbacks_total") == 1
    assert sample("wikisaga_saga_rollback_duration_seconds_count", outcome="rolled_back") == 1
    assert (
        sample(
            "wikisaga_saga_compensation_duration_seconds_count", step=SAVE, outcome="compensated"
        )
        == 1
    )
    assert sample("wikisaga_sagas_in_flight") == 0


def test_step_labels_replace_numbered_words_so_file_counts_share_one_series(
    saga_metrics: SagaMetrics, sample: SampleReader
) -> None:
    for count in (1, 45, 1200):
        saga = _saga(saga_metrics, f"wiki-{count}")
        saga.execute_step(f"Save {count} wiki files to filesystem", lambda: None)
        saga.commit()
    assert sample("wikisaga_saga_step_duration_seconds_count", step=SAVE, outcome="completed") == 3


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("Save 45 wiki files to filesystem", SAVE),
        ("Create git snapshot of wiki files", SNAPSHOT),
        ("Stage graph generation gen-3f2a", "Stage graph generation N"),
        ("  Write\tv2   pages ", "Write N pages"),
        ("", "unnamed"),
        ("x" * 200, "x" * 64),
    ],
)
def test_step_label_rule(name: str, label: str) -> None:
    assert step_label(name) == label


def test_steps_past_the_label_limit_are_reported_as_other() -> None:
    """A step named after a file ("Write index.md") cannot grow the label set for ever."""
    metrics = SagaMetrics(max_step_labels=2)
    registry = CollectorRegistry()
    registry.register(metrics)
    for name in ("Write index.md", "Write glossary.md", "Write topics.md", "Write index.md"):
        metrics.step_finished("s", name, 0.01, None)

    def count(step: str) -> float | None:
        return registry.get_sample_value(
            "wikisaga_saga_step_duration_seconds_count", {"step": step, "outcome": "completed"}
        )

    assert (count("Write index.md"), count("Write glossary.md")) == (2, 1)
    assert count(OTHER_LABEL) == 1
    assert count("Write topics.md") is None


def test_outcomes_and_known_steps_exist_at_zero_before_any_saga() -> None:
    """So that the alert rules' increase() sees the first failure, and "nothing
    committed" reads 0 rather than no series at all."""
    metrics = SagaMetrics(known_steps=["Save 45 wiki files to filesystem", SNAPSHOT])
    registry = CollectorRegistry()
    registry.register(metrics)
    for outcome in ("committed", "rolled_back", "failed"):
        assert registry.get_sample_value("wikisaga_sagas_finished_total", {"outcome": outcome}) == 0
    for step in (SAVE, SNAPSHOT):
        assert (
            registry.get_sample_value("wikisaga_saga_compensation_failures_total", {"step": step})
            == 0
        )
        assert (
            registry.get_sample_value(
                "wikisaga_saga_step_duration_seconds_count", {"step": step, "outcome": "failed"}
            )
            == 0
        )


def test_set_jobs_reports_every_status_seen_and_zero_for_those_now_absent(
    saga_metrics: SagaMetrics, sample: SampleReader
) -> None:
    saga_metrics.set_jobs({"queued": 2, "running": 1})
    saga_metrics.set_jobs({"running": 0, "succeeded": 3})
    assert sample("wikisaga_jobs", status="queued") == 0
    assert sample("wikisaga_jobs", status="running") == 0
    assert sample("wikisaga_jobs", status="succeeded") == 3
    with pytest.raises(ValueError, match="-1 jobs"):
        saga_metrics.set_jobs({"queued": -1})


def test_record_stage_observes_the_stage_duration(
    saga_metrics: SagaMetrics, sample: SampleReader
) -> None:
    saga_metrics.record_stage("generate_pages", 2.0)
    saga_metrics.record_stage("generate_pages", 40.0)
    assert sample("wikisaga_pipeline_stage_duration_seconds_count", stage="generate_pages") == 2
    assert sample("wikisaga_pipeline_stage_duration_seconds_sum", stage="generate_pages") == 42
    assert (
        sample("wikisaga_pipeline_stage_duration_seconds_bucket", stage="generate_pages", le="30.0")
        == 1
    )
    with pytest.raises(ValueError, match="cannot take"):
        saga_metrics.record_stage("publish", -1)


def test_one_instance_serves_several_registries_but_only_once_each(
    saga_metrics: SagaMetrics,
) -> None:
    first, second = CollectorRegistry(auto_describe=True), CollectorRegistry(auto_describe=True)
    first.register(saga_metrics)
    second.register(saga_metrics)
    saga_metrics.saga_started("s")
    assert first.get_sample_value("wikisaga_sagas_started_total") == 1
    assert second.get_sample_value("wikisaga_sagas_started_total") == 1
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        first.register(SagaMetrics())
