"""Hooks for metrics: the engine tells an observer what happened, and how long it took."""

from __future__ import annotations

from distributed_saga._records import SagaState

__all__ = ["ABANDON_REASONS", "CLAIM_REASONS", "SagaObserver"]

ABANDON_REASONS = ("lease_lost", "interrupted", "dropped")
"""Why a process gave a saga up unfinished (:meth:`SagaObserver.saga_abandoned`)."""

CLAIM_REASONS = ("recovery", "retry", "resolve")
"""How a process took over a saga another left unfinished (:meth:`SagaObserver.saga_claimed`)."""


class SagaObserver:
    """Receives saga events. Subclass and override what you need; every method is a no-op.

    Observers are called inline from the engine: they must be quick and must not raise.
    """

    def saga_started(self, saga_id: str) -> None:
        """A saga was recorded in the log (by its first step's intent, or by ``commit()`` or
        ``abort()`` of a saga of no steps); one refused there (a held lock key, a taken id)
        never started."""

    def step_finished(self, saga_id: str, name: str, seconds: float, error: str | None) -> None:
        """A step's action returned (``error`` is ``None``) or failed for good."""

    def compensation_finished(
        self, saga_id: str, name: str, seconds: float, error: str | None
    ) -> None:
        """One step's compensation succeeded (``error`` is ``None``) or ran out of retries."""

    def rollback_finished(self, saga_id: str, seconds: float, state: SagaState) -> None:
        """A whole rollback ended in ``rolled_back`` or ``failed``."""

    def saga_finished(self, saga_id: str, state: SagaState) -> None:
        """A saga reached ``committed``, ``rolled_back`` or ``failed``. A ``failed`` saga
        that an operator retries or resolves later finishes again, where that is done."""

    def saga_abandoned(self, saga_id: str, reason: str) -> None:
        """This process stopped running a saga it started or claimed, before it finished:
        ``lease_lost`` (another process took it over), ``interrupted`` (an exception such
        as ``KeyboardInterrupt`` left it in flight, for recovery) or ``dropped`` (the saga
        object was garbage-collected unfinished). Whoever finishes it reports that."""

    def saga_claimed(self, saga_id: str, reason: str) -> None:
        """This process took over a saga that another left unfinished: ``recovery`` (its
        owner's lease expired), ``retry`` (an operator retries a failed saga's
        compensations) or ``resolve`` (an operator records them done by hand).
        :meth:`saga_finished` follows when it ends here."""


NULL_OBSERVER = SagaObserver()
