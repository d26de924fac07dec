"""The saga protocol's transition table: the states each fenced log write may start from.

Written once, here. :class:`~distributed_saga.log.MemorySagaLog` checks a saga's state
against it; the SQL log renders it into the ``state IN (...)`` of its fenced ``UPDATE`` statements.
A write from any other state raises :class:`~distributed_saga.SagaStateError` and changes
nothing. The states a saga moves through::

    pending ──▶ executing ──▶ committed      (pending commits at once: a saga of no steps)
       │            │
       └─────┬──────┘
             ▼
        compensating ──▶ rolled_back
           ▲    │
           │    ▼
           └── failed                       (an operator's retry compensates again)

``committed`` and ``rolled_back`` are the end: no write starts from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from distributed_saga._records import IN_FLIGHT_STATES, SagaState

__all__ = [
    "BEGIN_COMPENSATION_FROM",
    "FINISH_FROM",
    "RECORD_COMPENSATION_FROM",
    "RECORD_INTENT_FROM",
    "RECORD_STEP_RESULT_FROM",
]

RECORD_INTENT_FROM = frozenset({SagaState.PENDING, SagaState.EXECUTING})
""":meth:`SagaLog.record_intent`: the first step moves a ``pending`` saga to ``executing``;
each later step finds it there."""

RECORD_STEP_RESULT_FROM = frozenset({SagaState.EXECUTING, SagaState.COMPENSATING})
""":meth:`SagaLog.record_step_result`: while ``executing``, and while ``compensating`` (the
engine writes the outcome of a step that failed or was interrupted after the rollback
began)."""

BEGIN_COMPENSATION_FROM = IN_FLIGHT_STATES | {SagaState.FAILED}
""":meth:`SagaLog.begin_compensation`: from any state in flight (``compensating`` again when
a recoverer takes over a rollback) and from ``failed`` (an operator's retry, after
:meth:`SagaLog.claim_saga`)."""

RECORD_COMPENSATION_FROM = frozenset({SagaState.COMPENSATING})
""":meth:`SagaLog.record_compensation`: only while ``compensating``."""

FINISH_FROM: Mapping[SagaState, frozenset[SagaState]] = MappingProxyType(
    {
        SagaState.COMMITTED: frozenset({SagaState.PENDING, SagaState.EXECUTING}),
        SagaState.ROLLED_BACK: frozenset({SagaState.COMPENSATING}),
        SagaState.FAILED: frozenset({SagaState.COMPENSATING}),
    }
)
""":meth:`SagaLog.finish_saga`, by the state it finishes in: ``committed`` only going
forward, ``rolled_back`` and ``failed`` only at the end of a rollback. Its keys are the only
states a saga finishes in."""
