"""Observability: saga metrics (a :class:`~distributed_saga.SagaObserver`), metrics read
from the saga log, and log formats (DESIGN §8).

A process that runs sagas wires it like this::

    metrics = SagaMetrics(known_steps=[...])
    app = create_service_app(
        "backend", settings, collectors=[metrics, SagaLogCollector(saga_log)]
    )
    saga = DistributedSaga(..., observer=metrics)
    SagaRecoverer(saga_log, observer=metrics).start()
    configure_logging(settings)

The metric table is in :mod:`~wikisaga.observability.saga_metrics`.
"""

from __future__ import annotations

from wikisaga.observability.labels import OTHER_LABEL, BoundedLabels, step_label
from wikisaga.observability.logs import (
    JsonLogFormatter,
    configure_logging,
    current_log_context,
    log_context,
)
from wikisaga.observability.saga_log import INTERVENTION_REASONS, SagaLogCollector
from wikisaga.observability.saga_metrics import FINAL_OUTCOMES, SagaMetrics

__all__ = [
    "FINAL_OUTCOMES",
    "INTERVENTION_REASONS",
    "OTHER_LABEL",
    "BoundedLabels",
    "JsonLogFormatter",
    "SagaLogCollector",
    "SagaMetrics",
    "configure_logging",
    "current_log_context",
    "log_context",
    "step_label",
]
