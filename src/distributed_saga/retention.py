"""Keeping the saga log small: delete sagas that ended long ago.

The log keeps every saga it records. Finished ones (``committed``, ``rolled_back``) are
history: nothing reads them but people, and :func:`prune_sagas` deletes those older than a
retention period, in batches, so that the log of a busy system stays the size of its recent
past. ``failed`` sagas still have something to undo and are kept unless asked for; sagas in
flight are never deleted (recovery finishes them)::

    from distributed_saga import prune_sagas

    prune_sagas(log, older_than_seconds=30 * 86400)  # finished more than 30 days ago
"""

from __future__ import annotations

from collections.abc import Collection

from distributed_saga._records import FINISHED_STATES, SagaState, check_prunable
from distributed_saga.log import SagaLog

__all__ = ["DEFAULT_PRUNE_BATCH", "prune_sagas"]

DEFAULT_PRUNE_BATCH = 500
"""Sagas deleted per transaction: short enough not to hold the log's write lock for long."""


def prune_sagas(
    log: SagaLog,
    older_than_seconds: float,
    *,
    states: Collection[SagaState] = FINISHED_STATES,
    batch_size: int = DEFAULT_PRUNE_BATCH,
) -> int:
    """Delete, with their steps, the sagas in ``states`` last written more than
    ``older_than_seconds`` ago, and return how many were deleted.

    Age is measured on the log's clock (the database server's for PostgreSQL) from each
    saga's last write, which for a finished saga is when it finished. ``states`` defaults
    to the finished ones; add :attr:`SagaState.FAILED` to delete failed sagas too (what they
    left undone is then forgotten). A state in flight raises ``ValueError`` before anything
    is deleted.

    The work is done in transactions of at most ``batch_size`` sagas each, oldest first
    (:meth:`SagaLog.prune_batch`), until one comes back short, so other writers wait at
    most one batch; sagas that age past the cutoff while it runs may be deleted too.
    Stopping it halfway (an error, an interrupt) leaves the log consistent: every batch
    deleted whole sagas, each with all its steps.
    """
    chosen = check_prunable(states)
    if older_than_seconds < 0:
        raise ValueError("older_than_seconds cannot be negative")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    pruned = 0
    while True:
        batch = log.prune_batch(older_than_seconds, states=chosen, limit=batch_size)
        pruned += batch
        if batch < batch_size:
            return pruned
