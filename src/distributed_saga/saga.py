"""``DistributedSaga``: the guide's API, on top of a saga log.

Without a ``log`` the saga lives in memory, exactly as the guide describes. With a durable
log (SQLite, PostgreSQL) every step is written down *before* its action runs, together with
the compensation that will undo it, so that if this process dies another one can finish the
rollback (see :mod:`distributed_saga.recovery` and ``docs/protocol.md``).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from distributed_saga._compensate import DEFAULT_COMPENSATION_RETRY, compensate_steps
from distributed_saga._errors import (
    LeaseLostError,
    SagaExistsError,
    SagaLockedError,
    SagaLogError,
    SagaStateError,
    StepTimeoutError,
)
from distributed_saga._lease import LeaseKeeper, process_owner
from distributed_saga._observe import NULL_OBSERVER, SagaObserver
from distributed_saga._records import (
    NewSaga,
    SagaRecord,
    SagaState,
    StepOutcome,
    StepRecord,
    StepState,
)
from distributed_saga.compensations import Compensation, CompensationRegistry, default_registry
from distributed_saga.faults import FaultPlan, FaultPoint
from distributed_saga.log import SagaLog, shared_saga_logs
from distributed_saga.log.memory import MemorySagaLog
from distributed_saga.retry import RetryPolicy

__all__ = ["DistributedSaga", "Rollback"]

logger = logging.getLogger("distributed_saga")

T = TypeVar("T")

Rollback = Callable[[], object] | Compensation
"""A step's undo: a callable (in-process only) or a durable :class:`Compensation`."""

DEFAULT_LEASE_SECONDS = 30.0
_NO_RETRY = RetryPolicy.never()


@dataclass(slots=True)
class _LocalStep:
    """A step as this process knows it; a :class:`StepRecord` is built only for a rollback."""

    index: int
    name: str
    compensation: Compensation | None
    rollback: Callable[[], object] | None
    idempotency_key: str | None
    state: StepState = StepState.STARTED
    attempts: int = 0
    error: str | None = None

    def outcome(self) -> StepOutcome:
        return StepOutcome(self.index, self.state, self.attempts, self.error)

    def record(self, saga_id: str) -> StepRecord:
        compensation = self.compensation
        return StepRecord(
            saga_id=saga_id,
            index=self.index,
            name=self.name,
            state=self.state,
            compensation=compensation.name if compensation else None,
            # As the log recorded them: this process undoes the step with exactly what a
            # recoverer would read back.
            compensation_args=compensation.recorded_args() if compensation else None,
            in_process_rollback=self.rollback is not None,
            idempotency_key=self.idempotency_key,
            attempts=self.attempts,
            error=self.error,
        )


