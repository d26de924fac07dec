"""``sqlite:///path`` — a saga log in one SQLite file (WAL), for one machine.

Several processes may share the file: each write takes SQLite's write lock up front
(``BEGIN IMMEDIATE``) and waits up to ``busy_timeout`` for it.

Group commit
    Threads sharing one opened log write through a :class:`~._group_commit.GroupCommit`
    over its one connection. A write made while no other is under way runs at once, alone,
    as it would unbatched. One made while another is under way queues, and the next
    transaction carries every write queued so far: one ``COMMIT``, one sync of the WAL,
    for all of them, each in a savepoint of its own, so that a write that fails (a lost
    lease, a taken lock key, an error SQLite reports) is rolled back alone and raises in
    its own thread while the others are committed. Each caller returns only once the
    transaction holding its write has committed, with its own result: a write is exactly
    as durable as when it was committed alone. At 16 threads a commit carries about 8
    writes, and the log runs 2.3-2.7 times the sagas per second it does without batching
    (``bench/concurrency.py``, ``sqlite_16_group_vs_alone``). ``group_commit=False`` turns
    batching off. Processes sharing the file still queue on SQLite's own lock, one
    transaction at a time.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from distributed_saga._errors import SagaLogError, SagaLogUnavailable
from distributed_saga.log._group_commit import GroupCommit, Write
from distributed_saga.log._sql import Cursor, _SqlSagaLog

__all__ = ["SQLiteSagaLog"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

_SYNCHRONOUS = ("NORMAL", "FULL", "EXTRA")
# Primary result codes meaning "the database did not answer": busy or locked past the
# timeout, or the file could not be opened.
_UNAVAILABLE = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN}
# A writer in another process is waited for by retrying the transaction every 0.5-2 ms
# (jittered), until busy_timeout. SQLite's own busy handler backs off to 100 ms sleeps, so
# a process waiting behind a busy writer could miss every short gap between its
# transactions and starve; SQLite itself now waits only _SQLITE_BUSY_MS before saying so.
_BUSY_RETRY = (0.0005, 0.002)
_SQLITE_BUSY_MS = 1
_jitter = random.Random()  # noqa: S311 - jitter needs spread, not secrecy


class SQLiteSagaLog(_SqlSagaLog):
    """A saga log in the SQLite file at ``path`` (parent directories are created).

    ``synchronous`` is ``FULL`` (every commit reaches the disk) or ``NORMAL`` (faster; in
    WAL mode the last commits may be lost on power failure, never corrupted). Writers in
    other processes are waited for up to ``busy_timeout`` seconds. ``group_commit``
    commits the writes of threads writing at once together (module docstring).
    """

    _NOW = "((julianday('now') - 2440587.5) * 86400.0)"
    _REAL = "REAL"
    _TABLE_OPTIONS = " WITHOUT ROWID"

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        busy_timeout: float = 5.0,
        group_commit: bool = True,
    ) -> None:
        mode = synchronous.upper()
        if mode not in _SYNCHRONOUS:
            raise SagaLogError(
                f"synchronous must be one of {', '.join(_SYNCHRONOUS)}, not {synchronous!r}"
            )
        if str(path) == ":memory:" or str(path).startswith("file:"):
            raise SagaLogError(
                "a SQLite saga log is a file path; use memory:// for a log in memory"
            )
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self._busy_timeout = busy_timeout
        self._prepare_queries()
        # One connection behind a lock: as fast as a connection per thread for sequential
        # use, and in-process writers queue for the next group-commit batch (or, with
        # batching off, on the lock) instead of in SQLite's busy sleeps.
        self._lock = threading.Lock()
        self._group: GroupCommit[Any] | None = (
            GroupCommit(self._write_batch) if group_commit else None
        )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                self.path,
                timeout=busy_timeout,
                isolation_level=None,  # transactions are begun explicitly
                check_same_thread=False,  # guarded by self._lock
            )
        except OSError as exc:
            raise SagaLogUnavailable(f"cannot open saga log {self.url}: {exc}") from exc
        except sqlite3.Error as exc:
            raise _translate(exc, self.url) from exc
        self._cur = self._conn.cursor()
        try:
            self._cur.execute("PRAGMA journal_mode = WAL")
            self._cur.execute(f"PRAGMA synchronous = {mode}")
            self._cur.execute("PRAGMA foreign_keys = ON")
            # From here on a transaction that finds the database busy is retried by
            # _transact; SQLite itself only waits a moment (see _BUSY_RETRY).
            self._cur.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_MS}")
        except sqlite3.Error as exc:
            self.close()
            raise _translate(exc, self.url) from exc
        try:
            self._run(self._migrate)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SQLiteSagaLog:
        """Open ``sqlite:///relative/path`` or ``sqlite:////absolute/path``.

        Query options ``synchronous`` and ``busy_timeout`` are accepted; keyword
        ``options`` win over them.
        """
        parts = urlsplit(url)
        if parts.scheme.lower() != "sqlite" or parts.netloc or not parts.path.startswith("/"):
            raise SagaLogError(f"expected sqlite:///path, got {url!r}")
        path = unquote(parts.path[1:])
        if not path:
            raise SagaLogError(f"saga log URL {url!r} names no file")
        query: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = set(query) - {"synchronous", "busy_timeout"}
        if unknown:
            raise SagaLogError(f"unknown option(s) {', '.join(sorted(unknown))} in {url!r}")
        if "busy_timeout" in query:
            try:
                query["busy_timeout"] = float(query["busy_timeout"])
            except ValueError:
                raise SagaLogError(f"busy_timeout must be seconds in {url!r}") from None
        log = cls(path, **{**query, **options})
        log.url = url
        return log

    @property
    def synchronous(self) -> str:
        """The ``synchronous`` setting in force on the log's connection."""
        (value,) = self._read(lambda cur: cur.execute("PRAGMA synchronous").fetchone())
        return {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[value]

    def _run(
        self,
        work: Callable[Concatenate[Cursor, _P], _T],
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        if self._group is None:
            return self._transact("BEGIN IMMEDIATE", work, *args, **kwargs)
        return self._group.submit(  # type: ignore[no-any-return]
            "",
            (),
            lambda cur: work(cur, *args, **kwargs),
            alone=lambda: self._transact("BEGIN IMMEDIATE", work, *args, **kwargs),
        )

    @property
    def group_commit(self) -> GroupCommit[Any] | None:
        """The batching of concurrent writes (``None`` when opened with
        ``group_commit=False``): its ``batches`` and ``writes`` say how many writes each
        commit carried."""
        return self._group

    def _write_batch(self, writes: list[Write[Any]]) -> None:
        """Run writes that threads made at once as one transaction: one commit, one sync.

        A batch of one runs as a write alone does. In a larger one each write runs inside
        a savepoint of its own: a write that raises is rolled back to it, alone, and gets
        its error; the others are committed together, and get their results only once the
        commit has returned. A transaction SQLite itself ended (a full disk, an I/O
        error) or a failed commit fails every write of the batch, as it would each alone.
        """
        if len(writes) == 1:
            write = writes[0]
            assert write.work is not None
            write.succeed(self._transact("BEGIN IMMEDIATE", write.work))
            return
        outcomes = self._transact("BEGIN IMMEDIATE", self._each_in_savepoint, writes)
        for write, (result, error) in zip(writes, outcomes, strict=True):
            if error is None:
                write.succeed(result)
            else:
                write.fail(error)

    def _each_in_savepoint(
        self, cur: Cursor, writes: list[Write[Any]]
    ) -> list[tuple[Any, BaseException | None]]:
        outcomes: list[tuple[Any, BaseException | None]] = []
        for write in writes:
            assert write.work is not None
            cur.execute("SAVEPOINT saga_write")
            try:
                result = write.work(cur)
            except Exception as exc:
                if not self._in_transaction():
                    raise  # SQLite rolled the whole transaction back: the batch fails
                cur.execute("ROLLBACK TO saga_write")
                cur.execute("RELEASE saga_write")
                if isinstance(exc, sqlite3.Error):
                    error: BaseException = _translate(exc, self.url)
                    error.__cause__ = exc
                else:
                    error = exc
                outcomes.append((None, error))
            else:
                cur.execute("RELEASE saga_write")
                outcomes.append((result, None))
        return outcomes

    def _in_transaction(self) -> bool:
        return self._conn is not None and self._conn.in_transaction

    def _read(
        self,
        work: Callable[Concatenate[Cursor, _P], _T],
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        # A deferred transaction reads one snapshot without taking the write lock.
        return self._transact("BEGIN", work, *args, **kwargs)

    def _transact(
        self,
        begin: str,
        work: Callable[Concatenate[Cursor, _P], _T],
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        with self._lock:
            cur = self._cur
            if self._conn is None:
                raise SagaLogError(f"saga log {self.url} is closed")
            deadline: float | None = None
            while True:
                try:
                    cur.execute(begin)
                    result = work(cur, *args, **kwargs)
                    cur.execute("COMMIT")
                except BaseException as exc:
                    if self._conn.in_transaction:
                        # The original error says more; SQLite rolls back on close anyway.
                        with contextlib.suppress(sqlite3.Error):
                            self._conn.rollback()
                    if not isinstance(exc, sqlite3.Error):
                        raise
                    if _is_busy(exc):
                        now = time.monotonic()
                        if deadline is None:
                            deadline = now + self._busy_timeout
                        if now < deadline:
                            # The transaction was rolled back and its work only touches
                            # the database, so it runs again from the start.
                            time.sleep(min(_jitter.uniform(*_BUSY_RETRY), deadline - now))
                            continue
                    raise _translate(exc, self.url) from exc
                return result

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


def _translate(exc: sqlite3.Error, url: str) -> SagaLogError:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _UNAVAILABLE:
        return SagaLogUnavailable(f"saga log {url} did not answer: {exc}")
    return SagaLogError(f"saga log {url} failed: {exc}")
