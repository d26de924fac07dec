"""Saga logs opened once per process and URL, for sagas that name their log by URL.

A saga given its log as a URL (``DistributedSaga(log="sqlite:///sagas.db")``, the wiki
saga's ``saga_log=``) used to open a log of its own: a new connection, a schema check, a
lease-renewal thread, and for SQLite a checkpoint of the WAL when it was closed, all for
one saga. :data:`shared_saga_logs` instead lends every saga of a process that names the
same URL the same opened log, as a connection pool would, and keeps a few idle ones open
for the next saga. Every backend is safe to share between threads (``SagaLog``), and on
PostgreSQL sharing is what lets concurrent sagas commit together (group commit).

What makes sharing safe:

- **Per process.** A forked child never uses its parent's connections: the first lease
  in a new process forgets every log opened before the fork (without closing what
  belongs to the parent) and opens its own.
- **The file still there.** A SQLite log is handed out again only while its path still
  names the file it opened (same device and inode): once the log is deleted (with its
  ``-wal`` and ``-shm`` files, as ``rm sagas.db*`` does), the next saga opens a new one
  rather than writing to a file nobody can see. (Replacing a SQLite file that a process
  holds open is unsafe whatever the process does: SQLite keeps the old file's
  write-ahead log, named after the path, and would replay it into the new file.)
- **Bounded.** At most ``keep_idle`` logs that no saga is using stay open, the least
  recently used closed first; a log in use is never closed under a saga.
- ``memory://`` is not shared: each such URL still opens a log of its own, as before.

Logs still open when the interpreter exits are closed then (a SQLite close checkpoints
its WAL).
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from distributed_saga.log._base import SagaLog

__all__ = ["KEEP_IDLE", "SharedSagaLogs", "shared_saga_logs"]

KEEP_IDLE = 4
"""Idle shared logs kept open per process (the rest are closed, least recently used
first)."""


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino


@dataclass(eq=False)
class _Entry:
    log: SagaLog
    identity: tuple[int, int] | None
    uses: int = 0
    retired: bool = field(default=False)
    """No longer handed out (its file changed, or the cache was cleared); closed when its
    last user is done."""


class SharedSagaLogs:
    """The logs of one process, by URL (see the module docstring)."""

    def __init__(self, *, keep_idle: int = KEEP_IDLE) -> None:
        if keep_idle < 0:
            raise ValueError("keep_idle cannot be negative")
        self.keep_idle = keep_idle
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._by_log: dict[int, _Entry] = {}
        self._opening: dict[str, threading.Event] = {}
        self._pid = os.getpid()

    def acquire(self, url: str) -> SagaLog:
        """The shared log of ``url``, opened if needed; give it back with :meth:`release`.

        Sagas that start together open a URL's log once: the others wait for that open,
        and only they do (a PostgreSQL server slow to answer holds up the sagas of its own
        URL, not those of another). An open that fails fails for each waiting saga in
        turn, and the next saga tries again.
        """
        from distributed_saga.log import open_saga_log  # noqa: PLC0415 - import cycle

        if url.partition("://")[0].lower() == "memory":
            return open_saga_log(url)
        while True:
            with self._lock:
                self._forget_parent()
                entry = self._current_entry(url)
                if entry is not None:
                    self._entries.move_to_end(url)
                    entry.uses += 1
                    return entry.log
                opening = self._opening.get(url)
                if opening is None:
                    opening = self._opening[url] = threading.Event()
                    break
            opening.wait()  # another saga is opening it: use what it opened, or try again
        try:
            log = open_saga_log(url)
        except BaseException:
            with self._lock:
                del self._opening[url]
            opening.set()
            raise
        with self._lock:
            del self._opening[url]
            entry = self._entries[url] = _Entry(log, self._identity_of(log), uses=1)
            self._by_log[id(log)] = entry
        opening.set()
        return log

    def release(self, log: SagaLog) -> None:
        """Give back a log from :meth:`acquire`; idle logs beyond ``keep_idle`` close."""
        closing: list[SagaLog] = []
        with self._lock:
            if self._pid != os.getpid():
                return  # acquired before a fork: the parent's connection, not ours to close
            entry = self._by_log.get(id(log))
            if entry is None or entry.log is not log:
                closing.append(log)  # not shared (memory://): the caller's alone
            else:
                entry.uses -= 1
                if entry.uses == 0 and entry.retired:
                    del self._by_log[id(log)]
                    closing.append(log)
                closing.extend(self._trim())
        for each in closing:
            each.close()

    @contextmanager
    def lease(self, url: str) -> Iterator[SagaLog]:
        """:meth:`acquire` for the duration of a ``with`` block."""
        log = self.acquire(url)
        try:
            yield log
        finally:
            self.release(log)

    def open_count(self) -> int:
        """How many shared logs this process holds open (in use or idle)."""
        with self._lock:
            self._forget_parent()
            return len(self._by_log)

    def close_all(self) -> None:
        """Close every idle log now and every log in use when it is given back."""
        closing: list[SagaLog] = []
        with self._lock:
            self._forget_parent()
            for entry in self._entries.values():
                entry.retired = True
                if entry.uses == 0:
                    self._by_log.pop(id(entry.log), None)
                    closing.append(entry.log)
            self._entries.clear()
        for log in closing:
            log.close()

    # -- under the lock ------------------------------------------------------------------

    def _current_entry(self, url: str) -> _Entry | None:
        """The entry to hand out for ``url``; ``None`` when it must be opened. An entry
        whose file is gone is retired, and closed now if nobody uses it: before the new
        one opens, so that its WAL, named after the path, is checkpointed into the file it
        belongs to and removed rather than replayed into the file that now has the path."""
        entry = self._entries.get(url)
        if entry is None or self._still_current(entry):
            return entry
        del self._entries[url]
        entry.retired = True
        if entry.uses == 0:
            self._by_log.pop(id(entry.log), None)
            entry.log.close()
        return None

    def _forget_parent(self) -> None:
        pid = os.getpid()
        if pid != self._pid:
            # The connections are the parent's: dropped, not closed (closing a connection
            # another process shares is not ours to do).
            self._entries = OrderedDict()
            self._by_log = {}
            self._opening = {}
            self._pid = pid

    @staticmethod
    def _identity_of(log: SagaLog) -> tuple[int, int] | None:
        path = getattr(log, "path", None)
        return _file_identity(path) if isinstance(path, Path) else None

    @staticmethod
    def _still_current(entry: _Entry) -> bool:
        if entry.identity is None:
            return True
        path = getattr(entry.log, "path", None)
        return isinstance(path, Path) and _file_identity(path) == entry.identity

    def _trim(self) -> list[SagaLog]:
        idle = [url for url, entry in self._entries.items() if entry.uses == 0]
        closing = []
        for url in idle[: max(0, len(idle) - self.keep_idle)]:
            entry = self._entries.pop(url)
            self._by_log.pop(id(entry.log), None)
            closing.append(entry.log)
        return closing


shared_saga_logs = SharedSagaLogs()
"""This process's shared logs."""

atexit.register(shared_saga_logs.close_all)
