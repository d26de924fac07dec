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
with ``max``, not ``sum``. Each number is one count query on the log
(:meth:`~distributed_saga.SagaLog.count_sagas`), exact however many sagas it keeps, and
lease expiry is judged by the log's own clock (the database server's for PostgreSQL), as
recovery judges it; ``grace_seconds`` leaves a lease that expired only that recently out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

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

    def __init__(self, log: SagaLog, *, grace_seconds: float = 0.0) -> None:
        if grace_seconds < 0:
            raise ValueError("grace_seconds cannot be negative")
        self._log = log
        self._grace = grace_seconds

    def describe(self) -> Iterator[Metric]:
        """The metric names, without reading the log (registries call this on register)."""
        yield GaugeMetricFamily(*_NEEDING_INTERVENTION, labels=["reason"])
        yield GaugeMetricFamily(*_IN_FLIGHT)
        yield GaugeMetricFamily(*_UP)

    def collect(self) -> Iterator[Metric]:
        """Read the log and yield the gauges; a log that cannot be read gives ``up`` 0."""
        try:
            failed = self._log.count_sagas(states={SagaState.FAILED})
            expired = self._log.count_sagas(lease_expired_for=self._grace)
            in_flight = self._log.count_sagas(states=IN_FLIGHT_STATES)
        except SagaError as exc:
            logger.warning("metrics: could not read the saga log %s: %s", self._log.url, exc)
            yield GaugeMetricFamily(*_UP, value=0)
            return
        needing = GaugeMetricFamily(*_NEEDING_INTERVENTION, labels=["reason"])
        needing.add_metric(["failed"], failed)
        needing.add_metric(["lease_expired"], expired)
        yield needing
        yield GaugeMetricFamily(*_IN_FLIGHT, value=in_flight)
        yield GaugeMetricFamily(*_UP, value=1)