class DistributedSaga:
    """A sequence of steps that either all take effect or are all undone, last first.

    >>> saga = DistributedSaga(saga_id="operation-123", user_id="user-456")
    >>> saga.execute_step(name="Reserve", action=lambda: 42, rollback=lambda: None)
    42
    >>> saga.commit()
    >>> saga.get_status()["state"]
    'committed'

    When a step's action raises, the steps that may have had an effect — the completed ones
    and the failed one itself, which may have partly happened — are compensated in reverse
    order, then the original exception is re-raised.

    Nothing is written to the log until the first step: its intent creates the saga, with
    its lock key, in one transaction (a saga of no steps is written by ``commit()`` or
    ``abort()``). So a lock key another unfinished saga holds, or a saga id already taken,
    raises :class:`SagaLockedError` or :class:`SagaExistsError` from the first
    ``execute_step``, before its action runs; nothing is written and the saga stays
    ``pending``. A process that dies before that leaves nothing to recover.

    Keyword-only options beyond the guide:

    ``log``
        A :class:`SagaLog` or a URL (``memory://``, ``sqlite:///...``, ``postgresql://...``).
        A SQLite or PostgreSQL URL borrows, for the saga's lifetime, the log every saga of
        this process that names that URL shares (:data:`~distributed_saga.log.shared_saga_logs`:
        opened once, kept open for the next saga); do not close it. ``memory://`` opens a
        log of the saga's own. Default: a private in-memory log (the guide's behaviour;
        nothing survives a crash).
    ``lock_key``
        At most one unfinished saga per key; another raises :class:`SagaLockedError` when
        it is first written (its first step).
    ``registry``
        Where durable compensation names are looked up (default: the global registry).
    ``compensation_retry``
        Bounded retries with backoff for each compensation before the saga is ``failed``.
    ``lease_seconds``
        How long the log waits after this process's last sign of life before recovery may
        claim the saga. A background thread renews it every third of that.
    ``faults``
        A :class:`FaultPlan` (tests); default: ``DISTRIBUTED_SAGA_CRASH_AT`` or none.
    ``observer``
        A :class:`SagaObserver` told about every step and rollback (metrics).
    """

    def __init__(
        self,
        saga_id: str,
        user_id: str | None = None,
        *,
        log: SagaLog | str | None = None,
        lock_key: str | None = None,
        registry: CompensationRegistry | None = None,
        compensation_retry: RetryPolicy = DEFAULT_COMPENSATION_RETRY,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        owner: str | None = None,
        faults: FaultPlan | None = None,
        observer: SagaObserver | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if not saga_id:
            raise ValueError("a saga needs a saga_id")
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self.saga_id = saga_id
        self.user_id = user_id
        self.lock_key = lock_key
        self._lease_seconds = lease_seconds
        self._metadata = dict(metadata) if metadata else None
        if isinstance(log, str):
            self._log = shared_saga_logs.acquire(log)
            # Given back when the saga object goes, not when it finishes: its record and
            # status stay readable through the log for as long as the caller holds it.
            weakref.finalize(self, shared_saga_logs.release, self._log)
        else:
            self._log = log or MemorySagaLog()
        self._registry = registry or default_registry
        self._compensation_retry = compensation_retry
        self._owner = owner or process_owner()
        self._faults = faults if faults is not None else FaultPlan.from_env()
        self._observer = observer or NULL_OBSERVER
        self._steps: list[_LocalStep] = []
        self._lock = threading.RLock()
        self._state = SagaState.PENDING
        self._failed_at: str | None = None
        self._error: str | None = None
        # The last step's outcome, written with the next log write (the next intent or the
        # commit) rather than in a commit of its own: until then the log says the step
        # started, which recovery treats exactly as it would a completed step.
        self._unrecorded: _LocalStep | None = None
        # Whether the log holds the saga: its first intent creates it (see _written).
        self._in_log = False
        self._keeper: LeaseKeeper | None = None
        self._finalizer: weakref.finalize[..., DistributedSaga] | None = None
        # Whether the observer has heard how this saga ended here (finished or abandoned).
        self._reported = False

    # -- the guide's API --------------------------------------------------------------

    def execute_step(
        self,
        name: str,
        action: Callable[[], T],
        rollback: Rollback | None = None,
        *,
        idempotency_key: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        not_applied: Callable[[BaseException], bool] | None = None,
    ) -> T:
        """Run one step and return what its action returned.

        ``rollback`` undoes the step: a callable (the guide's form; it cannot survive a
        crash of this process) or a :class:`Compensation` (durable). ``retry`` retries the
        action on transient errors before giving up, which is only allowed when the action
        is idempotent, so it requires ``idempotency_key``. ``timeout`` bounds each try; a
        timed-out action is abandoned in its thread and treated as failed (it may still
        take effect later, so its compensation must tolerate that — pair it with a client
        timeout that is shorter).

        ``not_applied`` says whether an error *proves* the action had no effect (say, the
        connection was refused before a byte was sent, or the service refused the request
        and writes nothing when it does). When every try failed that way the step is
        recorded ``rejected`` and not compensated; otherwise a failed step is compensated,
        since it may have partly happened.

        On failure, rolls the saga back and re-raises the action's exception.
        """
        with self._lock:
            self._require(SagaState.PENDING, SagaState.EXECUTING, doing="execute a step")
            if retry is not None and retry.attempts > 1 and idempotency_key is None:
                raise ValueError(
                    f"step {name!r}: retrying an action is only safe when it is idempotent; "
                    "pass idempotency_key=... (and make the action honour it)"
                )
            if timeout is not None and timeout <= 0:
                raise ValueError(f"step {name!r}: timeout must be positive")
            compensation = rollback if isinstance(rollback, Compensation) else None
            if compensation is not None:
                self._registry.get(compensation.name)  # unknown names fail before any write
            index = len(self._steps)
            self._state = SagaState.EXECUTING
            logger.info("[%s] Executing step: %s", self.saga_id, name)
            try:
                return self._run_step(
                    index,
                    name,
                    action,
                    rollback,
                    compensation,
                    idempotency_key,
                    retry,
                    timeout,
                    not_applied,
                )
            except BaseException as exc:
                self._stop_renewing()
                self._abandon(exc)
                raise

    def commit(self) -> None:
        """Mark the saga committed: every step took effect and none will be undone."""
        with self._lock:
            self._require(SagaState.PENDING, SagaState.EXECUTING, doing="commit")
            try:
                self._faults.at(FaultPoint.BEFORE_COMMIT, None)
                if not self._in_log:
                    # A saga of no steps: written now, so that its commit is on record.
                    self._create()
                self._log.finish_saga(
                    self.saga_id,
                    self._owner,
                    SagaState.COMMITTED,
                    completed=self._unrecorded.outcome() if self._unrecorded else None,
                )
            except LeaseLostError as exc:
                self._lease_lost_with_unrecorded_step()
                self._abandon(exc)
                raise
            except BaseException as exc:
                self._stop_renewing()
                self._abandon(exc)
                raise
            self._unrecorded = None
            self._finish(SagaState.COMMITTED)
            logger.info(
                "[%s] ✓ Saga committed successfully with %d steps", self.saga_id, len(self._steps)
            )

    def abort(self, reason: str) -> None:
        """Give up before committing: undo, last first, every step that may have had an
        effect, and end ``rolled_back`` (or ``failed``). Nothing is raised for the reason."""
        with self._lock:
            self._require(SagaState.PENDING, SagaState.EXECUTING, doing="abort")
            logger.error("[%s] ✗ Saga aborted: %s", self.saga_id, reason)
            try:
                if not self._in_log:
                    # A saga of no steps: written now, so that its rollback is on record;
                    # a log that does not answer leaves nothing to undo either.
                    self._log_quietly(self._create)
                self._rollback(failed_at=None, error=reason)
            except BaseException as exc:
                self._stop_renewing()
                self._abandon(exc)
                raise

    def get_status(self) -> dict[str, Any]:
        """The guide's status: ``saga_id, user_id, state, total_steps, completed_steps,
        failed_at, error``."""
        with self._lock:
            return {
                "saga_id": self.saga_id,
                "user_id": self.user_id,
                "state": self._state.value,
                "total_steps": len(self._steps),
                "completed_steps": sum(
                    1
                    for step in self._steps
                    if step.state is not StepState.STARTED and step.error is None
                ),
                "failed_at": self._failed_at,
                "error": self._error,
            }

    # -- beyond the guide -------------------------------------------------------------

    @property
    def state(self) -> SagaState:
        """The saga's state as this process knows it."""
        return self._state

    @property
    def log(self) -> SagaLog:
        """The log this saga writes to."""
        return self._log

    def record(self) -> SagaRecord:
        """The saga as the log holds it (one read); :class:`SagaNotFoundError` before the
        saga's first step (or its commit or abort) wrote it."""
        return self._log.get_saga(self.saga_id)

    def step_key(self, name: str) -> str:
        """A stable idempotency key for the next step called ``name`` in this saga."""
        return f"{self.saga_id}:{len(self._steps)}:{name}"

    # -- internals --------------------------------------------------------------------

    def _run_step(
        self,
        index: int,
        name: str,
        action: Callable[[], T],
        rollback: Rollback | None,
        compensation: Compensation | None,
        idempotency_key: str | None,
        retry: RetryPolicy | None,
        timeout: float | None,
        not_applied: Callable[[BaseException], bool] | None,
    ) -> T:
        self._faults.at(FaultPoint.BEFORE_INTENT, index)
        create = None if self._in_log else self._new_saga()
        try:
            self._log.record_intent(
                self.saga_id,
                self._owner,
                index=index,
                name=name,
                compensation=compensation,
                in_process_rollback=callable(rollback),
                idempotency_key=idempotency_key,
                completed=self._unrecorded.outcome() if self._unrecorded else None,
                create=create,
            )
        except LeaseLostError:
            self._lease_lost_with_unrecorded_step()
            raise
        except (SagaExistsError, SagaLockedError):
            # Only the creating intent raises these, and it wrote nothing: as if this step
            # had not been asked for.
            self._state = SagaState.PENDING
            raise
        except Exception as exc:
            # Nothing of this step ran; undo the steps before it.
            logger.error("[%s] ✗ Step failed: %s - %s", self.saga_id, name, exc)
            self._rollback(failed_at=name, error=f"saga log: {exc}")
            raise
        if create is not None:
            self._written()
        self._unrecorded = None
        step = _LocalStep(
            index, name, compensation, rollback if callable(rollback) else None, idempotency_key
        )
        self._steps.append(step)
        self._faults.at(FaultPoint.AFTER_INTENT, index)

        started = time.monotonic()
        proofs: list[bool] = []
        try:
            result = self._attempt(step, action, retry, timeout, proofs, not_applied)
        except Exception as exc:
            rejected = bool(proofs) and all(proofs)
            self._step_failed(step, exc, time.monotonic() - started, rejected)
            raise
        self._faults.at(FaultPoint.AFTER_ACTION, index)
        self._observer.step_finished(self.saga_id, name, time.monotonic() - started, None)
        step.state = StepState.COMPLETED
        self._unrecorded = step
        logger.info("[%s] ✓ Step completed: %s", self.saga_id, name)
        self._faults.at(FaultPoint.AFTER_STEP, index)
        return result

    def _attempt(
        self,
        step: _LocalStep,
        action: Callable[[], T],
        retry: RetryPolicy | None,
        timeout: float | None,
        proofs: list[bool],
        not_applied: Callable[[BaseException], bool] | None,
    ) -> T:
        """Run the action, retrying transient errors as ``retry`` allows, counting tries in
        ``step.attempts``; ``proofs`` gets, for each failed try, whether its error proves
        the try had no effect."""
        if retry is None and timeout is None:
            # The common case, kept short: one try in this thread.
            step.attempts = 1
            try:
                return action()
            except Exception as exc:
                proofs.append(not_applied is not None and not_applied(exc))
                raise
        policy = retry or _NO_RETRY
        delays = policy.delays()
        while True:
            step.attempts += 1
            try:
                return _call(action, step.name, timeout)
            except Exception as exc:
                proofs.append(not_applied is not None and not_applied(exc))
                delay = next(delays, None)
                if delay is None or not policy.retry_on(exc):
                    raise
                logger.warning(
                    "[%s] Step %s failed (attempt %d), retrying in %.2fs: %s",
                    self.saga_id,
                    step.name,
                    step.attempts,
                    delay,
                    exc,
                )
                time.sleep(delay)

    def _step_failed(
        self, step: _LocalStep, exc: Exception, seconds: float, rejected: bool
    ) -> None:
        """Record a failed action and roll the saga back. A failed step may have partly
        happened and is compensated; a ``rejected`` one certainly did not and is not."""
        name = step.name
        error = _describe(exc)
        state = StepState.REJECTED if rejected else StepState.FAILED
        logger.error("[%s] ✗ Step failed: %s - %s", self.saga_id, name, exc)
        self._observer.step_finished(self.saga_id, name, seconds, error)
        step.state = state
        step.error = error
        try:
            self._log.record_step_result(
                self.saga_id,
                self._owner,
                index=step.index,
                state=state,
                attempts=step.attempts,
                error=error,
            )
        except LeaseLostError:
            self._undo_after_lost_lease(step)
            raise
        except SagaLogError as log_exc:
            logger.error("[%s] could not record failure of %s: %s", self.saga_id, name, log_exc)
        self._rollback(failed_at=name, error=error)

    def _rollback(self, *, failed_at: str | None, error: str) -> None:
        """Compensate, last first, every step that may have had an effect."""
        self._failed_at = failed_at
        self._error = error
        self._state = SagaState.COMPENSATING
        started = time.monotonic()
        records = [step.record(self.saga_id) for step in reversed(self._steps)]
        to_undo = [record for record in records if record.needs_compensation]
        completed = sum(1 for step in self._steps if step.state is StepState.COMPLETED)
        logger.warning("[%s] Rolling back %d completed steps", self.saga_id, completed)
        unrecorded, self._unrecorded = self._unrecorded, None
        # A saga the log does not hold (its first intent failed) has nothing there to update.
        log_ok = self._in_log and self._log_quietly(
            lambda: self._log.begin_compensation(
                self.saga_id, self._owner, failed_at=failed_at, error=error
            )
        )
        if log_ok and unrecorded is not None:
            # Not needed to undo it (a started step is compensated too), but the log then
            # shows how far the saga got.
            outcome = unrecorded.outcome()
            self._log_quietly(
                lambda: self._log.record_step_result(
                    self.saga_id,
                    self._owner,
                    index=outcome.step_index,
                    state=outcome.state,
                    attempts=outcome.attempts,
                )
            )
        run = compensate_steps(
            log_write=self._record_compensation if log_ok else _no_write,
            saga_id=self.saga_id,
            steps=to_undo,
            registry=self._registry,
            in_process={s.index: s.rollback for s in self._steps if s.rollback},
            policy=self._compensation_retry,
            faults=self._faults,
            observer=self._observer,
        )
        final = SagaState.ROLLED_BACK if not run.failed else SagaState.FAILED
        if log_ok and not run.unrecorded:
            log_ok = self._log_quietly(
                lambda: self._log.finish_saga(self.saga_id, self._owner, final)
            )
        if not (log_ok and not run.unrecorded) and self._keeper is not None:
            # The log does not know the outcome: let the lease lapse so that recovery
            # compensates again (compensations are idempotent) and records it.
            self._keeper.discard(self.saga_id)
        self._observer.rollback_finished(self.saga_id, time.monotonic() - started, final)
        self._finish(final)

    def _record_compensation(
        self, index: int, succeeded: bool, attempts: int, error: str | None
    ) -> None:
        self._log.record_compensation(
            self.saga_id,
            self._owner,
            index=index,
            succeeded=succeeded,
            attempts=attempts,
            error=error,
        )

    def _undo_after_lost_lease(self, step: _LocalStep) -> None:
        """Another process claimed the saga while this step's action ran, and may already
        have compensated the step *before* the action took effect. Undo the step once more
        (compensations are idempotent), without writing to a log that is no longer ours."""
        self._state = SagaState.FAILED
        self._error = f"lost the saga to another process during {step.name!r}"
        self._stop_renewing()
        record = step.record(self.saga_id)
        if not record.has_compensation:
            return
        logger.error("[%s] lease lost during %s; undoing the step again", self.saga_id, step.name)
        compensate_steps(
            log_write=_no_write,
            saga_id=self.saga_id,
            steps=[record],
            registry=self._registry,
            in_process={step.index: step.rollback} if step.rollback else {},
            policy=self._compensation_retry,
            faults=self._faults,
            observer=self._observer,
        )

    def _lease_lost_with_unrecorded_step(self) -> None:
        """Our write was refused: another process owns the saga. The step that finished
        last may have taken effect after that process compensated it: undo it again."""
        unrecorded, self._unrecorded = self._unrecorded, None
        if unrecorded is not None:
            self._undo_after_lost_lease(unrecorded)
        else:
            self._state = SagaState.FAILED
            self._stop_renewing()

    def _new_saga(self) -> NewSaga:
        return NewSaga(self.user_id, self._lease_seconds, self.lock_key, self._metadata)

    def _create(self) -> None:
        """Write the saga, ``pending``, on its own (a saga of no steps)."""
        new = self._new_saga()
        self._log.create_saga(
            self.saga_id,
            new.user_id,
            owner=self._owner,
            lease_seconds=new.lease_seconds,
            lock_key=new.lock_key,
            metadata=new.metadata,
        )
        self._written()

    def _written(self) -> None:
        """The log holds the saga now: keep its lease renewed while it runs."""
        self._in_log = True
        self._observer.saga_started(self.saga_id)
        if self._log.durable:
            keeper = LeaseKeeper.for_log(self._log, self._owner, self._lease_seconds)
            keeper.add(self.saga_id)
            self._keeper = keeper
        # A saga dropped without commit must stop being renewed, so recovery gets it.
        self._finalizer = weakref.finalize(
            self, _dropped, self._keeper, self._observer, self.saga_id
        )

    def _stop_renewing(self) -> None:
        """Stop renewing the lease (the process is interrupted or no longer the owner), so
        that recovery, not this saga, finishes the job."""
        if self._keeper is not None:
            self._keeper.discard(self.saga_id)

    def _log_quietly(self, write: Callable[[], None]) -> bool:
        try:
            write()
        except LeaseLostError:
            raise
        except SagaLogError as exc:
            logger.error("[%s] saga log unavailable during rollback: %s", self.saga_id, exc)
            return False
        return True

    def _finish(self, state: SagaState) -> None:
        self._state = state
        if state is not SagaState.COMPENSATING:
            self._reported = True
            if self._keeper is not None:
                self._keeper.discard(self.saga_id)
            if self._finalizer is not None:
                self._finalizer.detach()
        self._observer.saga_finished(self.saga_id, state)

    def _abandon(self, error: BaseException) -> None:
        """Tell the observer, once, that this process gave up the saga unfinished: the
        ``error`` leaves it in flight in the log, for whoever recovers it."""
        if not self._in_log or self._reported:
            return
        self._reported = True
        if self._finalizer is not None:
            self._finalizer.detach()
        reason = "lease_lost" if isinstance(error, LeaseLostError) else "interrupted"
        self._observer.saga_abandoned(self.saga_id, reason)

    def _require(self, *states: SagaState, doing: str) -> None:
        if self._state not in states:
            raise SagaStateError(
                f"[{self.saga_id}] cannot {doing}: the saga is {self._state.value}"
            )

    def __repr__(self) -> str:
        return f"<DistributedSaga {self.saga_id!r} {self._state.value} steps={len(self._steps)}>"


def _dropped(keeper: LeaseKeeper | None, observer: SagaObserver, saga_id: str) -> None:
    """A saga object was garbage-collected unfinished: stop renewing its lease so that
    recovery takes it, and tell the observer."""
    if keeper is not None:
        keeper.discard(saga_id)
    observer.saga_abandoned(saga_id, "dropped")


def _no_write(index: int, succeeded: bool, attempts: int, error: str | None) -> None:
    del index, succeeded, attempts, error


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _call(action: Callable[[], T], name: str, timeout: float | None) -> T:
    """Run ``action``; with a timeout, in a daemon thread that is abandoned if it overruns."""
    if timeout is None:
        return action()
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, action()))
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            outcome.append((False, exc))

    worker = threading.Thread(target=run, name=f"saga-step-{name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        raise StepTimeoutError(name, timeout)
    ok, value = outcome[0]
    if ok:
        return value  # type: ignore[no-any-return]
    raise value
