"""The saga log contract: what every backend must do, and nothing about how.

A saga log is the single source of truth about sagas. The engine writes to it *before* it
acts (the intent) and *after* (the result), so that a process that dies at any point
leaves enough behind for another process to finish the job: compensate every step that
may have had an effect, in reverse order.

Ownership and fencing
    Every saga in flight has an *owner* (an opaque string naming one process) and a
    *lease* that expires ``lease_seconds`` after the owner's last write or renewal. Every
    write on behalf of an owner is fenced: it succeeds only while that owner still owns the
    saga, and raises :class:`~distributed_saga.LeaseLostError` otherwise. A fenced write
    also renews the lease. Recovery claims sagas whose lease expired
    (:meth:`SagaLog.claim_expired`); two claimants never get the same saga.

Clocks
    Lease times are taken from the backend's own clock (the database server's for
    PostgreSQL), so processes on different machines agree on when a lease expires.

Lock keys
    A saga may hold a *lock key*. While a saga holding a key is unfinished (any state but
    ``committed`` and ``rolled_back``; a ``failed`` saga still has work left), creating
    another saga with that key raises :class:`~distributed_saga.SagaLockedError` naming the
    holder. The check and the insert are one atomic write.

Creating a saga
    :meth:`SagaLog.create_saga` records a ``pending`` saga on its own. The engine does not
    use it: a saga's first intent creates it (``record_intent(..., create=NewSaga(...))``),
    with its lock key, in the same transaction, so that the creation costs no commit of
    its own and a saga that never reached its first step left nothing behind.

Retention
    The log keeps every saga until it is pruned: :meth:`SagaLog.prune_batch` deletes, with
    their steps, sagas that ended (were last written) more than a given time ago;
    :func:`distributed_saga.prune_sagas` runs it batch after batch. Only finished sagas are
    pruned unless ``failed`` ones are asked for; sagas in flight never are.

Paging
    :meth:`SagaLog.list_sagas` returns sagas newest first, ordered by ``(created_at,
    saga_id)``; pass the last saga's ``(created_at, saga_id)`` as ``before`` to get the next
    page (keyset paging: each page costs the same however deep it is, and sagas created
    meanwhile never shift it).

Every method is safe to call from several threads; every public method is one transaction.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping
from typing import Any

from distributed_saga._records import (
    FINISHED_STATES,
    NewSaga,
    SagaRecord,
    SagaState,
    StepOutcome,
    StepState,
)
from distributed_saga.compensations import Compensation

__all__ = ["SagaLog"]


class SagaLog(abc.ABC):
    """A durable (or, for ``memory://``, process-local) record of sagas and their steps."""

    url: str
    """The URL this log was opened from, with any password removed."""

    durable: bool = True
    """Whether the log outlives the process that writes it."""

    # -- creating and advancing a saga (fenced by owner) ------------------------------

    @abc.abstractmethod
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
        """Record a new saga in state ``pending``, owned by ``owner``.

        Raises :class:`SagaExistsError` if ``saga_id`` is taken, and
        :class:`SagaLockedError` if an unfinished saga holds ``lock_key``. Nothing is
        written when it raises. Nothing is returned: the engine, which creates a saga per
        run, never reads the record back, and :meth:`get_saga` does when asked.
        """

    @abc.abstractmethod
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
        """Record that step ``index`` is about to run, with what will undo it.

        ``compensation`` is recorded as its name and its JSON arguments (``None`` when it
        has none); ``in_process_rollback`` says the step also has a callable rollback.

        The step is written in state ``started`` and the saga moves to ``executing``, in one
        transaction, before the action runs. ``index`` must be the next index (the number
        of steps so far); the saga must be ``pending`` or ``executing``. ``completed``, if
        given, is the previous step's outcome, recorded in the same transaction (one
        commit where two would do the same work).

        With ``create``, this first intent also creates the saga, owned by ``owner``
        under a lease of ``create.lease_seconds``, holding ``create.lock_key``: the saga
        and its step 0 are inserted together, the saga already ``executing``. ``index``
        must then be 0 and ``completed`` ``None`` (``ValueError`` otherwise). It raises
        what :meth:`create_saga` raises, :class:`SagaExistsError` for a taken id (checked
        first) and :class:`SagaLockedError` for a lock key an unfinished saga holds, and
        then writes nothing.
        """

    @abc.abstractmethod
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
        """Record how step ``index``'s action ended: ``completed``, ``failed`` (it may have
        partly happened) or ``rejected`` (it certainly had no effect)."""

    @abc.abstractmethod
    def begin_compensation(
        self,
        saga_id: str,
        owner: str,
        *,
        failed_at: str | None,
        error: str | None,
    ) -> None:
        """Move the saga to ``compensating``, recording which step failed and why.

        Allowed from ``pending``, ``executing``, ``compensating`` (a recovering owner calls it
        again) and ``failed`` (an operator's retry, after :meth:`claim_saga`). ``failed_at``
        and ``error`` already recorded are kept when the new values are ``None``.
        """

    def begin_recovery(self, saga_id: str, owner: str, *, error: str | None) -> SagaRecord:
        """Move a saga ``owner`` has claimed to ``compensating`` and return it with its steps
        (as it is after the write): what recovery does first with each saga it claimed.

        ``error`` is recorded only if the saga has none yet; the failed step recorded is
        kept. Allowed from the states :meth:`begin_compensation` is, fenced like it. A
        backend may do it in one transaction (and one round trip); this default reads the
        saga, then writes.
        """
        recorded = self.get_saga(saga_id).error
        kept = None if recorded else error
        self.begin_compensation(saga_id, owner, failed_at=None, error=kept)
        return self.get_saga(saga_id)

    @abc.abstractmethod
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
        """Record the outcome of compensating step ``index``.

        ``succeeded`` moves the step to ``compensated``; otherwise to
        ``compensation_failed`` with ``error``. ``attempts`` adds to the step's count.
        """

    @abc.abstractmethod
    def finish_saga(
        self,
        saga_id: str,
        owner: str,
        state: SagaState,
        *,
        completed: StepOutcome | None = None,
    ) -> None:
        """End the saga in ``committed``, ``rolled_back`` or ``failed``.

        ``committed`` is allowed only from ``pending``/``executing``; the other two only
        from ``compensating``. The owner and lease are cleared; ``committed`` and
        ``rolled_back`` release the lock key. ``completed``, if given, is the last step's
        outcome, recorded in the same transaction.
        """

    # -- leases -----------------------------------------------------------------------

    @abc.abstractmethod
    def renew_leases(self, owner: str, saga_ids: Collection[str]) -> int:
        """Extend the leases of those of ``saga_ids`` that ``owner`` still owns and are in
        flight; return how many were extended."""

    @abc.abstractmethod
    def claim_expired(self, owner: str, lease_seconds: float, *, limit: int = 100) -> list[str]:
        """Take ownership of up to ``limit`` in-flight sagas whose lease has expired.

        Returns their ids, oldest first. Concurrent claimants never receive the same saga.
        """

    @abc.abstractmethod
    def claim_saga(
        self,
        saga_id: str,
        owner: str,
        lease_seconds: float,
        *,
        from_states: Collection[SagaState],
    ) -> SagaRecord:
        """Take ownership of one saga in one of ``from_states`` (an operator's retry).

        An in-flight saga can be claimed only once its lease has expired. Raises
        :class:`SagaNotFoundError`, or :class:`SagaStateError` when the saga is in another
        state or still leased.
        """

    # -- reading ----------------------------------------------------------------------

    @abc.abstractmethod
    def get_saga(self, saga_id: str) -> SagaRecord:
        """The saga with its steps (in order); :class:`SagaNotFoundError` if absent."""

    @abc.abstractmethod
    def list_sagas(
        self,
        *,
        states: Collection[SagaState] | None = None,
        lock_key: str | None = None,
        user_id: str | None = None,
        limit: int = 100,
        before: tuple[float, str] | None = None,
    ) -> list[SagaRecord]:
        """Up to ``limit`` sagas with their steps, newest first, filtered by state, lock key
        and the user who ran them (``user_id``; ``None`` filters nothing).

        Sagas are ordered by ``(created_at, saga_id)``, descending. ``before``, a position
        ``(created_at, saga_id)`` (usually the last saga of the previous page), keeps only
        sagas strictly before it in that order::

            page = log.list_sagas(limit=50)
            while page:
                ...
                last = page[-1]
                page = log.list_sagas(limit=50, before=(last.created_at, last.saga_id))
        """

    @abc.abstractmethod
    def count_sagas(
        self,
        *,
        states: Collection[SagaState] | None = None,
        lease_expired_for: float | None = None,
    ) -> int:
        """How many sagas are in one of ``states`` (every saga when ``None``), counted by
        the log without reading them (what a metrics scrape or a health check asks).

        With ``lease_expired_for``, only sagas in flight whose lease expired more than that
        many seconds ago by the log's clock count: ``0`` counts exactly the sagas
        :meth:`claim_expired` would take now, and a few seconds absorb a recoverer's
        interval. A negative value raises ``ValueError``.
        """

    # -- retention --------------------------------------------------------------------

    @abc.abstractmethod
    def prune_batch(
        self,
        older_than_seconds: float,
        *,
        states: Collection[SagaState] = FINISHED_STATES,
        limit: int = 500,
    ) -> int:
        """Delete, with their steps, up to ``limit`` sagas in one of ``states`` that were
        last written more than ``older_than_seconds`` ago by the log's clock (for a finished
        saga: when it finished), oldest first; return how many were deleted.

        ``states`` defaults to the finished ones (``committed``, ``rolled_back``); ``failed``
        sagas, which still have something to undo, are deleted only when listed. A state in
        flight raises ``ValueError``: recovery has to finish such a saga, so it is never
        pruned. One transaction per call; :func:`distributed_saga.prune_sagas` calls it
        until a batch comes back short. A pruned saga's id may be used again.
        """

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release connections. The log must not be used afterwards."""

    def __enter__(self) -> SagaLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
