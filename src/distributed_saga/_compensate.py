"""Undo steps in reverse order: shared by a failing saga and by recovery."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from distributed_saga._errors import (
    LeaseLostError,
    SagaLogError,
    UnknownCompensationError,
)
from distributed_saga._observe import SagaObserver
from distributed_saga._records import StepRecord
from distributed_saga.compensations import Compensation, CompensationRegistry
from distributed_saga.faults import FaultPlan, FaultPoint
from distributed_saga.retry import RetryPolicy

__all__ = ["DEFAULT_COMPENSATION_RETRY", "CompensationRun", "compensate_steps"]

logger = logging.getLogger("distributed_saga")


class _LostRollback(RuntimeError):
    """A callable rollback that only existed in a process that is gone."""


def _is_permanent(error: BaseException) -> bool:
    # No amount of waiting brings back a name nobody registered or a rollback lost with
    # its process, whatever the retry policy says.
    return isinstance(error, UnknownCompensationError | _LostRollback)


def _always_retry(error: BaseException) -> bool:
    # A compensation must eventually succeed, so every error is worth another try.
    return True


DEFAULT_COMPENSATION_RETRY = RetryPolicy(
    attempts=5, base_delay=0.1, max_delay=5.0, retry_on=_always_retry
)
"""Five tries over roughly a few seconds, then the saga is ``failed`` for an operator."""


@dataclass(frozen=True, slots=True)
class CompensationRun:
    """What one pass of compensations achieved."""

    undone: tuple[int, ...]
    """Indexes of the steps compensated in this pass."""
    failed: tuple[int, ...]
    """Indexes of the steps whose compensation ran out of retries."""
    unrecorded: bool
    """Some outcome could not be written to the log (the log was unavailable)."""

    @property
    def complete(self) -> bool:
        return not self.failed and not self.unrecorded


def compensate_steps(
    *,
    log_write: Callable[[int, bool, int, str | None], None],
    saga_id: str,
    steps: Sequence[StepRecord],
    registry: CompensationRegistry,
    in_process: Mapping[int, Callable[[], object]],
    policy: RetryPolicy,
    faults: FaultPlan,
    observer: SagaObserver,
) -> CompensationRun:
    """Compensate ``steps`` (already in undo order), each with bounded retries.

    A step whose compensation fails is recorded as such and the others are still attempted.
    ``log_write(index, succeeded, attempts, error)`` records each outcome; a
    :class:`LeaseLostError` from it stops the pass at once (another process owns the saga).
    """
    undone: list[int] = []
    failed: list[int] = []
    unrecorded = False
    options: dict[str, Any] = {
        "registry": registry,
        "in_process": in_process,
        "policy": policy,
        "faults": faults,
    }
    for group in _groups(steps, registry):
        if len(group) == 1:
            outcomes = [_compensate_one(saga_id, step=group[0], **options)]
        else:
            logger.info("[%s] Rolling back %d independent steps in parallel", saga_id, len(group))
            with ThreadPoolExecutor(max_workers=len(group)) as pool:
                outcomes = list(
                    pool.map(
                        lambda step: _compensate_one(saga_id, step=step, **options),
                        group,
                    )
                )
        for step, (attempts, error, seconds) in zip(group, outcomes, strict=True):
            observer.compensation_finished(saga_id, step.name, seconds, error)
            (undone if error is None else failed).append(step.index)
            try:
                log_write(step.index, error is None, attempts, error)
            except LeaseLostError:
                raise
            except SagaLogError as exc:
                logger.error("[%s] could not record rollback of %s: %s", saga_id, step.name, exc)
                unrecorded = True
    return CompensationRun(tuple(undone), tuple(failed), unrecorded)


def _groups(steps: Sequence[StepRecord], registry: CompensationRegistry) -> list[list[StepRecord]]:
    """Split the undo order into runs: consecutive concurrent compensations go together."""
    groups: list[list[StepRecord]] = []
    previous_concurrent = False
    for step in steps:
        concurrent = registry.is_concurrent(step.compensation)
        if concurrent and previous_concurrent:
            groups[-1].append(step)
        else:
            groups.append([step])
        previous_concurrent = concurrent
    return groups


def _compensate_one(
    saga_id: str,
    *,
    step: StepRecord,
    registry: CompensationRegistry,
    in_process: Mapping[int, Callable[[], object]],
    policy: RetryPolicy,
    faults: FaultPlan,
) -> tuple[int, str | None, float]:
    """Compensate one step with retries; return (attempts, error or None, seconds)."""
    logger.warning("[%s] Rolling back: %s", saga_id, step.name)
    faults.at(FaultPoint.BEFORE_COMPENSATION, step.index)
    started = time.monotonic()
    attempts, error = _run_with_retries(saga_id, step, registry, in_process, policy)
    faults.at(FaultPoint.AFTER_COMPENSATION, step.index)
    if error is None:
        logger.info("[%s] ✓ Rollback successful: %s", saga_id, step.name)
    else:
        logger.error("[%s] ✗ Rollback failed: %s - %s", saga_id, step.name, error)
    return attempts, error, time.monotonic() - started


def _run_with_retries(
    saga_id: str,
    step: StepRecord,
    registry: CompensationRegistry,
    in_process: Mapping[int, Callable[[], object]],
    policy: RetryPolicy,
) -> tuple[int, str | None]:
    """Run one step's compensation; return (attempts, error or None)."""
    delays = policy.delays()
    attempts = 0
    while True:
        attempts += 1
        try:
            _run_once(step, registry, in_process)
        except Exception as exc:  # noqa: BLE001 - any failure of foreign code is retried or recorded
            error = f"{type(exc).__name__}: {exc}"
            delay = next(delays, None)
            if delay is None or _is_permanent(exc) or not policy.retry_on(exc):
                return attempts, error
            logger.warning(
                "[%s] rollback of %s failed (attempt %d), retrying in %.2fs: %s",
                saga_id,
                step.name,
                attempts,
                delay,
                error,
            )
            time.sleep(delay)
        else:
            return attempts, None


def _run_once(
    step: StepRecord,
    registry: CompensationRegistry,
    in_process: Mapping[int, Callable[[], object]],
) -> None:
    rollback = in_process.get(step.index)
    if rollback is not None:
        rollback()
    elif step.compensation is not None:
        registry.run(Compensation(step.compensation, step.compensation_args or {}))
    elif step.in_process_rollback:
        raise _LostRollback(
            "its rollback was a callable in the process that ran the saga, which is gone; "
            "undo it by hand, then resolve the saga (`wikisaga sagas resolve`)"
        )
