"""Errors raised by the saga engine.

Every error the engine raises on its own account derives from :class:`SagaError`;
errors raised by a step's action are re-raised unchanged (the guide's contract), and
errors from a storage driver are translated at the log boundary with ``raise ... from``::

    SagaError
    ├── SagaLogError              a saga log could not be opened, read or written
    │   └── SagaLogUnavailable    the log's database did not answer (connection-level)
    ├── SagaExistsError           a saga with this id is already in the log
    ├── SagaLockedError           an unfinished saga holds the requested lock key
    ├── SagaNotFoundError         no saga with this id in the log
    ├── SagaStateError            the operation is not allowed in the saga's state
    ├── LeaseLostError            another process claimed the saga (our lease expired)
    ├── UnknownCompensationError  a durable compensation name is not registered
    └── StepTimeoutError          a step's action ran past its timeout (also a TimeoutError)
"""

from __future__ import annotations

__all__ = [
    "LeaseLostError",
    "SagaError",
    "SagaExistsError",
    "SagaLockedError",
    "SagaLogError",
    "SagaLogUnavailable",
    "SagaNotFoundError",
    "SagaStateError",
    "StepTimeoutError",
    "UnknownCompensationError",
]


class SagaError(Exception):
    """Root of every error the saga engine raises on its own account."""


class SagaLogError(SagaError):
    """A saga log could not be opened, read or written."""


class SagaLogUnavailable(SagaLogError):
    """The saga log's database did not answer (refused, dropped or timed out)."""


class SagaExistsError(SagaError):
    """A saga with this id is already recorded in the log."""

    def __init__(self, saga_id: str) -> None:
        super().__init__(f"saga {saga_id!r} already exists in the saga log")
        self.saga_id = saga_id


class SagaLockedError(SagaError):
    """An unfinished saga holds the lock key that a new saga asked for."""

    def __init__(self, lock_key: str, holder_saga_id: str) -> None:
        super().__init__(
            f"lock {lock_key!r} is held by unfinished saga {holder_saga_id!r}; "
            "wait for it to finish, or retry/inspect it with the saga admin tools"
        )
        self.lock_key = lock_key
        self.holder_saga_id = holder_saga_id


class SagaNotFoundError(SagaError):
    """No saga with this id is recorded in the log."""

    def __init__(self, saga_id: str) -> None:
        super().__init__(f"no saga {saga_id!r} in the saga log")
        self.saga_id = saga_id


class SagaStateError(SagaError):
    """The operation is not allowed in the saga's current state."""


class LeaseLostError(SagaError):
    """Another process claimed this saga because our lease on it expired.

    The process that sees this must stop touching the saga: the claimant is
    compensating it.
    """

    def __init__(self, saga_id: str, owner: str) -> None:
        super().__init__(f"saga {saga_id!r} is no longer owned by {owner!r}: its lease expired")
        self.saga_id = saga_id
        self.owner = owner


class UnknownCompensationError(SagaError, LookupError):
    """A durable compensation name is not registered in the registry in use."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"no compensation registered as {name!r}; import the module that registers it "
            "before running or recovering sagas"
        )
        self.name = name


class StepTimeoutError(SagaError, TimeoutError):
    """A step's action did not finish within the step's timeout."""

    def __init__(self, step_name: str, timeout: float) -> None:
        super().__init__(f"step {step_name!r} did not finish within {timeout:g} s")
        self.step_name = step_name
        self.timeout = timeout
