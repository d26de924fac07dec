"""``sqlite:///path`` — jobs in a SQLite file (WAL), next to the saga log by default.

Each write takes SQLite's write lock up front (``BEGIN IMMEDIATE``), so a claim and a
create are serialised with every other writer of the file, in this process or another.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar
from urllib.parse import unquote, urlsplit

from distributed_saga.log._sql import Cursor
from wikisaga.errors import JobStoreError
from wikisaga.jobs._sql import SqlJobStore

__all__ = ["SQLiteJobStore"]

_P = ParamSpec("_P")
_T = TypeVar("_T")


class SQLiteJobStore(SqlJobStore):
    """Jobs in the SQLite file at ``path`` (parent directories are created)."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path.as_posix()}"
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
        except (OSError, sqlite3.Error) as exc:
            raise JobStoreError(f"cannot open job store {self.url}: {exc}") from exc
        self._run(self._migrate)

    @classmethod
    def from_url(cls, url: str) -> SQLiteJobStore:
        """Open ``sqlite:///relative/path`` or ``sqlite:////absolute/path``."""
        parts = urlsplit(url)
        path = unquote(parts.path[1:])
        if parts.scheme.lower() != "sqlite" or parts.netloc or not path:
            raise JobStoreError(f"expected sqlite:///path, got {url!r}")
        return cls(path)

    def _run(
        self, work: Callable[Concatenate[Cursor, _P], _T], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        with self._lock:
            if self._conn is None:
                raise JobStoreError(f"job store {self.url} is closed")
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                result = work(cur, *args, **kwargs)
                cur.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:
                    self._conn.rollback()
                if isinstance(exc, sqlite3.Error) and not self._is_unique_violation(exc):
                    raise JobStoreError(f"job store {self.url} failed: {exc}") from exc
                raise
            finally:
                cur.close()
            return result

    def _is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)

    def _columns(self, cur: Cursor) -> set[str]:
        cur.execute("PRAGMA table_info(wiki_job)")
        return {str(row[1]) for row in cur.fetchall()}

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
