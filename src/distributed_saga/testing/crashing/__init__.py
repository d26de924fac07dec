"""Crash-test kit: an effect ledger, sagas that write it, the children crashes kill, checks.

* :mod:`~distributed_saga.testing.crashing.ledger` — the effect ledger a crashing child
  writes (what happened, what was undone), the durable compensation that restores it, and
  the steps of a ledger saga;
* :mod:`~distributed_saga.testing.crashing.runner` — running ledger sagas and recovery,
  in this process or in a child that a planned crash kills, and proving that it did;
* :mod:`~distributed_saga.testing.crashing.checks` — whether a saga meets a crash point,
  and what must hold of it once it is over.

Every name is importable from this package. Run as a program
(``python -m distributed_saga.testing.crashing``), the package is the child a crash test
kills; see :func:`~distributed_saga.testing.crashing.runner.main`.
"""

from __future__ import annotations

from distributed_saga.testing.crashing.checks import (
    fault_reached,
    log_intent_check,
    saga_problems,
)
from distributed_saga.testing.crashing.ledger import (
    LEDGER_COMPENSATION,
    LEDGER_COMPENSATION_CONCURRENT,
    REGISTRY,
    CompensationBrokenError,
    EffectLedger,
    FailMode,
    IntentCheck,
    JournalRow,
    LedgerConflictError,
    PlannedStep,
    StepFailedError,
    StepRefusedError,
    close_ledgers,
    ledger_step,
    planned_steps,
    proves_no_effect,
    restore_entry,
    seed_previous_generation,
)
from distributed_saga.testing.crashing.runner import (
    CrashNotReachedError,
    check_killed,
    child_command,
    child_env,
    fast_compensation_retry,
    main,
    open_log,
    run_child,
    run_killed_child,
    run_recovery,
    run_saga,
    start_child,
    wait_until_stopped,
)

__all__ = [
    "LEDGER_COMPENSATION",
    "LEDGER_COMPENSATION_CONCURRENT",
    "REGISTRY",
    "CompensationBrokenError",
    "CrashNotReachedError",
    "EffectLedger",
    "FailMode",
    "IntentCheck",
    "JournalRow",
    "LedgerConflictError",
    "PlannedStep",
    "StepFailedError",
    "StepRefusedError",
    "check_killed",
    "child_command",
    "child_env",
    "close_ledgers",
    "fast_compensation_retry",
    "fault_reached",
    "ledger_step",
    "log_intent_check",
    "main",
    "open_log",
    "planned_steps",
    "proves_no_effect",
    "restore_entry",
    "run_child",
    "run_killed_child",
    "run_recovery",
    "run_saga",
    "saga_problems",
    "seed_previous_generation",
    "start_child",
    "wait_until_stopped",
]
