"""Immutable records of what the saga log holds: sagas, their steps, and their states."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = [
    "FINISHED_STATES",
    "IN_FLIGHT_STATES",
    "PRUNABLE_STATES",
    "STEP_RESULT_STATES",
    "NewSaga",
    "SagaRecord",
    "SagaState",
    "StepOutcome",
    "StepRecord",
    "StepState",
    "check_outcome",
    "check_prunable",
]


class SagaState(enum.StrEnum):
    """Where a saga is in its life. The values are the guide's lower-case names."""

    PENDING = "pending"
    """Created; no step has started yet."""
    EXECUTING = "executing"
    """Running its steps forward."""
    COMPENSATING = "compensating"
    """Undoing its steps in reverse order after a failure or a crash."""
    COMMITTED = "committed"
    """Every step succeeded and the saga was committed."""
    ROLLED_BACK = "rolled_back"
    """Every step that may have had an effect was compensated."""
    FAILED = "failed"
    """Some compensation could not be completed: the log keeps what is left to undo."""


IN_FLIGHT_STATES = frozenset({SagaState.PENDING, SagaState.EXECUTING, SagaState.COMPENSATING})
"""States in which a live owner is expected to hold a lease on the saga."""

FINISHED_STATES = frozenset({SagaState.COMMITTED, SagaState.ROLLED_BACK})
"""States that release the saga's lock key. ``failed`` keeps it: the saga is not done."""


PRUNABLE_STATES = FINISHED_STATES | {SagaState.FAILED}
"""States a saga may be pruned from the log in: finished ones and, when an operator asks,
``failed`` ones. A saga in flight is never pruned: recovery still has to finish it."""


def check_prunable(states: Iterable[SagaState]) -> frozenset[SagaState]:
    """``states`` as a set; ``ValueError`` if one of them is in flight."""
    chosen = frozenset(SagaState(state) for state in states)
    in_flight = chosen - PRUNABLE_STATES
    if in_flight:
        names = ", ".join(sorted(state.value for state in in_flight))
        raise ValueError(f"sagas in flight ({names}) are recovered, never pruned")
    return chosen


class StepState(enum.StrEnum):
    """Where one step is. ``started`` is written *before* the action runs (the intent)."""

    STARTED = "started"
    """Intent recorded; the action may or may not have run (or be running)."""
    COMPLETED = "completed"
    """The action returned."""
    FAILED = "failed"
    """The action raised or timed out; it may have partly happened."""
    REJECTED = "rejected"
    """The action failed in a way that proves it had no effect (every try was refused
    before it could act, e.g. a connection refused); there is nothing to undo."""
    COMPENSATED = "compensated"
    """The step's compensation succeeded (or the step had nothing to undo)."""
    COMPENSATION_FAILED = "compensation_failed"
    """The step's compensation ran out of retries; it is still to be undone."""


STEP_RESULT_STATES = frozenset({StepState.COMPLETED, StepState.FAILED, StepState.REJECTED})
"""How a step's action can end, as :meth:`SagaLog.record_step_result` records it."""


class StepOutcome(NamedTuple):
    """How one step's action ended, as the engine hands it to the log.

    A named tuple: the engine makes one for every step, and a tuple costs half as much to
    build as a frozen dataclass. The log refuses a ``state`` outside :data:`STEP_RESULT_STATES` (see
    :func:`check_outcome`).
    """

    step_index: int
    state: StepState
    attempts: int
    error: str | None = None


def check_outcome(outcome: StepOutcome) -> None:
    """Raise ``ValueError`` unless ``outcome``'s state is one a step's action can end in."""
    if outcome.state not in STEP_RESULT_STATES:
        raise ValueError(f"a step's result is completed, failed or rejected, not {outcome.state}")


@dataclass(frozen=True, slots=True)
class NewSaga:
    """What a saga's first intent records about the saga it creates (see
    :meth:`SagaLog.record_intent`): everything :meth:`SagaLog.create_saga` would."""

    user_id: str | None
    lease_seconds: float
    lock_key: str | None = None
    metadata: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One step of a saga as the log holds it."""

    saga_id: str
    index: int
    name: str
    state: StepState
    compensation: str | None = None
    """Registered name of the durable compensation, or ``None``."""
    compensation_args: Mapping[str, Any] | None = None
    """JSON arguments of the durable compensation, planned before the action ran."""
    in_process_rollback: bool = False
    """The step has a callable rollback that lives only in the process that ran it."""
    idempotency_key: str | None = None
    attempts: int = 0
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    compensation_attempts: int = 0
    compensation_error: str | None = None
    compensated_at: float | None = None

    @property
    def has_compensation(self) -> bool:
        """Whether anything was registered to undo this step."""
        return self.compensation is not None or self.in_process_rollback

    @property
    def needs_compensation(self) -> bool:
        """Whether this step may have had an effect that has not been undone yet."""
        return self.has_compensation and self.state in (
            StepState.STARTED,
            StepState.COMPLETED,
            StepState.FAILED,
            StepState.COMPENSATION_FAILED,
        )

    @property
    def duration(self) -> float | None:
        """Seconds the action took, when it finished."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


@dataclass(frozen=True, slots=True)
class SagaRecord:
    """A saga and its steps as the log holds them."""

    saga_id: str
    user_id: str | None
    state: SagaState
    lock_key: str | None = None
    owner: str | None = None
    lease_expires_at: float | None = None
    lease_seconds: float = 30.0
    created_at: float | None = None
    updated_at: float | None = None
    failed_at: str | None = None
    """Name of the step whose failure started the rollback (``None`` after a crash)."""
    error: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    steps: tuple[StepRecord, ...] = ()

    @property
    def completed_steps(self) -> int:
        """Steps whose action returned (including ones since compensated)."""
        return sum(1 for step in self.steps if step.finished_at is not None and step.error is None)

    @property
    def remaining_compensations(self) -> tuple[StepRecord, ...]:
        """Steps still to be undone, in the order they must be undone (last first).

        A committed saga has nothing to undo: its steps took effect for good."""
        if self.state is SagaState.COMMITTED:
            return ()
        return tuple(step for step in reversed(self.steps) if step.needs_compensation)

    def status(self) -> dict[str, Any]:
        """The guide's ``get_status()`` dictionary."""
        return {
            "saga_id": self.saga_id,
            "user_id": self.user_id,
            "state": self.state.value,
            "total_steps": len(self.steps),
            "completed_steps": self.completed_steps,
            "failed_at": self.failed_at,
            "error": self.error,
        }
