"""Crash-test kit: an effect ledger, the durable compensation that undoes it, a saga runner.

Run as a program (``python -m distributed_saga.testing.crashing``), the package is the
process a crash test kills; see :func:`main`.
"""

from __future__ import annotations

from distributed_saga.testing.crashing.ledger import (
    LEDGER_COMPENSATION,
    LEDGER_COMPENSATION_CONCURRENT,
    REGISTRY,
    CompensationBrokenError,
    EffectLedger,
    FailMode,
    JournalRow,
    LedgerConflictError,
    PlannedStep,
    StepFailedError,
    StepRefusedError,
    child_command,
    child_env,
    close_ledgers,
    fast_compensation_retry,
    fault_reached,
    ledger_step,
    main,
    open_log,
    planned_steps,
    proves_no_effect,
    run_recovery,
    run_saga,
    saga_problems,
    seed_previous_generation,
)

__all__ = [
    "LEDGER_COMPENSATION",
    "LEDGER_COMPENSATION_CONCURRENT",
    "REGISTRY",
    "CompensationBrokenError",
    "EffectLedger",
    "FailMode",
    "JournalRow",
    "LedgerConflictError",
    "PlannedStep",
    "StepFailedError",
    "StepRefusedError",
    "child_command",
    "child_env",
    "close_ledgers",
    "fast_compensation_retry",
    "fault_reached",
    "ledger_step",
    "main",
    "open_log",
    "planned_steps",
    "proves_no_effect",
    "run_recovery",
    "run_saga",
    "saga_problems",
    "seed_previous_generation",
]
