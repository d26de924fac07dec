"""Hooks for metrics: the engine tells an observer what happened, and how long it took."""

from __future__ import annotations

from distributed_saga._records import SagaState

__all__ = ["SagaObserver"]


class SagaObserver:
    """Receives saga events. Subclass and override what you need; every method is a no-op.

    Observers are called inline from the engine: they must be quick and must not raise.
    """

    def saga_started(self, saga_id: str) -> None:
        """A saga was recorded in the log."""

    def step_finished(self, saga_id: str, name: str, seconds: float, error: str | None) -> None:
        """A step's action returned (``error`` is ``None``) or failed for good."""

    def compensation_finished(
        self, saga_id: str, name: str, seconds: float, error: str | None
    ) -> None:
        """One step's compensation succeeded (``error`` is ``None``) or ran out of retries."""

    def rollback_finished(self, saga_id: str, seconds: float, state: SagaState) -> None:
        """A whole rollback ended in ``rolled_back`` or ``failed``."""

    def saga_finished(self, saga_id: str, state: SagaState) -> None:
        """A saga reached ``committed``, ``rolled_back`` or ``failed``."""


NULL_OBSERVER = SagaObserver()
