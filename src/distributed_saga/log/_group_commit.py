"""Group commit: the writes that threads make at the same time, committed together.

Each thread that writes hands its write to a :class:`GroupCommit` and waits. The first
thread to arrive while no batch is being written becomes the *leader*: it takes every
write queued so far (its own among them), has them run and committed as one batch, hands
each writer its own result, and lets the next leader take what queued up meanwhile. A
writer returns only once its batch has committed (or has failed), so a write is exactly as
durable as when it was committed alone.

Alone, a write is a batch of one: it runs at once, in the writer's own thread, with
nothing added but an uncontended lock. Under concurrency, ``n`` writes cost one round trip
and one commit instead of ``n`` of each, which is what lets a log on a server (PostgreSQL)
serve more writers than it has CPU for one commit each.

How a batch runs is the log's business (``run_batch``): it must give every write its own
result or its own exception, all or nothing per write, as if each had run alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["GroupCommit", "Write"]

_R = TypeVar("_R")


@dataclass(slots=True, eq=False)
class Write(Generic[_R]):
    """One queued write: the statement and its parameters, then its outcome."""

    query: str
    params: Sequence[Any]
    result: _R | None = field(default=None, init=False)
    error: BaseException | None = field(default=None, init=False)
    settled: bool = field(default=False, init=False)
    """Whether the batch gave this write its result or its error."""
    done: bool = field(default=False, init=False)
    """Whether its batch is over (its writer may return)."""

    def succeed(self, result: _R) -> None:
        """Record the write's result."""
        self.result, self.settled = result, True

    def fail(self, error: BaseException) -> None:
        """Record why the write failed; the writer raises it."""
        self.error, self.settled = error, True


class GroupCommit(Generic[_R]):
    """Leader/follower batching of concurrent writes through ``run_batch``.

    ``run_batch(writes)`` runs and commits ``writes`` (one or more), setting each one's
    result or error; an exception it raises itself fails every write of the batch that has
    neither. ``max_batch`` bounds how many writes one commit carries.
    """

    def __init__(
        self, run_batch: Callable[[list[Write[_R]]], None], *, max_batch: int = 64
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[Write[_R]] = []
        self._leading = False
        self.batches = 0
        """Batches run so far (for tests and benchmarks)."""
        self.writes = 0
        """Writes run so far."""

    @property
    def waiting(self) -> int:
        """Writes queued for the next batch (not yet taken by a leader)."""
        with self._cond:
            return len(self._queue)

    def submit(self, query: str, params: Sequence[Any]) -> _R:
        """Run the write, committed (alone or with others); its result, or raise its error."""
        write: Write[_R] = Write(query, params)
        with self._cond:
            self._queue.append(write)
            while self._leading:
                self._cond.wait()
                if write.done:
                    return self._outcome(write)
            self._leading = True
            self._queue.remove(write)
            batch = [write, *self._queue[: self._max_batch - 1]]
            del self._queue[: self._max_batch - 1]
        try:
            self._run(batch)
        finally:
            with self._cond:
                self._leading = False
                self.batches += 1
                self.writes += len(batch)
                for item in batch:
                    item.done = True
                self._cond.notify_all()
        return self._outcome(write)

    def _run(self, batch: list[Write[_R]]) -> None:
        try:
            self._run_batch(batch)
        except BaseException as exc:
            for item in batch:
                if not item.settled:
                    item.fail(exc)
            if not isinstance(exc, Exception):
                raise

    @staticmethod
    def _outcome(write: Write[_R]) -> _R:
        if write.error is not None:
            raise write.error
        if not write.settled:
            raise AssertionError("a batched write ended with neither a result nor an error")
        return write.result  # type: ignore[return-value]  # settled with a result
