"""Observability: saga metrics (a :class:`~distributed_saga.SagaObserver`), metrics read
from the saga log, the Prometheus alert rules, and log formats (DESIGN §8).

A process that runs sagas wires it like this::

    metrics = SagaMetrics(known_steps=[...])
    app = create_service_app(
        "backend", settings, collectors=[metrics, SagaLogCollector(saga_log)]
    )
    saga = DistributedSaga(..., observer=metrics)
    SagaRecoverer(saga_log, observer=metrics).start()
    configure_logging(settings)

The metric table is in :mod:`~wikisaga.observability.saga_metrics`; what each metric and
alert means, and what to do when an alert fires, is in ``docs/operations.md``.
"""

from __future__ import annotations

from wikisaga.observability.labels import OTHER_LABEL, BoundedLabels, step_label
from wikisaga.observability.logs import (
    JsonLogFormatter,
    configure_logging,
    current_log_context,
    log_context,
)
from wikisaga.observability.rules import alert_rules_path, alert_rules_test_path
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
    "alert_rules_path",
    "alert_rules_test_path",
    "configure_logging",
    "current_log_context",
    "log_context",
    "step_label",
]
