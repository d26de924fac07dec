"""Metrics read from the saga log at scrape time: what needs an operator, right after a
restart too.

A counter in a process forgets everything when the process restarts, and a saga that
another process left behind was never counted in this one. The saga log knows both, so
:class:`SagaLogCollector` asks it on every scrape:

- ``wikisaga_sagas_needing_intervention{reason="failed"}`` — sagas in state ``failed``: a
  compensation ran out of retries and the log keeps what is left to undo
  (``wikisaga sagas retry`` / ``resolve``);
- ``wikisaga_sagas_needing_intervention{reason="lease_expired"}`` — sagas in flight whose
  owner stopped renewing its lease: recovery should claim them within its interval; if the
  number stays above zero, no recovery is running;
- ``wikisaga_saga_log_in_flight`` — sagas in flight in the log, whichever process runs them;
- ``wikisaga_saga_log_up`` — 1 when this scrape could read the log, else 0 (and the two
  gauges above are left out rather than reported as zero).

Every process that shares one log (PostgreSQL) reports the same numbers: aggregate them
with ``max``, not ``sum``. Counts stop at ``limit`` (then they are lower bounds). Lease
expiry is judged by this process's clock against the times the log wrote with its own
(the database server's for PostgreSQL); ``grace_seconds`` absorbs a small skew.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from distributed_saga import IN_FLIGHT_STATES, SagaError, SagaLog, SagaState

__all__ = ["INTERVENTION_REASONS", "SagaLogCollector"]

logger = logging.getLogger("wikisaga.observability")

INTERVENTION_REASONS = ("failed", "lease_expired")
"""The values of ``reason`` on ``wikisaga_sagas_needing_intervention``."""

_NEEDING_INTERVENTION = (
    "wikisaga_sagas_needing_intervention",
    "Sagas an operator must look at, read from the saga log: failed ones, and in-flight "
    "ones whose owner's lease expired.",
)
_IN_FLIGHT = (
    "wikisaga_saga_log_in_flight",
    "Sagas in flight in the saga log (pending, executing or compensating), any process.",
)
_UP = ("wikisaga_saga_log_up", "1 if this scrape could read the saga log, else 0.")


class SagaLogCollector:
    """A Prometheus collector that counts, on each scrape, the sagas of ``log`` that need
    an operator (see the module). Register it with ``create_service_app(collectors=...)``.
    """

    def __init__(
        self,
        log: SagaLog,
        *,
        limit: int = 1000,
        grace_seconds: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be positive")
        self._log = log
        self._limit = limit
        self._grace = grace_seconds
        self._clock = clock

    def describe(self) -> Iterator[Metric]:
        """The metric names, without reading the log (registries call this on register)."""
        yield GaugeMetricFamily(*_NEEDING_INTERVENTION, labels=["reason"])
        yield GaugeMetricFamily(*_IN_FLIGHT)
        yield GaugeMetricFamily(*_UP)

    def collect(self) -> Iterator[Metric]:
        """Read the log and yield the gauges; a log that cannot be read gives ``up`` 0."""
        try:
            failed = self._log.list_sagas(states={SagaState.FAILED}, limit=self._limit)
            in_flight = self._log.list_sagas(states=IN_FLIGHT_STATES, limit=self._limit)
        except SagaError as exc:
            logger.warning("metrics: could not read the saga log %s: %s", self._log.url, exc)
            yield GaugeMetricFamily(*_UP, value=0)
            return
        now = self._clock()
        expired = sum(
            1
            for saga in in_flight
            # No lease at all is claimable by recovery, exactly like an expired one.
            if saga.lease_expires_at is None or saga.lease_expires_at + self._grace < now
        )
        needing = GaugeMetricFamily(*_NEEDING_INTERVENTION, labels=["reason"])
        needing.add_metric(["failed"], len(failed))
        needing.add_metric(["lease_expired"], expired)
        yield needing
        yield GaugeMetricFamily(*_IN_FLIGHT, value=len(in_flight))
        yield GaugeMetricFamily(*_UP, value=1)
