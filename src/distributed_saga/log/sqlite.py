"""``sqlite:///path`` — a saga log in one SQLite file (WAL), for one machine.

Several processes may share the file: each write takes SQLite's write lock up front
(``BEGIN IMMEDIATE``) and waits up to ``busy_timeout`` for it.
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
    other processes are waited for up to ``busy_timeout`` seconds.
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
        # use, and in-process writers queue on the lock instead of SQLite's busy sleeps.
        self._lock = threading.Lock()
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
        return self._transact("BEGIN IMMEDIATE", work, *args, **kwargs)

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
