"""Saga metrics: what the engine tells a :class:`~distributed_saga.SagaObserver`, as
Prometheus series.

=============================================== ========= ================================
metric                                          type      labels
=============================================== ========= ================================
``wikisaga_sagas_started_total``                counter
``wikisaga_sagas_finished_total``               counter   ``outcome``
``wikisaga_sagas_in_flight``                    gauge
``wikisaga_sagas_abandoned_total``              counter   ``reason``
``wikisaga_sagas_claimed_total``                counter   ``reason``
``wikisaga_saga_step_duration_seconds``         histogram ``step``, ``outcome``
``wikisaga_saga_compensation_duration_seconds`` histogram ``step``, ``outcome``
``wikisaga_saga_compensation_failures_total``   counter   ``step``
``wikisaga_saga_rollback_duration_seconds``     histogram ``outcome``
``wikisaga_wiki_generation_successes_total``    counter
``wikisaga_wiki_generation_rollbacks_total``    counter
``wikisaga_wiki_generation_failures_total``     counter
``wikisaga_jobs``                               gauge     ``status``
``wikisaga_pipeline_stage_duration_seconds``    histogram ``stage``
``wikisaga_sagas_needing_intervention``         gauge     ``reason``
``wikisaga_saga_log_in_flight``                 gauge
``wikisaga_saga_log_up``                        gauge
=============================================== ========= ================================

What each counts, and the label values, are in ``docs/operations.md`` (the same table,
with a column of meaning). In short: *started*, *finished* (``outcome`` = ``committed``,
``rolled_back``, ``failed``) and *in flight* count the sagas this process runs or
recovers; *abandoned* counts sagas this process gave up unfinished (``reason`` =
``lease_lost``, ``interrupted``, ``dropped``), left for recovery, and *claimed* sagas it
took over from another (``reason`` = ``recovery``, ``retry``, ``resolve``); the step and
compensation histograms time one step's action or compensation,
retries included (``outcome`` = ``completed``/``failed`` for a step,
``compensated``/``failed`` for a compensation); the rollback histogram times a whole
rollback (``outcome`` = ``rolled_back``/``failed``); the three ``wiki_generation``
counters are the guide's ``successes``, ``rollbacks`` and ``failures``, counted from the
saga's final state as the guide's ``track_saga_event`` does; jobs and pipeline stages are
set by the backend through :meth:`SagaMetrics.set_jobs` and :meth:`SagaMetrics.record_stage`.
The last three rows are read from the saga log at scrape time by
:class:`~wikisaga.observability.saga_log.SagaLogCollector`.

``step`` labels are bounded (:mod:`wikisaga.observability.labels`): numbered words become
``N`` and, past ``max_step_labels`` distinct values, new steps are reported as ``other``.

Every counter is recorded by the process in which the engine event happened. A saga
started in process A and rolled back by recovery in process B counts as started in A and
finished in B, so sums over all processes are right; ``wikisaga_sagas_in_flight`` counts
only the sagas a process started itself and has neither seen finish nor abandoned.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric

from distributed_saga import ABANDON_REASONS, CLAIM_REASONS, SagaObserver, SagaState
from wikisaga.observability.labels import BoundedLabels, step_label

__all__ = [
    "FINAL_OUTCOMES",
    "STAGE_BUCKETS",
    "STEP_BUCKETS",
    "SagaMetrics",
]

STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
"""Seconds: a step or compensation is one HTTP call with bounded retries."""

STAGE_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
"""Seconds: a pipeline stage (say, generating every page) may take minutes."""

FINAL_OUTCOMES = (SagaState.COMMITTED, SagaState.ROLLED_BACK, SagaState.FAILED)
"""The states a saga can finish in: the values of ``outcome``."""

_ROLLBACK_OUTCOMES = (SagaState.ROLLED_BACK, SagaState.FAILED)
_STEP_OUTCOMES = ("completed", "failed")
_COMPENSATION_OUTCOMES = ("compensated", "failed")


class SagaMetrics(SagaObserver):
    """A saga observer that records Prometheus metrics, and the collector serving them.

    Pass it as ``observer=`` to sagas, :func:`~distributed_saga.recover_sagas` and the
    :class:`~distributed_saga.SagaRecoverer`, and to ``create_service_app(collectors=...)``
    (or ``ServiceMetrics.register``) to serve it. One instance may be registered with
    several apps' registries; it belongs to none.

    ``known_steps`` are step names whose series exist from the start at zero, so that a
    rate or ``increase()`` sees their first event; other steps' series appear with their
    first event. Methods are quick, thread-safe and never raise for a saga event.
    """

    def __init__(self, *, known_steps: Iterable[str] = (), max_step_labels: int = 32) -> None:
        self._steps = BoundedLabels(max_step_labels, step_label)
        self._stages = BoundedLabels(32)
        self._statuses = BoundedLabels(32)
        self._lock = threading.Lock()
        self._in_flight_ids: set[str] = set()
        self._job_statuses: set[str] = set()

        self.started = Counter(
            "wikisaga_sagas_started", "Sagas this process created in the saga log.", registry=None
        )
        self.finished = Counter(
            "wikisaga_sagas_finished",
            "Sagas this process finished (recovery included), by outcome.",
            ["outcome"],
            registry=None,
        )
        self.in_flight = Gauge(
            "wikisaga_sagas_in_flight",
            "Sagas this process started that it has not seen finish.",
            registry=None,
        )
        self.abandoned = Counter(
            "wikisaga_sagas_abandoned",
            "Sagas this process gave up unfinished, left for recovery, by reason.",
            ["reason"],
            registry=None,
        )
        self.claimed = Counter(
            "wikisaga_sagas_claimed",
            "Sagas this process took over from another (recovery, an operator), by reason.",
            ["reason"],
            registry=None,
        )
        self.step_duration = Histogram(
            "wikisaga_saga_step_duration_seconds",
            "Time of one step's action, retries included, by step and outcome.",
            ["step", "outcome"],
            buckets=STEP_BUCKETS,
            registry=None,
        )
        self.compensation_duration = Histogram(
            "wikisaga_saga_compensation_duration_seconds",
            "Time to compensate one step, retries included, by step and outcome.",
            ["step", "outcome"],
            buckets=STEP_BUCKETS,
            registry=None,
        )
        self.compensation_failures = Counter(
            "wikisaga_saga_compensation_failures",
            "Compensations that ran out of retries: the step is still to be undone.",
            ["step"],
            registry=None,
        )
        self.rollback_duration = Histogram(
            "wikisaga_saga_rollback_duration_seconds",
            "Time of a whole rollback, by how it ended.",
            ["outcome"],
            buckets=STEP_BUCKETS,
            registry=None,
        )
        self.successes = Counter(
            "wikisaga_wiki_generation_successes",
            "The guide's wiki_generation.successes: sagas that committed.",
            registry=None,
        )
        self.rollbacks = Counter(
            "wikisaga_wiki_generation_rollbacks",
            "The guide's wiki_generation.rollbacks: sagas that were rolled back.",
            registry=None,
        )
        self.failures = Counter(
            "wikisaga_wiki_generation_failures",
            "The guide's wiki_generation.failures: sagas that ended in any other state.",
            registry=None,
        )
        self.jobs = Gauge(
            "wikisaga_jobs", "Wiki generation jobs by status.", ["status"], registry=None
        )
        self.stage_duration = Histogram(
            "wikisaga_pipeline_stage_duration_seconds",
            "Time of one pipeline stage of a wiki generation, by stage.",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=None,
        )
        self._metrics: tuple[MetricWrapperBase, ...] = (
            self.started,
            self.finished,
            self.in_flight,
            self.abandoned,
            self.claimed,
            self.step_duration,
            self.compensation_duration,
            self.compensation_failures,
            self.rollback_duration,
            self.successes,
            self.rollbacks,
            self.failures,
            self.jobs,
            self.stage_duration,
        )
        # Series that exist from the start, so the alert rules' increase() and ratios see
        # the first event and "no commit in 15 minutes" reads 0 rather than nothing.
        for outcome in FINAL_OUTCOMES:
            self.finished.labels(outcome.value)
        for state in _ROLLBACK_OUTCOMES:
            self.rollback_duration.labels(state.value)
        for reason in ABANDON_REASONS:
            self.abandoned.labels(reason)
        for reason in CLAIM_REASONS:
            self.claimed.labels(reason)
        for name in known_steps:
            step = self._steps(name)
            self.compensation_failures.labels(step)
            for outcome_label in _STEP_OUTCOMES:
                self.step_duration.labels(step, outcome_label)
            for outcome_label in _COMPENSATION_OUTCOMES:
                self.compensation_duration.labels(step, outcome_label)

    # -- the Prometheus collector ---------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        """Every series, for a registry's scrape."""
        for metric in self._metrics:
            yield from metric.collect()

    def describe(self) -> Iterator[Metric]:
        """The metric names, so a registry can refuse duplicates without a scrape."""
        for metric in self._metrics:
            yield from metric.describe()

    # -- SagaObserver ---------------------------------------------------------------------

    def saga_started(self, saga_id: str) -> None:
        self.started.inc()
        with self._lock:
            self._in_flight_ids.add(saga_id)
            self.in_flight.set(len(self._in_flight_ids))

    def step_finished(self, saga_id: str, name: str, seconds: float, error: str | None) -> None:
        outcome = "completed" if error is None else "failed"
        self.step_duration.labels(self._steps(name), outcome).observe(seconds)

    def compensation_finished(
        self, saga_id: str, name: str, seconds: float, error: str | None
    ) -> None:
        step = self._steps(name)
        outcome = "compensated" if error is None else "failed"
        self.compensation_duration.labels(step, outcome).observe(seconds)
        if error is not None:
            self.compensation_failures.labels(step).inc()

    def rollback_finished(self, saga_id: str, seconds: float, state: SagaState) -> None:
        if state in _ROLLBACK_OUTCOMES:
            self.rollback_duration.labels(state.value).observe(seconds)

    def saga_finished(self, saga_id: str, state: SagaState) -> None:
        if state not in FINAL_OUTCOMES:
            return
        self.finished.labels(state.value).inc()
        # The guide's track_saga_event: committed, rolled_back, and everything else.
        if state is SagaState.COMMITTED:
            self.successes.inc()
        elif state is SagaState.ROLLED_BACK:
            self.rollbacks.inc()
        else:
            self.failures.inc()
        with self._lock:
            # Only sagas started here: one recovered from another process never counted
            # as in flight in this one.
            self._in_flight_ids.discard(saga_id)
            self.in_flight.set(len(self._in_flight_ids))

    def saga_abandoned(self, saga_id: str, reason: str) -> None:
        self.abandoned.labels(reason if reason in ABANDON_REASONS else "other").inc()
        with self._lock:
            self._in_flight_ids.discard(saga_id)
            self.in_flight.set(len(self._in_flight_ids))

    def saga_claimed(self, saga_id: str, reason: str) -> None:
        self.claimed.labels(reason if reason in CLAIM_REASONS else "other").inc()

    # -- what the backend reports ---------------------------------------------------------

    def record_stage(self, stage: str, seconds: float) -> None:
        """Record that pipeline stage ``stage`` (a generation's step as its job reports it:
        ``fetch_documents``, ``generate_pages``, ..., ``commit``) took ``seconds``."""
        if seconds < 0:
            raise ValueError(f"stage {stage!r} cannot take {seconds} seconds")
        self.stage_duration.labels(self._stages(stage)).observe(seconds)

    def set_jobs(self, status_counts: Mapping[str, int]) -> None:
        """Set how many jobs are in each status now (``queued``, ``running``,
        ``succeeded``, ``failed``, ...); a status reported before and absent now is 0."""
        counts: dict[str, float] = {}
        for status, count in status_counts.items():
            if count < 0:
                raise ValueError(f"{count} jobs cannot be {status!r}")
            label = self._statuses(status)
            counts[label] = counts.get(label, 0) + count
        with self._lock:
            self._job_statuses.update(counts)
            for label in self._job_statuses:
                self.jobs.labels(label).set(counts.get(label, 0))
