"""What concurrent sagas wait for: the log's lock or connection slots, and the server.

Used only in ``concurrency.py``'s extra, untimed round (its ``explain`` figures), since
both look inside the engine or add a sampler:

* :func:`timed_waits` puts a :class:`TimedWait` around a log's private lock or semaphore
  (``SQLiteSagaLog._lock``: one connection behind a lock; ``PostgresSagaLog._slots``: one
  slot per pooled connection) and sums how long threads waited to get it. A log without
  the attribute (the engine changed) is measured without it.
* :class:`ActivitySampler` polls ``pg_stat_activity`` every few milliseconds and counts
  what the database's client backends were doing: running, waiting for the WAL to be
  written or flushed (``IO:WALSync``, ``LWLock:WALWrite``: commits queued on the flush
  that group commit shares), or idle waiting for the client (``Client:ClientRead``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg


class TimedWait:
    """A lock or semaphore that adds up the time its ``acquire`` calls waited."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.waited = 0.0
        self.acquired = 0
        self._count = threading.Lock()

    def acquire(self, *args: Any, **kwargs: Any) -> bool:
        started = time.perf_counter()
        got = bool(self.inner.acquire(*args, **kwargs))
        waited = time.perf_counter() - started
        with self._count:
            self.waited += waited
            self.acquired += 1
        return got

    def release(self) -> None:
        self.inner.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextmanager
def timed_waits(log: Any) -> Iterator[TimedWait | None]:
    """The wait of ``log``'s connection lock (SQLite) or pool slots (PostgreSQL), timed."""
    # PostgresSagaLog has a _lock too, guarding its idle list only; its slots are the wait.
    name = next((n for n in ("_slots", "_lock") if hasattr(log, n)), None)
    if name is None:
        yield None
        return
    original = getattr(log, name)
    wrapped = TimedWait(original)
    setattr(log, name, wrapped)
    try:
        yield wrapped
    finally:
        setattr(log, name, original)


class ActivitySampler:
    """Counts the states of the client backends connected to one database, in a thread."""

    def __init__(self, url: str, database: str, interval: float = 0.005) -> None:
        self.samples: Counter[str] = Counter()
        self._url = url
        self._database = database
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ActivitySampler:
        conn = psycopg.connect(self._url, autocommit=True)
        self._own_pid = conn.info.backend_pid

        def sample() -> None:
            with conn:
                while not self._stop.wait(self._interval):
                    rows = conn.execute(
                        "SELECT state, wait_event_type, wait_event FROM pg_stat_activity"
                        " WHERE datname = %s AND backend_type = 'client backend' AND pid <> %s",
                        (self._database, self._own_pid),
                    ).fetchall()
                    for state, kind, event in rows:
                        self.samples[_activity(state, kind, event)] += 1

        self._thread = threading.Thread(target=sample, name="activity-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def shares(self) -> dict[str, float]:
        """Each activity's share of the backend samples, largest first."""
        total = sum(self.samples.values()) or 1
        return {name: n / total for name, n in self.samples.most_common()}


def _activity(state: str | None, kind: str | None, event: str | None) -> str:
    if state == "active" and kind is None:
        return "running"
    if state == "idle":
        return "idle (between transactions)"
    if state == "idle in transaction":
        return "idle in transaction (client)"
    return f"{state}: {kind}:{event}" if kind else str(state)
