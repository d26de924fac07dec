"""Finish what crashed processes left behind, and let operators retry ``failed`` sagas.

A saga whose owner stopped renewing its lease (it crashed, hung, or lost its database) is
*expired*. :func:`recover_sagas` claims expired sagas — atomically, so two recoverers never
take the same one — and compensates every step that may have had an effect, last first,
using the durable compensations recorded in the log. A saga that never finished is never
committed by recovery: all or nothing means nothing, unless the commit itself was written.

Call :func:`recover_sagas` when a process that runs sagas starts, and periodically (a
:class:`SagaRecoverer` does that in a background thread).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from distributed_saga._compensate import DEFAULT_COMPENSATION_RETRY, compensate_steps
from distributed_saga._errors import LeaseLostError, SagaError, SagaLogError
from distributed_saga._lease import LeaseKeeper, process_owner
from distributed_saga._observe import NULL_OBSERVER, SagaObserver
from distributed_saga._records import IN_FLIGHT_STATES, SagaState
from distributed_saga.compensations import CompensationRegistry, default_registry
from distributed_saga.faults import FaultPlan
from distributed_saga.log import SagaLog
from distributed_saga.retry import RetryPolicy

__all__ = ["RecoveryOutcome", "SagaRecoverer", "recover_sagas", "resolve_saga", "retry_saga"]

logger = logging.getLogger("distributed_saga")

CRASHED = "the process running the saga stopped before it finished (its lease expired)"


@dataclass(frozen=True, slots=True)
class RecoveryOutcome:
    """How one claimed saga ended."""

    saga_id: str
    state: SagaState
    """``rolled_back``, or ``failed`` when some compensation is still to be done."""
    undone: int
    """Steps compensated in this pass."""
    remaining: int
    """Steps still to be undone (an operator's work, or a later retry)."""


def recover_sagas(
    log: SagaLog,
    *,
    registry: CompensationRegistry | None = None,
    owner: str | None = None,
    lease_seconds: float = 30.0,
    limit: int = 100,
    compensation_retry: RetryPolicy = DEFAULT_COMPENSATION_RETRY,
    faults: FaultPlan | None = None,
    observer: SagaObserver | None = None,
    concurrency: int = 1,
) -> list[RecoveryOutcome]:
    """Claim up to ``limit`` expired sagas and compensate each; return how each ended.

    ``concurrency`` sagas are compensated at a time, each in a thread of its own (its
    steps still one after another, last first): recovery mostly waits for the log and the
    compensations' services, so a few at once finish a large backlog sooner, and on
    PostgreSQL their log writes share commits (group commit). Their compensations then
    run at the same time, so they must be safe to run concurrently for different sagas.
    The outcomes come in the order the sagas were claimed.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    owner = owner or process_owner()
    claimed = log.claim_expired(owner, lease_seconds, limit=limit)
    # Keep every claimed saga leased while the ones before it are compensated, and stop
    # renewing whatever is left if this pass ends early.
    keeper = LeaseKeeper.for_log(log, owner, lease_seconds) if log.durable else None
    if keeper is not None:
        for saga_id in claimed:
            keeper.add(saga_id)
    plan = faults or FaultPlan()

    def recover(saga_id: str) -> RecoveryOutcome | None:
        logger.warning("[%s] Recovering: %s", saga_id, CRASHED)
        (observer or NULL_OBSERVER).saga_claimed(saga_id, "recovery")
        return _compensate_claimed(
            log,
            saga_id,
            owner=owner,
            lease_seconds=lease_seconds,
            registry=registry or default_registry,
            policy=compensation_retry,
            faults=plan,
            observer=observer or NULL_OBSERVER,
            error=CRASHED,
        )

    try:
        if concurrency == 1 or len(claimed) < 2:
            ended = [recover(saga_id) for saga_id in claimed]
        else:
            # Every saga is finished (or has failed) before the first error is raised,
            # so that none is left half compensated by this pass.
            workers = min(concurrency, len(claimed))
            with ThreadPoolExecutor(workers, thread_name_prefix="saga-recovery") as pool:
                futures = [pool.submit(recover, saga_id) for saga_id in claimed]
            ended = [future.result() for future in futures]
        outcomes = [outcome for outcome in ended if outcome is not None]
    finally:
        if keeper is not None:
            for saga_id in claimed:
                keeper.discard(saga_id)
    return outcomes


def retry_saga(
    log: SagaLog,
    saga_id: str,
    *,
    registry: CompensationRegistry | None = None,
    owner: str | None = None,
    lease_seconds: float = 30.0,
    compensation_retry: RetryPolicy = DEFAULT_COMPENSATION_RETRY,
    observer: SagaObserver | None = None,
) -> RecoveryOutcome:
    """Retry the remaining compensations of a ``failed`` saga (or an expired in-flight one).

    Raises :class:`SagaStateError` if the saga is finished or still leased by a live owner.
    """
    owner = owner or process_owner()
    log.claim_saga(saga_id, owner, lease_seconds, from_states=IN_FLIGHT_STATES | {SagaState.FAILED})
    logger.warning("[%s] Retrying rollback on request", saga_id)
    (observer or NULL_OBSERVER).saga_claimed(saga_id, "retry")
    outcome = _compensate_claimed(
        log,
        saga_id,
        owner=owner,
        lease_seconds=lease_seconds,
        registry=registry or default_registry,
        policy=compensation_retry,
        faults=FaultPlan(),
        observer=observer or NULL_OBSERVER,
        error=None,
    )
    if outcome is None:
        raise LeaseLostError(saga_id, owner)
    return outcome


def resolve_saga(
    log: SagaLog,
    saga_id: str,
    *,
    note: str,
    owner: str | None = None,
    lease_seconds: float = 30.0,
    observer: SagaObserver | None = None,
) -> RecoveryOutcome:
    """Record that an operator undid a ``failed`` saga's remaining steps by hand.

    Every step still to be undone is marked compensated (``note`` says by whom and how) and
    the saga ends ``rolled_back``, releasing its lock key. Nothing is run; ``observer``
    hears the saga claimed (``resolve``) and finished ``rolled_back``.
    """
    if not note.strip():
        raise ValueError("say what was done by hand: resolving needs a note")
    observer = observer or NULL_OBSERVER
    owner = owner or process_owner()
    record = log.claim_saga(saga_id, owner, lease_seconds, from_states={SagaState.FAILED})
    observer.saga_claimed(saga_id, "resolve")
    log.begin_compensation(saga_id, owner, failed_at=None, error=None)
    remaining = record.remaining_compensations
    for step in remaining:
        log.record_compensation(
            saga_id, owner, index=step.index, succeeded=True, attempts=0, error=None
        )
        logger.warning("[%s] Resolved by hand: %s (%s)", saga_id, step.name, note)
    log.finish_saga(saga_id, owner, SagaState.ROLLED_BACK)
    observer.saga_finished(saga_id, SagaState.ROLLED_BACK)
    return RecoveryOutcome(saga_id, SagaState.ROLLED_BACK, len(remaining), 0)


def _compensate_claimed(
    log: SagaLog,
    saga_id: str,
    *,
    owner: str,
    lease_seconds: float,
    registry: CompensationRegistry,
    policy: RetryPolicy,
    faults: FaultPlan,
    observer: SagaObserver,
    error: str | None,
) -> RecoveryOutcome | None:
    """Compensate a saga we own; ``None`` if another process took it from us meanwhile."""
    keeper = LeaseKeeper.for_log(log, owner, lease_seconds) if log.durable else None
    if keeper is not None:
        keeper.add(saga_id)
    started = time.monotonic()
    try:
        # The saga moves to compensating and is read back in one go (one statement on
        # PostgreSQL); an error already recorded is kept.
        record = log.begin_recovery(saga_id, owner, error=error)
        to_undo = record.remaining_compensations
        logger.warning("[%s] Rolling back %d completed steps", saga_id, len(to_undo))

        def write(index: int, succeeded: bool, attempts: int, err: str | None) -> None:
            log.record_compensation(
                saga_id, owner, index=index, succeeded=succeeded, attempts=attempts, error=err
            )

        run = compensate_steps(
            log_write=write,
            saga_id=saga_id,
            steps=to_undo,
            registry=registry,
            in_process={},
            policy=policy,
            faults=faults,
            observer=observer,
        )
        if run.unrecorded:
            raise SagaLogError("the saga log did not record every compensation")
        state = SagaState.FAILED if run.failed else SagaState.ROLLED_BACK
        log.finish_saga(saga_id, owner, state)
    except LeaseLostError:
        logger.warning("[%s] another process took over the saga; leaving it", saga_id)
        observer.saga_abandoned(saga_id, "lease_lost")
        return None
    finally:
        if keeper is not None:
            keeper.discard(saga_id)
    observer.rollback_finished(saga_id, time.monotonic() - started, state)
    observer.saga_finished(saga_id, state)
    if state is SagaState.ROLLED_BACK:
        logger.info("[%s] ✓ Recovered: rolled back %d steps", saga_id, len(run.undone))
    else:
        logger.error(
            "[%s] ✗ Recovery left %d steps to undo; the saga is failed", saga_id, len(run.failed)
        )
    return RecoveryOutcome(saga_id, state, len(run.undone), len(run.failed))


class SagaRecoverer:
    """Runs :func:`recover_sagas` at start and then every ``interval`` seconds."""

    def __init__(
        self,
        log: SagaLog,
        *,
        interval: float = 10.0,
        registry: CompensationRegistry | None = None,
        lease_seconds: float = 30.0,
        observer: SagaObserver | None = None,
        concurrency: int = 1,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self._concurrency = concurrency
        self._log = log
        self._interval = interval
        self._registry = registry
        self._lease_seconds = lease_seconds
        self._observer = observer
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_outcomes: list[RecoveryOutcome] = []

    def run_once(self) -> list[RecoveryOutcome]:
        """One recovery pass; errors are logged, not raised (the next pass tries again)."""
        try:
            self.last_outcomes = recover_sagas(
                self._log,
                registry=self._registry,
                lease_seconds=self._lease_seconds,
                observer=self._observer,
                concurrency=self._concurrency,
            )
        except SagaError as exc:
            logger.error("saga recovery pass failed: %s", exc)
            return []
        return self.last_outcomes

    def start(self) -> SagaRecoverer:
        """Start the background thread (its first pass runs at once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="saga-recoverer", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the background thread after its current pass."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while True:
            self.run_once()
            if self._stop.wait(self._interval):
                return
