"""Group commit: the writes that threads make at the same time, committed together.

Each thread that writes hands its write to a :class:`GroupCommit` and waits. A thread
that arrives while no batch is being written becomes a *leader*: it has its write run and
committed at once. While fewer than ``in_flight`` batches are under way, one arriving
when as many writes are queued as the batch taken last carried (its own included) leads
too, taking them all; otherwise its write queues. When a batch ends,
the oldest queued write's thread leads the next one: it takes every write queued so far
(its own first), has them run and committed as one batch, hands each writer its own
result, and lets the next leader take what queued up meanwhile. A writer returns only once
its batch has committed (or has failed), so a write is exactly as durable as when it was
committed alone.

With two batches in flight, one is executed by the server while the other waits for its
commit to reach the disk: the server's CPU and its disk work at the same time, instead of
in turn (``bench/concurrency.py``, ``pg_16_two_batches_vs_one``). The second batch waits
for as many writes as the last batch took: where a commit is synced quickly, a lone
write taking the free place would only thin the batches out (more commits, more CPU, for
the same writes); where it is synced slowly, that many queue while it is. Each batch has a
connection of its own, and the writes of one saga are never in two batches at once (its
thread waits for each), so concurrent batches touch different sagas.

Alone, a write is a batch of one: it runs at once, in the writer's own thread, with
nothing added but an uncontended lock. A log whose lone writes must cost nothing more (a
saga on SQLite, where the work between two syncs is what a saga costs beyond them) hands
``submit`` its own single-write path as ``alone``: a write made while nothing is under way
runs through it, with no batch built around it, and writes arriving meanwhile queue
behind it as behind a batch. Under concurrency, ``n`` writes cost one round trip and one
commit instead of ``n`` of each, which is what lets a log on a server (PostgreSQL) serve
more writers than it has CPU for one commit each, and a log in a file (SQLite) sync once
for many writers.

How a batch runs is the log's business (``run_batch``): it must give every write its own
result or its own exception, all or nothing per write, as if each had run alone. Writes
are statements with their values (PostgreSQL) or functions of the batch's cursor
(``work``, SQLite).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["GroupCommit", "Write"]

_R = TypeVar("_R")


@dataclass(slots=True, eq=False)
class Write(Generic[_R]):
    """One queued write: the statement and its parameters (or the work to run), then its
    outcome."""

    query: str
    params: Sequence[Any]
    work: Callable[[Any], Any] | None = None
    """For a log whose writes are not one statement each (SQLite): the write itself, a
    function of the batch's cursor that returns the write's result."""
    result: _R | None = field(default=None, init=False)
    error: BaseException | None = field(default=None, init=False)
    settled: bool = field(default=False, init=False)
    """Whether the batch gave this write its result or its error."""
    done: bool = field(default=False, init=False)
    """Whether its batch is over (its writer may return)."""
    wake: threading.Lock | None = field(default=None, init=False, repr=False)
    """Held while its writer waits; released to wake it (to return, or to lead)."""
    leads: bool = field(default=False, init=False, repr=False)
    """Whether it was chosen to lead the next batch."""
    handed: list[Write[_R]] | None = field(default=None, init=False, repr=False)
    """When it was chosen to lead: the batch before, whose writers it wakes."""

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
    neither, and it may be called from ``in_flight`` threads at once. ``max_batch`` bounds
    how many writes one commit carries.

    A writer that has to wait sleeps on a lock of its own: a batch that ends wakes its
    own writers and, when writes queued meanwhile, the one that leads them next, and no
    other thread.
    """

    def __init__(
        self,
        run_batch: Callable[[list[Write[_R]]], None],
        *,
        max_batch: int = 64,
        in_flight: int = 1,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        if in_flight < 1:
            raise ValueError(f"in_flight must be at least 1, not {in_flight}")
        self._run_batch = run_batch
        self._max_batch = max_batch
        self.in_flight = in_flight
        """How many batches may be on their way at once, each led by its own writer."""
        self._lock = threading.Lock()
        self._queue: deque[Write[_R]] = deque()
        self._leaders = 0  # batches under way, or about to be (a chosen leader waking)
        self._last_size = 1  # writes in the batch taken last
        self.batches = 0
        """Batches run so far (for tests and benchmarks)."""
        self.writes = 0
        """Writes run so far."""

    @property
    def under_way(self) -> int:
        """Batches (or writes run ``alone``) under way, or about to be."""
        with self._lock:
            return self._leaders

    @property
    def waiting(self) -> int:
        """Writes queued for the next batch (not yet taken by a leader)."""
        with self._lock:
            return len(self._queue)

    def submit(
        self,
        query: str,
        params: Sequence[Any],
        work: Callable[[Any], _R] | None = None,
        *,
        alone: Callable[[], _R] | None = None,
    ) -> _R:
        """Run the write, committed (alone or with others); its result, or raise its error.

        ``work`` is the write as a function of the batch's cursor, for a ``run_batch`` that
        runs functions rather than statements (``query`` then only names it). ``alone``,
        when given, runs the write when no batch is under way: called at once in this
        thread instead of a batch of one, with nothing built around it (a log's own
        single-write path, cheaper where every microsecond between two syncs counts);
        writes arriving meanwhile queue behind it as behind a batch."""
        write: Write[_R] | None
        with self._lock:
            if self._leaders == 0 and alone is not None:
                self._leaders = 1
                self._last_size = 1
                write = None
            else:
                write = Write(query, params, work)
                if self._leaders == 0 or (
                    self._leaders < self.in_flight and len(self._queue) + 1 >= self._last_size
                ):
                    self._leaders += 1
                    batch = self._take(write)
                else:
                    wake = write.wake = threading.Lock()
                    wake.acquire()
                    self._queue.append(write)
                    batch = None
        if write is None:
            assert alone is not None
            try:
                return alone()
            finally:
                self._hand_over([])
        if batch is None:
            try:
                wake.acquire()  # released when its batch is over, or when it is to lead
            except BaseException:  # KeyboardInterrupt, in the main thread
                self._abandon(write)
                raise
            if write.done:
                return self._outcome(write)
            with self._lock:
                batch = self._take(write)
            # The last batch's writers are woken only now: this thread holds the GIL
            # until its batch is on the wire, instead of queueing for it behind them.
            self._wake(write.handed or ())
        try:
            self._run(batch)
        finally:
            self._hand_over(batch)
        return self._outcome(write)

    def _hand_over(self, batch: list[Write[_R]]) -> None:
        """End ``batch`` (empty: a write run ``alone``): wake the next leader, if writes
        queued meanwhile, else its writers."""
        with self._lock:
            self.batches += 1
            self.writes += len(batch) or 1
            for item in batch:
                item.done = True
            successor = self._next_leader(batch)
        self._pass_on(successor, batch)

    def _abandon(self, write: Write[_R]) -> None:
        """``write``'s thread gave up waiting: it leaves the queue, or the lead it was given."""
        with self._lock:
            if not write.leads:
                if write in self._queue:
                    self._queue.remove(write)
                return  # else it is in a batch under way, which settles it anyway
            handed = write.handed or []
            successor = self._next_leader(handed)
        self._pass_on(successor, handed)

    def _next_leader(self, batch: list[Write[_R]]) -> Write[_R] | None:
        """The oldest queued write, chosen to lead and to wake ``batch`` (lock held).

        It takes its own batch when it wakes, with whatever queued up until then. None
        when nothing is queued: ``batch``'s place is free then.
        """
        if not self._queue:
            self._leaders -= 1
            return None
        successor = self._queue.popleft()
        successor.leads, successor.handed = True, batch
        return successor

    def _pass_on(self, successor: Write[_R] | None, batch: list[Write[_R]]) -> None:
        if successor is None:
            self._wake(batch)
        else:
            assert successor.wake is not None
            successor.wake.release()

    @staticmethod
    def _wake(batch: Iterable[Write[_R]]) -> None:
        for item in batch:
            if item.wake is not None:
                item.wake.release()

    def _take(self, leader: Write[_R]) -> list[Write[_R]]:
        """``leader`` and the writes queued behind it, up to ``max_batch`` (lock held)."""
        batch = [leader]
        queue = self._queue
        while queue and len(batch) < self._max_batch:
            batch.append(queue.popleft())
        self._last_size = len(batch)
        return batch

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
