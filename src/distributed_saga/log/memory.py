"""``memory://`` — a saga log that lives and dies with its process (the guide's behaviour)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Collection, Mapping
from typing import Any

from distributed_saga._errors import (
    LeaseLostError,
    SagaExistsError,
    SagaLockedError,
    SagaNotFoundError,
    SagaStateError,
)
from distributed_saga._records import (
    FINISHED_STATES,
    IN_FLIGHT_STATES,
    STEP_RESULT_STATES,
    NewSaga,
    SagaRecord,
    SagaState,
    StepOutcome,
    StepRecord,
    StepState,
    check_outcome,
    check_prunable,
)
from distributed_saga._transitions import (
    BEGIN_COMPENSATION_FROM,
    FINISH_FROM,
    RECORD_COMPENSATION_FROM,
    RECORD_INTENT_FROM,
    RECORD_STEP_RESULT_FROM,
)
from distributed_saga.compensations import Compensation
from distributed_saga.log._base import SagaLog

__all__ = ["MemorySagaLog"]


class MemorySagaLog(SagaLog):
    """Keeps sagas in a dictionary guarded by a lock. Nothing survives the process."""

    durable = False

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._lock = threading.Lock()
        self._sagas: dict[str, SagaRecord] = {}

    def create_saga(
        self,
        saga_id: str,
        user_id: str | None,
        *,
        owner: str,
        lease_seconds: float,
        lock_key: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        new = NewSaga(user_id, lease_seconds, lock_key, metadata)
        with self._lock:
            self._sagas[saga_id] = self._new_saga(saga_id, owner, new, time.time())

    def record_intent(
        self,
        saga_id: str,
        owner: str,
        *,
        index: int,
        name: str,
        compensation: Compensation | None,
        in_process_rollback: bool,
        idempotency_key: str | None,
        completed: StepOutcome | None = None,
        create: NewSaga | None = None,
    ) -> None:
        if create is not None and (index != 0 or completed is not None):
            raise ValueError("the intent that creates a saga is step 0's, with no outcome")
        with self._lock:
            now = time.time()
            if create is not None:
                saga = self._new_saga(saga_id, owner, create, now)
            else:
                saga = self._owned(saga_id, owner, RECORD_INTENT_FROM)
            if index != len(saga.steps):
                raise SagaStateError(
                    f"saga {saga_id!r} has {len(saga.steps)} steps; cannot record step {index}"
                )
            if completed is not None:
                saga = self._with_outcome(saga, completed, now)
            step = StepRecord(
                saga_id=saga_id,
                index=index,
                name=name,
                state=StepState.STARTED,
                compensation=compensation.name if compensation else None,
                # As a durable log would read them back, so both logs hand a recoverer
                # the same arguments.
                compensation_args=compensation.recorded_args() if compensation else None,
                in_process_rollback=in_process_rollback,
                idempotency_key=idempotency_key,
                started_at=now,
            )
            self._put(saga, now, state=SagaState.EXECUTING, steps=(*saga.steps, step))

    def record_step_result(
        self,
        saga_id: str,
        owner: str,
        *,
        index: int,
        state: StepState,
        attempts: int,
        error: str | None = None,
    ) -> None:
        if state not in STEP_RESULT_STATES:
            raise ValueError(f"a step's result is completed, failed or rejected, not {state}")
        with self._lock:
            saga = self._owned(saga_id, owner, RECORD_STEP_RESULT_FROM)
            now = time.time()
            step = self._step(saga, index)
            updated = dataclasses.replace(
                step, state=state, attempts=attempts, error=error, finished_at=now
            )
            self._put(saga, now, steps=_replace_step(saga.steps, updated))

    def begin_compensation(
        self, saga_id: str, owner: str, *, failed_at: str | None, error: str | None
    ) -> None:
        with self._lock:
            saga = self._owned(saga_id, owner, BEGIN_COMPENSATION_FROM)
            self._put(
                saga,
                time.time(),
                state=SagaState.COMPENSATING,
                failed_at=failed_at if failed_at is not None else saga.failed_at,
                error=error if error is not None else saga.error,
            )

    def begin_recovery(self, saga_id: str, owner: str, *, error: str | None) -> SagaRecord:
        with self._lock:
            saga = self._owned(saga_id, owner, BEGIN_COMPENSATION_FROM)
            return self._put(
                saga,
                time.time(),
                state=SagaState.COMPENSATING,
                error=saga.error if saga.error else error,
            )

    def record_compensation(
        self,
        saga_id: str,
        owner: str,
        *,
        index: int,
        succeeded: bool,
        attempts: int,
        error: str | None = None,
    ) -> None:
        with self._lock:
            saga = self._owned(saga_id, owner, RECORD_COMPENSATION_FROM)
            now = time.time()
            step = self._step(saga, index)
            updated = dataclasses.replace(
                step,
                state=StepState.COMPENSATED if succeeded else StepState.COMPENSATION_FAILED,
                compensation_attempts=step.compensation_attempts + attempts,
                compensation_error=None if succeeded else error,
                compensated_at=now if succeeded else step.compensated_at,
            )
            self._put(saga, now, steps=_replace_step(saga.steps, updated))

    def finish_saga(
        self,
        saga_id: str,
        owner: str,
        state: SagaState,
        *,
        completed: StepOutcome | None = None,
    ) -> None:
        allowed = FINISH_FROM.get(state)
        if allowed is None:
            raise ValueError(f"a saga finishes committed, rolled_back or failed, not {state}")
        with self._lock:
            saga = self._owned(saga_id, owner, allowed)
            now = time.time()
            if completed is not None:
                saga = self._with_outcome(saga, completed, now)
            self._put(saga, now, state=state, owner=None, lease_expires_at=None)

    def _with_outcome(self, saga: SagaRecord, outcome: StepOutcome, now: float) -> SagaRecord:
        check_outcome(outcome)
        step = self._step(saga, outcome.step_index)
        updated = dataclasses.replace(
            step,
            state=outcome.state,
            attempts=outcome.attempts,
            error=outcome.error,
            finished_at=now,
        )
        return dataclasses.replace(saga, steps=_replace_step(saga.steps, updated))

    def renew_leases(self, owner: str, saga_ids: Collection[str]) -> int:
        now = time.time()
        with self._lock:
            renewed = 0
            for saga_id in saga_ids:
                saga = self._sagas.get(saga_id)
                if saga is not None and saga.owner == owner and saga.state in IN_FLIGHT_STATES:
                    self._put(saga, now)
                    renewed += 1
            return renewed

    def claim_expired(self, owner: str, lease_seconds: float, *, limit: int = 100) -> list[str]:
        now = time.time()
        with self._lock:
            expired = sorted(
                (
                    saga
                    for saga in self._sagas.values()
                    if saga.state in IN_FLIGHT_STATES
                    and (saga.lease_expires_at is None or saga.lease_expires_at < now)
                ),
                key=_position,
            )[:limit]
            for saga in expired:
                self._put(saga, now, owner=owner, lease_seconds=lease_seconds)
            return [saga.saga_id for saga in expired]

    def claim_saga(
        self,
        saga_id: str,
        owner: str,
        lease_seconds: float,
        *,
        from_states: Collection[SagaState],
    ) -> SagaRecord:
        now = time.time()
        with self._lock:
            saga = self._get(saga_id)
            if saga.state not in from_states:
                raise SagaStateError(f"saga {saga_id!r} is {saga.state.value}, not claimable")
            leased = saga.lease_expires_at is not None and saga.lease_expires_at >= now
            if saga.state in IN_FLIGHT_STATES and leased and saga.owner != owner:
                raise SagaStateError(f"saga {saga_id!r} is still leased by {saga.owner!r}")
            return self._put(saga, now, owner=owner, lease_seconds=lease_seconds)

    def get_saga(self, saga_id: str) -> SagaRecord:
        with self._lock:
            return self._get(saga_id)

    def list_sagas(
        self,
        *,
        states: Collection[SagaState] | None = None,
        lock_key: str | None = None,
        user_id: str | None = None,
        limit: int = 100,
        before: tuple[float, str] | None = None,
    ) -> list[SagaRecord]:
        with self._lock:
            chosen = [
                saga
                for saga in self._sagas.values()
                if (states is None or saga.state in states)
                and (lock_key is None or saga.lock_key == lock_key)
                and (user_id is None or saga.user_id == user_id)
                and (before is None or _position(saga) < before)
            ]
        chosen.sort(key=_position, reverse=True)
        return chosen[: max(limit, 0)]

    def count_sagas(
        self,
        *,
        states: Collection[SagaState] | None = None,
        lease_expired_for: float | None = None,
    ) -> int:
        if lease_expired_for is not None and lease_expired_for < 0:
            raise ValueError("lease_expired_for cannot be negative")
        cutoff = None if lease_expired_for is None else time.time() - lease_expired_for
        with self._lock:
            return sum(
                1
                for saga in self._sagas.values()
                if (states is None or saga.state in states)
                and (
                    cutoff is None
                    or (
                        saga.state in IN_FLIGHT_STATES
                        and (saga.lease_expires_at is None or saga.lease_expires_at < cutoff)
                    )
                )
            )

    def prune_batch(
        self,
        older_than_seconds: float,
        *,
        states: Collection[SagaState] = FINISHED_STATES,
        limit: int = 500,
    ) -> int:
        chosen = check_prunable(states)
        if older_than_seconds < 0:
            raise ValueError("older_than_seconds cannot be negative")
        with self._lock:
            cutoff = time.time() - older_than_seconds
            old = sorted(
                (
                    saga
                    for saga in self._sagas.values()
                    if saga.state in chosen and (saga.updated_at or 0.0) < cutoff
                ),
                key=_position,
            )[: max(limit, 0)]
            for saga in old:
                del self._sagas[saga.saga_id]
            return len(old)

    # -- helpers (call with self._lock held) ------------------------------------------

    def _new_saga(self, saga_id: str, owner: str, new: NewSaga, now: float) -> SagaRecord:
        """A ``pending`` record of ``new``, or the reason it cannot be created."""
        if saga_id in self._sagas:
            raise SagaExistsError(saga_id)
        if new.lock_key is not None:
            for other in self._sagas.values():
                if other.lock_key == new.lock_key and other.state not in FINISHED_STATES:
                    raise SagaLockedError(new.lock_key, other.saga_id)
        return SagaRecord(
            saga_id=saga_id,
            user_id=new.user_id,
            state=SagaState.PENDING,
            lock_key=new.lock_key,
            owner=owner,
            lease_expires_at=now + new.lease_seconds,
            lease_seconds=new.lease_seconds,
            created_at=now,
            updated_at=now,
            metadata=dict(new.metadata or {}),
        )

    def _get(self, saga_id: str) -> SagaRecord:
        try:
            return self._sagas[saga_id]
        except KeyError:
            raise SagaNotFoundError(saga_id) from None

    def _owned(self, saga_id: str, owner: str, states: Collection[SagaState]) -> SagaRecord:
        saga = self._get(saga_id)
        if saga.owner != owner:
            raise LeaseLostError(saga_id, owner)
        if saga.state not in states:
            raise SagaStateError(f"saga {saga_id!r} is {saga.state.value}")
        return saga

    @staticmethod
    def _step(saga: SagaRecord, index: int) -> StepRecord:
        if not 0 <= index < len(saga.steps):
            raise SagaStateError(f"saga {saga.saga_id!r} has no step {index}")
        return saga.steps[index]

    def _put(self, saga: SagaRecord, now: float, **changes: Any) -> SagaRecord:
        """Store ``saga`` with ``changes``, renewing the lease when it stays owned."""
        lease_seconds = changes.get("lease_seconds", saga.lease_seconds)
        changes.setdefault("lease_expires_at", now + lease_seconds)
        record = dataclasses.replace(saga, updated_at=now, **changes)
        self._sagas[saga.saga_id] = record
        return record


def _position(saga: SagaRecord) -> tuple[float, str]:
    """Where ``saga`` is in :meth:`MemorySagaLog.list_sagas`'s order."""
    return (saga.created_at or 0.0, saga.saga_id)


def _replace_step(steps: tuple[StepRecord, ...], step: StepRecord) -> tuple[StepRecord, ...]:
    return tuple(step if existing.index == step.index else existing for existing in steps)
