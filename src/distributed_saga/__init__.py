"""distributed_saga — a durable saga engine with the guide's API.

>>> from distributed_saga import DistributedSaga
>>> saga = DistributedSaga(saga_id="operation-123", user_id="user-456")

Everything public is importable from here; the modules are the engine (``saga``), its log
contract and backends (``log``), durable compensations (``compensations``), recovery
(``recovery``), pruning finished sagas (``retention``), retry policies (``retry``) and
fault points for tests (``faults``).
The engine knows nothing of the application built on it. The guide's
``from distributed_saga import WikiGenerationSaga`` still works: that one name is resolved
lazily from ``wikisaga.pipeline.publish`` when asked for, and is not in ``__all__``, so
``import distributed_saga`` and ``from distributed_saga import *`` never load ``wikisaga``.
"""

from __future__ import annotations

from typing import Any as _Any

from distributed_saga._compensate import DEFAULT_COMPENSATION_RETRY
from distributed_saga._errors import (
    LeaseLostError,
    SagaError,
    SagaExistsError,
    SagaLockedError,
    SagaLogError,
    SagaLogUnavailable,
    SagaNotFoundError,
    SagaStateError,
    StepTimeoutError,
    UnknownCompensationError,
)
from distributed_saga._lease import process_owner
from distributed_saga._observe import ABANDON_REASONS, CLAIM_REASONS, SagaObserver
from distributed_saga._records import (
    FINISHED_STATES,
    IN_FLIGHT_STATES,
    SagaRecord,
    SagaState,
    StepRecord,
    StepState,
)
from distributed_saga.compensations import (
    Compensation,
    CompensationRegistry,
    compensation,
    default_registry,
)
from distributed_saga.faults import FaultPlan, FaultPoint
from distributed_saga.log import SagaLog, open_saga_log
from distributed_saga.recovery import (
    RecoveryOutcome,
    SagaRecoverer,
    recover_sagas,
    resolve_saga,
    retry_saga,
)
from distributed_saga.retention import prune_sagas
from distributed_saga.retry import RetryPolicy
from distributed_saga.saga import DistributedSaga

__all__ = [
    "ABANDON_REASONS",
    "CLAIM_REASONS",
    "DEFAULT_COMPENSATION_RETRY",
    "FINISHED_STATES",
    "IN_FLIGHT_STATES",
    "Compensation",
    "CompensationRegistry",
    "DistributedSaga",
    "FaultPlan",
    "FaultPoint",
    "LeaseLostError",
    "RecoveryOutcome",
    "RetryPolicy",
    "SagaError",
    "SagaExistsError",
    "SagaLockedError",
    "SagaLog",
    "SagaLogError",
    "SagaLogUnavailable",
    "SagaNotFoundError",
    "SagaObserver",
    "SagaRecord",
    "SagaRecoverer",
    "SagaState",
    "SagaStateError",
    "StepRecord",
    "StepState",
    "StepTimeoutError",
    "UnknownCompensationError",
    "compensation",
    "default_registry",
    "open_saga_log",
    "process_owner",
    "prune_sagas",
    "recover_sagas",
    "resolve_saga",
    "retry_saga",
]


_GUIDE_APP_MODULE = "wikisaga.pipeline.publish"


def __getattr__(name: str) -> _Any:
    # The guide imports WikiGenerationSaga from here; it lives with the application (it
    # needs HTTP clients) and is loaded only when asked for. Its module is named in a
    # string, so the engine holds no import of the application.
    if name == "WikiGenerationSaga":
        import importlib  # noqa: PLC0415

        return importlib.import_module(_GUIDE_APP_MODULE).WikiGenerationSaga
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
